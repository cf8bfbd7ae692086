/**
 * Stall detection of `client.download` (UPSTREAM_STALL_MS): no bytes for `stallMs`, before the headers or between
 * body chunks, aborts the download with UpstreamError('TIMEOUT'). Fake fetch and fake timers: no sockets, no sleeps.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createUpstreamClient, type UpstreamClient } from '../../../src/upstream/client.js';
import { UpstreamError } from '../../../src/upstream/errors.js';
import { createScheduler, type Scheduler } from '../../../src/upstream/rate-limit.js';
import { createFakeFetch, hang, type FakeFetch } from './fake-fetch.js';

const IM = 'im_666914042514116608';
const STALL_MS = 1000;

let fake: FakeFetch;
let scheduler: Scheduler;
let client: UpstreamClient;

beforeEach(() => {
  vi.useFakeTimers();
  fake = createFakeFetch();
  scheduler = createScheduler({ rps: 100 });
  client = createUpstreamClient({
    baseUrl: 'https://upstream.test/serve/api/v2',
    apiKey: 'sk-mavi-test',
    fetch: fake.fetch,
    scheduler,
    timeoutMs: 30_000,
    stallMs: STALL_MS,
    retry: { attempts: 1 },
  });
});

afterEach(() => {
  scheduler.dispose();
  vi.useRealTimers();
});

/** A body that hands out `chunks` one per read, then (unless `end`) never answers again; records its cancel. */
function trickle(chunks: number, end = false) {
  const cancelled: unknown[] = [];
  let sent = 0;
  const body = new ReadableStream<Uint8Array>(
    {
      pull(controller) {
        if (sent < chunks) controller.enqueue(new Uint8Array([sent++]));
        else if (end) controller.close();
        else return new Promise<void>(() => undefined);
      },
      cancel: (reason) => void cancelled.push(reason),
    },
    { highWaterMark: 0 },
  );
  return { response: new Response(body, { headers: { 'content-type': 'application/zip' } }), cancelled };
}

/** Tracks a promise's settlement so a test can assert "not yet" at a given fake time. */
function track<T>(promise: Promise<T>) {
  const state = { settled: false, error: undefined as unknown };
  promise.then(
    () => (state.settled = true),
    (error: unknown) => Object.assign(state, { settled: true, error }),
  );
  return state;
}

async function download() {
  const pending = client.download(IM);
  await vi.advanceTimersByTimeAsync(0);
  return pending;
}

describe('download stall detection', () => {
  it('fails a read that gets no bytes for stallMs with TIMEOUT and cancels the upstream body', async () => {
    const { response, cancelled } = trickle(1);
    fake.reply(response);
    const reader = (await download()).body.getReader();
    expect((await reader.read()).value).toEqual(new Uint8Array([0]));
    const next = track(reader.read());
    await vi.advanceTimersByTimeAsync(STALL_MS - 1);
    expect(next.settled).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    expect(next.error).toBeInstanceOf(UpstreamError);
    expect(next.error).toMatchObject({
      kind: 'TIMEOUT',
      message: `download(${IM}) stalled: no bytes for ${STALL_MS} ms`,
    });
    expect(cancelled).toEqual([next.error]);
  });

  it('measures only the time spent waiting for bytes, not a slow consumer', async () => {
    const { response, cancelled } = trickle(2, true);
    fake.reply(response);
    const reader = (await download()).body.getReader();
    await reader.read();
    await vi.advanceTimersByTimeAsync(60_000); // the consumer is busy; the upstream is not asked for anything
    expect((await reader.read()).value).toEqual(new Uint8Array([1]));
    expect((await reader.read()).done).toBe(true);
    expect(cancelled).toEqual([]);
  });

  it('gives up on headers that do not arrive within stallMs, before the longer request timeout', async () => {
    fake.reply(hang);
    const result = track(client.download(IM));
    await vi.advanceTimersByTimeAsync(STALL_MS - 1);
    expect(result.settled).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    expect(result.error).toMatchObject({ kind: 'TIMEOUT' });
    expect(fake.calls[0]?.signal?.aborted).toBe(true);
  });

  it('turns a connection that breaks mid-body into a classified UPSTREAM_ERROR', async () => {
    let sent = false;
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (sent) return controller.error(new TypeError('terminated'));
        sent = true;
        controller.enqueue(new Uint8Array([7]));
      },
    });
    fake.reply(new Response(body, { headers: { 'content-type': 'video/mp4' } }));
    const reader = (await download()).body.getReader();
    await reader.read();
    await expect(reader.read()).rejects.toMatchObject({ name: 'UpstreamError', kind: 'UPSTREAM_ERROR' });
  });
});
