import { AsyncLocalStorage } from 'node:async_hooks';
import { describe, expect, it, vi } from 'vitest';
import { UpstreamError, isUpstreamError } from '../../../src/upstream/errors.js';
import { backoffDelay, createScheduler, retryWithBackoff, type Scheduler } from '../../../src/upstream/rate-limit.js';
import { settle, useFakeTimersEachTest } from './fake-timers.js';

let scheduler: Scheduler | undefined;

useFakeTimersEachTest({
  teardown: () => {
    scheduler?.dispose();
    scheduler = undefined;
  },
});

function maxStartsInWindow(times: number[], windowMs: number): number {
  let max = 0;
  for (const t of times) max = Math.max(max, times.filter((u) => u >= t && u < t + windowMs).length);
  return max;
}

describe('createScheduler', () => {
  it('spaces 100 concurrent starts at least 1000 ms apart at rps=1', async () => {
    scheduler = createScheduler({ rps: 1 });
    const starts: number[] = [];
    const results = Array.from({ length: 100 }, (_, i) =>
      scheduler!.schedule(async () => {
        starts.push(performance.now());
        return i;
      }),
    );
    expect(scheduler.started).toBe(1);
    expect(scheduler.pending).toBe(99);
    await vi.advanceTimersByTimeAsync(99_000);
    await expect(Promise.all(results)).resolves.toEqual(Array.from({ length: 100 }, (_, i) => i));
    expect(starts).toHaveLength(100);
    for (let i = 1; i < starts.length; i++) expect(starts[i]! - starts[i - 1]!).toBeGreaterThanOrEqual(1000);
    expect(maxStartsInWindow(starts, 1000)).toBe(1);
    expect(scheduler.started).toBe(100);
    expect(scheduler.pending).toBe(0);
  });

  it('does not start early with a fractional interval (rps=3)', async () => {
    scheduler = createScheduler({ rps: 3 });
    const starts: number[] = [];
    const all = Array.from({ length: 30 }, () => scheduler!.schedule(async () => void starts.push(performance.now())));
    await vi.advanceTimersByTimeAsync(10_000);
    await Promise.all(all);
    for (let i = 1; i < starts.length; i++) expect(starts[i]! - starts[i - 1]!).toBeGreaterThanOrEqual(1000 / 3);
    expect(maxStartsInWindow(starts, 1000)).toBeLessThanOrEqual(3);
  });

  it('spaces starts after an idle period too (no burst)', async () => {
    scheduler = createScheduler({ rps: 1 });
    const starts: number[] = [];
    await scheduler.schedule(async () => void starts.push(performance.now()));
    await vi.advanceTimersByTimeAsync(400);
    const second = scheduler.schedule(async () => void starts.push(performance.now()));
    await vi.advanceTimersByTimeAsync(599);
    expect(starts).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(1);
    await second;
    expect(starts[1]! - starts[0]!).toBe(1000);
  });

  it('starts tasks in FIFO order', async () => {
    scheduler = createScheduler({ rps: 1 });
    const order: string[] = [];
    const task = (name: string) => async () => void order.push(name);
    const all = ['first', 'second', 'third', 'fourth'].map((name) => scheduler!.schedule(task(name)));
    await vi.advanceTimersByTimeAsync(5000);
    await Promise.all(all);
    expect(order).toEqual(['first', 'second', 'third', 'fourth']);
  });

  it("runs each task in its caller's async context, not in the one that armed the timer", async () => {
    scheduler = createScheduler({ rps: 1 });
    const caller = new AsyncLocalStorage<string>();
    const seen: (string | undefined)[] = [];
    const task = async () => void seen.push(caller.getStore());
    // The last schedule() re-arms the timer in ITS context, and that timer starts b, then c.
    const all = ['a', 'b', 'c'].map((name) => caller.run(name, () => scheduler!.schedule(task)));
    await vi.advanceTimersByTimeAsync(3000);
    await Promise.all(all);
    expect(seen).toEqual(['a', 'b', 'c']);
  });

  it('rejects fast with RATE_LIMITED and retryAfterSeconds when the expected wait exceeds maxWaitMs', async () => {
    scheduler = createScheduler({ rps: 1, maxWaitMs: 2500 });
    const ok = [scheduler.schedule(async () => 1), scheduler.schedule(async () => 2), scheduler.schedule(async () => 3)];
    // Started at 0; queued: starts at 1000 and 2000. A fourth would start at 3000 > 2500.
    expect(scheduler.pending).toBe(2);
    const task = vi.fn(async () => 4);
    const rejected = await settle(scheduler.schedule(task));
    expect(isUpstreamError(rejected.error, 'RATE_LIMITED')).toBe(true);
    expect((rejected.error as UpstreamError).retryAfterSeconds).toBe(3);
    expect(scheduler.pending).toBe(2);
    // The per-call option overrides the default.
    const allowed = scheduler.schedule(task, { maxWaitMs: 3000 });
    expect(scheduler.pending).toBe(3);
    await vi.advanceTimersByTimeAsync(3000);
    await expect(Promise.all([...ok, allowed])).resolves.toEqual([1, 2, 3, 4]);
    expect(task).toHaveBeenCalledTimes(1);
  });

  it('removes a queued task when its signal aborts', async () => {
    scheduler = createScheduler({ rps: 1 });
    const ran: string[] = [];
    const first = scheduler.schedule(async () => void ran.push('first'));
    const controller = new AbortController();
    const aborted = settle(scheduler.schedule(async () => void ran.push('aborted'), { signal: controller.signal }));
    const third = scheduler.schedule(async () => void ran.push('third'));
    expect(scheduler.pending).toBe(2);
    controller.abort(new Error('caller gave up'));
    expect(scheduler.pending).toBe(1);
    expect((await aborted).error).toEqual(new Error('caller gave up'));
    await vi.advanceTimersByTimeAsync(1000);
    await Promise.all([first, third]);
    expect(ran).toEqual(['first', 'third']);
    expect(scheduler.started).toBe(2);
  });

  it('rejects at once for an already aborted signal', async () => {
    scheduler = createScheduler({ rps: 1 });
    const task = vi.fn(async () => 1);
    const result = await settle(scheduler.schedule(task, { signal: AbortSignal.abort(new Error('no')) }));
    expect(result.error).toEqual(new Error('no'));
    expect(task).not.toHaveBeenCalled();
  });

  it('dispose rejects pending tasks, clears the timer and refuses new ones', async () => {
    scheduler = createScheduler({ rps: 1 });
    const first = scheduler.schedule(async () => 'ran');
    const queued = [settle(scheduler.schedule(async () => 'never')), settle(scheduler.schedule(async () => 'never'))];
    scheduler.dispose();
    expect(vi.getTimerCount()).toBe(0);
    await expect(first).resolves.toBe('ran');
    for (const result of await Promise.all(queued)) expect(isUpstreamError(result.error, 'UPSTREAM_ERROR')).toBe(true);
    expect(scheduler.pending).toBe(0);
    expect(isUpstreamError((await settle(scheduler.schedule(async () => 1))).error)).toBe(true);
  });

  it('propagates a task failure (sync throw or rejection) to its caller only', async () => {
    scheduler = createScheduler({ rps: 1000 });
    const sync = settle(
      scheduler.schedule(() => {
        throw new Error('sync');
      }),
    );
    const async = settle(scheduler.schedule(async () => Promise.reject(new Error('async'))));
    const ok = scheduler.schedule(async () => 'ok');
    await vi.advanceTimersByTimeAsync(10);
    expect((await sync).error).toEqual(new Error('sync'));
    expect((await async).error).toEqual(new Error('async'));
    await expect(ok).resolves.toBe('ok');
  });

  it('validates its options', () => {
    expect(() => createScheduler({ rps: 0 })).toThrow(RangeError);
    expect(() => createScheduler({ rps: Number.POSITIVE_INFINITY })).toThrow(RangeError);
  });
});

describe('backoffDelay', () => {
  it('doubles from baseMs up to capMs with full jitter', () => {
    const top = { random: () => 0.999999 };
    expect([1, 2, 3, 4, 5, 6, 7].map((n) => backoffDelay(n, top))).toEqual([999, 1999, 3999, 7999, 15999, 29999, 29999]);
    expect(backoffDelay(3, { random: () => 0 })).toBe(0);
    expect(backoffDelay(3, { jitter: false })).toBe(4000);
    expect(backoffDelay(1, { jitter: false, baseMs: 100, capMs: 150 })).toBe(100);
    expect(backoffDelay(2, { jitter: false, baseMs: 100, capMs: 150 })).toBe(150);
  });

  it('honours a retry-after hint up to capMs', () => {
    expect(backoffDelay(1, { random: () => 0 }, 5)).toBe(5000);
    expect(backoffDelay(1, { random: () => 0 }, 120)).toBe(30_000);
  });
});

describe('retryWithBackoff', () => {
  it('retries retryable errors with exponential delays, then succeeds', async () => {
    const fn = vi.fn(async (attempt: number) => {
      if (attempt < 3) throw new UpstreamError('RATE_LIMITED', 'slow down');
      return 'done';
    });
    const delays: number[] = [];
    const result = retryWithBackoff(fn, {
      attempts: 4,
      jitter: false,
      isRetryable: () => true,
      onRetry: ({ delayMs }) => delays.push(delayMs),
    });
    await vi.advanceTimersByTimeAsync(999);
    expect(fn).toHaveBeenCalledTimes(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(fn).toHaveBeenCalledTimes(2);
    await vi.advanceTimersByTimeAsync(2000);
    await expect(result).resolves.toBe('done');
    expect(delays).toEqual([1000, 2000]);
  });

  it('stops after `attempts` and rethrows the last error', async () => {
    let n = 0;
    const result = settle(
      retryWithBackoff(async () => Promise.reject(new Error(`fail ${++n}`)), {
        attempts: 3,
        isRetryable: () => true,
        sleep: async () => undefined,
      }),
    );
    expect((await result).error).toEqual(new Error('fail 3'));
  });

  it('does not retry non-retryable errors', async () => {
    const fn = vi.fn(async () => Promise.reject(new Error('fatal')));
    const result = await settle(retryWithBackoff(fn, { attempts: 5, isRetryable: () => false }));
    expect(result.error).toEqual(new Error('fatal'));
    expect(fn).toHaveBeenCalledTimes(1);
  });

  it('stops waiting when the signal aborts', async () => {
    const controller = new AbortController();
    const fn = vi.fn(async () => Promise.reject(new Error('again')));
    const result = settle(
      retryWithBackoff(fn, { attempts: 5, jitter: false, isRetryable: () => true, signal: controller.signal }),
    );
    await vi.advanceTimersByTimeAsync(10);
    controller.abort(new Error('stop'));
    expect((await result).error).toEqual(new Error('stop'));
    expect(fn).toHaveBeenCalledTimes(1);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('sends each retry through the scheduler, so retries respect the rate', async () => {
    scheduler = createScheduler({ rps: 1 });
    const starts: number[] = [];
    const result = retryWithBackoff(
      () =>
        scheduler!.schedule(async () => {
          starts.push(performance.now());
          if (starts.length < 3) throw new Error('retry me');
          return 'ok';
        }),
      { attempts: 3, random: () => 0, isRetryable: () => true },
    );
    await vi.advanceTimersByTimeAsync(5000);
    await expect(result).resolves.toBe('ok');
    // Zero jitter delay, but the scheduler still spaces the starts.
    expect(starts.map((t) => t - starts[0]!)).toEqual([0, 1000, 2000]);
  });
});
