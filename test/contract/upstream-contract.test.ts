/**
 * The v2 REST + callback contract (/work/shared/upstream-api.md), checked with raw fetch against every
 * implementation the gateway can talk to: the fake upstream (both doc generations) and the embedded engine.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fromBufferPromise } from 'yauzl';
import { createEventQueue } from '../helpers/deferred.js';
import { startFakeUpstream } from '../helpers/fake-upstream.js';

interface ReceivedCallback {
  contentType: string | undefined;
  body: unknown;
}

interface WebhookReceiver {
  url: string;
  /** The next callback carrying `task_id === taskId` (others are kept for later calls). */
  nextFor(taskId: string): Promise<ReceivedCallback>;
  close(): Promise<void>;
}

interface RunningTarget {
  baseUrl: string;
  apiKey: string;
  /** A `re_` video asset whose upload status is SUCCESS. */
  seedVideoAsset(): Promise<string>;
  /** Bytes of a video the target accepts as SUCCESS (the engine probes them). */
  videoBytes(): Promise<Uint8Array>;
  /** Fake: has the fake deliver the success callback. Engine: nothing, it calls back by itself. */
  finishTask(taskId: string): Promise<void>;
  webhook: WebhookReceiver;
  stop(): Promise<void>;
}

interface Target {
  name: string;
  start(): Promise<RunningTarget>;
}

interface Reply {
  status: number;
  headers: Headers;
  bytes: Buffer;
  /** Parsed body when the reply is JSON, else undefined. */
  json: any;
}

const API_KEY = 'sk-mavi-contract';
const SUCCESS_CODES: unknown[] = [200, '0000'];
const UNKNOWN_IDS = ['re_100000000000000001', 'im_100000000000000001', 'imc_100000000000000001_0'];

async function startWebhookReceiver(): Promise<WebhookReceiver> {
  const queue = createEventQueue<ReceivedCallback>();
  const stash: ReceivedCallback[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const raw = Buffer.concat(chunks).toString('utf8');
      let body: unknown;
      try {
        body = JSON.parse(raw);
      } catch {
        body = raw;
      }
      queue.push({ contentType: req.headers['content-type'], body });
      res.writeHead(200).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const taskIdOf = (cb: ReceivedCallback): unknown => (cb.body as { task_id?: unknown } | null)?.task_id;
  return {
    url: `http://127.0.0.1:${port}/webhooks/mavi/contract`,
    async nextFor(taskId) {
      const kept = stash.findIndex((cb) => taskIdOf(cb) === taskId);
      if (kept >= 0) return stash.splice(kept, 1)[0]!;
      for (;;) {
        const cb = await queue.next();
        if (taskIdOf(cb) === taskId) return cb;
        stash.push(cb);
      }
    },
    close: () =>
      new Promise<void>((resolve, reject) => {
        queue.close();
        server.close((err) => (err ? reject(err) : resolve()));
        server.closeAllConnections();
      }),
  };
}

function fakeTarget(successCode: 200 | '0000'): Target {
  return {
    name: `fake upstream (success code ${JSON.stringify(successCode)})`,
    async start() {
      const webhook = await startWebhookReceiver();
      const fake = await startFakeUpstream({ apiKey: API_KEY, rps: 0, successCode, webhookUrl: webhook.url });
      return {
        baseUrl: fake.url,
        apiKey: API_KEY,
        seedVideoAsset: async () => fake.addAsset({ filename: 'clip.mp4' }),
        videoBytes: async () => new TextEncoder().encode('not probed by the fake'),
        async finishTask(taskId) {
          const { status } = await fake.completeTask(taskId, { frames: 3, shuffle: true });
          expect(status).toBe(200);
        },
        webhook,
        stop: async () => {
          await fake.close();
          await webhook.close();
        },
      };
    },
  };
}

const engineTarget: Target = {
  name: 'embedded engine',
  async start() {
    const { createEngine } = await import('../../src/engine/index.js');
    const { generateVideo } = await import('../helpers/video.js');
    const dataDir = await mkdtemp(join(tmpdir(), 'contract-engine-'));
    const videoDir = await mkdtemp(join(tmpdir(), 'contract-video-'));
    const webhook = await startWebhookReceiver();
    const engine = await createEngine({
      apiKey: API_KEY,
      port: 0,
      dataDir,
      webhookUrl: webhook.url,
      frameIntervalSeconds: 1,
      maxFrames: 10,
      logger: { info: () => {}, warn: console.warn, error: console.error },
    });
    let video: Promise<string> | undefined;
    const videoFile = () => (video ??= generateVideo({ dir: videoDir, seconds: 3, width: 160, height: 120 }));
    return {
      baseUrl: engine.url,
      apiKey: API_KEY,
      videoBytes: async () => new Uint8Array(await readFile(await videoFile())),
      async seedVideoAsset() {
        const file = await videoFile();
        const form = new FormData();
        form.append('file', new Blob([new Uint8Array(await readFile(file))], { type: 'video/mp4' }), basename(file));
        const uploaded = await request(engine.url, 'POST', '/upload', { body: form });
        expect(uploaded.status).toBe(200);
        const assetId = uploaded.json.data.asset_id as string;
        // Each metadata read is awaited in turn: the loop ends when the engine reports a final state.
        for (let attempt = 0; attempt < 10_000; attempt++) {
          const meta = await request(engine.url, 'GET', `/${assetId}/metadata`);
          const status: unknown = meta.json?.data?.resource?.[0]?.upload_status;
          if (status === 'SUCCESS') return assetId;
          if (meta.status !== 200 || status === 'FAILED') throw new Error(`upload ${assetId} failed: ${meta.bytes.toString()}`);
        }
        throw new Error(`upload ${assetId} never reached SUCCESS`);
      },
      finishTask: async () => {},
      webhook,
      stop: async () => {
        await engine.stop();
        await webhook.close();
        await rm(dataDir, { recursive: true, force: true });
        await rm(videoDir, { recursive: true, force: true });
      },
    };
  },
};

async function request(
  baseUrl: string,
  method: string,
  path: string,
  init: { auth?: string | null; json?: unknown; body?: FormData } = {},
): Promise<Reply> {
  const headers: Record<string, string> = {};
  if (init.auth !== null) headers.authorization = init.auth ?? API_KEY;
  let body: string | FormData | undefined = init.body;
  if (init.json !== undefined) {
    headers['content-type'] = 'application/json';
    body = JSON.stringify(init.json);
  }
  const res = await fetch(baseUrl + path, { method, headers, body });
  const bytes = Buffer.from(await res.arrayBuffer());
  const isJson = /^application\/json/i.test(res.headers.get('content-type') ?? '');
  return { status: res.status, headers: res.headers, bytes, json: isJson ? JSON.parse(bytes.toString('utf8')) : undefined };
}

function expectErrorEnvelope(reply: Reply, status: number, msg?: RegExp): void {
  expect(reply.status).toBe(status);
  expect(reply.headers.get('content-type')).toMatch(/^application\/json/i);
  expect(reply.json).toMatchObject({ code: status, data: null });
  expect(typeof reply.json.msg).toBe('string');
  if (msg) expect(reply.json.msg).toMatch(msg);
  // Some documented error examples omit success/failed; when present they must say "failed".
  if ('success' in reply.json) expect(reply.json.success).toBe(false);
  if ('failed' in reply.json) expect(reply.json.failed).toBe(true);
}

function expectSuccessEnvelope(reply: Reply): void {
  expect(reply.status).toBe(200);
  expect(reply.headers.get('content-type')).toMatch(/^application\/json/i);
  expect(SUCCESS_CODES).toContain(reply.json.code);
  expect(reply.json).toMatchObject({ msg: expect.any(String), success: true, failed: false });
  expect(reply.json).toHaveProperty('data');
}

function expectStringResource(entry: Record<string, unknown>): void {
  expect(entry).toEqual({
    extension: expect.any(String),
    asset_id: expect.any(String),
    original_filename: expect.any(String),
    file_size: expect.stringMatching(/^\d+$/),
    upload_status: 'SUCCESS',
    create_time: expect.stringMatching(/^\d{13}$/),
    modify_time: expect.stringMatching(/^\d{13}$/),
  });
}

describe.each<Target>([fakeTarget(200), fakeTarget('0000'), engineTarget])('v2 contract: $name', (target) => {
  let running: RunningTarget;
  const api = (method: string, path: string, init?: Parameters<typeof request>[3]): Promise<Reply> =>
    request(running.baseUrl, method, path, init);

  let seeded: Promise<string> | undefined;
  const seededAsset = (): Promise<string> => (seeded ??= running.seedVideoAsset());

  interface Extraction {
    taskId: string;
    callback: ReceivedCallback;
    collectionId: string;
    frameIds: string[];
  }
  let extraction: Promise<Extraction> | undefined;
  // One extraction shared by the tests that need its results; started by whichever test runs first.
  const extracted = (): Promise<Extraction> =>
    (extraction ??= (async () => {
      const reply = await api('POST', '/video/extract-frames', { json: { asset_id: await seededAsset() } });
      expectSuccessEnvelope(reply);
      const taskId = reply.json.data.task_id as string;
      await running.finishTask(taskId);
      const callback = await running.webhook.nextFor(taskId);
      const data = (callback.body as { data: { asset_id: string; asset_ch_ids: string[] } }).data;
      return { taskId, callback, collectionId: data.asset_id, frameIds: data.asset_ch_ids };
    })());

  beforeAll(async () => {
    running = await target.start();
  });
  afterAll(async () => {
    await running?.stop();
  });

  describe('auth', () => {
    it('rejects a request without Authorization with the 401 envelope', async () => {
      const reply = await api('GET', `/${await seededAsset()}/metadata`, { auth: null });
      expectErrorEnvelope(reply, 401);
      expect(reply.json).toMatchObject({ code: 401, msg: 'Unauthorized', data: null });
    });

    it('rejects a Bearer-prefixed key with 401', async () => {
      const reply = await api('GET', `/${await seededAsset()}/metadata`, { auth: `Bearer ${API_KEY}` });
      expectErrorEnvelope(reply, 401);
    });

    it('rejects a wrong key with 401', async () => {
      expectErrorEnvelope(await api('GET', `/${await seededAsset()}/metadata`, { auth: 'sk-mavi-wrong' }), 401);
    });

    it('rejects extract-frames without a key', async () => {
      const reply = await api('POST', '/video/extract-frames', { auth: null, json: { asset_id: await seededAsset() } });
      expectErrorEnvelope(reply, 401);
    });
  });

  describe('unknown ids', () => {
    it.each(UNKNOWN_IDS)('answers HTTP 400 "not found" for metadata of %s', async (id) => {
      expectErrorEnvelope(await api('GET', `/${id}/metadata`), 400, /not found/i);
    });

    it.each(UNKNOWN_IDS)('answers the JSON error envelope for a download of %s', async (id) => {
      expectErrorEnvelope(await api('GET', `/${id}/download`), 400, /not found/i);
    });

    it('answers 400 "not found" when extracting an unknown asset', async () => {
      const reply = await api('POST', '/video/extract-frames', { json: { asset_id: UNKNOWN_IDS[0] } });
      expectErrorEnvelope(reply, 400, /not found/i);
    });

    it('answers 400 when deleting an unknown asset', async () => {
      expectErrorEnvelope(await api('DELETE', `/${UNKNOWN_IDS[0]}`), 400);
    });
  });

  describe('uploaded video asset', () => {
    it('returns one metadata entry with numbers as strings', async () => {
      const assetId = await seededAsset();
      const reply = await api('GET', `/${assetId}/metadata`);
      expectSuccessEnvelope(reply);
      expect(reply.json.data.total).toBe(1);
      expect(reply.json.data.resource).toHaveLength(1);
      const entry = reply.json.data.resource[0];
      expectStringResource(entry);
      expect(entry).toMatchObject({ asset_id: assetId, extension: 'mp4' });
      expect(assetId).toMatch(/^re_\d{18}$/);
    });

    it('downloads the original bytes as video/mp4 with disposition and length', async () => {
      const reply = await api('GET', `/${await seededAsset()}/download`);
      expect(reply.status).toBe(200);
      expect(reply.headers.get('content-type')).toMatch(/^video\/mp4/);
      expect(reply.headers.get('content-disposition')).toMatch(/^attachment; filename="[^"]+"/);
      expect(reply.headers.get('content-length')).toBe(String(reply.bytes.length));
      expect(reply.bytes.length).toBeGreaterThan(0);
    });
  });

  describe('extract frames', () => {
    it('accepts an extract with a 32-hex task id in the success envelope', async () => {
      const { taskId } = await extracted();
      expect(taskId).toMatch(/^[0-9a-f]{32}$/);
    });

    it('delivers a JSON callback with message, frames of that collection and the same task id', async () => {
      const { taskId, callback, collectionId, frameIds } = await extracted();
      expect(callback.contentType).toMatch(/^application\/json/i);
      expect(callback.body).toEqual({
        code: expect.anything(),
        message: expect.any(String),
        data: { asset_id: expect.stringMatching(/^im_\d{18}$/), asset_ch_ids: expect.any(Array) },
        task_id: taskId,
      });
      expect(SUCCESS_CODES).toContain((callback.body as { code: unknown }).code);
      const digits = collectionId.slice('im_'.length);
      expect(frameIds.length).toBeGreaterThan(0);
      for (const id of frameIds) expect(id).toMatch(new RegExp(`^imc_${digits}_\\d+$`));
      // Indices are the 0-based frame positions, each once (the listing order itself is not promised).
      const indices = frameIds.map((id) => Number(id.slice(id.lastIndexOf('_') + 1))).sort((a, b) => a - b);
      expect(indices).toEqual(frameIds.map((_, i) => i));
    });

    it('lists every frame of the collection in im_ metadata', async () => {
      const { collectionId, frameIds } = await extracted();
      const reply = await api('GET', `/${collectionId}/metadata`);
      expectSuccessEnvelope(reply);
      const resource = reply.json.data.resource as Record<string, unknown>[];
      expect(reply.json.data.total).toBe(frameIds.length);
      expect(resource).toHaveLength(frameIds.length);
      for (const entry of resource) {
        expectStringResource(entry);
        expect(entry.extension).toBe('jpg');
      }
      expect(resource.map((entry) => entry.asset_id).sort()).toEqual([...frameIds].sort());
    });

    it('describes a single frame in imc_ metadata', async () => {
      const { frameIds } = await extracted();
      const frameId = frameIds[0]!;
      const reply = await api('GET', `/${frameId}/metadata`);
      expectSuccessEnvelope(reply);
      expect(reply.json.data.total).toBe(1);
      expect(reply.json.data.resource).toHaveLength(1);
      expectStringResource(reply.json.data.resource[0]);
      expect(reply.json.data.resource[0]).toMatchObject({ asset_id: frameId, extension: 'jpg' });
    });

    it('downloads a frame as a JPEG', async () => {
      const { frameIds } = await extracted();
      const reply = await api('GET', `/${frameIds[0]}/download`);
      expect(reply.status).toBe(200);
      expect(reply.headers.get('content-type')).toMatch(/^image\/jpeg/);
      expect(reply.headers.get('content-disposition')).toMatch(/^attachment; filename="[^"]+"/);
      expect([...reply.bytes.subarray(0, 2)]).toEqual([0xff, 0xd8]);
      expect([...reply.bytes.subarray(-2)]).toEqual([0xff, 0xd9]);
      const length = reply.headers.get('content-length');
      if (length !== null) expect(Number(length)).toBe(reply.bytes.length);
    });

    it('downloads the collection as a zip with one <imc id>.jpg entry per frame', async () => {
      const { collectionId, frameIds } = await extracted();
      const reply = await api('GET', `/${collectionId}/download`);
      expect(reply.status).toBe(200);
      expect(reply.headers.get('content-type')).toMatch(/^application\/(zip|octet-stream|x-zip-compressed)/);
      const zip = await fromBufferPromise(reply.bytes, { lazyEntries: true });
      const names: string[] = [];
      for await (const entry of zip.eachEntry()) {
        names.push(entry.fileName);
        const chunks: Buffer[] = [];
        for await (const chunk of await zip.openReadStreamPromise(entry)) chunks.push(chunk as Buffer);
        expect([...Buffer.concat(chunks).subarray(0, 2)]).toEqual([0xff, 0xd8]);
      }
      expect(names.sort()).toEqual(frameIds.map((id) => `${id}.jpg`).sort());
    });
  });

  describe('delete', () => {
    it('deletes an asset with data null, after which metadata answers 400', async () => {
      const assetId = await running.seedVideoAsset();
      const reply = await api('DELETE', `/${assetId}`);
      expectSuccessEnvelope(reply);
      expect(reply.json.data).toBeNull();
      expectErrorEnvelope(await api('GET', `/${assetId}/metadata`), 400, /not found/i);
    });

    // Undocumented upstream (upstream-api.md #21); the gateway's deleteFrameCollection evicts the frames with it.
    it('deletes a collection together with its frames', async () => {
      const submitted = await api('POST', '/video/extract-frames', { json: { asset_id: await running.seedVideoAsset() } });
      expectSuccessEnvelope(submitted);
      const taskId = submitted.json.data.task_id as string;
      await running.finishTask(taskId);
      const { data } = (await running.webhook.nextFor(taskId)).body as { data: { asset_id: string; asset_ch_ids: string[] } };
      const reply = await api('DELETE', `/${data.asset_id}`);
      expectSuccessEnvelope(reply);
      expect(reply.json.data).toBeNull();
      expectErrorEnvelope(await api('GET', `/${data.asset_id}/metadata`), 400, /not found/i);
      expectErrorEnvelope(await api('GET', `/${data.asset_ch_ids[0]}/download`), 400, /not found/i);
    });
  });

  describe('upload through a signed URL', () => {
    const signedUrl = async (filename = 'direct.mp4') => {
      const reply = await api('POST', '/upload/signed-url', { json: { original_filename: filename } });
      expectSuccessEnvelope(reply);
      return reply.json.data as { asset_id: string; signed_url: string; expires_in: number };
    };
    const postFile = async (url: string, bytes: Uint8Array, init: { headers?: Record<string, string> } = {}) => {
      const form = new FormData();
      form.append('file', new Blob([new Uint8Array(bytes)], { type: 'video/mp4' }), 'whatever.mp4');
      const res = await fetch(url, { method: 'POST', body: form, headers: init.headers ?? {} });
      const bytesBack = Buffer.from(await res.arrayBuffer());
      const isJson = /^application\/json/i.test(res.headers.get('content-type') ?? '');
      return { status: res.status, headers: res.headers, bytes: bytesBack, json: isJson ? JSON.parse(bytesBack.toString('utf8')) : undefined } as Reply;
    };
    /** Metadata read in turn until the upload reaches a final state. */
    const settledStatus = async (assetId: string): Promise<string> => {
      for (let attempt = 0; attempt < 10_000; attempt++) {
        const status: unknown = (await api('GET', `/${assetId}/metadata`)).json?.data?.resource?.[0]?.upload_status;
        if (status === 'SUCCESS' || status === 'FAILED') return status;
      }
      throw new Error(`upload ${assetId} never settled`);
    };

    it('needs the key, and an original_filename with an extension', async () => {
      expectErrorEnvelope(await api('POST', '/upload/signed-url', { auth: null, json: { original_filename: 'a.mp4' } }), 401);
      expectErrorEnvelope(await api('POST', '/upload/signed-url', { json: {} }), 400);
      expectErrorEnvelope(await api('POST', '/upload/signed-url', { json: { original_filename: 'noextension' } }), 400);
    });

    it('answers {asset_id, signed_url, expires_in: 93600}; the asset is WAITING until its file arrives', async () => {
      const data = await signedUrl('direct.mp4');
      expect(data).toEqual({ asset_id: expect.stringMatching(/^re_\d{18}$/), signed_url: expect.stringMatching(/^https?:\/\//), expires_in: 93_600 });
      expect(data.signed_url).not.toContain(API_KEY);
      const meta = await api('GET', `/${data.asset_id}/metadata`);
      expectSuccessEnvelope(meta);
      expect(meta.json.data.resource[0]).toMatchObject({ asset_id: data.asset_id, original_filename: 'direct.mp4', upload_status: 'WAITING' });
    });

    it('takes one multipart POST with part "file" and no key, with CORS; metadata then reaches SUCCESS and it extracts', async () => {
      const data = await signedUrl('direct.mp4');
      const preflight = await fetch(data.signed_url, {
        method: 'OPTIONS',
        headers: { origin: 'http://app.example', 'access-control-request-method': 'POST' },
      });
      expect(preflight.status).toBeLessThan(300);
      expect(preflight.headers.get('access-control-allow-origin')).toBe('*');
      expect(preflight.headers.get('access-control-allow-methods')).toMatch(/POST/);

      const uploaded = await postFile(data.signed_url, await running.videoBytes(), { headers: { origin: 'http://app.example' } });
      expect(uploaded.status).toBe(200);
      expect(uploaded.headers.get('access-control-allow-origin')).toBe('*');
      expect(await settledStatus(data.asset_id)).toBe('SUCCESS');
      const entry = (await api('GET', `/${data.asset_id}/metadata`)).json.data.resource[0];
      expectStringResource(entry);
      expect(entry).toMatchObject({ asset_id: data.asset_id, extension: 'mp4', original_filename: 'direct.mp4' });
      expect(Number(entry.file_size)).toBe((await running.videoBytes()).length);
      const extract = await api('POST', '/video/extract-frames', { json: { asset_id: data.asset_id } });
      expectSuccessEnvelope(extract);
      await running.finishTask(extract.json.data.task_id as string);
      await running.webhook.nextFor(extract.json.data.task_id as string);
    });

    it('refuses a second upload (409), a forged signature (403) and a missing file part (400), storing nothing', async () => {
      const data = await signedUrl('once.mp4');
      const forged = new URL(data.signed_url);
      forged.searchParams.set('signature', `${forged.searchParams.get('signature')!.slice(0, -2)}AA`);
      expectErrorEnvelope(await postFile(forged.toString(), new Uint8Array([1, 2, 3])), 403);
      const otherAsset = new URL(data.signed_url.replace(data.asset_id, UNKNOWN_IDS[0]!));
      expectErrorEnvelope(await postFile(otherAsset.toString(), new Uint8Array([1, 2, 3])), 403);
      expect((await api('GET', `/${data.asset_id}/metadata`)).json.data.resource[0].upload_status).toBe('WAITING');

      const noFile = new FormData();
      noFile.append('other', 'value');
      const missing = await fetch(data.signed_url, { method: 'POST', body: noFile });
      expect(missing.status).toBe(400);

      const bytes = await running.videoBytes();
      expect((await postFile(data.signed_url, bytes)).status).toBe(200);
      expectErrorEnvelope(await postFile(data.signed_url, new Uint8Array([9, 9, 9])), 409);
      await settledStatus(data.asset_id);
      const download = await api('GET', `/${data.asset_id}/download`);
      expect(download.bytes.equals(Buffer.from(bytes))).toBe(true);
    });
  });

  describe('envelope', () => {
    it('types code as int 200 or string "0000" on success and as the int HTTP status on errors', async () => {
      const ok = await api('GET', `/${await seededAsset()}/metadata`);
      expect(ok.json).toEqual({
        code: expect.anything(),
        msg: expect.any(String),
        data: expect.any(Object),
        success: true,
        failed: false,
      });
      expect(ok.json.code === 200 || ok.json.code === '0000').toBe(true);
      const bad = await api('GET', `/${UNKNOWN_IDS[0]}/metadata`);
      expect(bad.json).toEqual({ code: 400, msg: expect.any(String), data: null, success: false, failed: true });
    });
  });
});

// §11: "Upload via signed URL" is one of the account's 1 QPS calls, although it carries no key. The engine applies its
// own limiter the same way (ENGINE_RPS, off by default); checked on the fake, whose clock the test holds.
describe('fake upstream: a signed upload counts against the account rate limit', () => {
  it('answers 429 to an upload in the same second as the signed-url call, and takes it a second later', async () => {
    let now = 1_766_989_317_192;
    const fake = await startFakeUpstream({ apiKey: API_KEY, rps: 1, now: () => now });
    try {
      const signed = await request(fake.url, 'POST', '/upload/signed-url', { json: { original_filename: 'paced.mp4' } });
      expectSuccessEnvelope(signed);
      const send = async () => {
        const form = new FormData();
        form.append('file', new Blob([new Uint8Array([1, 2, 3])]), 'paced.mp4');
        return (await fetch(signed.json.data.signed_url as string, { method: 'POST', body: form })).status;
      };
      expect(await send()).toBe(429);
      now += 1000;
      expect(await send()).toBe(200);
      expect(fake.callsTo('POST', '/_storage/').map((c) => [c.status, c.authorization])).toEqual([
        [429, null],
        [200, null],
      ]);
    } finally {
      await fake.close();
    }
  });
});
