/**
 * What the upstream client reports to its observer (the `frames_upstream_*` metrics): one outcome per HTTP exchange,
 * downloads when their body ends, bytes, and the scheduler queue's wait and depth. Fake fetch and fake timers.
 */
import { describe, expect, it, vi } from 'vitest';
import { createUpstreamClient, type UpstreamClient } from '../../../src/upstream/client.js';
import type { UpstreamEndpoint, UpstreamObserver, UpstreamOutcome } from '../../../src/upstream/observer.js';
import { createScheduler, type Scheduler } from '../../../src/upstream/rate-limit.js';
import { createFakeFetch, hang, json, type FakeFetch } from './fake-fetch.js';
import { useFakeTimersEachTest } from './fake-timers.js';

const RE = 're_657739295220518912';
const IM = 'im_666914042514116608';
const ok = (data: unknown) => json({ code: 200, msg: 'success', data, success: true, failed: false });
const fail = (status: number, msg: string) => json({ code: status, msg, data: null, success: false, failed: true }, status);
const METADATA = { total: 1, resources: [{ asset_id: RE, upload_status: 'SUCCESS', extension: 'mp4' }] };

let fake: FakeFetch;
let scheduler: Scheduler;
let client: UpstreamClient;
let exchanges: string[];
let bytes: number;
let waits: number[];
let depth: number[];

function setup(options: { maxWaitMs?: number; timeoutMs?: number } = {}): void {
  fake = createFakeFetch();
  exchanges = [];
  bytes = 0;
  waits = [];
  depth = [];
  let current = 0;
  const observer: UpstreamObserver = {
    exchange: (endpoint: UpstreamEndpoint, outcome: UpstreamOutcome) => void exchanges.push(`${endpoint} ${outcome}`),
    downloadBytes: (n) => void (bytes += n),
    queueWait: (seconds) => void waits.push(seconds),
    queueDepth: (delta) => void depth.push((current += delta)),
  };
  scheduler = createScheduler({ rps: 1, ...(options.maxWaitMs === undefined ? {} : { maxWaitMs: options.maxWaitMs }) });
  client = createUpstreamClient({
    baseUrl: 'https://upstream.test/serve/api/v2',
    apiKey: 'sk-mavi-test',
    fetch: fake.fetch,
    scheduler,
    timeoutMs: options.timeoutMs ?? 5000,
    stallMs: 1000,
    retry: { attempts: 4, random: () => 0 },
    observer,
  });
}

async function settle<T>(promise: Promise<T>): Promise<T | unknown> {
  const result = promise.catch((error: unknown) => error);
  await vi.runAllTimersAsync();
  return result;
}

useFakeTimersEachTest({ setup, teardown: () => scheduler.dispose() });

describe('upstream observer', () => {
  it('reports every attempt of a retried call with its own outcome', async () => {
    fake.reply(fail(429, 'Too many requests'), fail(400, 'Request has exceeded the limit.'), fail(500, 'Internal server error'), ok(METADATA));
    await settle(client.getMetadata(RE));
    expect(exchanges).toEqual(['metadata rate_limited', 'metadata rate_limited', 'metadata server_error', 'metadata ok']);
  });

  it('reports client errors and timeouts, and nothing for a call its caller aborted', async () => {
    fake.reply(fail(400, 'Asset not found'));
    await settle(client.extractFrames(RE));
    expect(exchanges).toEqual(['extract client_error']);
    setup({ timeoutMs: 100 });
    fake.reply(hang, hang, hang, hang);
    await settle(client.deleteAsset(RE));
    expect(exchanges).toEqual(['delete timeout', 'delete timeout', 'delete timeout', 'delete timeout']);

    setup();
    const controller = new AbortController();
    fake.reply(hang);
    const aborted = client.getMetadata(RE, { signal: controller.signal });
    await vi.advanceTimersByTimeAsync(0);
    controller.abort(new Error('client went away'));
    await settle(aborted);
    expect(exchanges).toEqual([]);
  });

  it('reports a download when its body ends, with its bytes; a stalled body is a timeout', async () => {
    fake.reply(new Response(new Uint8Array([1, 2, 3]), { headers: { 'content-type': 'application/zip' } }));
    const file = (await settle(client.download(IM))) as { body: ReadableStream<Uint8Array> };
    expect(exchanges).toEqual([]);
    await new Response(file.body).arrayBuffer();
    expect(exchanges).toEqual(['download ok']);
    expect(bytes).toBe(3);

    const stalled = new ReadableStream<Uint8Array>({ pull: () => new Promise<void>(() => undefined) }, { highWaterMark: 0 });
    fake.reply(new Response(stalled, { headers: { 'content-type': 'application/zip' } }));
    const stalledFile = (await settle(client.download(IM))) as { body: ReadableStream<Uint8Array> };
    await settle(new Response(stalledFile.body).arrayBuffer());
    expect(exchanges).toEqual(['download ok', 'download timeout']);
  });

  it('reports how long each call waited for its slot and how many waited at once', async () => {
    fake.reply(ok(METADATA), ok(METADATA), ok(METADATA));
    await settle(Promise.all([client.getMetadata(RE), client.getMetadata(IM), client.getMetadata(RE)]));
    // rps 1: the first starts at once, the others one and two intervals later.
    expect(waits).toEqual([0, 1, 2]);
    expect(depth).toEqual([1, 0, 1, 2, 1, 0]);
  });

  it('counts a call the scheduler refuses as queued and gone at once, with no wait', async () => {
    setup({ maxWaitMs: 500 });
    fake.reply(ok(METADATA));
    await settle(Promise.all([client.getMetadata(RE), client.getMetadata(IM).catch(() => undefined)]));
    expect(waits).toEqual([0]);
    expect(depth).toEqual([1, 0, 1, 0]);
    expect(exchanges).toEqual(['metadata ok']);
  });
});
