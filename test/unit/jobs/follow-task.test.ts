import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { followTask, type FollowTaskOptions, type TaskStreamEvent } from '../../../src/jobs/follow-task.js';
import type { TaskRecord } from '../../../src/jobs/store.js';
import { createPubSub, type PubSub } from '../../../src/pubsub/index.js';
import { pendingTask, T0 } from '../../fixtures/tasks.js';

const ID = 'a'.repeat(32);
const RECHECK_MS = 1_000;
const GRACE_MS = 10_000;

const timedOut = (at: number): TaskRecord => ({ ...pendingTask(ID), status: 'TIMED_OUT', error: 'timed out', completedAt: at });
const succeeded = (at: number): TaskRecord => ({
  ...pendingTask(ID),
  status: 'SUCCEEDED',
  collectionId: 'im_1',
  frameIds: ['imc_1'],
  completedAt: at,
});

let pubsub: PubSub;
/** What the registry answers on a re-read (a function, so a test can make it reject). */
let registry: () => Promise<TaskRecord | null>;
let rechecks: number;

beforeEach(() => {
  vi.useFakeTimers({ now: T0 });
  pubsub = createPubSub();
  rechecks = 0;
  registry = async () => pendingTask(ID);
});
afterEach(async () => {
  await pubsub.dispose();
  vi.useRealTimers();
});

function follow(current: TaskRecord, options: Partial<FollowTaskOptions> = {}) {
  const updates = pubsub.subscribe('task:updated', ID);
  return followTask(current, updates, {
    recheck: () => {
      rechecks++;
      return registry();
    },
    recheckMs: RECHECK_MS,
    lateResultGraceMs: GRACE_MS,
    ...options,
  });
}

/** A pending next() whose settling the test can observe without awaiting it. */
function watch(promise: Promise<IteratorResult<TaskStreamEvent, undefined>>) {
  const state: { result?: IteratorResult<TaskStreamEvent, undefined> } = {};
  void promise.then((result) => (state.result = result));
  return state;
}

/** Publishes a timeout at the current fake time and reads it from the stream. */
async function timeOut(stream: AsyncIterableIterator<TaskStreamEvent>) {
  const record = timedOut(Date.now());
  registry = async () => record;
  pubsub.publish('task:updated', ID, record);
  expect((await stream.next()).value).toMatchObject({ status: 'TIMED_OUT' });
  return record;
}

describe('followTask after TIMED_OUT', () => {
  it('stays open for the grace, re-reading the registry, and completes when it ends', async () => {
    const stream = follow(pendingTask(ID));
    await stream.next();
    await timeOut(stream);
    const pending = watch(stream.next());
    rechecks = 0;
    await vi.advanceTimersByTimeAsync(GRACE_MS - 1);
    expect(pending.result).toBeUndefined();
    expect(rechecks).toBe(9);
    expect(pubsub.listenerCount()).toBe(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(pending.result).toEqual({ value: undefined, done: true });
    expect(pubsub.listenerCount()).toBe(0);
  });

  it('yields a late SUCCEEDED event inside the grace, then completes', async () => {
    const stream = follow(pendingTask(ID));
    await stream.next();
    await timeOut(stream);
    const next = stream.next();
    await vi.advanceTimersByTimeAsync(GRACE_MS / 2);
    pubsub.publish('task:updated', ID, succeeded(Date.now()));
    expect((await next).value).toMatchObject({ status: 'SUCCEEDED', collectionId: 'im_1' });
    expect(await stream.next()).toEqual({ value: undefined, done: true });
    expect(pubsub.listenerCount()).toBe(0);
  });

  it('finds a late result by re-reading the registry when its event was lost', async () => {
    const stream = follow(pendingTask(ID));
    await stream.next();
    await timeOut(stream);
    const next = watch(stream.next());
    registry = async () => succeeded(Date.now());
    await vi.advanceTimersByTimeAsync(RECHECK_MS);
    expect(next.result?.value).toMatchObject({ status: 'SUCCEEDED' });
    expect(await stream.next()).toEqual({ value: undefined, done: true });
  });

  it('drops a repeated TIMED_OUT inside the grace', async () => {
    const stream = follow(pendingTask(ID));
    await stream.next();
    const record = await timeOut(stream);
    const next = watch(stream.next());
    pubsub.publish('task:updated', ID, record);
    await vi.advanceTimersByTimeAsync(RECHECK_MS);
    expect(next.result).toBeUndefined();
    await vi.advanceTimersByTimeAsync(GRACE_MS);
    expect(next.result).toEqual({ value: undefined, done: true });
  });

  it('completes right after TIMED_OUT when the grace is 0', async () => {
    const stream = follow(pendingTask(ID), { lateResultGraceMs: 0 });
    await stream.next();
    await timeOut(stream);
    expect(await stream.next()).toEqual({ value: undefined, done: true });
    expect(pubsub.listenerCount()).toBe(0);
  });

  it('opened on a task timed out inside its grace, waits out the rest of it', async () => {
    const stream = follow(timedOut(T0 - 4_000));
    expect((await stream.next()).value).toMatchObject({ status: 'TIMED_OUT' });
    const pending = watch(stream.next());
    registry = async () => timedOut(T0 - 4_000);
    await vi.advanceTimersByTimeAsync(GRACE_MS - 4_000 - 1);
    expect(pending.result).toBeUndefined();
    await vi.advanceTimersByTimeAsync(1);
    expect(pending.result).toEqual({ value: undefined, done: true });
  });

  it('opened on a task timed out before its grace, completes at once', async () => {
    const stream = follow(timedOut(T0 - GRACE_MS));
    expect((await stream.next()).value).toMatchObject({ status: 'TIMED_OUT' });
    expect(await stream.next()).toEqual({ value: undefined, done: true });
    expect(pubsub.listenerCount()).toBe(0);
  });

  it('return() during the grace releases the listener at once', async () => {
    const stream = follow(pendingTask(ID));
    await stream.next();
    await timeOut(stream);
    const pending = stream.next();
    expect(pubsub.listenerCount()).toBe(1);
    await stream.return!();
    expect(pubsub.listenerCount()).toBe(0);
    expect(await pending).toEqual({ value: undefined, done: true });
    expect(vi.getTimerCount()).toBe(0);
  });
});

describe('followTask when the registry read goes wrong', () => {
  it('ends with a TASK_GONE marker when a re-read finds no task', async () => {
    const stream = follow(pendingTask(ID));
    await stream.next();
    registry = async () => null;
    const next = watch(stream.next());
    await vi.advanceTimersByTimeAsync(RECHECK_MS);
    expect(next.result).toEqual({ value: { ended: 'TASK_GONE', taskId: ID }, done: false });
    expect(pubsub.listenerCount()).toBe(0);
    expect(await stream.next()).toEqual({ value: undefined, done: true });
    expect(rechecks).toBe(1);
  });

  it('ends with a REGISTRY_UNAVAILABLE marker carrying the cause when a re-read rejects', async () => {
    const stream = follow(pendingTask(ID));
    await stream.next();
    const outage = new Error('Redis unreachable');
    registry = async () => Promise.reject(outage);
    const next = watch(stream.next());
    await vi.advanceTimersByTimeAsync(RECHECK_MS);
    expect(next.result).toEqual({ value: { ended: 'REGISTRY_UNAVAILABLE', taskId: ID, cause: outage }, done: false });
    expect(pubsub.listenerCount()).toBe(0);
    expect(await stream.next()).toEqual({ value: undefined, done: true });
  });

  it('ends with TASK_GONE when the task expires during the grace', async () => {
    const stream = follow(pendingTask(ID));
    await stream.next();
    await timeOut(stream);
    registry = async () => null;
    const next = watch(stream.next());
    await vi.advanceTimersByTimeAsync(RECHECK_MS);
    expect(next.result?.value).toEqual({ ended: 'TASK_GONE', taskId: ID });
    expect(pubsub.listenerCount()).toBe(0);
  });
});

describe('followTask when the pub/sub resyncs after a reconnect', () => {
  it('re-reads the registry at once and yields the result whose event was missed', async () => {
    const stream = follow(pendingTask(ID));
    await stream.next();
    const next = watch(stream.next());
    registry = async () => succeeded(T0); // applied while this instance could not hear the event
    await vi.advanceTimersByTimeAsync(0);
    expect(next.result).toBeUndefined();
    pubsub.resync();
    await vi.advanceTimersByTimeAsync(0); // no clock time passes: not the periodic re-read
    expect(next.result?.value).toMatchObject({ status: 'SUCCEEDED' });
    expect(rechecks).toBe(1);
    expect(await stream.next()).toEqual({ value: undefined, done: true });
  });

  it('keeps a resync that comes while the consumer is busy for its next wait', async () => {
    const stream = follow(pendingTask(ID));
    await stream.next();
    pubsub.resync(); // between two next() calls: nobody is waiting yet
    registry = async () => succeeded(T0);
    const next = watch(stream.next());
    await vi.advanceTimersByTimeAsync(0);
    expect(next.result?.value).toMatchObject({ status: 'SUCCEEDED' });
  });

  it('stays open when the resync re-read fails (the registry lags the pub/sub) and keeps re-reading', async () => {
    const stream = follow(pendingTask(ID));
    await stream.next();
    registry = async () => Promise.reject(new Error('Redis unreachable'));
    const next = watch(stream.next());
    pubsub.resync();
    await vi.advanceTimersByTimeAsync(0);
    expect(rechecks).toBe(1);
    expect(next.result).toBeUndefined();
    expect(pubsub.listenerCount()).toBe(1);
    registry = async () => succeeded(T0);
    pubsub.resync(); // the registry connection's own reconnect
    await vi.advanceTimersByTimeAsync(0);
    expect(next.result?.value).toMatchObject({ status: 'SUCCEEDED' });
  });

  it('forgets the resync listener of a subscription that returned', async () => {
    const stream = follow(pendingTask(ID));
    await stream.next();
    await stream.return!();
    pubsub.resync();
    await vi.advanceTimersByTimeAsync(0);
    expect(rechecks).toBe(0);
  });
});
