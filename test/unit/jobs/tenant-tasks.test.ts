/**
 * The task service per tenant: reuse, dedupe of concurrent submits, idempotency keys and the cross-instance claim
 * only ever answer a tenant with its own tasks; ownership is recorded at registration and at the success callback.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { createMemoryOwnershipStore } from '../../../src/jobs/ownership-memory.js';
import type { OwnershipStore } from '../../../src/jobs/ownership.js';
import { createMemoryTaskStore, type TaskStore } from '../../../src/jobs/store.js';
import { createTaskService, IdempotencyKeyInUseError, type TaskService } from '../../../src/jobs/tasks.js';
import { createPubSub, type PubSub } from '../../../src/pubsub/index.js';
import type { UpstreamClient } from '../../../src/upstream/client.js';
import { createDeferred, type Deferred } from '../../helpers/deferred.js';
import { T0, taskServiceDefaults } from '../../fixtures/tasks.js';

const ASSET = 're_666914042514116608';
const OTHER_ASSET = 're_666914042514116609';
const COLLECTION = 'im_666914042514116999';

const pubsubs: PubSub[] = [];
const services: TaskService[] = [];
afterEach(async () => {
  for (const s of services.splice(0)) s.stop();
  for (const p of pubsubs.splice(0)) await p.dispose();
});

const RETENTION_MS = 60_000;

function world() {
  const clock = { now: T0 };
  const store: TaskStore = createMemoryTaskStore();
  const ownership: OwnershipStore = createMemoryOwnershipStore({ now: () => clock.now, retentionMs: { task: RETENTION_MS } });
  const extractCalls: string[] = [];
  /** When set, extract calls wait for it (to hold a submission in flight). */
  const gate: { reply?: Deferred<void> } = {};
  const secondCall = createDeferred<void>();
  let counter = 0;
  const client = {
    extractFrames: async (assetId: string) => {
      extractCalls.push(assetId);
      if (extractCalls.length === 2) secondCall.resolve();
      const taskId = `task-${++counter}`;
      await gate.reply?.promise;
      return { taskId };
    },
  } as unknown as UpstreamClient;
  /** One gateway instance on the shared store (its own pub/sub, so claims are what keeps instances apart). */
  const instance = () => {
    const pubsub = createPubSub();
    pubsubs.push(pubsub);
    const tasks = createTaskService({
      store,
      ownership,
      pubsub,
      client,
      ...taskServiceDefaults(clock),
      claimTtlMs: 30_000,
      maxWaitMs: 60_000,
    });
    services.push(tasks);
    return tasks;
  };
  return { clock, store, ownership, extractCalls, gate, secondCall, instance };
}

describe('task service per tenant', () => {
  it('reuses and dedupes only within a tenant: two tenants on one asset get two tasks, each reused by its own tenant', async () => {
    const { extractCalls, instance } = world();
    const tasks = instance();
    const [a1, a2, b1] = await Promise.all([
      tasks.submit(ASSET, { tenant: 'acme' }),
      tasks.submit(ASSET, { tenant: 'acme' }),
      tasks.submit(ASSET, { tenant: 'globex' }),
    ]);
    expect(extractCalls).toEqual([ASSET, ASSET]);
    expect(a2.task.id).toBe(a1.task.id);
    expect(b1.task.id).not.toBe(a1.task.id);
    expect([a1.task.tenant, b1.task.tenant]).toEqual(['acme', 'globex']);
    expect((await tasks.submit(ASSET, { tenant: 'globex' })).task.id).toBe(b1.task.id);
    expect((await tasks.submit(ASSET, {})).reused).toBe(false); // the local tenant is a tenant too
  });

  it('keeps claims per tenant across instances: a tenant never waits for, nor is handed, another tenant’s submission', async () => {
    const { gate, secondCall, instance } = world();
    const [one, two] = [instance(), instance()];
    gate.reply = createDeferred<void>();
    const acme = one.submit(ASSET, { tenant: 'acme' });
    // acme's call is in flight under its claim; globex on the other instance calls without waiting for it.
    const globex = two.submit(ASSET, { tenant: 'globex' });
    await secondCall.promise;
    gate.reply.resolve();
    const [a, g] = await Promise.all([acme, globex]);
    expect(g.task.tenant).toBe('globex');
    expect(g.task.id).not.toBe(a.task.id);
  }, 5_000);

  it('scopes idempotency keys per tenant: the same key names two tasks, and a conflict is only within a tenant', async () => {
    const { store, instance } = world();
    const tasks = instance();
    const a = await tasks.submit(ASSET, { tenant: 'acme', idempotencyKey: 'order-1' });
    const g = await tasks.submit(OTHER_ASSET, { tenant: 'globex', idempotencyKey: 'order-1' });
    expect(g.reused).toBe(false);
    expect(g.task.assetId).toBe(OTHER_ASSET);
    expect((await tasks.submit(ASSET, { tenant: 'acme', idempotencyKey: 'order-1', force: true })).task.id).toBe(a.task.id);
    const conflict = await tasks.submit(OTHER_ASSET, { tenant: 'acme', idempotencyKey: 'order-1' }).catch((e: unknown) => e);
    expect(conflict).toBeInstanceOf(IdempotencyKeyInUseError);
    expect((conflict as IdempotencyKeyInUseError).key).toBe('order-1');
    // The local tenant keeps bare keys, so keys bound before tenants existed still answer.
    const local = await tasks.submit(ASSET, { idempotencyKey: 'order-1' });
    expect((await store.findByIdempotencyKey('order-1'))?.id).toBe(local.task.id);
    expect((await store.findByIdempotencyKey('acme order-1'))?.id).toBe(a.task.id);
  });

  it('records the task as its tenant’s at registration and the collection at the success callback', async () => {
    const { ownership, instance } = world();
    const tasks = instance();
    const { task } = await tasks.submit(ASSET, { tenant: 'acme' });
    expect(await ownership.ownerOf('task', task.id)).toBe('acme');
    expect(await ownership.ownerOf('collection', COLLECTION)).toBeNull();
    const callback = { taskId: task.id, succeeded: true, message: 'SUCCESS', code: '200', collectionId: COLLECTION, frameIds: [`${COLLECTION.replace('im_', 'imc_')}_0`] };
    expect(await tasks.applyCallback(callback)).toBe('applied');
    expect(await ownership.ownerOf('collection', COLLECTION)).toBe('acme');
    expect((await ownership.list('task', 'acme', { first: 5 })).ids).toEqual([task.id]);
  });

  it('records the collection again on a replayed duplicate callback, not on an upstream redelivery', async () => {
    const { ownership, instance } = world();
    const tasks = instance();
    const { task } = await tasks.submit(ASSET, { tenant: 'acme' });
    const callback = { taskId: task.id, succeeded: true, message: 'SUCCESS', code: '200', collectionId: COLLECTION, frameIds: [] };
    await tasks.applyCallback(callback);
    await ownership.forget('collection', COLLECTION); // as if the first attempt died between the two writes
    // An upstream redelivery after a delete (the collection was forgotten) does not bring it back...
    expect(await tasks.applyCallback(callback)).toBe('duplicate');
    expect(await ownership.ownerOf('collection', COLLECTION)).toBeNull();
    // ...a spool replay does: its first attempt may have stopped between the transition and this record.
    expect(await tasks.applyCallback(callback, { replayed: true })).toBe('duplicate');
    expect(await ownership.ownerOf('collection', COLLECTION)).toBe('acme');
  });

  it('restarts a task’s ownership retention when it finishes, as the task record’s retention starts then', async () => {
    const { clock, ownership, instance } = world();
    const tasks = instance();
    const { task } = await tasks.submit(ASSET, { tenant: 'acme' });
    clock.now += RETENTION_MS - 1_000;
    await tasks.applyCallback({ taskId: task.id, succeeded: false, message: 'decode failed', code: '500', collectionId: null, frameIds: [] });
    clock.now += RETENTION_MS - 1_000; // past the submission's retention, within the completion's
    expect(await ownership.ownerOf('task', task.id)).toBe('acme');
    clock.now += 2_000;
    expect(await ownership.ownerOf('task', task.id)).toBeNull();
  });
});
