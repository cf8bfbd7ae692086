/**
 * A real browser (Debian's Chromium driven by playwright-core) against the real gateway: GraphiQL loads with no
 * network beyond the gateway, runs a query and a live subscription over graphql-ws, and a frame's signed URL
 * renders as an <img>. `.ci/run` installs Chromium; CHROMIUM_PATH overrides its location.
 */
import { existsSync } from 'node:fs';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startFakeUpstream, type FakeUpstream } from '../helpers/fake-upstream.js';
import { startTestGateway, TEST_WEBHOOK_SECRET, type TestGateway } from '../helpers/gateway.js';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

let browser: Browser;
let fake: FakeUpstream;
let gw: TestGateway;
let page: Page;
const offGateway: string[] = [];

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) throw new Error(`Chromium not found at ${CHROMIUM}: install Debian's chromium (see .ci/run) or set CHROMIUM_PATH`);
  browser = await chromium.launch({ executablePath: CHROMIUM, args: FLAGS });
});
afterAll(async () => {
  await browser?.close();
});
beforeEach(async () => {
  fake = await startFakeUpstream({ rps: 0 });
  // startTestGateway sets MAVI_API_KEY, which turns GraphiQL and introspection (its schema explorer) off.
  gw = await startTestGateway({ upstreamUrl: fake.url, env: { GRAPHIQL: 'true', INTROSPECTION: 'true' } });
  fake.setWebhookUrl(`${gw.url}/webhooks/mavi/${TEST_WEBHOOK_SECRET}`);
  page = await browser.newPage();
  offGateway.length = 0;
  // GraphiQL must not depend on a CDN: record every request that leaves the gateway.
  page.on('request', (r) => {
    if (!r.url().startsWith(gw.url) && !r.url().startsWith('blob:') && !r.url().startsWith('data:')) offGateway.push(r.url());
  });
});
afterEach(async () => {
  await page?.close();
  await gw.close();
  await fake.close();
});

const openGraphiQL = async (query: string) => {
  await page.goto(`${gw.url}/graphql?query=${encodeURIComponent(query)}`);
  await page.waitForSelector('.graphiql-container');
  await page.click('.graphiql-execute-button');
};
/** The response pane's text with Monaco's non-breaking spaces and line breaks folded to single spaces. */
const responseText = () => page.evaluate(() => (document.querySelector('.graphiql-response')?.textContent ?? '').replace(/\s+/g, ' '));
const responseContains = (text: string) =>
  page.waitForFunction(
    (t) => (document.querySelector('.graphiql-response')?.textContent ?? '').replace(/\s+/g, ' ').includes(t),
    text,
  );

describe('in a real browser', () => {
  it('GraphiQL loads from the gateway alone and runs a query', async () => {
    const { collectionId } = fake.addCollection(3);
    await openGraphiQL(`{ frameCollection(id: "${collectionId}") { frameCount } }`);
    await responseContains('"frameCount": 3');
    expect(offGateway).toEqual([]);
  });

  it('GraphiQL follows a task over graphql-ws from PENDING to SUCCEEDED', async () => {
    const res = await gw.graphql(`mutation($id: ID!) { extractFrames(assetId: $id) { ... on ExtractFramesSuccess { task { id } } } }`, {
      id: fake.addAsset(),
    });
    const taskId = res.data!.extractFrames.task.id as string;
    await openGraphiQL(`subscription { frameExtractionTask(id: "${taskId}") { status frameCount } }`);
    await responseContains('PENDING');
    await fake.completeTask(taskId, { frames: 2 });
    await responseContains('SUCCEEDED');
    expect(await responseText()).toContain('"frameCount": 2');
  });

  it('renders a frame from its signed gateway URL in an <img>', async () => {
    const { collectionId } = fake.addCollection(2);
    const res = await gw.graphql(`query($id: ID!) { frameCollection(id: $id) { frames { url } } }`, { id: collectionId });
    const url = res.data!.frameCollection.frames[1].url as string;
    await page.goto(`${gw.url}/healthz`);
    const size = await page.evaluate(async (src) => {
      const img = new Image();
      img.src = src;
      await img.decode();
      return { width: img.naturalWidth, height: img.naturalHeight };
    }, url);
    expect(size.width).toBeGreaterThan(0);
    expect(size.height).toBeGreaterThan(0);
    const forged = url.replace(/sig=[^&]+/, 'sig=' + 'A'.repeat(43));
    await expect(page.evaluate(async (src) => {
      const img = new Image();
      img.src = src;
      await img.decode();
    }, forged)).rejects.toThrow();
  });
});
