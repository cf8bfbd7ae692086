import { afterEach, describe, expect, it, vi } from 'vitest';
import { createMemoryTaskStore, type TaskRecord, type TaskStore } from '../../../src/jobs/store.js';
import { createTaskService, ExtractionRejectedError, type TaskService } from '../../../src/jobs/tasks.js';
import { silentLogger } from '../../../src/logger.js';
import { createPubSub, type PubSub, type Subscription } from '../../../src/pubsub/index.js';
import type { UpstreamClient } from '../../../src/upstream/client.js';
import type { AssetResource, ExtractFramesCallback } from '../../../src/upstream/types.js';
import { pendingTask, readyAsset, T0 } from '../../fixtures/tasks.js';

const ASSET = 're_666914042514116608';
const TIMEOUT_S = 60;
const PARK_TTL_S = 900;

interface Harness {
  tasks: TaskService;
  store: TaskStore;
  pubsub: PubSub;
  clock: { now: number };
  extractFrames: ReturnType<typeof vi.fn<(assetId: string) => Promise<{ taskId: string }>>>;
  /** Task ids the fake upstream hands out, in order. */
  nextIds: string[];
}

let harness: Harness | undefined;
const started: Harness[] = [];

afterEach(async () => {
  for (const h of started.splice(0)) {
    h.tasks.stop();
    await h.pubsub.dispose();
  }
  harness = undefined;
  vi.useRealTimers();
});

const CLAIM_TTL_MS = 3_000;
const MAX_WAIT_MS = 20_000;
/** How often a waiter re-reads the registry and retries the claim: min(1 s, ttl / 3). */
const RETRY_MS = 1_000;

function setup(options: { store?: TaskStore; asset?: Partial<AssetResource>; clock?: { now: number } } = {}): Harness {
  const clock = options.clock ?? { now: T0 };
  const nextIds: string[] = [];
  let counter = 0;
  const extractFrames = vi.fn(async (_assetId: string) => ({ taskId: nextIds.shift() ?? `task-${++counter}` }));
  const client = { extractFrames } as unknown as UpstreamClient;
  const store = options.store ?? createMemoryTaskStore();
  const pubsub = createPubSub();
  const asset = readyAsset(ASSET, options.asset);
  const tasks = createTaskService({
    store,
    pubsub,
    client,
    logger: silentLogger,
    lookupAsset: async () => asset,
    now: () => clock.now,
    timeoutSeconds: TIMEOUT_S,
    reuseSeconds: 3600,
    parkTtlSeconds: PARK_TTL_S,
    claimTtlMs: CLAIM_TTL_MS,
    maxWaitMs: MAX_WAIT_MS,
  });
  harness = { tasks, store, pubsub, clock, extractFrames, nextIds };
  started.push(harness);
  return harness;
}

const success = (taskId: string, frames = 2): ExtractFramesCallback => ({
  taskId,
  succeeded: true,
  message: 'SUCCESS',
  code: '200',
  collectionId: 'im_666914042514116999',
  frameIds: Array.from({ length: frames }, (_, i) => `imc_666914042514116999_${i}`),
});
const failure = (taskId: string, message = 'video decode failed'): ExtractFramesCallback => ({
  taskId,
  succeeded: false,
  message,
  code: '500',
  collectionId: null,
  frameIds: [],
});

/** Stops listening and returns the events that arrived (the in-memory pubsub dispatches synchronously). */
async function drain(sub: Subscription<TaskRecord>): Promise<TaskRecord[]> {
  await sub.return();
  const seen: TaskRecord[] = [];
  for (let r = await sub.next(); !r.done; r = await sub.next()) seen.push(r.value);
  return seen;
}

describe('submit', () => {
  it('registers a PENDING task with a deadline timeoutSeconds away', async () => {
    const { tasks } = setup();
    const { task, reused } = await tasks.submit(ASSET);
    expect(reused).toBe(false);
    // pendingTask: PENDING at T0, no collection, frames, error or key.
    expect(task).toEqual(pendingTask('task-1', { assetId: ASSET, deadlineAt: T0 + TIMEOUT_S * 1000, tenant: 'local' }));
    expect(await tasks.get('task-1')).toEqual(task);
  });

  it('reuses a pending task, shares one upstream call between concurrent submits, and re-extracts on force', async () => {
    const { tasks, extractFrames } = setup();
    const [a, b] = await Promise.all([tasks.submit(ASSET), tasks.submit(ASSET)]);
    expect(a.task.id).toBe(b.task.id);
    expect([a.reused, b.reused].sort()).toEqual([false, true]);
    expect((await tasks.submit(ASSET)).reused).toBe(true);
    expect(extractFrames).toHaveBeenCalledTimes(1);
    const forced = await tasks.submit(ASSET, { force: true });
    expect(forced).toMatchObject({ reused: false, task: { id: 'task-2' } });
    expect(extractFrames).toHaveBeenCalledTimes(2);
  });

  it('returns the same task for the same idempotency key', async () => {
    const { tasks, extractFrames } = setup();
    const first = await tasks.submit(ASSET, { idempotencyKey: 'order-1', force: true });
    const again = await tasks.submit(ASSET, { idempotencyKey: 'order-1', force: true });
    expect(again).toEqual({ task: first.task, reused: true });
    expect(extractFrames).toHaveBeenCalledTimes(1);
  });

  it('refuses assets that are not ready or not videos without a billed call', async () => {
    const notReady = setup({ asset: { uploadStatus: 'UPLOADING' } });
    await expect(notReady.tasks.submit(ASSET)).rejects.toMatchObject({ name: 'ExtractionRejectedError', reason: 'NOT_READY' });
    expect(notReady.extractFrames).not.toHaveBeenCalled();
    const image = setup({ asset: { extension: 'png' } });
    await expect(image.tasks.submit(ASSET)).rejects.toBeInstanceOf(ExtractionRejectedError);
    expect(image.extractFrames).not.toHaveBeenCalled();
  });
});

describe('applyCallback', () => {
  it('applies a success once and publishes it once; duplicates change nothing', async () => {
    const { tasks, pubsub, clock } = setup();
    const { task } = await tasks.submit(ASSET);
    const sub = pubsub.subscribe('task:updated', task.id);
    clock.now = T0 + 5_000;
    expect(await tasks.applyCallback(success(task.id, 3))).toBe('applied');
    expect(await tasks.applyCallback(success(task.id, 3))).toBe('duplicate');
    expect(await tasks.applyCallback(failure(task.id, 'late failure'))).toBe('duplicate');
    const events = await drain(sub);
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ id: task.id, status: 'SUCCEEDED', completedAt: T0 + 5_000 });
    expect(await tasks.get(task.id)).toMatchObject({ status: 'SUCCEEDED', frameIds: success(task.id, 3).frameIds, error: null });
  });

  it('records a failure with the upstream message', async () => {
    const { tasks } = setup();
    const { task } = await tasks.submit(ASSET);
    expect(await tasks.applyCallback(failure(task.id))).toBe('applied');
    expect(await tasks.get(task.id)).toMatchObject({ status: 'FAILED', error: 'video decode failed', frameIds: [] });
  });

  it('parks a callback for an unknown id and applies it when the id gets registered', async () => {
    const { tasks, pubsub, nextIds } = setup();
    expect(await tasks.applyCallback(success('early-task'))).toBe('parked');
    nextIds.push('early-task');
    const sub = pubsub.subscribe('task:updated', 'early-task');
    const { task } = await tasks.submit(ASSET);
    expect(task).toMatchObject({ id: 'early-task', status: 'SUCCEEDED', collectionId: 'im_666914042514116999' });
    expect((await drain(sub)).map((t) => t.status)).toEqual(['SUCCEEDED']);
  });

  it('forgets a parked callback after parkTtlSeconds', async () => {
    const { tasks, clock, nextIds } = setup();
    expect(await tasks.applyCallback(success('slow-reply'))).toBe('parked');
    clock.now = T0 + PARK_TTL_S * 1000 + 1;
    nextIds.push('slow-reply');
    expect((await tasks.submit(ASSET)).task).toMatchObject({ id: 'slow-reply', status: 'PENDING' });
  });

  it('applies a callback that lost the race with insert (park refused because the task just appeared)', async () => {
    const inner = createMemoryTaskStore();
    let racer: TaskRecord | undefined;
    // Another instance registers the task between this instance's complete() and park().
    const store: TaskStore = {
      ...inner,
      async park(callback) {
        if (racer) await inner.insert(racer, T0);
        return inner.park(callback);
      },
    };
    const { tasks } = setup({ store });
    racer = pendingTask('raced', { assetId: ASSET });
    expect(await tasks.applyCallback(success('raced'))).toBe('applied');
    expect(await tasks.get('raced')).toMatchObject({ status: 'SUCCEEDED' });
  });
});

describe('timeouts', () => {
  it('sweeps PENDING tasks past their deadline to TIMED_OUT, once', async () => {
    const { tasks, pubsub, clock } = setup();
    const { task } = await tasks.submit(ASSET);
    const sub = pubsub.subscribe('task:updated', task.id);
    clock.now = T0 + TIMEOUT_S * 1000 - 1;
    expect(await tasks.sweep()).toBe(0);
    clock.now = T0 + TIMEOUT_S * 1000;
    expect(await tasks.sweep()).toBe(1);
    expect(await tasks.sweep()).toBe(0);
    const events = await drain(sub);
    expect(events.map((t) => t.status)).toEqual(['TIMED_OUT']);
    expect(events[0]).toMatchObject({ completedAt: T0 + TIMEOUT_S * 1000, frameIds: [] });
    expect(events[0]?.error).toMatch(/within 60 s/);
  });

  it('times out an overdue task on read, before any sweep', async () => {
    const { tasks, clock } = setup();
    const { task } = await tasks.submit(ASSET);
    clock.now = T0 + TIMEOUT_S * 1000 + 1;
    expect(await tasks.get(task.id)).toMatchObject({ status: 'TIMED_OUT' });
    expect(await tasks.sweep()).toBe(0);
  });

  it('upgrades TIMED_OUT to SUCCEEDED when the real result arrives late, and then stays', async () => {
    const { tasks, pubsub, clock } = setup();
    const { task } = await tasks.submit(ASSET);
    clock.now = T0 + TIMEOUT_S * 1000;
    await tasks.sweep();
    const sub = pubsub.subscribe('task:updated', task.id);
    clock.now = T0 + TIMEOUT_S * 1000 + 30_000;
    expect(await tasks.applyCallback(success(task.id, 4))).toBe('applied');
    expect(await tasks.applyCallback(failure(task.id))).toBe('duplicate');
    expect((await drain(sub)).map((t) => t.status)).toEqual(['SUCCEEDED']);
    expect(await tasks.get(task.id)).toMatchObject({ status: 'SUCCEEDED', error: null, completedAt: T0 + 90_000 });
    // A finished task is not reused as pending, but a recent success is.
    expect((await tasks.submit(ASSET)).task.id).toBe(task.id);
  });

  it('runs the sweep on an interval until stopped (fake timers)', async () => {
    vi.useFakeTimers();
    const { tasks, clock } = setup();
    const { task } = await tasks.submit(ASSET);
    tasks.startSweeper(1_000);
    clock.now = T0 + TIMEOUT_S * 1000;
    await vi.advanceTimersByTimeAsync(1_000);
    expect((await harness!.store.get(task.id))?.status).toBe('TIMED_OUT');
    tasks.stop();
    expect(vi.getTimerCount()).toBe(0);
  });
});
