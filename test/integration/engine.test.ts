/**
 * The embedded engine over real HTTP (port 0), with real ffmpeg, generated videos and a local webhook
 * receiver. No sleeps: tests await callbacks, log events or engine.idle().
 */
import { execFile } from 'node:child_process';
import { chmod, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { extractArgs, frameSelectFilter } from '../../src/engine/frames.js';
import { createEngine, type Engine, type EngineOptions } from '../../src/engine/index.js';
import { createDeferred, type Deferred } from '../helpers/deferred.js';
import { ffmpegPath, frameNumberFromLuma, generateVideo } from '../helpers/video.js';
import { isJpeg, unzip } from '../helpers/media.js';

const KEY = 'sk-test-engine-key';
const run = promisify(execFile);

// ---------------------------------------------------------------- helpers

interface CallbackBody {
  code: number;
  message: string;
  data: { asset_id: string; asset_ch_ids: string[] } | null;
  task_id: string;
}

/** A node:http webhook receiver; `statuses` are answered in order to the first requests, then 200. */
async function startReceiver(statuses: number[] = []) {
  const bodies: CallbackBody[] = [];
  const waiters = new Map<string, Deferred<CallbackBody>>();
  const waiterFor = (taskId: string) => {
    let d = waiters.get(taskId);
    if (!d) waiters.set(taskId, (d = createDeferred<CallbackBody>()));
    return d;
  };
  const attempts = new Map<string, number>();
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as CallbackBody;
      attempts.set(body.task_id, (attempts.get(body.task_id) ?? 0) + 1);
      const status = statuses.shift() ?? 200;
      res.writeHead(status).end();
      if (status < 300) {
        bodies.push(body);
        waiterFor(body.task_id).resolve(body);
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/webhooks/test`,
    bodies,
    attempts,
    callbackFor: (taskId: string) => waiterFor(taskId).promise,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
type Receiver = Awaited<ReturnType<typeof startReceiver>>;

interface LogLine {
  level: 'info' | 'warn' | 'error';
  msg: string;
  extra: Record<string, unknown>;
}

/** Captures log lines and lets a test await the first line matching a predicate. */
function captureLogs() {
  const lines: LogLine[] = [];
  const waiters: Array<{ match: (l: LogLine) => boolean; d: Deferred<LogLine> }> = [];
  const push = (level: LogLine['level']) => (msg: string, extra?: object) => {
    const line = { level, msg, extra: (extra ?? {}) as Record<string, unknown> };
    lines.push(line);
    for (const w of waiters.filter((w) => w.match(line))) {
      waiters.splice(waiters.indexOf(w), 1);
      w.d.resolve(line);
    }
  };
  return {
    lines,
    logger: { info: push('info'), warn: push('warn'), error: push('error') },
    waitFor(match: (l: LogLine) => boolean): Promise<LogLine> {
      const found = lines.find(match);
      if (found) return Promise.resolve(found);
      const d = createDeferred<LogLine>();
      waiters.push({ match, d });
      return d.promise;
    },
  };
}

let disposers: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const dispose of disposers.reverse()) await dispose();
  disposers = [];
});

let videos: { dir: string; clip: string; luma: string; image: string; truncated: string; faststartTruncated: string; text: string };

beforeAll(async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'engine-videos-'));
  const clip = await generateVideo({ dir, seconds: 4 });
  const luma = await generateVideo({ dir, seconds: 4, fps: 10, pattern: 'frame-luma', name: 'luma.mp4' });
  const faststart = await generateVideo({ dir, seconds: 4, faststart: true, name: 'faststart.mp4' });
  const image = path.join(dir, 'still.jpg');
  await run(ffmpegPath(), ['-hide_banner', '-loglevel', 'error', '-nostdin', '-y', '-i', clip, '-frames:v', '1', image]);
  const clipBytes = await readFile(clip);
  const fsBytes = await readFile(faststart);
  const truncated = path.join(dir, 'truncated.mp4'); // moov atom at the end is cut off
  await writeFile(truncated, clipBytes.subarray(0, Math.floor(clipBytes.length / 2)));
  const faststartTruncated = path.join(dir, 'fs-truncated.mp4'); // index intact, media data cut
  await writeFile(faststartTruncated, fsBytes.subarray(0, Math.floor(fsBytes.length * 0.4)));
  const text = path.join(dir, 'notes.mp4');
  await writeFile(text, 'this is plain text, not a video\n'.repeat(20));
  videos = { dir, clip, luma, image, truncated, faststartTruncated, text };
});

afterAll(async () => {
  if (videos) await rm(videos.dir, { recursive: true, force: true });
});

/** Starts an engine on port 0 in a fresh dataDir with a receiver as webhook; all disposed after the test. */
async function setup(options: Partial<EngineOptions> & { receiverStatuses?: number[]; noWebhook?: boolean } = {}) {
  const { receiverStatuses, noWebhook, ...engineOptions } = options;
  const dataDir = engineOptions.dataDir ?? (await mkdtemp(path.join(tmpdir(), 'engine-data-')));
  const receiver = await startReceiver(receiverStatuses);
  const logs = captureLogs();
  const engine = await createEngine({
    apiKey: KEY,
    dataDir,
    webhookUrl: noWebhook ? undefined : receiver.url,
    logger: logs.logger,
    callbackRetry: { attempts: 3, baseDelayMs: 1 },
    ...engineOptions,
  });
  disposers.push(() => rm(dataDir, { recursive: true, force: true }), receiver.close, engine.stop);
  return { engine, receiver, logs, dataDir, api: createApi(engine) };
}

interface Resource {
  extension: string;
  asset_id: string;
  original_filename: string;
  file_size: string;
  upload_status: string;
  create_time: string;
  modify_time: string;
}

function createApi(engine: Engine) {
  const auth = { Authorization: KEY };
  const json = async (res: Response) => ({ status: res.status, body: (await res.json()) as { code: number; msg: string; data: any; success: boolean; failed: boolean } });
  const api = {
    async upload(file: string | Buffer, filename: string, type = 'video/mp4') {
      const bytes = typeof file === 'string' ? await readFile(file) : file;
      const form = new FormData();
      form.append('file', new Blob([new Uint8Array(bytes)], { type }), filename);
      return json(await fetch(`${engine.url}/upload`, { method: 'POST', body: form, headers: auth }));
    },
    async uploadOk(file: string | Buffer, filename: string, type?: string): Promise<string> {
      const { status, body } = await api.upload(file, filename, type);
      expect(status).toBe(200);
      expect(body.data.asset_id).toMatch(/^re_\d{18}$/);
      return body.data.asset_id as string;
    },
    metadata: async (id: string) => json(await fetch(`${engine.url}/${id}/metadata`, { headers: auth })),
    /** Polls metadata until the upload leaves WAITING/UPLOADING; between polls it awaits the engine's idle(). */
    async settled(id: string): Promise<Resource> {
      for (;;) {
        const { body } = await api.metadata(id);
        const resource = body.data.resource[0] as Resource;
        if (resource.upload_status === 'SUCCESS' || resource.upload_status === 'FAILED') return resource;
        await engine.idle();
      }
    },
    extract: async (assetId: unknown) =>
      json(await fetch(`${engine.url}/video/extract-frames`, { method: 'POST', body: JSON.stringify({ asset_id: assetId }), headers: { ...auth, 'Content-Type': 'application/json' } })),
    async extractOk(assetId: string): Promise<string> {
      const { status, body } = await api.extract(assetId);
      expect(status).toBe(200);
      expect(body.data.task_id).toMatch(/^[0-9a-f]{32}$/);
      return body.data.task_id as string;
    },
    download: (id: string) => fetch(`${engine.url}/${id}/download`, { headers: auth }),
    delete: async (id: string) => json(await fetch(`${engine.url}/${id}`, { method: 'DELETE', headers: auth })),
  };
  return api;
}

async function filesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries.filter((e) => e.isFile()).map((e) => path.relative(dir, path.join(e.parentPath, e.name)));
}



/** Upload, wait for SUCCESS, extract, await the callback. */
async function extractClip(ctx: { api: ReturnType<typeof createApi>; receiver: Receiver }, file = videos.clip) {
  const assetId = await ctx.api.uploadOk(file, 'clip.mp4');
  expect((await ctx.api.settled(assetId)).upload_status).toBe('SUCCESS');
  const taskId = await ctx.api.extractOk(assetId);
  const callback = await ctx.receiver.callbackFor(taskId);
  return { assetId, taskId, callback };
}

// ---------------------------------------------------------------- tests

describe('engine end to end', () => {
  it('uploads, extracts one frame per second and serves frames, zip and metadata', async () => {
    const ctx = await setup();
    const { api } = ctx;
    const { assetId, taskId, callback } = await extractClip(ctx);

    const collectionId = callback.data!.asset_id;
    const digits = collectionId.slice(3);
    expect(callback).toEqual({
      code: 200,
      message: 'SUCCESS',
      data: { asset_id: expect.stringMatching(/^im_\d{18}$/), asset_ch_ids: [0, 1, 2, 3].map((n) => `imc_${digits}_${n}`) },
      task_id: taskId,
    });

    const original = await readFile(videos.clip);
    const asset = await api.metadata(assetId);
    expect(asset.body).toEqual({
      code: 200,
      msg: 'success',
      success: true,
      failed: false,
      data: {
        total: 1,
        resource: [
          {
            extension: 'mp4',
            asset_id: assetId,
            original_filename: 'clip.mp4',
            file_size: String(original.length),
            upload_status: 'SUCCESS',
            create_time: expect.stringMatching(/^\d{13}$/),
            modify_time: expect.stringMatching(/^\d{13}$/),
          },
        ],
      },
    });

    const source = await api.download(assetId);
    expect(source.headers.get('content-type')).toBe('video/mp4');
    expect(source.headers.get('content-disposition')).toBe('attachment; filename="clip.mp4"');
    expect(source.headers.get('content-length')).toBe(String(original.length));
    expect(Buffer.from(await source.arrayBuffer()).equals(original)).toBe(true);

    const frames = new Map<string, Buffer>();
    for (const id of callback.data!.asset_ch_ids) {
      const res = await api.download(id);
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toBe('image/jpeg');
      const bytes = Buffer.from(await res.arrayBuffer());
      expect(isJpeg(bytes)).toBe(true);
      frames.set(`${id}.jpg`, bytes);
    }

    const zipRes = await api.download(collectionId);
    expect(zipRes.status).toBe(200);
    expect(zipRes.headers.get('content-type')).toBe('application/zip');
    const zipBytes = Buffer.from(await zipRes.arrayBuffer());
    expect(zipRes.headers.get('content-length')).toBe(String(zipBytes.length));
    const entries = await unzip(zipBytes);
    expect([...entries.keys()]).toEqual([...frames.keys()]);
    for (const [name, bytes] of entries) expect(bytes.equals(frames.get(name)!)).toBe(true);

    const list = await api.metadata(collectionId);
    expect(list.body.data.total).toBe(4);
    expect((list.body.data.resource as Resource[]).map((r) => [r.asset_id, r.extension, r.upload_status, r.file_size])).toEqual(
      [...frames].map(([name, bytes]) => [name.slice(0, -4), 'jpg', 'SUCCESS', String(bytes.length)]),
    );
    const one = await api.metadata(`imc_${digits}_2`);
    expect(one.body.data).toEqual({ total: 1, resource: [expect.objectContaining({ asset_id: `imc_${digits}_2`, extension: 'jpg' })] });
  });

  it('deletes frames, collections and assets, removing their files', async () => {
    const ctx = await setup();
    const { api, dataDir } = ctx;
    const { assetId, callback } = await extractClip(ctx);
    const [first, second] = callback.data!.asset_ch_ids;
    const collectionId = callback.data!.asset_id;

    expect((await api.delete(first!)).body).toEqual({ code: 200, msg: 'success', data: null, success: true, failed: false });
    expect((await api.metadata(first!)).body.msg).toMatch(/not found/);
    expect((await api.metadata(collectionId)).body.data.total).toBe(3);
    expect((await api.metadata(second!)).status).toBe(200);

    expect((await api.delete(collectionId)).status).toBe(200);
    expect((await api.metadata(second!)).status).toBe(400);
    expect((await api.delete(assetId)).status).toBe(200);
    const gone = await api.delete(assetId);
    expect(gone).toEqual({ status: 400, body: { code: 400, msg: 'Asset not found', data: null, success: false, failed: true } });
    expect((await filesUnder(dataDir)).filter((f) => f !== 'index.json')).toEqual([]);
  });

  it('runs extractions one at a time with concurrency 1 and delivers every result', async () => {
    const ctx = await setup({ concurrency: 1 });
    const assetId = await ctx.api.uploadOk(videos.clip, 'clip.mp4');
    await ctx.api.settled(assetId);
    const tasks = [await ctx.api.extractOk(assetId), await ctx.api.extractOk(assetId)];
    const callbacks = await Promise.all(tasks.map((t) => ctx.receiver.callbackFor(t)));
    expect(callbacks.map((c) => c.data!.asset_ch_ids.length)).toEqual([4, 4]);
    expect(new Set(callbacks.map((c) => c.data!.asset_id)).size).toBe(2);
    const order = ctx.logs.lines.filter((l) => l.msg === 'extraction started' || l.msg === 'extraction finished').map((l) => `${l.msg.split(' ')[1]}:${tasks.indexOf(l.extra.taskId as string)}`);
    expect(order).toEqual(['started:0', 'finished:0', 'started:1', 'finished:1']);
  });
});

describe('frame selection at exact multiples of the interval', () => {
  async function showinfoTimes(video: string, interval: number): Promise<number[]> {
    const args = extractArgs({ input: video, outputDir: '/unused', intervalSeconds: interval, maxFrames: 100 });
    const vf = args.indexOf('-vf') + 1;
    args[vf] = `${args[vf]},showinfo`;
    args.splice(args.indexOf('-loglevel') + 1, 1, 'info');
    const out = args.slice(0, args.indexOf('-q:v')).concat(['-f', 'null', '-']);
    const { stderr } = await run(ffmpegPath(), out);
    return [...stderr.matchAll(/pts_time:([\d.]+)/g)].map((m) => Number(m[1]));
  }

  it('the production filter keeps the frame at each multiple (25 fps and 29.97 fps sources)', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'engine-select-'));
    disposers.push(() => rm(dir, { recursive: true, force: true }));
    const at25 = await generateVideo({ dir, seconds: 4, fps: 25 });
    expect(await showinfoTimes(at25, 1)).toEqual([0, 1, 2, 3]);
    // 25 fps has no frame at k+0.5 s (0.48, 0.52): the first frame at or after each multiple is kept.
    expect(await showinfoTimes(at25, 0.5)).toEqual([0, 0.52, 1, 1.52, 2, 2.52, 3, 3.52]);
    const at10 = await generateVideo({ dir, seconds: 4, fps: 10 });
    expect(await showinfoTimes(at10, 0.5)).toEqual([0, 0.5, 1, 1.5, 2, 2.5, 3, 3.5]);
    // No frame lies exactly on k s at 30000/1001 fps: the first frame at or after each multiple is kept.
    const ntsc = await generateVideo({ dir, seconds: 4, fps: 30000 / 1001, name: 'ntsc.mp4' });
    expect(await showinfoTimes(ntsc, 1)).toEqual([0, 1.001, 2.002, 3.003]);
    expect(frameSelectFilter(2)).toBe("select='isnan(prev_selected_t)+gt(floor((t+0.0005)/2)\\,floor((prev_selected_t+0.0005)/2))'");
  });

  it.each([
    { interval: 1, maxFrames: 100, expected: [0, 10, 20, 30] },
    { interval: 0.5, maxFrames: 100, expected: [0, 5, 10, 15, 20, 25, 30, 35] },
    { interval: 2, maxFrames: 100, expected: [0, 20] },
    { interval: 1, maxFrames: 3, expected: [0, 10, 20] },
  ])('interval $interval s, maxFrames $maxFrames: extracts source frames $expected (10 fps, luma encodes N)', async ({ interval, maxFrames, expected }) => {
    const ctx = await setup({ frameIntervalSeconds: interval, maxFrames });
    const { callback } = await extractClip(ctx, videos.luma);
    const numbers: number[] = [];
    for (const id of callback.data!.asset_ch_ids) {
      numbers.push(await frameNumberFromLuma(Buffer.from(await (await ctx.api.download(id)).arrayBuffer())));
    }
    expect(numbers).toEqual(expected);
  });
});

describe('bad uploads', () => {
  it('rejects empty files, non-multipart bodies and bodies without a file part', async () => {
    const { engine, api, dataDir } = await setup();
    expect(await api.upload(Buffer.alloc(0), 'empty.mp4')).toEqual({ status: 400, body: { code: 400, msg: 'File is empty', data: null, success: false, failed: true } });
    const raw = await fetch(`${engine.url}/upload`, { method: 'POST', body: 'x', headers: { Authorization: KEY, 'Content-Type': 'text/plain' } });
    expect(raw.status).toBe(415);
    const form = new FormData();
    form.append('other', 'value');
    const noFile = await fetch(`${engine.url}/upload`, { method: 'POST', body: form, headers: { Authorization: KEY } });
    expect(noFile.status).toBe(400);
    expect(((await noFile.json()) as { msg: string }).msg).toMatch(/file/);
    expect(await filesUnder(dataDir)).toEqual([]);
  });

  it('marks a truncated mp4 and a text file named .mp4 FAILED and refuses to extract them', async () => {
    const { engine, api } = await setup();
    for (const [file, name] of [[videos.truncated, 'cut.mp4'], [videos.text, 'notes.mp4']] as const) {
      const id = await api.uploadOk(file, name);
      expect((await api.settled(id)).upload_status).toBe('FAILED');
      const refused = await api.extract(id);
      expect(refused.status).toBe(400);
      expect(refused.body.msg).toMatch(/FAILED/);
    }
    await engine.idle();
  });

  it('refuses to extract from an image, and reports a corrupt video through a failure callback', async () => {
    const { engine, api, receiver, dataDir } = await setup();
    const imageId = await api.uploadOk(videos.image, 'still.jpg', 'image/jpeg');
    expect((await api.settled(imageId)).upload_status).toBe('SUCCESS');
    const refused = await api.extract(imageId);
    expect(refused).toEqual({ status: 400, body: expect.objectContaining({ code: 400, failed: true, msg: expect.stringMatching(/not a video/) }) });

    const corruptId = await api.uploadOk(videos.faststartTruncated, 'broken.mp4');
    expect((await api.settled(corruptId)).upload_status).toBe('SUCCESS'); // its index is intact
    const taskId = await api.extractOk(corruptId);
    const callback = await receiver.callbackFor(taskId);
    expect(callback).toEqual({ code: 500, message: expect.stringMatching(/truncated or corrupt|No frames/), data: null, task_id: taskId });
    await engine.idle();
    expect(await readdir(path.join(dataDir, 'tmp'))).toEqual([]);
    expect(await readdir(path.join(dataDir, 'collections'))).toEqual([]);
  });

  it('answers 413 over the size limit and leaves nothing in dataDir (sized and chunked bodies)', async () => {
    const { engine, api, dataDir } = await setup({ maxUploadBytes: 10_000 });
    const big = await readFile(videos.clip);
    expect(big.length).toBeGreaterThan(10_000);
    const sized = await api.upload(big, 'big.mp4');
    expect(sized).toEqual({ status: 413, body: { code: 413, msg: expect.stringMatching(/limit/), data: null, success: false, failed: true } });
    // Content-Length far above the limit: refused before anything is written.
    expect((await api.upload(Buffer.alloc(300_000, 1), 'huge.mp4')).status).toBe(413);

    // Chunked (no Content-Length): the limit is enforced by the byte counter while streaming to disk.
    const boundary = 'test-boundary-1234';
    const head = Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="big.mp4"\r\nContent-Type: video/mp4\r\n\r\n`);
    const tail = Buffer.from(`\r\n--${boundary}--\r\n`);
    const parts = [head, ...Array.from({ length: 8 }, (_, i) => big.subarray(i * 4096, (i + 1) * 4096)), tail];
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        const next = parts.shift();
        if (next) controller.enqueue(next);
        else controller.close();
      },
    });
    const chunked = await fetch(`${engine.url}/upload`, {
      method: 'POST',
      body,
      duplex: 'half',
      headers: { Authorization: KEY, 'Content-Type': `multipart/form-data; boundary=${boundary}` },
    } as RequestInit);
    expect(chunked.status).toBe(413);
    expect(((await chunked.json()) as { code: number }).code).toBe(413);
    expect(await filesUnder(dataDir)).toEqual([]);

    // A file just under the limit still goes through.
    const small = await api.uploadOk(big.subarray(0, 9_000), 'small.mp4');
    expect((await api.settled(small)).file_size).toBe('9000');
  });
});

describe('auth, errors, rate limit and persistence', () => {
  it('answers 401 without the raw key, 400 "not found" for unknown ids, 404/405 for unknown routes', async () => {
    const { engine, api } = await setup();
    const unauthorized = { code: 401, msg: 'Unauthorized', data: null, success: false, failed: true };
    const attempts: Array<Record<string, string>> = [{}, { Authorization: 'wrong' }, { Authorization: `Bearer ${KEY}` }];
    for (const headers of attempts) {
      const res = await fetch(`${engine.url}/re_123456789012345678/metadata`, { headers });
      expect(res.status).toBe(401);
      expect(await res.json()).toEqual(unauthorized);
    }
    const noKeyUpload = await fetch(`${engine.url}/upload`, { method: 'POST', body: new FormData() });
    expect(noKeyUpload.status).toBe(401);

    for (const id of ['re_123456789012345678', 'im_123456789012345678', 'imc_123456789012345678_0', 'whatever']) {
      expect(await api.metadata(id)).toEqual({ status: 400, body: { code: 400, msg: 'Asset not found', data: null, success: false, failed: true } });
      const dl = await api.download(id);
      expect(dl.status).toBe(400);
      expect(dl.headers.get('content-type')).toMatch(/application\/json/);
    }
    expect((await api.extract('re_123456789012345678')).body.msg).toBe('Asset not found');
    expect((await api.extract(undefined)).body).toEqual({ code: 400, msg: 'asset_id is required', data: null, success: false, failed: true });

    const notFound = await fetch(`${engine.url}/nope/at/all`, { headers: { Authorization: KEY } });
    expect(notFound.status).toBe(404);
    expect(((await notFound.json()) as { code: number }).code).toBe(404);
    const wrongMethod = await fetch(`${engine.url}/upload`, { headers: { Authorization: KEY } });
    expect(wrongMethod.status).toBe(405);
    expect(((await wrongMethod.json()) as { failed: boolean }).failed).toBe(true);
  });

  it('answers 429 beyond the per-account rps', async () => {
    const { api } = await setup({ rps: 1 });
    expect((await api.metadata('re_123456789012345678')).status).toBe(400);
    expect(await api.metadata('re_123456789012345678')).toEqual({ status: 429, body: { code: 429, msg: 'Too many requests', data: null, success: false, failed: true } });
  });

  it('keeps assets and collections across a restart with the same dataDir and drops unindexed leftovers', async () => {
    const dataDir = await mkdtemp(path.join(tmpdir(), 'engine-restart-'));
    disposers.push(() => rm(dataDir, { recursive: true, force: true }));
    const first = await setup({ dataDir });
    const { assetId, callback } = await extractClip(first);
    await first.engine.stop();
    // Simulate a crash mid-upload: a temp file and an unindexed asset file.
    await writeFile(path.join(dataDir, 'tmp', 'upload-dead.part'), 'partial');
    await writeFile(path.join(dataDir, 'assets', 're_999999999999999999.mp4'), 'orphan');

    const second = await setup({ dataDir });
    expect((await second.api.settled(assetId)).upload_status).toBe('SUCCESS');
    expect((await second.api.metadata(callback.data!.asset_id)).body.data.total).toBe(4);
    const frame = await second.api.download(callback.data!.asset_ch_ids[3]!);
    expect(isJpeg(Buffer.from(await frame.arrayBuffer()))).toBe(true);
    expect((await second.api.metadata('re_999999999999999999')).status).toBe(400);
    expect(await readdir(path.join(dataDir, 'tmp'))).toEqual([]);
    expect(await readdir(path.join(dataDir, 'assets'))).toEqual([path.basename(`${assetId}.mp4`)]);
    // And the restarted engine still extracts.
    const taskId = await second.api.extractOk(assetId);
    expect((await second.receiver.callbackFor(taskId)).code).toBe(200);
  });
});

describe('webhook delivery and process control', () => {
  it('retries a failing webhook with backoff until it answers 2xx', async () => {
    const ctx = await setup({ receiverStatuses: [503, 500], callbackRetry: { attempts: 5, baseDelayMs: 1 } });
    const { taskId, callback } = await extractClip(ctx);
    expect(callback.code).toBe(200);
    expect(ctx.receiver.attempts.get(taskId)).toBe(3);
  });

  it('gives up after the configured attempts', async () => {
    const ctx = await setup({ receiverStatuses: [500, 500, 500], callbackRetry: { attempts: 2, baseDelayMs: 1 } });
    const assetId = await ctx.api.uploadOk(videos.clip, 'clip.mp4');
    await ctx.api.settled(assetId);
    const taskId = await ctx.api.extractOk(assetId);
    await ctx.logs.waitFor((l) => l.msg.startsWith('callback not delivered') && l.extra.taskId === taskId);
    expect(ctx.receiver.attempts.get(taskId)).toBe(2);
    expect(ctx.receiver.bodies).toEqual([]);
  });

  it('logs an undelivered result without a webhook, and uses a webhook set later', async () => {
    const ctx = await setup({ noWebhook: true });
    const assetId = await ctx.api.uploadOk(videos.clip, 'clip.mp4');
    await ctx.api.settled(assetId);
    const lost = await ctx.api.extractOk(assetId);
    await ctx.engine.idle();
    expect(ctx.logs.lines).toContainEqual({ level: 'warn', msg: expect.stringMatching(/no webhook/i), extra: { taskId: lost } });
    ctx.engine.setWebhookUrl(ctx.receiver.url);
    const taskId = await ctx.api.extractOk(assetId);
    expect((await ctx.receiver.callbackFor(taskId)).code).toBe(200);
  });

  it('kills a running ffmpeg on stop() and times out a stuck one', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'engine-fake-ffmpeg-'));
    disposers.push(() => rm(dir, { recursive: true, force: true }));
    const stuck = path.join(dir, 'ffmpeg');
    await writeFile(stuck, '#!/bin/sh\nexec sleep 60\n');
    await chmod(stuck, 0o755);

    const timed = await setup({ ffmpegPath: stuck, extractionTimeoutMs: 300 });
    const slowId = await timed.api.uploadOk(videos.clip, 'clip.mp4');
    await timed.api.settled(slowId);
    const timedTask = await timed.api.extractOk(slowId);
    expect(await timed.receiver.callbackFor(timedTask)).toEqual({ code: 500, message: expect.stringMatching(/timed out/), data: null, task_id: timedTask });

    const ctx = await setup({ ffmpegPath: stuck });
    const assetId = await ctx.api.uploadOk(videos.clip, 'clip.mp4');
    await ctx.api.settled(assetId);
    const taskId = await ctx.api.extractOk(assetId);
    const queued = await ctx.api.extractOk(assetId); // waits behind the stuck one
    const started = await ctx.logs.waitFor((l) => l.msg === 'ffmpeg started' && l.extra.taskId === taskId);
    const pid = started.extra.pid as number;
    expect(() => process.kill(pid, 0)).not.toThrow();
    await ctx.engine.stop();
    expect(() => process.kill(pid, 0)).toThrow(expect.objectContaining({ code: 'ESRCH' }));
    expect(ctx.receiver.attempts.has(taskId)).toBe(false);
    expect(ctx.receiver.attempts.has(queued)).toBe(false);
    expect(await readdir(path.join(ctx.dataDir, 'tmp'))).toEqual([]);
  });
});
