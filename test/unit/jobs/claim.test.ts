/**
 * The cross-instance submission claim, through createTaskService: several "instances" (task services with their
 * own in-memory pub/sub, so no event ever crosses between them) share one memory store. Fake timers drive the
 * renewal, the waiters' re-read interval and the wait deadline; nothing sleeps.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createMemoryTaskStore, type TaskStore } from '../../../src/jobs/store.js';
import { createTaskService, IdempotencyKeyInUseError, type TaskService } from '../../../src/jobs/tasks.js';
import { createPubSub, type PubSub } from '../../../src/pubsub/index.js';
import type { UpstreamClient } from '../../../src/upstream/client.js';
import { createDeferred, type Deferred } from '../../helpers/deferred.js';
import { pendingTask, T0, taskServiceDefaults } from '../../fixtures/tasks.js';

const ASSET = 're_666914042514116608';
const OTHER = 're_666914042514116609';
const TTL_MS = 3_000;
const RETRY_MS = 1_000; // min(1 s, ttl / 3)
const MAX_WAIT_MS = 10_000;

interface Cluster {
  store: TaskStore;
  clock: { now: number };
  /** Every upstream extract call, from any instance; each waits for its `replies` entry when one is queued. */
  extractCalls: string[];
  /** Deferred replies handed to the next extract calls, in order (an empty queue answers at once). */
  replies: Deferred<void>[];
  /** A new instance; `pubsub` defaults to its own (events never reach another instance). */
  instance(pubsub?: PubSub): { tasks: TaskService; pubsub: PubSub };
}

const services: { tasks: TaskService; pubsub: PubSub }[] = [];

afterEach(async () => {
  for (const s of services.splice(0)) {
    s.tasks.stop();
    await s.pubsub.dispose();
  }
  vi.useRealTimers();
});

function cluster(store: TaskStore = createMemoryTaskStore()): Cluster {
  const clock = { now: T0 };
  const extractCalls: string[] = [];
  const replies: Deferred<void>[] = [];
  let counter = 0;
  const client = {
    extractFrames: async (assetId: string) => {
      extractCalls.push(assetId);
      const taskId = `task-${++counter}`;
      await replies.shift()?.promise;
      return { taskId };
    },
  } as unknown as UpstreamClient;
  return {
    store,
    clock,
    extractCalls,
    replies,
    instance(pubsub = createPubSub()) {
      const tasks = createTaskService({
        store,
        pubsub,
        client,
        ...taskServiceDefaults(clock),
        claimTtlMs: TTL_MS,
        maxWaitMs: MAX_WAIT_MS,
      });
      services.push({ tasks, pubsub });
      return { tasks, pubsub };
    },
  };
}

/** A store whose calls are recorded (and can be intercepted) without changing their behaviour. */
function spiedStore(inner: TaskStore = createMemoryTaskStore()) {
  return {
    inner,
    store: {
      ...inner,
      claimSubmission: vi.fn(inner.claimSubmission),
      renewSubmission: vi.fn(inner.renewSubmission),
      releaseSubmission: vi.fn(inner.releaseSubmission),
      listByAsset: vi.fn(inner.listByAsset),
    } satisfies TaskStore,
  };
}

/** Lets pending promise callbacks run without moving fake time. */
const settle = () => vi.advanceTimersByTimeAsync(0);

describe('submission claim', () => {
  it('renews the claim every ttl/3 while the extract call is in flight, and stops when it returns', async () => {
    vi.useFakeTimers();
    const { store } = spiedStore();
    const c = cluster(store);
    const reply = createDeferred();
    c.replies.push(reply);
    const submitted = c.instance().tasks.submit(ASSET);
    await vi.advanceTimersByTimeAsync(TTL_MS * 2); // twice the TTL: without renewal the claim would be gone
    expect(store.renewSubmission).toHaveBeenCalledTimes(6);
    for (const r of store.renewSubmission.mock.results) await expect(r.value).resolves.toBe(true);
    const [token] = store.claimSubmission.mock.calls[0]!.slice(1);
    expect(store.renewSubmission.mock.calls.every((call) => call[1] === token)).toBe(true);
    reply.resolve();
    expect((await submitted).reused).toBe(false);
    expect(store.releaseSubmission).toHaveBeenCalledWith(ASSET, token);
    expect(vi.getTimerCount()).toBe(0);
    await vi.advanceTimersByTimeAsync(TTL_MS);
    expect(store.renewSubmission).toHaveBeenCalledTimes(6);
  });

  it('re-checks for a reusable task after winning the claim, and then submits nothing', async () => {
    const { store, inner } = spiedStore();
    // The previous holder registered its task and released between this caller's read and its claim.
    store.claimSubmission.mockImplementationOnce(async (...args) => {
      await inner.insert(pendingTask('theirs', { submittedAt: T0, deadlineAt: T0 + 600_000 }), T0);
      return inner.claimSubmission(...args);
    });
    const c = cluster(store);
    expect(await c.instance().tasks.submit(ASSET)).toMatchObject({ reused: true, task: { id: 'theirs' } });
    expect(c.extractCalls).toEqual([]);
    expect(await inner.claimSubmission(ASSET, 'next', TTL_MS, c.clock.now)).toBe(true); // released
  });

  it('falls back to re-reading the store when no asset:submitted event arrives', async () => {
    vi.useFakeTimers();
    const c = cluster();
    const reply = createDeferred();
    c.replies.push(reply);
    const onA = c.instance().tasks.submit(ASSET);
    await settle();
    const onB = c.instance().tasks.submit(ASSET); // B's pub/sub never hears from A
    await settle();
    reply.resolve();
    const a = await onA;
    let b: unknown;
    void onB.then((r) => (b = r));
    await settle();
    expect(b).toBeUndefined(); // no event: B is still waiting
    await vi.advanceTimersByTimeAsync(RETRY_MS);
    expect(b).toEqual({ task: a.task, reused: true });
    expect(c.extractCalls).toEqual([ASSET]);
  });

  it('never submits without the claim: a waiter past maxWaitMs fails with RATE_LIMITED', async () => {
    vi.useFakeTimers();
    const c = cluster();
    const reply = createDeferred();
    c.replies.push(reply);
    const onA = c.instance().tasks.submit(ASSET);
    await settle();
    const onB = c.instance().tasks.submit(ASSET).catch((e: unknown) => e);
    await vi.advanceTimersByTimeAsync(MAX_WAIT_MS);
    expect(await onB).toMatchObject({ name: 'UpstreamError', kind: 'RATE_LIMITED', retryAfterSeconds: 1 });
    expect(c.extractCalls).toEqual([ASSET]);
    reply.resolve();
    await onA;
  });

  it('takes over once a dead holder’s claim lapses, and bills once', async () => {
    vi.useFakeTimers();
    const c = cluster();
    expect(await c.store.claimSubmission(ASSET, 'crashed-instance', TTL_MS, c.clock.now)).toBe(true);
    const submitted = c.instance().tasks.submit(ASSET);
    await vi.advanceTimersByTimeAsync(RETRY_MS);
    expect(c.extractCalls).toEqual([]);
    c.clock.now += TTL_MS; // the claim's TTL has run out on the store's clock
    await vi.advanceTimersByTimeAsync(RETRY_MS);
    expect((await submitted).reused).toBe(false);
    expect(c.extractCalls).toEqual([ASSET]);
  });

  it('wakes a waiter on the holder’s failure event, and it claims at once (before any retry tick)', async () => {
    vi.useFakeTimers();
    const c = cluster();
    const reply = createDeferred();
    c.replies.push(reply);
    const shared = createPubSub();
    const [a, b] = [c.instance(shared), c.instance(shared)];
    const onA = a.tasks.submit(ASSET).catch((e: unknown) => e);
    await settle();
    const onB = b.tasks.submit(ASSET);
    await settle();
    reply.reject(new Error('upstream down'));
    expect(await onA).toMatchObject({ message: 'upstream down' });
    expect((await onB).reused).toBe(false); // no fake time moved: the event woke it
    expect(c.extractCalls).toEqual([ASSET, ASSET]);
  });

  it('answers a waiter with the holder’s task from the asset:submitted event', async () => {
    vi.useFakeTimers();
    const c = cluster();
    const reply = createDeferred();
    c.replies.push(reply);
    const shared = createPubSub();
    const [a, b] = [c.instance(shared), c.instance(shared)];
    const onA = a.tasks.submit(ASSET);
    await settle();
    const onB = b.tasks.submit(ASSET);
    await settle();
    reply.resolve();
    const { task } = await onA;
    expect(await onB).toEqual({ task, reused: true }); // no fake time moved
    expect(c.extractCalls).toEqual([ASSET]);
  });
});

describe('idempotency keys are bound to their asset', () => {
  it('refuses a key reused for another asset, with no extract call, and keeps answering the first asset', async () => {
    const c = cluster();
    const { tasks } = c.instance();
    const first = await tasks.submit(ASSET, { idempotencyKey: 'order-1' });
    for (const force of [false, true]) {
      const refused = await tasks.submit(OTHER, { idempotencyKey: 'order-1', force }).catch((e: unknown) => e);
      expect(refused).toBeInstanceOf(IdempotencyKeyInUseError);
      expect(refused).toMatchObject({ key: 'order-1', task: { id: first.task.id, assetId: ASSET }, requestedAssetId: OTHER });
    }
    expect(await tasks.submit(ASSET, { idempotencyKey: 'order-1' })).toEqual({ task: first.task, reused: true });
    expect(c.extractCalls).toEqual([ASSET]);
  });

  it('refuses a key that is in flight for another asset once that submission lands', async () => {
    const c = cluster();
    const reply = createDeferred();
    c.replies.push(reply);
    const { tasks } = c.instance();
    const first = tasks.submit(ASSET, { idempotencyKey: 'k' });
    const second = tasks.submit(OTHER, { idempotencyKey: 'k' }).catch((e: unknown) => e);
    reply.resolve();
    const { task } = await first;
    expect(await second).toMatchObject({ name: 'IdempotencyKeyInUseError', task: { id: task.id } });
    expect(c.extractCalls).toEqual([ASSET]);
  });

  it('refuses a key another instance bound to another asset in the meantime (reused-task path)', async () => {
    const c = cluster();
    const [a, b] = [c.instance(), c.instance()];
    const onOther = await a.tasks.submit(OTHER);
    await c.store.bindIdempotencyKey('shared', onOther.task.id);
    const pendingOnAsset = await b.tasks.submit(ASSET);
    // B reuses its PENDING task for ASSET, but the key already means OTHER's task.
    const refused = await b.tasks.submit(ASSET, { idempotencyKey: 'shared' }).catch((e: unknown) => e);
    expect(refused).toMatchObject({ name: 'IdempotencyKeyInUseError', task: { id: onOther.task.id } });
    expect(pendingOnAsset.reused).toBe(false);
    expect(c.extractCalls).toEqual([OTHER, ASSET]);
  });
});

describe('deadline sweep across instances (one memory store)', () => {
  it('times an overdue task out once in total, with one event, whichever instance acts', async () => {
    const c = cluster();
    // One pub/sub for both, so one listener sees every event either instance publishes.
    const shared = createPubSub();
    const [a, b] = [c.instance(shared), c.instance(shared)];
    const { task } = await a.tasks.submit(ASSET);
    const sub = shared.subscribe('task:updated', task.id);
    c.clock.now = task.deadlineAt;
    const [sweptA, sweptB, readA, readB] = await Promise.all([a.tasks.sweep(), b.tasks.sweep(), a.tasks.get(task.id), b.tasks.get(task.id)]);
    expect(sweptA + sweptB).toBeLessThanOrEqual(1);
    expect(readA).toEqual(readB);
    expect(readA).toMatchObject({ status: 'TIMED_OUT' });
    await sub.return();
    const events: string[] = [];
    for (let r = await sub.next(); !r.done; r = await sub.next()) events.push(r.value.status);
    expect(events).toEqual(['TIMED_OUT']);
  });
});
