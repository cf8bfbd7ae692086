/**
 * The demo app at `/` (web/): serves its bundle, `/demo/config.json` (tells the page whether to ask for a token),
 * and the example operations GraphiQL opens as tabs (web/operations/, the documents codegen validates).
 *
 * Where the bundle comes from: `npm run build` writes dist/web/ (scripts/build-web.ts), which the compiled gateway
 * finds beside itself and reads once, on the first request; esbuild is never loaded in production. From source
 * (`npm start`, tests) there is no dist/web next to src/http/, so the first request bundles in process through
 * scripts/build-web.ts and keeps the files in memory (0.6 s once, measured at load average 10; then from memory).
 * Files are looked up in a map by request path, never on disk, so no path can reach outside the bundle.
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Logger } from '../logger.js';
import { sendJson } from './read-body.js';

/** Next to the compiled module: dist/http/ → dist/web/. From src/http/ it does not exist. */
const PREBUILT_DIR = fileURLToPath(new URL('../web/', import.meta.url));
const SOURCE_DIR = fileURLToPath(new URL('../../web/', import.meta.url));
const BUILD_SCRIPT = new URL('../../scripts/build-web.ts', import.meta.url).href;

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
};

interface Asset {
  body: Buffer;
  type: string;
  etag: string;
}

export interface DemoPageOptions {
  /** Whether the token form is shown up front (the page also asks when a request comes back UNAUTHENTICATED). */
  auth: boolean;
  graphiql: boolean;
  /** Origin of signed media URLs (PUBLIC_URL), for the CSP's img-src; read per request (set once the port is known). */
  mediaOrigin: () => string;
  /** Origins the browser uploads to directly (signed upload URLs), for the CSP's connect-src. */
  uploadOrigins: string[];
  logger: Pick<Logger, 'error'>;
}

export interface DemoPage {
  /** Serves `/` and `/demo/*`; other paths are not its business. */
  handles(pathname: string): boolean;
  handle(req: IncomingMessage, res: ServerResponse, pathname: string): Promise<void>;
}

export function createDemoPage(options: DemoPageOptions): DemoPage {
  let assets: Promise<Map<string, Asset>> | undefined;
  const load = () => {
    assets ??= loadAssets().catch((error: unknown) => {
      assets = undefined; // a later request tries again (e.g. after `npm run build`)
      throw error;
    });
    return assets;
  };
  const configBody = Buffer.from(JSON.stringify({ auth: options.auth, graphiql: options.graphiql }));
  const config: Asset = { body: configBody, type: TYPES['.json']!, etag: etagOf(configBody) };

  return {
    handles: (pathname) => pathname === '/' || pathname.startsWith('/demo/'),
    async handle(req, res, pathname) {
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        return sendJson(res, 405, { error: 'method not allowed' }, { allow: 'GET, HEAD' });
      }
      if (pathname === '/demo/config.json') {
        return send(req, res, config, 'no-cache', csp(req, options));
      }
      let files: Map<string, Asset>;
      try {
        files = await load();
      } catch (error) {
        options.logger.error('demo page: bundle unavailable', { error });
        return sendJson(res, 503, { error: 'the demo bundle is not available: run `npm run build` (or start from source with `npm start`)' });
      }
      const key = pathname === '/' ? 'index.html' : pathname.slice('/demo/'.length);
      const asset = files.get(key);
      if (!asset) return sendJson(res, 404, { error: 'not found' });
      // Asset names carry a content hash, so they never change; the page and its icon are revalidated (ETag) each time.
      const cacheControl = key.startsWith('assets/') ? 'public, max-age=31536000, immutable' : 'no-cache';
      return send(req, res, asset, cacheControl, csp(req, options));
    },
  };
}

function send(req: IncomingMessage, res: ServerResponse, asset: Asset, cacheControl: string, policy: string) {
  const headers: Record<string, string | number> = {
    etag: asset.etag,
    'cache-control': cacheControl,
    'content-security-policy': policy,
    'x-content-type-options': 'nosniff',
    'referrer-policy': 'no-referrer',
  };
  const match = req.headers['if-none-match'];
  if (match && match.split(',').some((tag) => tag.trim().replace(/^W\//, '') === asset.etag)) {
    res.writeHead(304, headers).end();
    return;
  }
  res.writeHead(200, { ...headers, 'content-type': asset.type, 'content-length': asset.body.length });
  res.end(req.method === 'HEAD' ? undefined : asset.body);
}

/**
 * Self only, plus what the page really reaches: signed media URLs (PUBLIC_URL may name another host than the one
 * the page was opened on), graphql-ws on this host, and the direct-upload origins. No inline script or style.
 */
function csp(req: IncomingMessage, options: DemoPageOptions): string {
  // The Host header is echoed into the policy: keep only host[:port] characters.
  const host = /^[A-Za-z0-9.[\]:-]{1,255}$/.test(req.headers.host ?? '') ? req.headers.host! : '';
  const sockets = host ? ` ws://${host} wss://${host}` : '';
  const uploads = options.uploadOrigins.length ? ` ${options.uploadOrigins.join(' ')}` : '';
  return [
    "default-src 'none'",
    "script-src 'self'",
    "style-src 'self'",
    `img-src 'self' blob: ${options.mediaOrigin()}`,
    `connect-src 'self'${sockets}${uploads}`,
    "form-action 'self'",
    "base-uri 'none'",
    "frame-ancestors 'none'",
  ].join('; ');
}

const etagOf = (body: Buffer) => `"${createHash('sha256').update(body).digest('base64url').slice(0, 27)}"`;

const toAsset = (name: string, body: Buffer): Asset => ({
  body,
  type: TYPES[path.extname(name)] ?? 'application/octet-stream',
  etag: etagOf(body),
});

async function loadAssets(): Promise<Map<string, Asset>> {
  const files = new Map<string, Asset>();
  if (existsSync(path.join(PREBUILT_DIR, 'index.html'))) {
    for (const name of await readdir(PREBUILT_DIR, { recursive: true })) {
      if (name === 'index.html' || name === 'favicon.svg' || name.startsWith(`assets${path.sep}`)) {
        files.set(name.split(path.sep).join('/'), toAsset(name, await readFile(path.join(PREBUILT_DIR, name))));
      }
    }
    return files;
  }
  // From source only (tsx or vitest): the build script and esbuild are dev dependencies of a checkout.
  const { bundleWebApp } = (await import(BUILD_SCRIPT)) as { bundleWebApp(): Promise<Array<{ path: string; contents: Uint8Array }>> };
  for (const file of await bundleWebApp()) files.set(file.path, toAsset(file.path, Buffer.from(file.contents)));
  return files;
}

/** One GraphiQL tab: a document and example variables (yoga's `graphiql.defaultTabs`). */
export interface ExampleTab {
  query: string;
  variables?: string;
}

/**
 * The demo's operations as GraphiQL tabs, one per file in file-name order (upload, extract, follow, frames). A
 * `# variables: {...}` line in a file becomes the tab's variables. Read on GraphiQL's first page load, then kept.
 */
export async function loadExampleTabs(): Promise<ExampleTab[]> {
  const dir = [path.join(PREBUILT_DIR, 'operations'), path.join(SOURCE_DIR, 'operations')].find((d) => existsSync(d));
  // A build without web/ (tsc alone): GraphiQL keeps its own welcome tab.
  if (!dir) return [];
  const names = (await readdir(dir)).filter((n) => n.endsWith('.graphql')).sort();
  return Promise.all(
    names.map(async (name) => {
      const query = await readFile(path.join(dir, name), 'utf8');
      const variables = /^# variables: (.+)$/m.exec(query)?.[1];
      return variables ? { query, variables: JSON.stringify(JSON.parse(variables), null, 2) } : { query };
    }),
  );
}
