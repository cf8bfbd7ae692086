/**
 * Bundles the demo app (web/) with esbuild: one minified ES module and one stylesheet with content-hashed names, and
 * web/index.html pointing at them under /demo/assets/. `npm run build` runs this file, which writes dist/web/ (the
 * production gateway serves those files and never loads esbuild); `npm start` (tsx, no dist/web) has
 * src/http/demo-page.ts call bundleWebApp() in process on the first request and keep the result in memory.
 */
import { cp, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { build } from 'esbuild';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const WEB = path.join(ROOT, 'web');

/** One file of the bundle, by its path under the web root (`index.html`, `favicon.svg`, `assets/main-<hash>.js`, …). */
export interface WebFile {
  path: string;
  contents: Uint8Array;
}

export async function bundleWebApp(): Promise<WebFile[]> {
  const outdir = path.join(WEB, 'assets');
  const result = await build({
    absWorkingDir: ROOT,
    entryPoints: [path.join(WEB, 'src/main.ts')],
    tsconfig: path.join(WEB, 'tsconfig.json'),
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: ['es2022'],
    minify: true,
    legalComments: 'none',
    entryNames: '[name]-[hash]',
    outdir,
    write: false,
    logLevel: 'silent',
  });
  const files: WebFile[] = result.outputFiles.map((f) => ({ path: `assets/${path.relative(outdir, f.path)}`, contents: f.contents }));
  const asset = (ext: string) => {
    const file = files.find((f) => f.path.endsWith(ext));
    if (!file) throw new Error(`esbuild produced no ${ext} file`);
    return `/demo/${file.path}`;
  };
  const html = (await readFile(path.join(WEB, 'index.html'), 'utf8')).replace('%CSS%', asset('.css')).replace('%JS%', asset('.js'));
  files.push({ path: 'index.html', contents: new TextEncoder().encode(html) });
  files.push({ path: 'favicon.svg', contents: await readFile(path.join(WEB, 'favicon.svg')) });
  return files;
}

/** Writes the bundle and the example operations (GraphiQL's tabs) into `dir`, replacing what was there. */
export async function writeWebApp(dir: string): Promise<WebFile[]> {
  const files = await bundleWebApp();
  await rm(dir, { recursive: true, force: true });
  for (const file of files) {
    await mkdir(path.dirname(path.join(dir, file.path)), { recursive: true });
    await writeFile(path.join(dir, file.path), file.contents);
  }
  await cp(path.join(WEB, 'operations'), path.join(dir, 'operations'), { recursive: true });
  return files;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const dir = path.resolve(process.argv[2] ?? path.join(ROOT, 'dist/web'));
  const files = await writeWebApp(dir);
  for (const f of files) process.stdout.write(`${path.relative(ROOT, path.join(dir, f.path))}  ${f.contents.byteLength} bytes\n`);
}
