/**
 * Direct uploads from the browser (createVideoUpload): the gateway hands out a signed URL, a plain `fetch` POSTs the
 * file there (multipart, no Authorization), the asset reaches SUCCESS and frames can be extracted from it. Over the
 * fake upstream (tenancy, quota, refunds, bad input) and over the real engine with an ffmpeg-made video, the signed
 * URL then pointing at the gateway's own port (the embedded-mode proxy).
 */
import { readFileSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { existsSync } from 'node:fs';
import { SignJWT } from 'jose';
import { chromium } from 'playwright-core';
import { afterEach, describe, expect, it } from 'vitest';
import { createEngine } from '../../src/engine/index.js';
import { SIGNED_UPLOAD_PREFIX } from '../../src/engine/signed-upload.js';
import { SIGNED_UPLOAD_PATH_PREFIX } from '../../src/http/signed-upload-proxy.js';
import { FAKE_STORAGE_PREFIX, SIGNED_URL_EXPIRES_IN_SECONDS, startFakeUpstream, type FakeUpstream } from '../helpers/fake-upstream.js';
import { startTestGateway, TEST_API_KEY, TEST_WEBHOOK_SECRET, type GraphQLResponse, type TestGateway } from '../helpers/gateway.js';
import { generateVideo } from '../helpers/video.js';

const operation = (name: string) => readFileSync(new URL(`../operations/${name}.graphql`, import.meta.url), 'utf8');
const CREATE = operation('create-video-upload');
const ASSET = `query($id: ID!) { videoAsset(id: $id) { id filename uploadStatus } }`;
const EXTRACT = operation('start-frame-extraction');
const JWT_SECRET = 'direct-upload-jwt-secret-0123456789abcdef';

const token = (tenant: string) =>
  new SignJWT({ tenant }).setProtectedHeader({ alg: 'HS256' }).setIssuedAt().setExpirationTime('1h').sign(new TextEncoder().encode(JWT_SECRET));

let disposers: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const dispose of disposers.reverse()) await dispose();
  disposers = [];
});

async function gql(gw: TestGateway, query: string, variables: Record<string, unknown>, tenant?: string): Promise<GraphQLResponse> {
  const headers: Record<string, string> = { 'content-type': 'application/json', accept: 'application/graphql-response+json' };
  if (tenant) headers.authorization = `Bearer ${await token(tenant)}`;
  const res = await fetch(`${gw.url}/graphql`, { method: 'POST', headers, body: JSON.stringify({ query, variables }) });
  return (await res.json()) as GraphQLResponse;
}

/** What a browser does with the ticket: `fetch(uploadUrl, { method, body: formData })`, no credentials. */
async function browserUpload(ticket: { uploadUrl: string; method: string; fieldName: string }, bytes: Uint8Array, name: string) {
  const form = new FormData();
  form.append(ticket.fieldName, new Blob([new Uint8Array(bytes)], { type: 'video/mp4' }), name);
  const res = await fetch(ticket.uploadUrl, { method: ticket.method, body: form, headers: { origin: 'http://app.example' } });
  return { status: res.status, cors: res.headers.get('access-control-allow-origin'), body: (await res.json()) as Record<string, any> };
}

async function fakeAndGateway(env: Record<string, string> = {}, fakeOptions: Parameters<typeof startFakeUpstream>[0] = {}) {
  const fake = await startFakeUpstream({ rps: 0, ...fakeOptions });
  disposers.push(fake.close);
  const gw = await startTestGateway({ upstreamUrl: fake.url, env });
  disposers.push(gw.close);
  fake.setWebhookUrl(`${gw.url}/webhooks/mavi/${TEST_WEBHOOK_SECRET}`);
  return { fake, gw };
}

const signedUrlCalls = (fake: FakeUpstream) => fake.callsTo('POST', '/upload/signed-url');

describe('createVideoUpload over the fake upstream', () => {
  it('hands out a keyless ticket; a plain fetch uploads the file, the asset reaches SUCCESS and extracts', async () => {
    const { fake, gw } = await fakeAndGateway();
    const before = Date.now();
    const { data } = await gw.graphql(CREATE, { filename: 'holiday clip.mp4', contentType: 'video/mp4' });
    const ticket = data!.createVideoUpload;
    expect(ticket).toMatchObject({
      __typename: 'VideoUploadTicket',
      asset: { id: expect.stringMatching(/^re_\d{18}$/), filename: 'holiday clip.mp4', uploadStatus: 'WAITING' },
      method: 'POST',
      fieldName: 'file',
    });
    expect(ticket.uploadUrl.startsWith(`${fake.url}${FAKE_STORAGE_PREFIX}${ticket.asset.id}?`)).toBe(true);
    expect(ticket.uploadUrl).not.toContain(TEST_API_KEY);
    const expiresAt = Date.parse(ticket.expiresAt);
    expect(expiresAt).toBeGreaterThanOrEqual(before + SIGNED_URL_EXPIRES_IN_SECONDS * 1000);
    expect(expiresAt).toBeLessThanOrEqual(Date.now() + SIGNED_URL_EXPIRES_IN_SECONDS * 1000);
    expect(signedUrlCalls(fake)).toHaveLength(1);
    expect(signedUrlCalls(fake)[0]!.authorization).toBe(TEST_API_KEY);

    const uploaded = await browserUpload(ticket, new TextEncoder().encode('fake video bytes'), 'holiday clip.mp4');
    expect(uploaded).toMatchObject({ status: 200, cors: '*' });
    const storageCalls = fake.callsTo('POST', FAKE_STORAGE_PREFIX);
    expect(storageCalls.map((c) => [c.status, c.authorization])).toEqual([[200, null]]);

    const asset = await gw.graphql(ASSET, { id: ticket.asset.id });
    expect(asset.data!.videoAsset).toEqual({ id: ticket.asset.id, filename: 'holiday clip.mp4', uploadStatus: 'SUCCESS' });
    const extracted = await gw.graphql(EXTRACT, { assetId: ticket.asset.id });
    expect(extracted.data!.extractFrames.__typename).toBe('ExtractFramesSuccess');
  });

  it('answers a second upload to the same URL with 409, and stores nothing', async () => {
    const { fake, gw } = await fakeAndGateway();
    const ticket = (await gw.graphql(CREATE, { filename: 'a.mp4' })).data!.createVideoUpload;
    expect((await browserUpload(ticket, new Uint8Array([1, 2, 3]), 'a.mp4')).status).toBe(200);
    const again = await browserUpload(ticket, new Uint8Array([9, 9, 9, 9]), 'b.mp4');
    expect(again.status).toBe(409);
    expect(again.body.msg).toMatch(/already uploaded/);
    const download = await fetch(`${fake.url}/${ticket.asset.id}/download`, { headers: { authorization: TEST_API_KEY } });
    expect([...new Uint8Array(await download.arrayBuffer())]).toEqual([1, 2, 3]);
  });

  it.each([
    ['', /empty/],
    ['   ', /empty/],
    ['video', /no extension/],
    ['notes.txt', /not a video extension/],
    ['photo.jpg', /not a video extension/],
    [`${'a'.repeat(252)}.mp4`, /longer than 255/],
    ['../../etc/clip.mp4', /plain file name/],
    ['clip\n.mp4', /plain file name/],
  ])('refuses the filename %j with INVALID_ARGUMENT and no upstream call', async (filename, message) => {
    const { fake, gw } = await fakeAndGateway();
    const { data } = await gw.graphql(CREATE, { filename });
    expect(data!.createVideoUpload).toEqual({ __typename: 'InvalidArgumentError', code: 'INVALID_ARGUMENT', message: expect.stringMatching(message) });
    expect(fake.calls).toHaveLength(0);
  });

  it('refuses a contentType that is not a video', async () => {
    const { fake, gw } = await fakeAndGateway();
    const { data } = await gw.graphql(CREATE, { filename: 'clip.mp4', contentType: 'image/png' });
    expect(data!.createVideoUpload).toMatchObject({ __typename: 'InvalidArgumentError', code: 'INVALID_ARGUMENT' });
    expect(fake.calls).toHaveLength(0);
  });

  it("with auth: the asset is the caller's tenant's, null for another tenant", async () => {
    const { gw } = await fakeAndGateway({ AUTH_JWT_SECRET: JWT_SECRET });
    const ticket = (await gql(gw, CREATE, { filename: 'mine.mp4' }, 'tenant-a')).data!.createVideoUpload;
    expect(ticket.__typename).toBe('VideoUploadTicket');
    expect((await browserUpload(ticket, new Uint8Array([1, 2]), 'mine.mp4')).status).toBe(200);
    expect((await gql(gw, ASSET, { id: ticket.asset.id }, 'tenant-a')).data!.videoAsset).toMatchObject({ uploadStatus: 'SUCCESS' });
    expect((await gql(gw, ASSET, { id: ticket.asset.id }, 'tenant-b')).data!.videoAsset).toBeNull();
    const list = await gql(gw, `{ videoAssets(first: 5) { edges { node { id } } } }`, {}, 'tenant-a');
    expect(list.data!.videoAssets.edges.map((e: { node: { id: string } }) => e.node.id)).toEqual([ticket.asset.id]);
  });

  it('TENANT_UPLOADS_PER_HOUR=1: the second ticket is QuotaExceededError with no upstream call; a refused call is refunded', async () => {
    const { fake, gw } = await fakeAndGateway({ AUTH_JWT_SECRET: JWT_SECRET, TENANT_UPLOADS_PER_HOUR: '1' });
    // The upstream refuses the first call (a 4xx proves nothing was made): the unit comes back.
    fake.setFailure({ status: 400, body: { code: 400, msg: 'original_filename is required', data: null, success: false, failed: true } });
    const refused = (await gql(gw, CREATE, { filename: 'one.mp4' }, 'tenant-a')).data!.createVideoUpload;
    expect(refused).toMatchObject({ __typename: 'UpstreamUnavailableError', code: 'UPSTREAM_UNAVAILABLE' });

    const first = (await gql(gw, CREATE, { filename: 'one.mp4' }, 'tenant-a')).data!.createVideoUpload;
    expect(first.__typename).toBe('VideoUploadTicket');
    const callsBefore = signedUrlCalls(fake).length;
    const second = (await gql(gw, CREATE, { filename: 'two.mp4' }, 'tenant-a')).data!.createVideoUpload;
    expect(second).toMatchObject({ __typename: 'QuotaExceededError', code: 'QUOTA_EXCEEDED', retryAfterSeconds: expect.any(Number) });
    expect(signedUrlCalls(fake)).toHaveLength(callsBefore);
    // Another tenant has its own budget.
    expect((await gql(gw, CREATE, { filename: 'three.mp4' }, 'tenant-b')).data!.createVideoUpload.__typename).toBe('VideoUploadTicket');
  });
});

describe('createVideoUpload over the embedded engine (npm start: one port)', () => {
  it('uploads an ffmpeg video through the gateway-proxied signed URL, reaches SUCCESS and extracts frames', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'direct-upload-'));
    disposers.push(() => rm(dir, { recursive: true, force: true }));
    const clip = await readFile(await generateVideo({ dir, seconds: 3 }));
    const engine = await createEngine({
      apiKey: TEST_API_KEY,
      dataDir: path.join(dir, 'data'),
      logger: { info() {}, warn() {}, error() {} },
    });
    disposers.push(engine.stop);
    // As src/main.ts wires embedded mode: the gateway knows the engine, the engine signs URLs on the gateway's origin.
    const gw = await startTestGateway({ upstreamUrl: engine.url, deps: { engineUrl: engine.url } });
    disposers.push(gw.close);
    engine.setWebhookUrl(`${gw.url}/webhooks/mavi/${TEST_WEBHOOK_SECRET}`);
    engine.setPublicUrl(gw.url);

    const ticket = (await gw.graphql(CREATE, { filename: 'clip.mp4', contentType: 'video/mp4' })).data!.createVideoUpload;
    expect(ticket.__typename).toBe('VideoUploadTicket');
    expect(ticket.uploadUrl.startsWith(`${gw.url}/upload/signed/${ticket.asset.id}?`)).toBe(true);
    expect(ticket.uploadUrl).not.toContain(TEST_API_KEY);
    // A page polling before its upload: this WAITING answer must not be what it sees afterwards.
    expect((await gw.graphql(ASSET, { id: ticket.asset.id })).data!.videoAsset.uploadStatus).toBe('WAITING');

    const uploaded = await browserUpload(ticket, clip, 'clip.mp4');
    expect(uploaded).toMatchObject({ status: 200, cors: '*', body: { data: { asset_id: ticket.asset.id } } });
    await engine.idle(); // the probe ran

    expect((await gw.graphql(ASSET, { id: ticket.asset.id })).data!.videoAsset).toEqual({
      id: ticket.asset.id,
      filename: 'clip.mp4',
      uploadStatus: 'SUCCESS',
    });
    const sub = gw.subscribeWs(`subscription($id: ID!) { frameExtractionTask(id: $id) { status frameCount } }`, {
      id: (await gw.graphql(EXTRACT, { assetId: ticket.asset.id })).data!.extractFrames.task.id,
    });
    let last: GraphQLResponse;
    do last = await sub.events.next();
    while (last.data!.frameExtractionTask.status === 'PENDING');
    expect(last.data!.frameExtractionTask).toEqual({ status: 'SUCCEEDED', frameCount: 3 });
  });
});

describe('the engine signed upload target', () => {
  const engineIn = async (dir: string, options: Partial<Parameters<typeof createEngine>[0]> = {}) => {
    const engine = await createEngine({ apiKey: TEST_API_KEY, dataDir: path.join(dir, 'data'), logger: { info() {}, warn() {}, error() {} }, ...options });
    disposers.push(engine.stop);
    return engine;
  };
  const tempDir = async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'signed-target-'));
    disposers.push(() => rm(dir, { recursive: true, force: true }));
    return dir;
  };
  const signedUrl = async (engineUrl: string, filename = 'clip.mp4') => {
    const res = await fetch(`${engineUrl}/upload/signed-url`, {
      method: 'POST',
      headers: { authorization: TEST_API_KEY, 'content-type': 'application/json' },
      body: JSON.stringify({ original_filename: filename }),
    });
    return ((await res.json()) as { data: { asset_id: string; signed_url: string; expires_in: number } }).data;
  };
  const status = async (engineUrl: string, id: string) =>
    ((await (await fetch(`${engineUrl}/${id}/metadata`, { headers: { authorization: TEST_API_KEY } })).json()) as any).data.resource[0];
  const ticketOf = (uploadUrl: string) => ({ uploadUrl, method: 'POST', fieldName: 'file' });

  it('refuses an expired URL with 403 and keeps the asset WAITING', async () => {
    const engine = await engineIn(await tempDir(), { signedUploadTtlSeconds: 0 });
    const data = await signedUrl(engine.url);
    expect(data.expires_in).toBe(0);
    const refused = await browserUpload(ticketOf(data.signed_url), new Uint8Array([1, 2, 3]), 'clip.mp4');
    expect(refused).toMatchObject({ status: 403, cors: '*', body: { code: 403, msg: expect.stringMatching(/expired/) } });
    expect((await status(engine.url, data.asset_id)).upload_status).toBe('WAITING');
  });

  it('answers 413 over the upload limit and stores nothing; the URL stays usable', async () => {
    const dir = await tempDir();
    const engine = await engineIn(dir, { maxUploadBytes: 1000 });
    const data = await signedUrl(engine.url);
    const refused = await browserUpload(ticketOf(data.signed_url), new Uint8Array(5000), 'clip.mp4');
    expect(refused).toMatchObject({ status: 413, body: { msg: expect.stringMatching(/limit/) } });
    expect(await readdir(path.join(dir, 'data', 'assets'))).toEqual([]);
    expect(await readdir(path.join(dir, 'data', 'tmp'))).toEqual([]);
    expect((await browserUpload(ticketOf(data.signed_url), new Uint8Array(500).fill(7), 'clip.mp4')).status).toBe(200);
  });

  it('a refused upload with a large body (8 MB) still gets its 409 / 403 answer, and nothing is stored', async () => {
    const dir = await tempDir();
    const engine = await engineIn(dir);
    const data = await signedUrl(engine.url);
    expect((await browserUpload(ticketOf(data.signed_url), new Uint8Array([1, 2, 3]), 'clip.mp4')).status).toBe(200);
    const big = new Uint8Array(8 * 1024 * 1024).fill(5);
    expect(await browserUpload(ticketOf(data.signed_url), big, 'clip.mp4')).toMatchObject({ status: 409, cors: '*' });
    const forged = data.signed_url.replace(/signature=[^&]+/, 'signature=forged');
    expect(await browserUpload(ticketOf(forged), big, 'clip.mp4')).toMatchObject({ status: 403, cors: '*' });
    expect(await readdir(path.join(dir, 'data', 'tmp'))).toEqual([]);
    expect((await status(engine.url, data.asset_id)).file_size).toBe('3');
  });

  it('keeps a waiting asset and its URL across a restart (the key is derived, not random)', async () => {
    const dir = await tempDir();
    const clip = await readFile(await generateVideo({ dir, seconds: 2 }));
    const first = await engineIn(dir);
    const data = await signedUrl(first.url);
    await first.stop();
    const second = await engineIn(dir);
    expect((await status(second.url, data.asset_id)).upload_status).toBe('WAITING');
    const moved = data.signed_url.replace(first.url, second.url);
    expect((await browserUpload(ticketOf(moved), clip, 'x.mp4')).status).toBe(200);
    await second.idle();
    expect(await status(second.url, data.asset_id)).toMatchObject({ upload_status: 'SUCCESS', file_size: String(clip.length) });
  });

  it('through the gateway, only the signed upload path reaches the engine', async () => {
    expect(SIGNED_UPLOAD_PATH_PREFIX).toBe(SIGNED_UPLOAD_PREFIX); // the gateway cannot import the engine: checked here
    const engine = await engineIn(await tempDir());
    const gw = await startTestGateway({ upstreamUrl: engine.url, deps: { engineUrl: engine.url } });
    disposers.push(gw.close);
    const keyed = await fetch(`${gw.url}/upload/signed-url`, {
      method: 'POST',
      headers: { authorization: TEST_API_KEY, 'content-type': 'application/json' },
      body: JSON.stringify({ original_filename: 'a.mp4' }),
    });
    expect(keyed.status).toBe(404);
    const preflight = await fetch(`${gw.url}/upload/signed/re_100000000000000001?expires=1&signature=x`, {
      method: 'OPTIONS',
      headers: { origin: 'http://app.example', 'access-control-request-method': 'POST' },
    });
    expect([preflight.status, preflight.headers.get('access-control-allow-origin')]).toEqual([204, '*']);
    const forged = await browserUpload(ticketOf(`${gw.url}/upload/signed/re_100000000000000001?expires=9999999999&signature=x`), new Uint8Array([1]), 'a.mp4');
    expect(forged).toMatchObject({ status: 403, cors: '*', body: { msg: expect.stringMatching(/signature/i) } });
  });
});

describe('in a real browser (Chromium)', () => {
  const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
  const FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

  it('a page on the gateway uploads cross-origin to the engine (simple and preflighted requests) and reads the answer', async () => {
    if (!existsSync(CHROMIUM)) throw new Error(`Chromium not found at ${CHROMIUM}: install Debian's chromium or set CHROMIUM_PATH`);
    const dir = await mkdtemp(path.join(tmpdir(), 'direct-upload-browser-'));
    disposers.push(() => rm(dir, { recursive: true, force: true }));
    const clip = await readFile(await generateVideo({ dir, seconds: 2 }));
    const engine = await createEngine({ apiKey: TEST_API_KEY, dataDir: path.join(dir, 'data'), logger: { info() {}, warn() {}, error() {} } });
    disposers.push(engine.stop);
    // No proxy: the signed URLs point at the engine's own port, another origin than the page's.
    const gw = await startTestGateway({ upstreamUrl: engine.url });
    disposers.push(gw.close);
    const browser = await chromium.launch({ executablePath: CHROMIUM, args: FLAGS });
    disposers.push(() => browser.close());
    const page = await browser.newPage();
    await page.goto(`${gw.url}/healthz`);

    const results = await page.evaluate(
      async ({ query, bytes }) => {
        const upload = async (filename: string, extraHeaders: Record<string, string>) => {
          const created = await fetch('/graphql', {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify({ query, variables: { filename, contentType: 'video/mp4' } }),
          });
          const ticket = (await created.json()).data.createVideoUpload;
          const form = new FormData();
          form.append(ticket.fieldName, new File([new Uint8Array(bytes)], filename, { type: 'video/mp4' }));
          const res = await fetch(ticket.uploadUrl, { method: ticket.method, body: form, headers: extraHeaders });
          return { id: ticket.asset.id as string, crossOrigin: new URL(ticket.uploadUrl).origin !== location.origin, status: res.status, body: await res.json() };
        };
        return [await upload('simple.mp4', {}), await upload('preflighted.mp4', { 'x-upload-note': 'forces a CORS preflight' })];
      },
      { query: CREATE, bytes: Array.from(clip) },
    );
    for (const result of results) {
      expect(result).toMatchObject({ crossOrigin: true, status: 200, body: { data: { asset_id: result.id } } });
    }
    await engine.idle();
    for (const { id } of results) expect((await gw.graphql(ASSET, { id })).data!.videoAsset.uploadStatus).toBe('SUCCESS');
  });
});
