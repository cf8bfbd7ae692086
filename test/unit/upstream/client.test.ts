import { describe, expect, it, vi } from 'vitest';
import { createUpstream, createUpstreamClient, type UpstreamClient } from '../../../src/upstream/client.js';
import { isUpstreamError, type UpstreamError } from '../../../src/upstream/errors.js';
import { createScheduler, type Scheduler } from '../../../src/upstream/rate-limit.js';
import { createFakeFetch, hang, json, rawJson, type FakeFetch, type RecordedCall } from './fake-fetch.js';
import { useFakeTimersEachTest } from './fake-timers.js';

const KEY = 'sk-mavi-test-SECRET-0123456789abcdef';
const BASE = 'https://upstream.test/serve/api/v2';
const RE = 're_657739295220518912';
const IM = 'im_666914042514116608';
const IMC = 'imc_666914042514116608_0';
const TASK = '1e8ae1075e054e8abb58e7598c53cbf1';

const ok = (data: unknown, code: number | string = 200) => json({ code, msg: 'success', data, success: true, failed: false });
const fail = (status: number, code: number | string, msg: string) =>
  json({ code, msg, data: null, success: false, failed: true }, status);

let fake: FakeFetch;
let scheduler: Scheduler;
let client: UpstreamClient;
let callTimes: number[];

function setup(options: { attempts?: number; timeoutMs?: number; baseUrl?: string; maxWaitMs?: number } = {}): void {
  fake = createFakeFetch();
  callTimes = [];
  const recording: typeof fetch = (input, init) => {
    callTimes.push(performance.now());
    return fake.fetch(input, init);
  };
  scheduler = createScheduler({ rps: 1, ...(options.maxWaitMs === undefined ? {} : { maxWaitMs: options.maxWaitMs }) });
  client = createUpstreamClient({
    baseUrl: options.baseUrl ?? `${BASE}/`,
    apiKey: KEY,
    fetch: recording,
    scheduler,
    timeoutMs: options.timeoutMs ?? 5000,
    retry: { attempts: options.attempts ?? 4, random: () => 0.5 },
  });
}

async function failure(promise: Promise<unknown>): Promise<UpstreamError> {
  const settled = promise.then(
    () => {
      throw new Error('expected a rejection');
    },
    (error: unknown) => error,
  );
  await vi.runAllTimersAsync();
  const error = await settled;
  if (!isUpstreamError(error)) throw error;
  return error;
}

async function done<T>(promise: Promise<T>): Promise<T> {
  await vi.runAllTimersAsync();
  return promise;
}

function expectNoKey(error: unknown): void {
  expect(String(error)).not.toContain(KEY);
  expect(JSON.stringify(error)).not.toContain(KEY);
  expect(String((error as Error).stack)).not.toContain(KEY);
}

useFakeTimersEachTest({ setup, teardown: () => scheduler.dispose() });

describe('requests', () => {
  it('sends the raw API key as Authorization (no Bearer) and joins the base URL without a double slash', async () => {
    fake.reply(ok({ total: 0, resource: [] }));
    await done(client.getMetadata(RE));
    const [call] = fake.calls as [RecordedCall];
    expect(call.url).toBe(`${BASE}/${RE}/metadata`);
    expect(call.method).toBe('GET');
    expect(call.headers.get('authorization')).toBe(KEY);
    expect(call.headers.get('accept')).toBe('application/json');
  });

  it('accepts a base URL without a trailing slash', async () => {
    setup({ baseUrl: BASE });
    fake.reply(ok(null));
    await done(client.deleteAsset(IM));
    expect(fake.calls[0]?.url).toBe(`${BASE}/${IM}`);
    expect(fake.calls[0]?.method).toBe('DELETE');
  });

  it('parses metadata with 18-digit numbers intact', async () => {
    fake.reply(
      rawJson(
        `{"code":"0000","msg":"success","data":{"total":2,"resource":[{"asset_id":"${IMC}","file_size":123456789012345678,"upload_status":"SUCCESS"}]}}`,
      ),
    );
    const metadata = await done(client.getMetadata(IM));
    expect(metadata.total).toBe(2);
    expect(metadata.resources[0]).toMatchObject({ assetId: IMC, fileSize: '123456789012345678', uploadStatus: 'SUCCESS' });
  });

  it('posts extract-frames as JSON and returns the task id', async () => {
    fake.reply(ok({ task_id: TASK }));
    await expect(done(client.extractFrames(RE))).resolves.toEqual({ taskId: TASK });
    const [call] = fake.calls as [RecordedCall];
    expect(call.url).toBe(`${BASE}/video/extract-frames`);
    expect(call.method).toBe('POST');
    expect(call.headers.get('content-type')).toBe('application/json');
    expect(JSON.parse(call.body as string)).toEqual({ asset_id: RE });
  });

  it('goes through the scheduler, spacing calls by the account rate', async () => {
    fake.reply(ok({ total: 0 }), ok({ total: 0 }), ok({ total: 0 }));
    await done(Promise.all([client.getMetadata(RE), client.getMetadata(IM), client.getMetadata(IMC)]));
    expect(callTimes.map((t) => t - callTimes[0]!)).toEqual([0, 1000, 2000]);
    expect(scheduler.started).toBe(3);
  });
});

describe('timeouts and aborts', () => {
  it('fails with TIMEOUT when the reply does not arrive in time', async () => {
    setup({ attempts: 1, timeoutMs: 5000 });
    fake.reply(hang);
    const settled = client.getMetadata(RE).catch((error: unknown) => error);
    await vi.advanceTimersByTimeAsync(4999);
    expect(fake.calls[0]?.signal?.aborted).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    const error = await settled;
    expect(isUpstreamError(error, 'TIMEOUT')).toBe(true);
    expect(fake.calls[0]?.signal?.aborted).toBe(true);
  });

  it('times out even when fetch ignores the signal', async () => {
    setup({ attempts: 1 });
    fake.reply(() => new Promise<Response>(() => undefined));
    expect((await failure(client.getMetadata(RE))).kind).toBe('TIMEOUT');
  });

  it('times out while reading a JSON body that never ends', async () => {
    setup({ attempts: 1 });
    fake.reply(new Response(new ReadableStream({ pull: () => new Promise(() => undefined) }), { status: 200 }));
    expect((await failure(client.getMetadata(RE))).kind).toBe('TIMEOUT');
  });

  it('retries an idempotent call after a timeout', async () => {
    fake.reply(hang, ok({ total: 0, resource: [] }));
    await expect(done(client.getMetadata(RE))).resolves.toEqual({ total: 0, resources: [] });
    expect(fake.calls).toHaveLength(2);
  });

  it('rejects with the caller’s own abort reason, without retrying', async () => {
    fake.reply(hang);
    const controller = new AbortController();
    const settled = client.getMetadata(RE, { signal: controller.signal }).catch((error: unknown) => error);
    await vi.advanceTimersByTimeAsync(10);
    const reason = new Error('client went away');
    controller.abort(reason);
    expect(await settled).toBe(reason);
    await vi.runAllTimersAsync();
    expect(fake.calls).toHaveLength(1);
  });
});

describe('retries', () => {
  it('retries 429 with backoff and then succeeds', async () => {
    fake.reply(fail(429, 429, 'Too many requests'), fail(429, 429, 'Too many requests'), ok({ total: 0 }));
    await expect(done(client.getMetadata(RE))).resolves.toEqual({ total: 0, resources: [] });
    expect(fake.calls).toHaveLength(3);
    // random 0.5: backoff 500 ms then 1000 ms after each failure; the scheduler's 1 s spacing dominates the first.
    expect(callTimes.map((t) => t - callTimes[0]!)).toEqual([0, 1000, 2000]);
  });

  it('uses exponential delays beyond the rate interval', async () => {
    setup({ attempts: 4 });
    fake.reply(fail(500, 500, 'a'), fail(500, 500, 'b'), fail(500, 500, 'c'), ok({ total: 0 }));
    await done(client.getMetadata(RE));
    // random 0.5: delays of 500, 1000 and 2000 ms after each failure; the first is rounded up to the next 1 s slot.
    expect(callTimes.map((t) => t - callTimes[0]!)).toEqual([0, 1000, 2000, 4000]);
  });

  it('retries a legacy HTTP 200 + "0429" reply', async () => {
    fake.reply(fail(200, '0429', 'Too many requests'), ok({ total: 0 }, '0000'));
    await done(client.getMetadata(RE));
    expect(fake.calls).toHaveLength(2);
  });

  it('gives up after the configured attempts on 5xx for idempotent calls', async () => {
    fake.reply(...Array.from({ length: 4 }, () => fail(500, 500, 'Internal server error')));
    const error = await failure(client.getMetadata(RE));
    expect(error.kind).toBe('UPSTREAM_ERROR');
    expect(fake.calls).toHaveLength(4);
  });

  it('does not retry NOT_FOUND (HTTP 400 "Asset not found")', async () => {
    fake.reply(fail(400, 400, 'Asset not found'));
    const error = await failure(client.getMetadata(RE));
    expect(error.kind).toBe('NOT_FOUND');
    expect(error.status).toBe(400);
    expect(fake.calls).toHaveLength(1);
  });

  it('does NOT retry extract-frames on 500 (it may have been billed)', async () => {
    fake.reply(fail(500, 500, 'Internal server error'), ok({ task_id: TASK }));
    const error = await failure(client.extractFrames(RE));
    expect(error.kind).toBe('UPSTREAM_ERROR');
    expect(fake.calls).toHaveLength(1);
  });

  it('does NOT retry extract-frames on a timeout', async () => {
    fake.reply(hang, ok({ task_id: TASK }));
    expect((await failure(client.extractFrames(RE))).kind).toBe('TIMEOUT');
    expect(fake.calls).toHaveLength(1);
  });

  it('retries extract-frames on 429 (the request was refused)', async () => {
    fake.reply(fail(429, 429, 'Too many requests'), ok({ task_id: TASK }));
    await expect(done(client.extractFrames(RE))).resolves.toEqual({ taskId: TASK });
    expect(fake.calls).toHaveLength(2);
  });

  it('retries the ambiguous 400 "Request has exceeded the limit." once, then fails as BAD_REQUEST', async () => {
    fake.reply(...Array.from({ length: 3 }, () => fail(400, 400, 'Request has exceeded the limit.')));
    const error = await failure(client.extractFrames(RE));
    expect(error.kind).toBe('BAD_REQUEST');
    expect(fake.calls).toHaveLength(2);
    expect(callTimes[1]! - callTimes[0]!).toBeGreaterThanOrEqual(1000);
  });

  it('succeeds when the ambiguous 400 was a rate limit', async () => {
    fake.reply(new Response('Request has exceeded the limit.', { status: 400 }), ok({ task_id: TASK }));
    await expect(done(client.extractFrames(RE))).resolves.toEqual({ taskId: TASK });
  });

  it('does not retry a local queue refusal', async () => {
    setup({ maxWaitMs: 0 });
    fake.reply(hang);
    const first = client.getMetadata(RE).catch(() => undefined);
    const error = await failure(client.getMetadata(IM));
    expect(error.kind).toBe('RATE_LIMITED');
    expect(error.retryAfterSeconds).toBe(1);
    expect(error.status).toBeUndefined();
    await first;
    expect(fake.calls.filter((c) => c.url.includes(IM))).toEqual([]);
  });

  it('treats NOT_FOUND on a delete retried after a 5xx as deleted', async () => {
    fake.reply(fail(502, 502, 'Bad gateway'), fail(400, 400, 'Asset not found'));
    await expect(done(client.deleteAsset(RE))).resolves.toBeUndefined();
    expect(fake.calls).toHaveLength(2);
  });

  it('reports NOT_FOUND on a first delete attempt', async () => {
    fake.reply(fail(400, 400, 'Asset not found'));
    expect((await failure(client.deleteAsset(RE))).kind).toBe('NOT_FOUND');
  });
});

describe('download', () => {
  it('returns the stream and its headers', async () => {
    fake.reply(
      new Response(new Uint8Array([1, 2, 3]), {
        headers: {
          'content-type': 'video/mp4',
          'content-length': '3',
          'content-disposition': 'attachment; filename="3.mp4"',
        },
      }),
    );
    const file = await done(client.download(RE));
    expect(fake.calls[0]?.url).toBe(`${BASE}/${RE}/download`);
    expect(file).toMatchObject({ contentType: 'video/mp4', contentLength: 3, contentDisposition: 'attachment; filename="3.mp4"' });
    expect([...new Uint8Array(await new Response(file.body).arrayBuffer())]).toEqual([1, 2, 3]);
  });

  it.each([
    [IM, 'application/zip'],
    [IMC, 'image/jpeg'],
    [RE, 'application/octet-stream'],
  ])('defaults the content type of %s to %s and contentLength to null', async (id, type) => {
    const response = new Response(new ReadableStream({ start: (c) => c.close() }));
    response.headers.delete('content-type');
    fake.reply(response);
    const file = await done(client.download(id));
    expect(file.contentType).toBe(type);
    expect(file.contentLength).toBeNull();
    expect(file.contentDisposition).toBeNull();
  });

  it('throws a JSON error envelope sent with HTTP 200 instead of returning it as a file', async () => {
    fake.reply(json({ code: 400, msg: 'Asset not found', data: null, success: false, failed: true }, 200));
    const error = await failure(client.download(IM));
    expect(error.kind).toBe('NOT_FOUND');
    expect(fake.calls).toHaveLength(1);
  });

  it('throws the classified error of a JSON error status', async () => {
    fake.reply(
      fail(402, 402, 'Insufficient balance to download the resource. Please recharge and try again.'),
    );
    const error = await failure(client.download(IM));
    expect(error.kind).toBe('PAYMENT_REQUIRED');
    expect(error.message).toContain('Insufficient balance');
  });

  it('throws on a JSON success envelope on the download URL', async () => {
    fake.reply(ok({ whatever: true }));
    expect((await failure(client.download(IMC))).kind).toBe('UPSTREAM_ERROR');
  });

  it('stops the deadline once headers arrive (a slow body is not aborted)', async () => {
    setup({ timeoutMs: 1000 });
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        setTimeout(() => { // under fake timers: advanced below
          controller.enqueue(new Uint8Array([9]));
          controller.close();
        }, 60_000);
      },
    });
    fake.reply(new Response(body, { headers: { 'content-type': 'application/zip' } }));
    const file = await client.download(IM);
    const bytes = new Response(file.body).arrayBuffer();
    await vi.advanceTimersByTimeAsync(60_000);
    expect([...new Uint8Array(await bytes)]).toEqual([9]);
    expect(fake.calls[0]?.signal?.aborted).toBe(false);
  });

  it('still times out while waiting for the headers', async () => {
    setup({ attempts: 1, timeoutMs: 1000 });
    fake.reply(hang);
    expect((await failure(client.download(IM))).kind).toBe('TIMEOUT');
  });
});

describe('upload', () => {
  it('sends a Blob as multipart form data with a part named "file"', async () => {
    fake.reply(ok({ asset_id: 're_660727003963174912' }));
    const result = await done(
      client.upload({ body: new Blob(['video-bytes']), filename: 'clip.mp4', contentType: 'video/mp4' }),
    );
    expect(result).toEqual({ assetId: 're_660727003963174912' });
    const [call] = fake.calls as [RecordedCall];
    expect(call.url).toBe(`${BASE}/upload`);
    expect(call.method).toBe('POST');
    expect(call.headers.get('authorization')).toBe(KEY);
    expect(call.body).toBeInstanceOf(FormData);
    const part = (call.body as FormData).get('file') as File;
    expect(part.name).toBe('clip.mp4');
    expect(part.type).toBe('video/mp4');
    expect(await part.text()).toBe('video-bytes');
  });

  it('retries an upload on 429 with a fresh form', async () => {
    fake.reply(fail(429, 429, 'Too many requests'), ok({ asset_id: 're_2' }));
    await expect(done(client.upload({ body: new Blob(['x']), filename: 'x.mp4' }))).resolves.toEqual({ assetId: 're_2' });
    expect(fake.calls).toHaveLength(2);
    const [first, second] = fake.calls as [RecordedCall, RecordedCall];
    expect(second.body).not.toBe(first.body);
    expect(await ((second.body as FormData).get('file') as File).text()).toBe('x');
  });

  it('does not retry an upload on 500', async () => {
    fake.reply(fail(500, 500, 'boom'), ok({ asset_id: 're_2' }));
    expect((await failure(client.upload({ body: new Blob(['x']), filename: 'x.mp4' }))).kind).toBe('UPSTREAM_ERROR');
    expect(fake.calls).toHaveLength(1);
  });

  it('maps 413 to PAYLOAD_TOO_LARGE', async () => {
    fake.reply(fail(413, 413, 'too large'));
    expect((await failure(client.upload({ body: new Blob(['x']), filename: 'x.mp4' }))).kind).toBe('PAYLOAD_TOO_LARGE');
  });
});

describe('local validation', () => {
  it.each([
    ['getMetadata bogus', () => client.getMetadata('bogus')],
    ['getMetadata path traversal', () => client.getMetadata('../re_1')],
    ['extractFrames with an im_ id', () => client.extractFrames(IM)],
    ['extractFrames with an empty id', () => client.extractFrames('')],
    ['download re_x', () => client.download('re_x')],
    ['deleteAsset imc_1', () => client.deleteAsset('imc_1')],
    ['upload without filename', () => client.upload({ body: new Blob(['x']), filename: ' ' })],
    ['upload of something not a Blob', () => client.upload({ body: 'x' as unknown as Blob, filename: 'a.mp4' })],
  ])('rejects %s with BAD_REQUEST and makes no call', async (_, call) => {
    const error = await failure(call());
    expect(error.kind).toBe('BAD_REQUEST');
    expect(fake.calls).toHaveLength(0);
    expect(scheduler.started).toBe(0);
  });

  it('refuses an unusable API key at construction without echoing it', () => {
    const build = (apiKey: string) => () => createUpstreamClient({ baseUrl: BASE, apiKey, scheduler });
    expect(build('')).toThrow(TypeError);
    let thrown: unknown;
    try {
      build(`${KEY}\r\nX-Evil: 1`)();
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(TypeError);
    expectNoKey(thrown);
  });
});

describe('secrets', () => {
  it('never puts the API key in error messages', async () => {
    setup({ attempts: 1 });
    const errors: unknown[] = [];
    const collect = async (promise: Promise<unknown>) => errors.push(await failure(promise).catch((e: unknown) => e));

    fake.reply(fail(401, 401, `Invalid key ${KEY}`));
    await collect(client.getMetadata(RE));
    fake.reply(new Response(`<html>bad key ${KEY}</html>`, { status: 403 }));
    await collect(client.download(IM));
    fake.reply(() => Promise.reject(new TypeError(`fetch failed for ${KEY}`, { cause: new Error(KEY) })));
    await collect(client.extractFrames(RE));
    fake.reply(hang);
    await collect(client.deleteAsset(RE));
    fake.reply(rawJson(`{"code":"0429","msg":"${KEY}"}`));
    await collect(client.upload({ body: new Blob(['x']), filename: 'x.mp4' }));
    fake.reply(json({ code: 200, msg: KEY, data: { task_id: 'bad id with spaces' } }));
    await collect(client.extractFrames(RE));

    expect(errors.map((e) => (e as UpstreamError).kind)).toEqual([
      'UNAUTHENTICATED',
      'FORBIDDEN',
      'UPSTREAM_ERROR',
      'TIMEOUT',
      'RATE_LIMITED',
      'UPSTREAM_ERROR',
    ]);
    for (const error of errors) expectNoKey(error);
    expect(String(errors[0])).toContain('[redacted]');
  });
});

describe('createUpstream', () => {
  it('returns a client bound to a new scheduler', async () => {
    const upstream = createFakeFetch();
    upstream.reply(ok(null, '0000'));
    const { client: bound, scheduler: own } = createUpstream({
      baseUrl: BASE,
      apiKey: KEY,
      rps: 1,
      maxWaitMs: 10_000,
      timeoutMs: 1000,
      fetch: upstream.fetch,
    });
    await done(bound.deleteAsset(RE));
    expect(own.started).toBe(1);
    expect(upstream.calls[0]?.headers.get('authorization')).toBe(KEY);
    own.dispose();
  });
});
