/**
 * A billed task whose registration fails because the registry went away after the extract reply: the caller gets
 * the PENDING task, the registration is spooled and replayed (before the callbacks spooled with it), and a replayed
 * callback completes at the time it arrived. Over the memory store, made "unreachable" on demand.
 */
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { handleCallbackBody, type CallbackOutcome } from '../../../src/jobs/callbacks.js';
import { RegistryUnavailableError } from '../../../src/jobs/registry-guard.js';
import { createMemoryTaskStore, type TaskRecord, type TaskStore } from '../../../src/jobs/store.js';
import { createTaskService, type TaskService } from '../../../src/jobs/tasks.js';
import { createTaskSpool, type TaskSpool } from '../../../src/jobs/webhook-spool.js';
import { silentLogger } from '../../../src/logger.js';
import { createPubSub, type PubSub } from '../../../src/pubsub/index.js';
import type { UpstreamClient } from '../../../src/upstream/client.js';
import { successCallback } from '../../fixtures/upstream/envelopes.js';
import { COLLECTION_ID, FRAME_IDS } from '../../fixtures/upstream/replies.js';
import { pendingTask, T0 } from '../../fixtures/tasks.js';

const ASSET = 're_666914042514116608';
const TASK_ID = '1e8ae1075e054e8abb58e7598c53cbf1';

let dataDir: string;
let pubsub: PubSub;
let tasks: TaskService;
let spool: TaskSpool | undefined;
let clock: number;
/** While true every store call rejects as an unreachable Redis would. */
let down: boolean;

beforeEach(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'frames-registration-spool-'));
  pubsub = createPubSub();
  clock = T0;
  down = false;
});
afterEach(async () => {
  await spool?.close().catch(() => undefined);
  spool = undefined;
  tasks.stop();
  await pubsub.dispose();
  await rm(dataDir, { recursive: true, force: true });
});

/** The memory store behind a switch: `down` makes every method fail like the guarded Redis store does. */
function switchable(store: TaskStore): TaskStore {
  return new Proxy(store, {
    get(target, property, receiver) {
      const value: unknown = Reflect.get(target, property, receiver);
      if (typeof value !== 'function' || property === 'dispose') return value;
      return async (...args: unknown[]) => {
        if (down) throw new RegistryUnavailableError(new Error('Connection is closed.'));
        return (value as (...a: unknown[]) => Promise<unknown>).apply(target, args);
      };
    },
  });
}

/** A task service whose upstream extract call takes Redis down with it (the outage lands during the billed call). */
function setup(spoolRegistration?: (task: TaskRecord) => Promise<void>) {
  const store = switchable(createMemoryTaskStore());
  const extractFrames = vi.fn(async () => {
    down = true;
    return { taskId: TASK_ID };
  });
  tasks = createTaskService({
    store,
    pubsub,
    client: { extractFrames } as unknown as UpstreamClient,
    logger: silentLogger,
    lookupAsset: async () => ({ assetId: ASSET, extension: 'mp4', uploadStatus: 'SUCCESS' }) as never,
    now: () => clock,
    timeoutSeconds: 60,
    reuseSeconds: 3600,
    parkTtlSeconds: 900,
    claimTtlMs: 3_000,
    maxWaitMs: 20_000,
    ...(spoolRegistration ? { spoolRegistration } : {}),
  });
  return { store, extractFrames };
}

/** The gateway's spool wiring over `tasks`, recording what each replayed callback did. */
function openSpool() {
  const callbacks: CallbackOutcome[] = [];
  spool = createTaskSpool({
    dataDir,
    logger: silentLogger,
    now: () => clock,
    retryMs: 0,
    register: (task) => tasks.register(task),
    applyCallback: async (body, receivedAt) => {
      const outcome = await handleCallbackBody(body, { tasks, logger: silentLogger }, { receivedAt, replayed: true });
      callbacks.push(outcome);
      return outcome.status === 200 ? 'done' : 'invalid';
    },
  });
  return { spool, callbacks };
}

const pendingRecord = () => pendingTask(TASK_ID, { assetId: ASSET });
const callbackBody = () => JSON.stringify(successCallback(TASK_ID, COLLECTION_ID, FRAME_IDS));

describe('a registration the registry could not take', () => {
  it('answers the billed PENDING task, spools it, and registers it (key bound) on replay, before its callback', async () => {
    const { spool, callbacks } = openSpool();
    const { store, extractFrames } = setup((task) => spool.appendRegistration(task));
    const result = await tasks.submit(ASSET, { idempotencyKey: 'k-1' });
    expect(result).toEqual({ task: expect.objectContaining({ id: TASK_ID, status: 'PENDING', idempotencyKey: 'k-1' }), reused: false });
    expect(await readdir(join(dataDir, 'registration-spool'))).toHaveLength(1);

    clock = T0 + 5_000; // the webhook arrives, still during the outage
    await spool.append(callbackBody());
    clock = T0 + 20_000; // Redis is back
    down = false;
    const updates = pubsub.subscribe('task:updated', TASK_ID);
    expect(await spool.replay()).toEqual({ applied: 2, remaining: 0 });

    // Registered first, so the callback found its task ('applied', not parked) and completed when it arrived.
    expect(callbacks).toEqual([{ status: 200, result: 'applied', taskId: TASK_ID }]);
    const done = { status: 'SUCCEEDED', collectionId: COLLECTION_ID, frameIds: FRAME_IDS, completedAt: T0 + 5_000 };
    expect(await store.get(TASK_ID)).toMatchObject({ ...done, submittedAt: T0, idempotencyKey: 'k-1' });
    expect((await updates.next()).value).toMatchObject(done);
    await updates.return();
    expect(await store.findByIdempotencyKey('k-1')).toMatchObject({ id: TASK_ID });
    expect(await tasks.submit(ASSET, { idempotencyKey: 'k-1' })).toMatchObject({ task: { id: TASK_ID }, reused: true });
    expect(extractFrames).toHaveBeenCalledTimes(1);
  });

  it('replays a registration idempotently: an id already registered keeps its stored state', async () => {
    const { spool } = openSpool();
    const { store } = setup((task) => spool.appendRegistration(task));
    const { task } = await tasks.submit(ASSET);
    down = false;
    // Registered and completed meanwhile (another replayer sharing DATA_DIR, say): the replay must not reset it.
    await tasks.register(task);
    expect(await tasks.applyCallback({ taskId: TASK_ID, succeeded: true, message: 'SUCCESS', code: '200', collectionId: COLLECTION_ID, frameIds: FRAME_IDS })).toBe('applied');
    expect(await spool.replay()).toEqual({ applied: 1, remaining: 0 });
    expect(await store.get(TASK_ID)).toMatchObject({ status: 'SUCCEEDED' });
  });

  it('fails the submit with the registry error when there is no spool, or the spool write fails too', async () => {
    setup();
    await expect(tasks.submit(ASSET)).rejects.toBeInstanceOf(RegistryUnavailableError);
    down = false;
    tasks.stop();
    setup(async () => {
      throw new Error('ENOSPC: no space left on device');
    });
    await expect(tasks.submit(ASSET)).rejects.toBeInstanceOf(RegistryUnavailableError);
  });

  it('moves a damaged registration entry aside instead of registering it', async () => {
    const { spool } = openSpool();
    setup();
    const dir = join(dataDir, 'registration-spool');
    await spool.appendRegistration({ id: TASK_ID } as TaskRecord);
    expect(await spool.replay()).toEqual({ applied: 0, remaining: 0 });
    await writeFile(join(dir, 'ignored.json'), '{}'); // not an entry name: never read
    expect((await readdir(dir)).sort()).toEqual([expect.stringMatching(/\.json\.rejected$/), 'ignored.json']);
    expect(await tasks.get(TASK_ID)).toBeNull();
  });
});

describe('applyCallback', () => {
  it('announces a replayed duplicate: its first attempt may have been applied, unannounced, after timing out', async () => {
    setup();
    const task = await tasks.register(pendingRecord());
    const callback = { taskId: task.id, succeeded: true, message: 'SUCCESS', code: '200', collectionId: COLLECTION_ID, frameIds: FRAME_IDS };
    expect(await tasks.applyCallback(callback)).toBe('applied');
    const updates = pubsub.subscribe('task:updated', TASK_ID);
    expect(await tasks.applyCallback(callback)).toBe('duplicate'); // a live duplicate: no event
    expect(await tasks.applyCallback(callback, { replayed: true })).toBe('duplicate');
    expect((await updates.next()).value).toMatchObject({ status: 'SUCCEEDED' });
    await updates.return();
    expect(await updates.next()).toEqual({ value: undefined, done: true }); // exactly one event
  });

  it('completes a task at the time the callback was received, when given', async () => {
    setup();
    down = false;
    const task = await tasks.register(pendingRecord());
    clock = T0 + 30_000;
    expect(await tasks.applyCallback({ taskId: task.id, succeeded: false, message: 'boom', code: '500', collectionId: null, frameIds: [] }, { receivedAt: T0 + 1_234 })).toBe('applied');
    expect(await tasks.get(task.id)).toMatchObject({ status: 'FAILED', completedAt: T0 + 1_234 });
  });
});
