/**
 * The production build and the container files. `tsc -p tsconfig.build.json` (what `npm run build` runs) compiles
 * once into a temp directory laid out like the image's /app (package.json, node_modules, dist/); `node dist/main.js`
 * then starts there in embedded mode. No container runtime here, so the Dockerfile and compose.yaml are checked
 * statically against the build and the config.
 */
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { copyFile, mkdtemp, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { CONFIG_ENV_NAMES } from '../../src/config.js';
import { freePort, graphiqlUrl, killStartedMains, logMatching, startMain } from '../helpers/main-process.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const run = promisify(execFile);
const TYPENAME = readFileSync(new URL('../operations/typename.graphql', import.meta.url), 'utf8');
const pkg = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as {
  scripts: Record<string, string>;
  dependencies: Record<string, string>;
};
const buildConfig = JSON.parse(readFileSync(path.join(ROOT, 'tsconfig.build.json'), 'utf8')) as { compilerOptions: { outDir: string } };
/** Dev-only packages that production code loads on request only, each with the reason it may be absent. */
const OPTIONAL_AT_RUN_TIME: Record<string, string> = { 'pino-pretty': 'LOG_PRETTY=true only; logger.ts says to install it' };

// The image's /app: package.json, node_modules (here the repo's, linked) and the compiled dist/.
let app: string;
beforeAll(async () => {
  app = await mkdtemp(path.join(tmpdir(), 'frames-build-'));
  await copyFile(path.join(ROOT, 'package.json'), path.join(app, 'package.json'));
  await symlink(path.join(ROOT, 'node_modules'), path.join(app, 'node_modules'), 'dir');
  await run(process.execPath, [path.join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.build.json', '--outDir', path.join(app, 'dist')], {
    cwd: ROOT,
  });
}, 120_000);
afterAll(async () => {
  if (app) await rm(app, { recursive: true, force: true });
});
afterEach(killStartedMains);

/** Instructions of a Dockerfile, with `\` continuations joined: [keyword, rest]. */
function dockerInstructions(text: string): Array<[string, string]> {
  return text
    .replace(/\\\n/g, ' ')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'))
    .map((l) => {
      const [keyword = '', ...rest] = l.split(/\s+/);
      return [keyword.toUpperCase(), rest.join(' ')];
    });
}

/** Bare module specifiers imported or required anywhere in the compiled output, by package name. */
async function packagesImportedBy(dir: string): Promise<Set<string>> {
  const files = (await readdir(dir, { recursive: true })).filter((f) => f.endsWith('.js'));
  const names = new Set<string>();
  const specifier = /(?:\bfrom\s*|\bimport\s*\(\s*|\bimport\s+|\brequire\s*\(\s*)['"]([^'".][^'"]*)['"]/g;
  for (const file of files) {
    for (const [, spec] of (await readFile(path.join(dir, file), 'utf8')).matchAll(specifier)) {
      if (spec!.startsWith('node:')) continue;
      names.add(spec!.split('/').slice(0, spec!.startsWith('@') ? 2 : 1).join('/'));
    }
  }
  return names;
}

describe('production build', () => {
  it('runs node dist/main.js in embedded mode: GraphQL, /healthz, /readyz with the engine, GraphiQL loaded on request, exit 0 on SIGTERM', async () => {
    // Reports (on stdout, the banner's pipe, so the order is kept) when the GraphiQL bundle is resolved.
    await writeFile(path.join(app, 'trace-graphiql.mjs'), TRACE_GRAPHIQL_HOOKS);
    await writeFile(path.join(app, 'register-trace.mjs'), "import { register } from 'node:module';\nregister('./trace-graphiql.mjs', import.meta.url);\n");
    const main = startMain(
      {
        PORT: String(await freePort()),
        ENGINE_PORT: String(await freePort()),
        HOST: '127.0.0.1',
        DATA_DIR: path.join(app, 'data'),
        MEDIA_CACHE_DIR: path.join(app, 'media-cache'),
        LOG_LEVEL: 'info',
      },
      { args: ['--import', './register-trace.mjs', 'dist/main.js'], cwd: app },
    );
    const endpoint = (await graphiqlUrl(main)).replace('localhost', '127.0.0.1');
    const base = endpoint.replace(/\/graphql$/, '');
    const engineLine = JSON.parse(await main.stderr.waitFor(logMatching({ msg: 'engine listening' }))) as { ffmpeg: string };
    expect(existsSync(engineLine.ffmpeg)).toBe(true);

    const res = await fetch(endpoint, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json' },
      body: JSON.stringify({ query: TYPENAME }),
    });
    expect(await res.json()).toEqual({ data: { __typename: 'Query' } });
    const healthz = await fetch(`${base}/healthz`);
    expect({ status: healthz.status, body: await healthz.json() }).toEqual({ status: 200, body: { status: 'ok' } });
    const readyz = await fetch(`${base}/readyz`);
    expect({ status: readyz.status, body: await readyz.json() }).toEqual({
      status: 200,
      body: expect.objectContaining({ status: 'ready', checks: { engine: 'ok' } }),
    });
    expect(main.stdout.lines.filter((l) => l.includes('graphiql bundle resolved'))).toEqual([]);

    const page = await fetch(endpoint, { headers: { accept: 'text/html' } });
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('frames gateway');
    await main.stdout.waitFor((l) => l.includes('graphiql bundle resolved'));

    main.child.kill('SIGTERM');
    expect(await main.exited).toEqual({ code: 0, signal: null });
  });

  it('imports at run time only production dependencies (npm ci --omit=dev installs nothing else)', async () => {
    const imported = [...(await packagesImportedBy(path.join(app, 'dist')))];
    const missing = imported.filter((name) => !(name in pkg.dependencies) && !(name in OPTIONAL_AT_RUN_TIME));
    expect(missing).toEqual([]);
    expect(imported).toEqual(expect.arrayContaining(['@ffmpeg-installer/ffmpeg', '@ffprobe-installer/ffprobe', '@graphql-yoga/render-graphiql']));
  });
});

describe('container files', () => {
  const instructions = dockerInstructions(readFileSync(path.join(ROOT, 'Dockerfile'), 'utf8'));
  const allowed = readFileSync(path.join(ROOT, '.dockerignore'), 'utf8')
    .split('\n')
    .filter((l) => l.startsWith('!'))
    .map((l) => l.slice(1).trim().replace(/\/$/, ''));

  it('copies only paths that exist after the build, and the build context carries them', () => {
    expect(pkg.scripts.build).toContain('tsc -p tsconfig.build.json');
    const copies = instructions.filter(([k]) => k === 'COPY').map(([, rest]) => rest.split(/\s+/));
    expect(copies.length).toBeGreaterThan(0);
    const problems: string[] = [];
    for (const words of copies) {
      const fromStage = words.find((w) => w.startsWith('--from='));
      const sources = words.filter((w) => !w.startsWith('--')).slice(0, -1);
      for (const source of sources) {
        if (fromStage) {
          // The build stage's WORKDIR /app: its outDir is our temp build, the rest is the repo.
          const rel = path.posix.relative('/app', source);
          const [top, ...below] = rel.split('/');
          const local = top === buildConfig.compilerOptions.outDir ? path.join(app, 'dist', ...below) : path.join(ROOT, rel);
          if (!existsSync(local)) problems.push(`${source} (${fromStage}) is not produced by the build`);
        } else {
          if (!existsSync(path.join(ROOT, source))) problems.push(`${source} does not exist`);
          if (!allowed.includes(source.replace(/\/$/, ''))) problems.push(`${source} is not allowed by .dockerignore`);
        }
      }
    }
    expect(problems).toEqual([]);
    const cmd = JSON.parse(instructions.findLast(([k]) => k === 'CMD')![1]) as string[];
    expect(cmd).toEqual(['node', 'dist/main.js']);
    expect(existsSync(path.join(app, 'dist/main.js'))).toBe(true);
    expect(instructions.find(([k]) => k === 'HEALTHCHECK')?.[1]).toContain('/healthz');
    expect(instructions.some(([k, rest]) => k === 'RUN' && rest.includes('npm ci --omit=dev'))).toBe(true);
    expect(instructions.findLast(([k]) => k === 'USER')?.[1]).toBe('node');
  });

  it('compose.yaml sets only variables the gateway reads, the same on every instance, over one Redis with AOF', () => {
    const compose = parseYaml(readFileSync(path.join(ROOT, 'compose.yaml'), 'utf8'), { merge: true }) as {
      services: Record<string, { environment?: Record<string, string>; command?: string[]; build?: unknown }>;
    };
    const engineNames = [...readFileSync(path.join(ROOT, 'src/engine/config.ts'), 'utf8').matchAll(/^\s+([A-Z][A-Z0-9_]+): /gm)].map((m) => m[1]);
    const known = (name: string) => CONFIG_ENV_NAMES.includes(name) || engineNames.includes(name) || name.startsWith('OTEL_');
    const gateways = Object.entries(compose.services).filter(([, s]) => s.build !== undefined);
    expect(gateways.map(([name]) => name)).toHaveLength(2);
    const unknown = gateways.flatMap(([name, s]) => Object.keys(s.environment ?? {}).filter((k) => !known(k)).map((k) => `${name}: ${k}`));
    expect(unknown).toEqual([]);
    for (const [, s] of gateways) {
      expect(s.environment).toEqual(gateways[0]![1].environment);
      expect(Object.keys(s.environment!)).toEqual(expect.arrayContaining(['REDIS_URL', 'MAVI_WEBHOOK_SECRET', 'MEDIA_SIGNING_SECRET']));
    }
    const redis = Object.values(compose.services).filter((s) => s.command?.includes('redis-server'));
    expect(redis).toHaveLength(1);
    expect(redis[0]!.command!.join(' ')).toContain('--appendonly yes');
  });
});

/** Module hooks (they run on node's hooks thread): report the GraphiQL bundle's first resolution on fd 1. */
const TRACE_GRAPHIQL_HOOKS = `import { writeSync } from 'node:fs';
let seen = false;
export async function resolve(specifier, context, next) {
  const result = await next(specifier, context);
  if (!seen && result.url.includes('/@graphql-yoga/render-graphiql/')) {
    seen = true;
    writeSync(1, 'graphiql bundle resolved\\n');
  }
  return result;
}
`;
