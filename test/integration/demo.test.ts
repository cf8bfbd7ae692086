/**
 * The demo app at `/` in a real browser (Debian's Chromium through playwright-core, flags as in browser.test.ts)
 * on the embedded engine (real ffmpeg): a generated video goes straight to the signed upload URL, is extracted while
 * the page follows the task over graphql-ws, and the grid shows every frame as a decoded rendition of the requested
 * width, with the sprite and the zip. Also: GraphiQL's example tabs, the token prompt with auth on, human messages
 * for error codes, no request beyond the gateway (and the upload URL), and how the bundle is served.
 */
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { generate } from '@graphql-codegen/cli';
import { build as esbuild } from 'esbuild';
import { SignJWT } from 'jose';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { createEngine, type Engine } from '../../src/engine/index.js';
import { loadExampleTabs } from '../../src/http/demo-page.js';
import { ErrorCode } from '../../src/schema/error-codes.js';
import { ERROR_MESSAGES } from '../../web/src/errors.js';
import codegenConfig from '../../codegen.js';
import { writeWebApp } from '../../scripts/build-web.js';
import { startTestGateway, TEST_API_KEY, TEST_WEBHOOK_SECRET, type TestGateway } from '../helpers/gateway.js';
import { freePort, graphiqlUrl, killStartedMains, processesInGroup, startMain } from '../helpers/main-process.js';
import { generateVideo } from '../helpers/video.js';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const JWT_SECRET = 'demo-test-jwt-secret-0123456789abcdef';
/** Wider than the grid's 160 px rendition, so a tile that decodes at 160 px proves the rendition was served. */
const VIDEO = { width: 480, height: 270, seconds: 4 };

let browser: Browser;
let videoDir: string;
let video: string;

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) throw new Error(`Chromium not found at ${CHROMIUM}: install Debian's chromium (see .ci/run) or set CHROMIUM_PATH`);
  videoDir = await mkdtemp(path.join(tmpdir(), 'demo-video-'));
  [browser, video] = await Promise.all([
    chromium.launch({ executablePath: CHROMIUM, args: FLAGS }),
    generateVideo({ dir: videoDir, ...VIDEO, name: 'clip.mp4' }),
  ]);
});
afterAll(async () => {
  await browser?.close();
  if (videoDir) await rm(videoDir, { recursive: true, force: true });
});

let disposers: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  await killStartedMains();
  for (const dispose of disposers.reverse()) await dispose();
  disposers = [];
});

interface Setup {
  gw: TestGateway;
  engine: Engine;
  /** The page's origin: PUBLIC_URL's (signed media URLs use it), so every gateway request is same-origin. */
  origin: string;
}

/**
 * The embedded engine behind a real gateway with the demo page on; callbacks go straight to the gateway. `embedded`
 * wires them as main.ts does (the gateway proxies the engine's signed upload URLs, so the browser uploads to the
 * page's own origin); without it the browser uploads to the engine's origin, as it would to the real API's storage.
 */
async function setup(env: Record<string, string> = {}, { embedded = true } = {}): Promise<Setup> {
  const dataDir = await mkdtemp(path.join(tmpdir(), 'demo-engine-'));
  disposers.push(() => rm(dataDir, { recursive: true, force: true }));
  const engine = await createEngine({ apiKey: TEST_API_KEY, port: 0, dataDir, frameIntervalSeconds: 1, logger: { info() {}, warn() {}, error() {} } });
  disposers.push(engine.stop);
  const gw = await startTestGateway({
    upstreamUrl: engine.url,
    env: { DEMO_PAGE: 'true', GRAPHIQL: 'true', ...env },
    deps: embedded ? { engineUrl: engine.url } : {},
  });
  disposers.push(gw.close);
  engine.setWebhookUrl(`${gw.url}/webhooks/mavi/${TEST_WEBHOOK_SECRET}`);
  const origin = gw.url.replace('127.0.0.1', 'localhost');
  if (embedded) engine.setPublicUrl(origin);
  return { gw, engine, origin };
}

interface Recorded {
  page: Page;
  /** Every request that did not go to the page's origin (method + URL). */
  elsewhere: string[];
  /** Console errors, CSP violations included. */
  consoleErrors: string[];
}

async function openDemo({ origin }: Setup): Promise<Recorded> {
  const page = await browser.newPage();
  disposers.push(() => page.close());
  const elsewhere: string[] = [];
  const consoleErrors: string[] = [];
  page.on('request', (r) => {
    if (!r.url().startsWith(`${origin}/`) && !r.url().startsWith('blob:') && !r.url().startsWith('data:')) elsewhere.push(`${r.method()} ${r.url()}`);
  });
  page.on('console', (m) => {
    if (m.type() === 'error') consoleErrors.push(m.text());
  });
  await page.goto(`${origin}/`);
  await page.waitForSelector('body[data-ready="true"]');
  return { page, elsewhere, consoleErrors };
}

/** Waits for the frames panel, or fails with the message the page shows. */
async function waitForFrames(page: Page) {
  await page.waitForFunction(() => !document.getElementById('result-panel')!.hidden || !document.getElementById('error')!.hidden, undefined, {
    timeout: 25_000,
  });
  const error = await page.locator('#error').evaluate((e: HTMLElement) => (e.hidden ? null : e.textContent));
  expect(error).toBeNull();
}

/** naturalWidth/Height of every grid image once decoded (each scrolled into view first: they are lazy). */
const gridImages = (page: Page) =>
  page.$$eval('#grid img', async (imgs) => {
    const sizes: Array<{ width: number; height: number; alt: string; current: string }> = [];
    for (const img of imgs as HTMLImageElement[]) {
      img.scrollIntoView();
      await img.decode();
      sizes.push({ width: img.naturalWidth, height: img.naturalHeight, alt: img.alt, current: img.currentSrc });
    }
    return sizes;
  });

const hs256 = (claims: Record<string, unknown>) =>
  new SignJWT(claims)
    .setProtectedHeader({ alg: 'HS256' })
    .setIssuedAt()
    .setExpirationTime('10m')
    .sign(new TextEncoder().encode(JWT_SECRET));

describe('demo app on the embedded engine', () => {
  it('uploads a video straight to the signed URL, follows the extraction live and shows every frame as a decoded 160 px rendition, the sprite and the zip', async () => {
    const s = await setup();
    const { page, elsewhere, consoleErrors } = await openDemo(s);
    await page.setInputFiles('#file-input', video);
    await waitForFrames(page);
    expect(await page.locator('#status').getAttribute('data-task-status')).toBe('SUCCEEDED');

    const collectionId = (await page.locator('#grid').getAttribute('data-collection-id'))!;
    const truth = await s.gw.graphql<{ frameCollection: { frameCount: number } }>('query ($id: ID!) { frameCollection(id: $id) { frameCount } }', {
      id: collectionId,
    });
    const frameCount = truth.data!.frameCollection.frameCount;
    expect(frameCount).toBe(VIDEO.seconds);
    const images = await gridImages(page);
    expect(images).toHaveLength(frameCount);
    for (const [i, img] of images.entries()) {
      expect(img).toMatchObject({ width: 160, height: Math.round((160 * VIDEO.height) / VIDEO.width), alt: `Frame ${i + 1} of ${frameCount}` });
      expect(img.current.startsWith(`${s.origin}/media/`)).toBe(true);
    }
    // The format from the bytes the browser was given, not from a header: WEBP (RIFF....WEBP).
    const bytes = Buffer.from(await (await fetch(images[0]!.current)).arrayBuffer());
    expect([bytes.subarray(0, 4).toString('latin1'), bytes.subarray(8, 12).toString('latin1')]).toEqual(['RIFF', 'WEBP']);

    // The sprite loads and the scrubber moves across its tiles.
    await page.waitForSelector('#scrubber:not([hidden])');
    const sprite = await page.locator('#sprite').evaluate(async (img: HTMLImageElement) => {
      await img.decode();
      return { width: img.naturalWidth, height: img.naturalHeight };
    });
    expect(sprite.width).toBeGreaterThanOrEqual(160);
    expect(sprite.height).toBeGreaterThan(0);
    await page.locator('#scrub-input').fill(String(frameCount - 1));
    expect(await page.locator('#scrub-output').textContent()).toBe(`Frame ${frameCount} of ${frameCount}`);

    // A frame opens full size (the original, wider than the rendition); Escape closes it.
    await page.locator('#grid button').nth(1).click();
    const full = await page.locator('#viewer-image').evaluate(async (img: HTMLImageElement) => {
      await img.decode();
      return img.naturalWidth;
    });
    expect(full).toBe(VIDEO.width);
    expect(await page.locator('#viewer-title').textContent()).toBe(`Frame 2 of ${frameCount}`);
    await page.keyboard.press('ArrowRight');
    expect(await page.locator('#viewer-title').textContent()).toBe(`Frame 3 of ${frameCount}`);
    await page.keyboard.press('Escape');
    expect(await page.locator('#viewer').evaluate((d: HTMLDialogElement) => d.open)).toBe(false);

    // The zip link is a signed media URL serving a zip.
    const zipUrl = (await page.locator('#zip-link').getAttribute('href'))!;
    const zip = await fetch(zipUrl);
    expect([zip.status, zip.headers.get('content-type')]).toEqual([200, 'application/zip']);
    expect((await zip.arrayBuffer()).byteLength).toBeGreaterThan(0);

    // Nothing left the gateway's origin, the upload included (the gateway proxies the engine's signed URL).
    expect(elsewhere).toEqual([]);
    expect(consoleErrors).toEqual([]);
  });

  it('takes a video dropped on the drop zone like a picked one', async () => {
    const s = await setup();
    const { page, elsewhere } = await openDemo(s);
    const bytes = readFileSync(video).toString('base64');
    const dataTransfer = await page.evaluateHandle((b64) => {
      const transfer = new DataTransfer();
      const data = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
      transfer.items.add(new File([data], 'dropped.mp4', { type: 'video/mp4' }));
      return transfer;
    }, bytes);
    await page.dispatchEvent('#drop-zone', 'drop', { dataTransfer });
    await waitForFrames(page);
    expect(await gridImages(page)).toHaveLength(VIDEO.seconds);
    expect(elsewhere).toEqual([]);
  });

  it('imports a URL the gateway cannot fetch and shows the human message of IMPORT_FAILED', async () => {
    const s = await setup();
    const { page, elsewhere } = await openDemo(s);
    await page.fill('#url-input', 'http://127.0.0.1:9/clip.mp4');
    await page.click('#import-form button');
    await page.waitForSelector('#error:not([hidden])');
    expect(await page.locator('#error').getAttribute('data-code')).toBe('IMPORT_FAILED');
    expect(await page.locator('#error-message').textContent()).toBe(ERROR_MESSAGES.IMPORT_FAILED);
    expect(elsewhere).toEqual([]);
  });

  it('with auth on, asks for a token, refuses a bad one with its human message, and works with a good one (kept in sessionStorage only)', async () => {
    // Not embedded: the file goes cross-origin to the engine's signed URL (CORS, and the CSP's connect-src).
    const s = await setup({ AUTH_JWT_SECRET: JWT_SECRET }, { embedded: false });
    const { page, elsewhere, consoleErrors } = await openDemo(s);
    expect(await page.locator('#token-panel').isVisible()).toBe(true);

    await page.fill('#token-input', 'not-a-jwt');
    await page.click('#token-form button');
    await page.setInputFiles('#file-input', video);
    await page.waitForSelector('#error:not([hidden])');
    expect(await page.locator('#error').getAttribute('data-code')).toBe('UNAUTHENTICATED');
    expect(await page.locator('#error-message').textContent()).toBe(ERROR_MESSAGES.UNAUTHENTICATED);
    expect(await page.locator('#token-panel').isVisible()).toBe(true);

    const token = await hs256({ tenant: 'demo-tenant' });
    await page.fill('#token-input', token);
    await page.click('#token-form button');
    await page.setInputFiles('#file-input', video);
    await waitForFrames(page);
    expect(await gridImages(page)).toHaveLength(VIDEO.seconds);
    const storage = await page.evaluate(() => ({ session: Object.values(sessionStorage), local: Object.keys(localStorage), cookie: document.cookie }));
    expect(storage).toEqual({ session: [token], local: [], cookie: '' });
    expect(elsewhere).toEqual([expect.stringMatching(new RegExp(`^POST ${s.engine.url}/upload/signed/`))]);
    // The bad token's 401 is logged by the browser; nothing else (no CSP violation for the cross-origin upload).
    expect(consoleErrors.filter((m) => !m.includes('401'))).toEqual([]);
  });
});

describe('GraphiQL', () => {
  it('opens with the demo operations as tabs: upload, extract, follow, frames', async () => {
    const s = await setup();
    const page = await browser.newPage();
    disposers.push(() => page.close());
    await page.goto(`${s.origin}/graphql`);
    await page.waitForSelector('.graphiql-container');
    const tabs = await page.locator('.graphiql-tab .graphiql-tab-button').allTextContents();
    expect(tabs.map((t) => t.trim())).toEqual(['CreateVideoUpload', 'StartFrameExtraction', 'FollowFrameExtraction', 'FrameGrid']);
  });
});

describe('serving the page', () => {
  it('serves the page, its hashed assets and config.json with types, ETags, caching and a self-only CSP', async () => {
    const s = await setup();
    const page = await fetch(`${s.gw.url}/`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(page.headers.get('cache-control')).toBe('no-cache');
    const csp = page.headers.get('content-security-policy')!;
    const directives = Object.fromEntries(csp.split('; ').map((d) => [d.split(' ')[0], d.split(' ').slice(1)]));
    expect(directives['default-src']).toEqual(["'none'"]);
    expect(directives['script-src']).toEqual(["'self'"]);
    expect(directives['style-src']).toEqual(["'self'"]);
    expect(directives['img-src']).toEqual(["'self'", 'blob:', s.origin]);
    expect(directives['connect-src']).toEqual(expect.arrayContaining(["'self'", `ws://${new URL(s.gw.url).host}`, s.engine.url]));
    const html = await page.text();
    expect(html).not.toMatch(/<script(?![^>]*\bsrc=)/); // no inline script
    const etag = page.headers.get('etag')!;
    expect((await fetch(`${s.gw.url}/`, { headers: { 'if-none-match': etag } })).status).toBe(304);

    const assets = [...html.matchAll(/(?:src|href)="(\/demo\/assets\/[^"]+)"/g)].map((m) => m[1]!);
    expect(assets.map((a) => path.extname(a)).sort()).toEqual(['.css', '.js']);
    for (const asset of assets) {
      const res = await fetch(`${s.gw.url}${asset}`);
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toBe(asset.endsWith('.js') ? 'text/javascript; charset=utf-8' : 'text/css; charset=utf-8');
      expect(res.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
      expect(Number(res.headers.get('content-length'))).toBe((await res.arrayBuffer()).byteLength);
    }
    const head = await fetch(`${s.gw.url}${assets[0]}`, { method: 'HEAD' });
    expect([head.status, (await head.arrayBuffer()).byteLength]).toEqual([200, 0]);
    expect((await fetch(`${s.gw.url}/demo/assets/nope.js`)).status).toBe(404);
    expect((await fetch(`${s.gw.url}/`, { method: 'POST' })).status).toBe(405);

    const icon = await fetch(`${s.gw.url}/demo/favicon.svg`);
    expect([icon.status, icon.headers.get('content-type'), icon.headers.get('cache-control')]).toEqual([200, 'image/svg+xml', 'no-cache']);

    const config = await fetch(`${s.gw.url}/demo/config.json`);
    expect(await config.json()).toEqual({ auth: false, graphiql: true });
  });

  it('is on by default only in the embedded default; DEMO_PAGE overrides; off, / redirects to /graphql', async () => {
    const remote = { HOST: '127.0.0.1', MAVI_API_KEY: 'k', MAVI_WEBHOOK_SECRET: TEST_WEBHOOK_SECRET };
    expect(loadConfig({}).exposure.demoPage).toBe(true);
    expect(loadConfig(remote).exposure.demoPage).toBe(false);
    expect(loadConfig({ ...remote, DEMO_PAGE: 'true' }).exposure.demoPage).toBe(true);
    expect(loadConfig({ DEMO_PAGE: 'false' }).exposure.demoPage).toBe(false);

    const s = await setup({ DEMO_PAGE: 'false' });
    const res = await fetch(`${s.gw.url}/`, { redirect: 'manual' });
    expect([res.status, res.headers.get('location')]).toEqual([302, '/graphql']);
    expect((await fetch(`${s.gw.url}/demo/config.json`)).status).not.toBe(200);
  });

  it("the committed web/src/gql is what codegen makes from the demo's operations and schema/schema.graphql", async () => {
    const web = { ...codegenConfig, generates: { 'web/src/gql/': codegenConfig.generates['web/src/gql/']! } };
    const files = (await generate(web, false)) as Array<{ filename: string; content: string }>;
    expect(files.map((f) => f.filename).sort()).toEqual(['gql.ts', 'graphql.ts', 'index.ts'].map((f) => `web/src/gql/${f}`));
    for (const file of files) expect(file.content, `${file.filename}: run npm run codegen`).toBe(readFileSync(file.filename, 'utf8'));
  });

  it('has a human message for every error code the gateway defines', () => {
    const missing = Object.values(ErrorCode).filter((code) => !ERROR_MESSAGES[code]);
    expect(missing).toEqual([]);
  });
});

describe('production build', () => {
  /**
   * What `npm run build` lays out (dist/http/demo-page.js beside dist/web/), run by plain node (no tsx) with no
   * scripts/ next to it: the page can only come from dist/web. Only demo-page.ts and its one runtime import are
   * compiled (build.test.ts compiles and boots the whole dist/main.js).
   */
  it('serves the prebuilt dist/web under plain node, without the build script or esbuild', async () => {
    const root = fileURLToPath(new URL('../..', import.meta.url));
    const app = await mkdtemp(path.join(tmpdir(), 'demo-build-'));
    disposers.push(() => rm(app, { recursive: true, force: true }));
    await esbuild({
      entryPoints: ['src/http/demo-page.ts', 'src/http/read-body.ts'].map((f) => path.join(root, f)),
      outdir: path.join(app, 'dist/http'),
      format: 'esm',
      platform: 'node',
      logLevel: 'silent',
    });
    await writeFile(path.join(app, 'package.json'), '{ "type": "module" }');
    await writeWebApp(path.join(app, 'dist/web'));
    const port = await freePort();
    const server = `import { createServer } from 'node:http';
import { createDemoPage } from './dist/http/demo-page.js';
const demo = createDemoPage({ auth: false, graphiql: false, mediaOrigin: () => 'http://localhost:${port}', uploadOrigins: [], logger: console });
createServer((req, res) => demo.handle(req, res, req.url)).listen(${port}, '127.0.0.1', () => console.log('GraphQL: http://127.0.0.1:${port}/graphql'));
`;
    await writeFile(path.join(app, 'serve.mjs'), server);
    const main = startMain({}, { args: ['serve.mjs'], cwd: app });
    await graphiqlUrl(main);
    const base = `http://127.0.0.1:${port}`;

    const page = await fetch(`${base}/`);
    expect(page.status).toBe(200);
    const assets = [...(await page.text()).matchAll(/(?:src|href)="(\/demo\/assets\/[^"]+)"/g)].map((m) => m[1]!);
    expect(assets).toHaveLength(2);
    for (const asset of assets) expect((await fetch(`${base}${asset}`)).status).toBe(200);
    expect(await processesInGroup(main.pid, /esbuild/)).toEqual([]);
  });

  it("GraphiQL's tabs are the demo's operations in file order, each with its file's example variables", async () => {
    const tabs = await loadExampleTabs();
    expect(tabs.map((t) => /^(?:query|mutation|subscription) (\w+)/m.exec(t.query)?.[1])).toEqual([
      'CreateVideoUpload',
      'StartFrameExtraction',
      'FollowFrameExtraction',
      'FrameGrid',
    ]);
    expect(JSON.parse(tabs[1]!.variables!)).toEqual({ assetId: 're_…' });
  });
});
