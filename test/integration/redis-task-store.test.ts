/**
 * What only the Redis task store has: its key layout, the TTLs that make bindings expire with their task, the claim
 * as a token with a PX TTL, and script reloading. Behaviour both stores share is in task-store.test.ts.
 */
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createRedisTaskStore } from '../../src/jobs/redis-store.js';
import type { TaskOutcome } from '../../src/jobs/store.js';
import { useTestRedis } from '../helpers/redis.js';
import { pendingTask, T0 } from '../fixtures/tasks.js';

const ASSET = 're_666914042514116608';

const outcome = (status: TaskOutcome['status']): TaskOutcome =>
  status === 'SUCCEEDED'
    ? { status, collectionId: 'im_666914042514116999', frameIds: ['imc_666914042514116999_0'], error: null, completedAt: T0 + 1_000 }
    : { status, collectionId: null, frameIds: [], error: 'decode failed', completedAt: T0 + 1_000 };

const redis = useTestRedis();

describe('createRedisTaskStore specifics', () => {
  const store = (options: { prefix: string; retentionMs?: number }) => createRedisTaskStore({ redis: redis.admin, ...options });
  const fresh = (name: string) => `${redis.prefix}${name}-${randomUUID()}:`;

  it('gives a parked entry a real PX TTL until expiresAt, and stores plain JSON', async () => {
    const prefix = fresh('ttl');
    const s = store({ prefix });
    await s.park({ taskId: 't-1', outcome: outcome('SUCCEEDED'), expiresAt: Date.now() + 30_000 });
    const ttl = await redis.admin.pttl(`${prefix}parked:t-1`);
    expect(ttl).toBeGreaterThan(25_000);
    expect(ttl).toBeLessThanOrEqual(30_000);
    expect(JSON.parse((await redis.admin.hget(`${prefix}parked:t-1`, 'outcome'))!)).toEqual(outcome('SUCCEEDED'));
    await s.insert(pendingTask('t-2'), T0);
    expect(JSON.parse((await redis.admin.hget(`${prefix}task:t-2`, 'task'))!)).toEqual(pendingTask('t-2'));
  });

  it('gives a finished task, its key bindings and its key set the retention TTL; a PENDING one keeps them', async () => {
    const prefix = fresh('retention');
    const s = store({ prefix, retentionMs: 60_000 });
    const pttl = (key: string) => redis.admin.pttl(`${prefix}${key}`);
    await s.insert(pendingTask('t-1', { idempotencyKey: 'k-1' }), T0);
    await s.insert(pendingTask('t-2'), T0);
    await s.bindIdempotencyKey('k-2', 't-1');
    expect(await pttl('asset:re_666914042514116608')).toBeGreaterThan(110_000); // deadline + retention
    for (const key of ['task:t-1', 'idem:k-1', 'idem:k-2', 'task-keys:t-1']) expect({ key, ttl: await pttl(key) }).toEqual({ key, ttl: -1 });
    await s.complete('t-1', outcome('SUCCEEDED'));
    for (const key of ['task:t-1', 'idem:k-1', 'idem:k-2', 'task-keys:t-1']) {
      const ttl = await pttl(key);
      expect({ key, ok: ttl > 55_000 && ttl <= 60_000 }).toEqual({ key, ok: true });
    }
    // Bound after completion: takes the task's remaining TTL.
    await s.bindIdempotencyKey('k-3', 't-1');
    expect(await pttl('idem:k-3')).toBeGreaterThan(55_000);
    // A task finished by a parked callback at registration expires with its key too.
    await s.park({ taskId: 't-3', outcome: outcome('FAILED'), expiresAt: Date.now() + 30_000 });
    expect((await s.insert(pendingTask('t-3', { idempotencyKey: 'k-4' }), T0)).appliedParked).toBe(true);
    expect(await pttl('task:t-3')).toBeGreaterThan(55_000);
    expect(await pttl('idem:k-4')).toBeGreaterThan(55_000);
  });

  it('replaces a binding whose task vanished before the binding did, and forgets vanished index entries', async () => {
    const prefix = fresh('vanished');
    const s = store({ prefix });
    await s.insert(pendingTask('t-1', { idempotencyKey: 'k-1' }), T0);
    await s.insert(pendingTask('t-2'), T0);
    await s.insert(pendingTask('t-4'), T0);
    await redis.admin.del(`${prefix}task:t-1`); // a flushed or expired task whose binding is still there
    expect(await s.findByIdempotencyKey('k-1')).toBeNull();
    expect((await s.bindIdempotencyKey('k-1', 't-2'))?.id).toBe('t-2');
    await redis.admin.del(`${prefix}task:t-2`);
    await s.insert(pendingTask('t-3', { idempotencyKey: 'k-1', submittedAt: T0 + 1 }), T0 + 1);
    expect((await s.findByIdempotencyKey('k-1'))?.id).toBe('t-3');
    expect((await s.listByAsset('re_666914042514116608')).map((t) => t.id)).toEqual(['t-3', 't-4']);
    expect((await redis.admin.zrange(`${prefix}asset:re_666914042514116608`, 0, -1)).sort()).toEqual(['t-3', 't-4']);
  });

  it('stores the claim as the holder token with a PX TTL that renewal resets', async () => {
    const prefix = fresh('claim');
    const s = store({ prefix });
    const key = `${prefix}submitting:${ASSET}`;
    expect(await s.claimSubmission(ASSET, 'tok', 2_000, T0)).toBe(true);
    expect(await redis.admin.get(key)).toBe('tok');
    const first = await redis.admin.pttl(key);
    expect(first).toBeGreaterThan(0);
    expect(first).toBeLessThanOrEqual(2_000);
    expect(await s.renewSubmission(ASSET, 'tok', 60_000, T0)).toBe(true);
    expect(await redis.admin.pttl(key)).toBeGreaterThan(2_000);
    expect(await s.renewSubmission(ASSET, 'other', 120_000, T0)).toBe(false);
    expect(await redis.admin.pttl(key)).toBeLessThanOrEqual(60_000);
    expect(await s.releaseSubmission(ASSET, 'tok')).toBe(true);
    expect(await redis.admin.exists(key)).toBe(0);
  });

  it('reloads its scripts after SCRIPT FLUSH (EVALSHA falls back to EVAL)', async () => {
    const s = store({ prefix: fresh('flush') });
    await s.insert(pendingTask('t-1'), T0);
    await redis.admin.script('FLUSH');
    expect((await s.complete('t-1', outcome('FAILED'))).changed).toBe(true);
    expect(await s.overdue(T0)).toEqual([]);
    await redis.admin.script('FLUSH');
    expect(await s.claimSubmission(ASSET, 'tok', 1_000, T0)).toBe(true);
    expect(await s.releaseSubmission(ASSET, 'tok')).toBe(true);
  });

  it('leaves a shared connection open on dispose, and closes its own', async () => {
    const shared = redis.connect();
    await createRedisTaskStore({ redis: shared }).dispose();
    expect(await shared.ping()).toBe('PONG');
    const ended = new Promise((resolve) => shared.once('end', resolve));
    await createRedisTaskStore({ redis: shared, ownsConnection: true }).dispose();
    await ended;
    expect(shared.status).toBe('end');
  });
});
