/**
 * The embedded engine behind the real gateway, end to end: GraphQL multipart upload, extraction followed over
 * graphql-ws, frames/zip/original through signed media URLs, bad uploads and URL imports. Real ffmpeg, no sleeps:
 * tests await engine.idle(), subscription events and held webhook callbacks.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createEngine, type Engine, type EngineOptions } from '../../src/engine/index.js';
import { createDeferred } from '../helpers/deferred.js';
import { startTestGateway, TEST_API_KEY, TEST_WEBHOOK_SECRET, type TestGateway } from '../helpers/gateway.js';
import { postGraphQLMultipart } from '../helpers/multipart.js';
import { generateVideo } from '../helpers/video.js';
import { isJpeg, unzip } from '../helpers/media.js';

const operation = (name: string) => readFileSync(new URL(`../operations/${name}.graphql`, import.meta.url), 'utf8');
const UPLOAD = operation('upload-video');
const IMPORT = operation('import-video');
const ASSET = operation('video-asset');
const EXTRACT = operation('start-frame-extraction');
const FOLLOW = operation('follow-frame-extraction');
const COLLECTION = operation('frame-collection');

const silent = { info() {}, warn() {}, error() {} };

// ---------------------------------------------------------------- fixtures and helpers

let videos: { dir: string; clip: Buffer; truncated: Buffer; corrupt: Buffer };

beforeAll(async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'engine-gw-videos-'));
  const clip = await readFile(await generateVideo({ dir, seconds: 4 }));
  const faststart = await readFile(await generateVideo({ dir, seconds: 4, faststart: true, name: 'faststart.mp4' }));
  videos = {
    dir,
    clip,
    truncated: clip.subarray(0, Math.floor(clip.length / 2)), // moov atom (at the end) cut off: probe fails
    corrupt: faststart.subarray(0, Math.floor(faststart.length * 0.4)), // index intact, media cut: extraction fails
  };
});

afterAll(async () => {
  if (videos) await rm(videos.dir, { recursive: true, force: true });
});

let disposers: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const dispose of disposers.reverse()) await dispose();
  disposers = [];
});

/**
 * Pass-through from the engine's webhook to the gateway's, so a test can hold a callback until its subscriber has
 * seen PENDING (otherwise a fast extraction may finish before the subscription starts).
 */
async function startCallbackRelay(target: string) {
  let gate: Promise<void> = Promise.resolve();
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      void (async () => {
        await gate;
        const reply = await fetch(target, { method: 'POST', headers: { 'content-type': 'application/json' }, body: Buffer.concat(chunks) });
        res.writeHead(reply.status).end(await reply.text());
      })().catch(() => res.writeHead(502).end());
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/relay`,
    /** Holds every callback until the returned function is called. */
    hold(): () => void {
      const release = createDeferred();
      gate = release.promise;
      return () => release.resolve();
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/**
 * A real engine (key = the gateway's test key) behind a real gateway whose upstream calls are recorded.
 * (stale-upload-status.test.ts pins the race between the upload read-back and the engine's probe.)
 */
async function setup(engineOptions: Partial<EngineOptions> = {}) {
  const dataDir = await mkdtemp(path.join(tmpdir(), 'engine-gw-data-'));
  disposers.push(() => rm(dataDir, { recursive: true, force: true }));
  const engine: Engine = await createEngine({
    apiKey: TEST_API_KEY,
    port: 0,
    dataDir,
    frameIntervalSeconds: 1,
    maxFrames: 50,
    logger: silent,
    ...engineOptions,
  });
  disposers.push(engine.stop);
  const upstreamCalls: string[] = [];
  const gatewayFetch: typeof fetch = async (input, init) => {
    const url = input instanceof Request ? input.url : String(input);
    if (!url.startsWith(engine.url)) return fetch(input, init); // importVideo's download of the source URL
    const route = url.slice(engine.url.length);
    upstreamCalls.push(`${init?.method ?? 'GET'} ${route}`);
    return fetch(input, init);
  };
  const gw: TestGateway = await startTestGateway({
    upstreamUrl: engine.url,
    deps: { fetch: gatewayFetch },
    env: { IMPORT_ALLOW_PRIVATE_NETWORKS: 'true' }, // importVideo tests serve the file from 127.0.0.1
  });
  disposers.push(gw.close);
  const relay = await startCallbackRelay(`${gw.url}/webhooks/mavi/${TEST_WEBHOOK_SECRET}`);
  disposers.push(relay.close);
  engine.setWebhookUrl(relay.url);
  return { engine, gw, relay, dataDir, upstreamCalls, api: createApi(gw, engine) };
}

function createApi(gw: TestGateway, engine: Engine) {
  const api = {
    async upload(data: Uint8Array | string, filename: string, type = 'video/mp4') {
      const { status, body } = await postGraphQLMultipart(`${gw.url}/graphql`, {
        query: UPLOAD,
        variables: { file: null },
        files: [{ path: 'variables.file', data, filename, type }],
      });
      expect(status).toBe(200);
      expect(body.errors).toBeUndefined();
      return body.data!.uploadVideo;
    },
    async uploadOk(data: Uint8Array | string, filename: string, type?: string): Promise<string> {
      const result = await api.upload(data, filename, type);
      expect(result).toMatchObject({ __typename: 'UploadVideoSuccess', asset: { id: expect.stringMatching(/^re_\d{18}$/) } });
      return result.asset.id as string;
    },
    async asset(id: string) {
      const res = await gw.graphql(ASSET, { id });
      expect(res.errors).toBeUndefined();
      return res.data!.videoAsset;
    },
    /** Waits until the engine has probed every upload, then queries the asset once. */
    async settled(id: string) {
      await engine.idle();
      return api.asset(id);
    },
    async extract(assetId: string) {
      const res = await gw.graphql(EXTRACT, { assetId });
      expect(res.errors).toBeUndefined();
      return res.data!.extractFrames;
    },
    async collection(id: string) {
      const res = await gw.graphql(COLLECTION, { id });
      expect(res.errors).toBeUndefined();
      return res.data!.frameCollection;
    },
  };
  return api;
}

type Setup = Awaited<ReturnType<typeof setup>>;

/** extractFrames, then follow the task over graphql-ws (callbacks held until PENDING was seen); returns every event. */
async function extractAndFollow({ api, gw, relay }: Setup, assetId: string) {
  const release = relay.hold();
  const started = await api.extract(assetId);
  expect(started).toMatchObject({ __typename: 'ExtractFramesSuccess', reused: false, task: { assetId, status: 'PENDING' } });
  const sub = gw.subscribeWs(FOLLOW, { id: started.task.id });
  const first = await sub.events.next();
  release();
  const last = await sub.events.next();
  await sub.completed;
  return { taskId: started.task.id as string, events: [first, last].map((e) => e.data!.frameExtractionTask) };
}

async function get(url: string) {
  const res = await fetch(url);
  return { status: res.status, type: res.headers.get('content-type'), body: Buffer.from(await res.arrayBuffer()) };
}


async function filesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries.filter((e) => e.isFile()).map((e) => path.relative(dir, path.join(e.parentPath, e.name)));
}


/** A node:http server on port 0 answering every request with `status`, `contentType` and `body`. */
async function serveFile(status: number, contentType: string, body: Buffer | string) {
  const server = createServer((_req, res) => res.writeHead(status, { 'content-type': contentType }).end(body));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  disposers.push(
    () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  );
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

// ---------------------------------------------------------------- tests

describe('embedded engine through the gateway', () => {
  it('uploads with GraphQL multipart, extracts 4 frames over graphql-ws and serves frames, zip and original', async () => {
    const ctx = await setup();
    const { api } = ctx;

    const uploaded = await api.upload(videos.clip, 'clip.mp4');
    expect(uploaded).toEqual({
      __typename: 'UploadVideoSuccess',
      asset: { id: expect.stringMatching(/^re_\d{18}$/), filename: 'clip.mp4', fileSize: videos.clip.length, uploadStatus: expect.stringMatching(/^(WAITING|UPLOADING|SUCCESS)$/) },
    });
    const assetId = uploaded.asset.id as string;
    const asset = await api.settled(assetId);
    expect(asset).toMatchObject({ id: assetId, filename: 'clip.mp4', extension: 'mp4', fileSize: videos.clip.length, uploadStatus: 'SUCCESS' });

    const { events } = await extractAndFollow(ctx, assetId);
    expect(events.map((e) => e.status)).toEqual(['PENDING', 'SUCCEEDED']);
    const done = events[1]!;
    expect(done).toMatchObject({ frameCount: 4, error: null, collectionId: expect.stringMatching(/^im_\d{18}$/) });

    const collection = await api.collection(done.collectionId);
    expect(collection.frameCount).toBe(4);
    expect(collection.frames.map((f: { index: number; contentType: string }) => [f.index, f.contentType])).toEqual(
      [0, 1, 2, 3].map((i) => [i, 'image/jpeg']),
    );
    const frames = new Map<string, Buffer>();
    for (const frame of collection.frames as { id: string; url: string }[]) {
      const res = await get(frame.url);
      expect({ status: res.status, type: res.type, jpeg: isJpeg(res.body) }).toEqual({ status: 200, type: 'image/jpeg', jpeg: true });
      frames.set(`${frame.id}.jpg`, res.body);
    }

    const zip = await get(collection.zipUrl);
    expect([zip.status, zip.type]).toEqual([200, 'application/zip']);
    const entries = await unzip(zip.body);
    expect([...entries.keys()].sort()).toEqual([...frames.keys()].sort());
    for (const [name, bytes] of entries) expect(bytes.equals(frames.get(name)!), name).toBe(true);

    const tampered = new URL(collection.frames[0].url as string);
    const sig = tampered.searchParams.get('sig')!;
    tampered.searchParams.set('sig', `${sig.slice(0, -1)}${sig.endsWith('A') ? 'B' : 'A'}`);
    expect((await get(tampered.href)).status).toBe(403);

    const original = await get(asset.url);
    expect([original.status, original.type]).toEqual([200, 'video/mp4']);
    expect(original.body.equals(videos.clip)).toBe(true);
  });
});

describe('bad uploads through the gateway', () => {
  it('returns UploadRejectedError for an empty file', async () => {
    const { api, upstreamCalls } = await setup();
    expect(await api.upload(new Uint8Array(0), 'empty.mp4')).toEqual({
      __typename: 'UploadRejectedError',
      message: 'The file is empty',
      code: 'UPLOAD_REJECTED',
    });
    expect(upstreamCalls).toEqual([]);
  });

  it('accepts a text file named x.mp4, marks it FAILED and refuses to extract it without an extract call', async () => {
    const { api, upstreamCalls } = await setup();
    const assetId = await api.uploadOk('this is plain text, not a video\n'.repeat(20), 'x.mp4', 'video/mp4');
    expect((await api.settled(assetId)).uploadStatus).toBe('FAILED');
    expect(await api.extract(assetId)).toEqual({
      __typename: 'AssetNotReadyError',
      assetId,
      uploadStatus: 'FAILED',
      message: expect.stringContaining('not ready'),
      code: 'ASSET_NOT_READY',
    });
    expect(upstreamCalls.filter((c) => c.startsWith('POST /video/extract-frames'))).toEqual([]);
  });

  it('marks a truncated mp4 (first half) FAILED and refuses to extract it', async () => {
    const { api, upstreamCalls } = await setup();
    const assetId = await api.uploadOk(videos.truncated, 'cut.mp4');
    expect((await api.settled(assetId)).uploadStatus).toBe('FAILED');
    expect(await api.extract(assetId)).toMatchObject({ __typename: 'AssetNotReadyError', code: 'ASSET_NOT_READY', uploadStatus: 'FAILED' });
    expect(upstreamCalls.filter((c) => c.startsWith('POST /video/extract-frames'))).toEqual([]);
  });

  it('turns a corrupt video that probes fine into a FAILED task with the engine message, never stuck PENDING', async () => {
    const ctx = await setup();
    const assetId = await ctx.api.uploadOk(videos.corrupt, 'broken.mp4');
    expect((await ctx.api.settled(assetId)).uploadStatus).toBe('SUCCESS'); // its index is intact
    const { events } = await extractAndFollow(ctx, assetId);
    expect(events).toEqual([
      expect.objectContaining({ status: 'PENDING' }),
      expect.objectContaining({ status: 'FAILED', frameCount: null, collectionId: null, error: expect.stringMatching(/truncated or corrupt|No frames/) }),
    ]);
  });

  // 230 kB streams past the limit (counted while writing); 1 MB is refused on its Content-Length before any write.
  it.each([230_000, 1_000_000])(
    "returns UploadRejectedError for %i bytes over the engine's 200 kB limit and leaves no file in dataDir",
    async (size) => {
      const { api, engine, dataDir, upstreamCalls } = await setup({ maxUploadBytes: 200_000 });
      expect(await api.upload(randomBytes(size), 'big.mp4')).toEqual({
        __typename: 'UploadRejectedError',
        message: expect.stringMatching(/larger/),
        code: 'UPLOAD_REJECTED',
      });
      expect(upstreamCalls).toEqual(['POST /upload']);
      await engine.idle();
      expect((await filesUnder(dataDir)).filter((f) => f !== 'index.json')).toEqual([]);
    },
  );
});

describe('importVideo through the gateway', () => {
  it('imports an mp4 served as video/mp4', async () => {
    const { gw, api } = await setup();
    const base = await serveFile(200, 'video/mp4', videos.clip);
    const res = await gw.graphql(IMPORT, { url: `${base}/videos/clip.mp4` });
    expect(res.errors).toBeUndefined();
    expect(res.data!.importVideo).toEqual({
      __typename: 'ImportVideoSuccess',
      asset: { id: expect.stringMatching(/^re_\d{18}$/), filename: 'clip.mp4', fileSize: videos.clip.length, uploadStatus: expect.stringMatching(/^(WAITING|UPLOADING|SUCCESS)$/) },
    });
    expect((await api.settled(res.data!.importVideo.asset.id)).uploadStatus).toBe('SUCCESS');
  });

  it.each([
    { what: 'a text/html page', status: 200, type: 'text/html', message: /text\/html/ },
    { what: 'a 404', status: 404, type: 'text/plain', message: /404/ },
  ])('returns ImportFailedError for $what and uploads nothing', async ({ status, type, message }) => {
    const { gw, upstreamCalls } = await setup();
    const url = `${await serveFile(status, type, type === 'text/html' ? '<html>not a video</html>' : 'not found')}/clip.mp4`;
    const res = await gw.graphql(IMPORT, { url });
    expect(res.errors).toBeUndefined();
    expect(res.data!.importVideo).toEqual({ __typename: 'ImportFailedError', url, message: expect.stringMatching(message), code: 'IMPORT_FAILED' });
    expect(upstreamCalls).toEqual([]);
  });
});
