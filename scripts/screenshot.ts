/**
 * `npm run screenshot`: makes docs/demo.png, the README's picture of the demo app. Starts the embedded engine and a
 * gateway on free ports (temp data dirs), generates a test video with ffmpeg, runs the page's real flow in headless
 * Chromium (direct upload, extraction, frames grid, sprite scrubber) and saves a screenshot. Needs Debian's chromium
 * (CHROMIUM_PATH to override), like the browser tests.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { loadConfig } from '../src/config.js';
import { createEngine } from '../src/engine/index.js';
import { silentLogger } from '../src/logger.js';
import { createGateway } from '../src/server.js';
import { generateVideo } from '../test/helpers/video.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const OUT = path.resolve(process.argv[2] ?? path.join(ROOT, 'docs/demo.png'));
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

const work = await mkdtemp(path.join(tmpdir(), 'frames-screenshot-'));
const apiKey = randomBytes(12).toString('hex');
const engine = await createEngine({ apiKey, port: 0, dataDir: path.join(work, 'engine'), frameIntervalSeconds: 1, logger: { info() {}, warn() {}, error() {} } });
// As main.ts does in embedded mode: the config of the default (no MAVI_API_KEY), pointed at the engine.
const base = loadConfig({ PORT: '0', HOST: '127.0.0.1', DATA_DIR: path.join(work, 'data'), MEDIA_CACHE_DIR: path.join(work, 'media'), LOG_LEVEL: 'silent' });
const gateway = createGateway({ ...base, upstream: { ...base.upstream, baseUrl: engine.url, apiKey } }, { logger: silentLogger, engineUrl: engine.url });
await gateway.start();
const origin = gateway.url.replace('127.0.0.1', 'localhost');
engine.setWebhookUrl(gateway.webhookUrl.replace(/^http:\/\/localhost:/, 'http://127.0.0.1:'));
// As main.ts does: signed upload URLs name the gateway, which proxies them to the engine (one origin for the page).
engine.setPublicUrl(origin);
const browser = await chromium.launch({ executablePath: CHROMIUM, args: FLAGS });
try {
  const video = await generateVideo({ dir: work, seconds: 12, width: 640, height: 360, name: 'test-pattern.mp4' });
  const page = await browser.newPage({ viewport: { width: 1180, height: 980 }, deviceScaleFactor: 1 });
  await page.goto(`${origin}/`);
  await page.waitForSelector('body[data-ready="true"]');
  await page.setInputFiles('#file-input', video);
  await page.waitForFunction(() => !document.getElementById('result-panel')!.hidden || !document.getElementById('error')!.hidden, undefined, {
    timeout: 60_000,
  });
  const error = await page.locator('#error').evaluate((e: HTMLElement) => (e.hidden ? null : e.textContent));
  if (error) throw new Error(`the demo showed an error: ${error}`);
  await page.$$eval('img', (imgs) => Promise.all((imgs as HTMLImageElement[]).filter((i) => i.src).map((i) => i.decode().catch(() => {}))));
  await page.waitForSelector('#scrubber:not([hidden])');
  await page.locator('#sprite').evaluate((img: HTMLImageElement) => img.decode());
  await page.locator('#scrub-input').fill('5');
  await page.locator('#scrub-input').blur();
  await page.screenshot({ path: OUT, fullPage: true });
  process.stdout.write(`wrote ${path.relative(process.cwd(), OUT)}\n`);
} finally {
  await browser.close();
  await gateway.stop();
  await engine.stop();
  await rm(work, { recursive: true, force: true });
}
