import { describe, expect, it, vi } from 'vitest';
import { isUpstreamError, type UpstreamError } from '../../../src/upstream/errors.js';
import { createScheduler, type Scheduler } from '../../../src/upstream/rate-limit.js';
import { runAsTenant } from '../../../src/tenancy.js';
import { settle, useFakeTimersEachTest } from './fake-timers.js';

let scheduler: Scheduler | undefined;

useFakeTimersEachTest({
  teardown: () => {
    scheduler?.dispose();
    scheduler = undefined;
  },
});

/** Schedules one call as `tenant` (undefined: outside any tenant); its start is recorded in `order`. */
function call(order: string[], tenant: string | undefined, name: string, options = {}): Promise<void> {
  const task = async () => void order.push(name);
  return tenant === undefined ? scheduler!.schedule(task, options) : runAsTenant(tenant, () => scheduler!.schedule(task, options));
}

describe('fair share between tenants', () => {
  it("a tenant flooding 200 calls delays another tenant's single call by no more than 3 upstream slots", async () => {
    scheduler = createScheduler({ rps: 1, maxQueuedPerTenant: 1000 });
    const order: string[] = [];
    const flood = Array.from({ length: 200 }, (_, i) => call(order, 'flooder', `flooder-${i}`));
    // The first flood call took the free slot at once; 199 wait. Some slots go by before the other tenant calls.
    await vi.advanceTimersByTimeAsync(10_500);
    const startedBefore = scheduler.started;
    const other = call(order, 'other', 'other');
    await vi.advanceTimersByTimeAsync(3000);
    expect(order).toContain('other');
    await other;
    const slotsWaited = order.indexOf('other') - (startedBefore - 1);
    expect(slotsWaited).toBeGreaterThanOrEqual(1);
    expect(slotsWaited).toBeLessThanOrEqual(3);
    scheduler.dispose();
    await Promise.allSettled(flood);
  });

  it('serves busy lanes in turn, FIFO within each lane, calls outside any tenant in a system lane of their own', async () => {
    scheduler = createScheduler({ rps: 1 });
    const order: string[] = [];
    const all = [
      call(order, 'a', 'a1'),
      call(order, 'a', 'a2'),
      call(order, 'a', 'a3'),
      call(order, 'b', 'b1'),
      call(order, 'b', 'b2'),
      call(order, undefined, 's1'),
      call(order, 'c', 'c1'),
    ];
    await vi.advanceTimersByTimeAsync(10_000);
    await Promise.all(all);
    // a1 took the free slot at once; then the ring a, b, system, c.
    expect(order).toEqual(['a1', 'a2', 'b1', 's1', 'c1', 'a3', 'b2']);
  });

  it('keeps starts spaced at the account rate whatever the lanes', async () => {
    scheduler = createScheduler({ rps: 1 });
    const starts: number[] = [];
    const all = ['a', 'b', 'c', 'a', 'b', 'c'].map((tenant) =>
      runAsTenant(tenant, () => scheduler!.schedule(async () => void starts.push(performance.now()))),
    );
    await vi.advanceTimersByTimeAsync(6000);
    await Promise.all(all);
    expect(starts.map((t) => t - starts[0]!)).toEqual([0, 1000, 2000, 3000, 4000, 5000]);
  });

  it('refuses a call past TENANT_MAX_QUEUED at once with RATE_LIMITED, other tenants unaffected', async () => {
    scheduler = createScheduler({ rps: 1, maxQueuedPerTenant: 20 });
    const order: string[] = [];
    const flood = Array.from({ length: 200 }, (_, i) => settle(call(order, 'flooder', `f${i}`)));
    // One started at once, 20 wait: the other 179 were refused without waiting for anything.
    expect(scheduler.pending).toBe(20);
    const results = await Promise.all(flood.slice(21));
    for (const result of results) {
      expect(isUpstreamError(result.error, 'RATE_LIMITED')).toBe(true);
      // The next slot in 1 s, then the 20 queued calls.
      expect((result.error as UpstreamError).retryAfterSeconds).toBe(21);
    }
    const other = call(order, 'other', 'other');
    expect(scheduler.pending).toBe(21);
    await vi.advanceTimersByTimeAsync(2000);
    await other;
    // The flooder's lane was ahead in the ring: one of its calls, then the other tenant's.
    expect(order).toEqual(['f0', 'f1', 'other']);
    await vi.advanceTimersByTimeAsync(20_000);
    await Promise.all(flood.slice(0, 21));
    expect(order).toHaveLength(22);
  });

  it('checks maxWaitMs against the slots served before the call, not the whole queue', async () => {
    scheduler = createScheduler({ rps: 1, maxWaitMs: 5000 });
    const order: string[] = [];
    const flood = Array.from({ length: 6 }, (_, i) => settle(call(order, 'flooder', `f${i}`)));
    // The flooder's 7th would start at 6000 ms: refused.
    const seventh = await settle(call(order, 'flooder', 'f6'));
    expect(isUpstreamError(seventh.error, 'RATE_LIMITED')).toBe(true);
    // Another tenant's first call waits one slot (the ring: flooder, then it), well within 5000 ms.
    const other = call(order, 'other', 'other');
    await vi.advanceTimersByTimeAsync(6000);
    await other;
    await Promise.all(flood);
    expect(order.indexOf('other')).toBe(2);
  });

  it('removes an aborted call from its lane and the ring', async () => {
    scheduler = createScheduler({ rps: 1 });
    const order: string[] = [];
    const first = call(order, 'a', 'a1');
    const controller = new AbortController();
    const aborted = settle(call(order, 'b', 'b1', { signal: controller.signal }));
    const third = call(order, 'c', 'c1');
    controller.abort(new Error('gave up'));
    expect(scheduler.pending).toBe(1);
    expect((await aborted).error).toEqual(new Error('gave up'));
    await vi.advanceTimersByTimeAsync(1000);
    await Promise.all([first, third]);
    expect(order).toEqual(['a1', 'c1']);
  });

  it('dispose rejects the calls waiting in every lane', async () => {
    scheduler = createScheduler({ rps: 1 });
    const order: string[] = [];
    const first = call(order, 'a', 'a1');
    const waiting = [settle(call(order, 'a', 'a2')), settle(call(order, 'b', 'b1')), settle(call(order, undefined, 's1'))];
    scheduler.dispose();
    await first;
    for (const result of await Promise.all(waiting)) expect(isUpstreamError(result.error, 'UPSTREAM_ERROR')).toBe(true);
    expect(scheduler.pending).toBe(0);
    expect(order).toEqual(['a1']);
  });
});
