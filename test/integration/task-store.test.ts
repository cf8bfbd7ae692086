/**
 * ONE TaskStore contract, run over the memory store and the Redis store (a real Redis; see helpers/redis.ts), so
 * the two cannot drift apart. Each kind opens two handles on one shared state (memory: the same object; Redis: two
 * connections, one prefix) and says how time passes for what expires: the memory store takes `now` arguments and
 * sweeps, Redis expires keys on its own clock (simulated by deleting exactly the keys whose TTL has run out).
 * What only Redis has (key layout, TTLs, script reloading) is in redis-task-store.test.ts.
 */
import { randomUUID } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createRedisTaskStore } from '../../src/jobs/redis-store.js';
import { canTransition, createMemoryTaskStore, type TaskOutcome, type TaskStatus, type TaskStore } from '../../src/jobs/store.js';
import { useTestRedis } from '../helpers/redis.js';
import { pendingTask, T0, taskOutcome } from '../fixtures/tasks.js';

const ASSET = 're_666914042514116608';
const RETENTION_MS = 60_000;

const redis = useTestRedis();

interface Pair {
  a: TaskStore;
  b: TaskStore;
  /** Lets the claim taken at `claimedAt` for `ttlMs` run out; returns the `now` to pass from then on. */
  lapseClaim(assetId: string, claimedAt: number, ttlMs: number): Promise<number>;
  /** Lets RETENTION_MS pass for every finished task (and nothing that lives longer). */
  lapseRetention(): Promise<void>;
}

interface StoreKind {
  name: string;
  open(options?: { parkedMax?: number }): Pair;
}

const kinds: StoreKind[] = [
  {
    name: 'memory',
    open(options = {}) {
      const store = createMemoryTaskStore({ retentionMs: RETENTION_MS, ...(options.parkedMax === undefined ? {} : { maxParked: options.parkedMax }) });
      return {
        a: store,
        b: store,
        lapseClaim: async (_assetId, claimedAt, ttlMs) => claimedAt + ttlMs,
        lapseRetention: async () => {
          await store.overdue(T0 + 1_000 + RETENTION_MS + 1);
        },
      };
    },
  },
  {
    name: 'redis',
    open(options = {}) {
      const prefix = `${redis.prefix}store-${randomUUID()}:`;
      const make = () => createRedisTaskStore({ redis: redis.connect(), prefix, ownsConnection: true, retentionMs: RETENTION_MS, ...options });
      return {
        a: make(),
        b: make(),
        lapseClaim: async (assetId, claimedAt, ttlMs) => {
          await redis.admin.del(`${prefix}submitting:${assetId}`);
          return claimedAt + ttlMs;
        },
        lapseRetention: async () => {
          const keys = await redis.admin.keys(`${prefix}*`);
          const ttls = await Promise.all(keys.map((k) => redis.admin.pttl(k)));
          const due = keys.filter((_k, i) => ttls[i]! > 0 && ttls[i]! <= RETENTION_MS);
          if (due.length > 0) await redis.admin.del(...due);
        },
      };
    },
  },
];

describe.each(kinds)('TaskStore contract: $name', (kind) => {
  let pair: Pair;
  let a: TaskStore;
  let b: TaskStore;
  const open = (options?: { parkedMax?: number }) => {
    pair = kind.open(options);
    ({ a, b } = pair);
  };
  beforeEach(() => open());
  afterEach(async () => {
    await a.dispose();
    if (b !== a) await b.dispose();
  });

  it('inserts and reads back a task; a second insert returns the stored one', async () => {
    const task = pendingTask('t-1', { idempotencyKey: 'order-42' });
    expect(await a.insert(task, T0)).toEqual({ task, appliedParked: false });
    expect(await b.get('t-1')).toEqual(task);
    expect(await b.insert({ ...task, assetId: 're_1' }, T0)).toEqual({ task, appliedParked: false });
    expect(await b.get('t-2')).toBeNull();
  });

  it('completes once: a second complete reports changed: false with the stored task', async () => {
    await a.insert(pendingTask('t-1'), T0);
    const first = await a.complete('t-1', taskOutcome('SUCCEEDED'));
    expect(first).toEqual({ changed: true, task: { ...pendingTask('t-1'), ...taskOutcome('SUCCEEDED') } });
    expect(await b.complete('t-1', taskOutcome('SUCCEEDED', T0 + 2_000))).toEqual({ changed: false, task: first.task });
    expect(await b.complete('t-1', taskOutcome('TIMED_OUT', T0 + 2_000))).toEqual({ changed: false, task: first.task });
    expect(await b.get('t-1')).toEqual(first.task);
    expect(await a.complete('unknown', taskOutcome('FAILED'))).toEqual({ changed: false, task: null });
  });

  it('allows TIMED_OUT → SUCCEEDED and refuses SUCCEEDED → FAILED', async () => {
    await a.insert(pendingTask('t-1'), T0);
    expect((await a.complete('t-1', taskOutcome('TIMED_OUT'))).changed).toBe(true);
    const late = await b.complete('t-1', taskOutcome('SUCCEEDED', T0 + 90_000));
    expect(late).toMatchObject({ changed: true, task: { status: 'SUCCEEDED', completedAt: T0 + 90_000, error: null } });
    expect(await a.complete('t-1', taskOutcome('FAILED'))).toEqual({ changed: false, task: late.task });
  });

  it('follows canTransition for every (from, to) pair', async () => {
    const froms: TaskStatus[] = ['PENDING', 'SUCCEEDED', 'FAILED', 'TIMED_OUT'];
    const tos: TaskOutcome['status'][] = ['SUCCEEDED', 'FAILED', 'TIMED_OUT'];
    for (const from of froms) {
      for (const to of tos) {
        const id = `${from}-${to}`;
        await a.insert(pendingTask(id), T0);
        if (from !== 'PENDING') await a.complete(id, taskOutcome(from));
        const result = await b.complete(id, taskOutcome(to, T0 + 5_000));
        expect({ id, changed: result.changed }).toEqual({ id, changed: canTransition(from, to) });
        expect(result.task?.status).toBe(result.changed ? to : from);
      }
    }
  });

  it('lets exactly one of two concurrent completes win', async () => {
    for (let round = 0; round < 25; round++) {
      const id = `race-${round}`;
      await a.insert(pendingTask(id), T0);
      const results = await Promise.all([a.complete(id, taskOutcome('SUCCEEDED')), b.complete(id, taskOutcome('FAILED'))]);
      expect(results.filter((r) => r.changed)).toHaveLength(1);
      const winner = results.find((r) => r.changed)!.task;
      expect(await a.get(id)).toEqual(winner);
      expect(results.every((r) => r.task?.status === winner?.status)).toBe(true);
    }
  });

  it('lists overdue PENDING tasks by deadline (inclusive), never finished ones', async () => {
    await a.insert(pendingTask('early', { deadlineAt: T0 + 10 }), T0);
    await a.insert(pendingTask('late', { deadlineAt: T0 + 20 }), T0);
    await a.insert(pendingTask('done', { deadlineAt: T0 + 5 }), T0);
    await b.complete('done', taskOutcome('SUCCEEDED'));
    expect(await b.overdue(T0 + 9)).toEqual([]);
    expect(await b.overdue(T0 + 10)).toEqual(['early']);
    expect((await b.overdue(T0 + 20)).sort()).toEqual(['early', 'late']);
    await a.complete('early', taskOutcome('TIMED_OUT'));
    expect(await b.overdue(T0 + 20)).toEqual(['late']);
  });

  it('counts PENDING tasks for the pending gauge: a finished or timed-out task leaves the count', async () => {
    expect(await a.pendingCount()).toBe(0);
    await a.insert(pendingTask('one'), T0);
    await a.insert(pendingTask('two'), T0);
    await a.insert(pendingTask('three'), T0);
    await b.complete('one', taskOutcome('SUCCEEDED'));
    await b.complete('two', taskOutcome('TIMED_OUT'));
    expect(await b.pendingCount()).toBe(1);
    expect(await a.pendingCount()).toBe(1);
  });

  it('lists tasks of an asset newest first', async () => {
    await a.insert(pendingTask('old'), T0);
    await a.insert(pendingTask('new', { submittedAt: T0 + 1 }), T0 + 1);
    await a.insert(pendingTask('other', { assetId: 're_1' }), T0 + 2);
    await a.complete('new', taskOutcome('SUCCEEDED'));
    const listed = await b.listByAsset(ASSET);
    expect(listed.map((t) => [t.id, t.status])).toEqual([
      ['new', 'SUCCEEDED'],
      ['old', 'PENDING'],
    ]);
    expect(await b.listByAsset('re_404')).toEqual([]);
  });

  describe('parked callbacks', () => {
    it('applies a parked callback atomically on insert', async () => {
      expect(await a.park({ taskId: 't-1', outcome: taskOutcome('SUCCEEDED'), expiresAt: Date.now() + 60_000 })).toBe(true);
      const inserted = await b.insert(pendingTask('t-1'), T0);
      expect(inserted).toEqual({ task: { ...pendingTask('t-1'), ...taskOutcome('SUCCEEDED') }, appliedParked: true });
      expect(await a.get('t-1')).toEqual(inserted.task);
      expect(await a.overdue(T0 + 10_000_000)).toEqual([]);
    });

    it('parks the first callback only, and none for a registered task', async () => {
      const expiresAt = Date.now() + 60_000;
      expect(await a.park({ taskId: 't-1', outcome: taskOutcome('FAILED'), expiresAt })).toBe(true);
      expect(await b.park({ taskId: 't-1', outcome: taskOutcome('SUCCEEDED'), expiresAt })).toBe(false);
      expect((await b.insert(pendingTask('t-1'), T0)).task.status).toBe('FAILED');
      await a.insert(pendingTask('t-2'), T0);
      expect(await b.park({ taskId: 't-2', outcome: taskOutcome('SUCCEEDED'), expiresAt })).toBe(false);
      expect((await a.get('t-2'))?.status).toBe('PENDING');
    });

    it('ignores a parked callback once `now` has passed its expiresAt (expiresAt itself still counts)', async () => {
      const now = Date.now();
      await a.park({ taskId: 'edge', outcome: taskOutcome('SUCCEEDED'), expiresAt: now + 60_000 });
      await a.park({ taskId: 'gone', outcome: taskOutcome('SUCCEEDED'), expiresAt: now + 60_000 });
      expect((await b.insert(pendingTask('edge'), now + 60_000)).appliedParked).toBe(true);
      expect(await b.insert(pendingTask('gone'), now + 60_001)).toEqual({ task: pendingTask('gone'), appliedParked: false });
      expect(await a.overdue(T0 + 60_000)).toEqual(['gone']);
    });

    it('drops expired parked callbacks during the overdue sweep', async () => {
      const now = Date.now();
      await a.park({ taskId: 't-1', outcome: taskOutcome('SUCCEEDED'), expiresAt: now + 1_000 });
      await b.overdue(now + 2_000);
      expect(await a.park({ taskId: 't-1', outcome: taskOutcome('FAILED'), expiresAt: now + 60_000 })).toBe(true);
    });

    it('bounds parked callbacks, dropping the oldest first', async () => {
      await a.dispose();
      if (b !== a) await b.dispose();
      open({ parkedMax: 2 });
      const now = Date.now();
      for (const [i, id] of ['p1', 'p2', 'p3'].entries()) {
        await a.park({ taskId: id, outcome: taskOutcome('SUCCEEDED'), expiresAt: now + 60_000 + i });
      }
      expect((await b.insert(pendingTask('p1'), now)).appliedParked).toBe(false);
      expect((await b.insert(pendingTask('p2'), now)).appliedParked).toBe(true);
      expect((await b.insert(pendingTask('p3'), now)).appliedParked).toBe(true);
    });
  });

  describe('idempotency keys', () => {
    it('binds a key at insert to the first task only; the bound task carries the asset', async () => {
      await a.insert(pendingTask('first', { idempotencyKey: 'k-1' }), T0);
      await b.insert(pendingTask('second', { idempotencyKey: 'k-1', assetId: 're_1' }), T0);
      expect(await b.findByIdempotencyKey('k-1')).toMatchObject({ id: 'first', assetId: ASSET });
      expect(await a.findByIdempotencyKey('k-2')).toBeNull();
    });

    it('binds a free key to an existing task, keeps the first binding, and binds nothing to an unknown task', async () => {
      await a.insert(pendingTask('t-1'), T0);
      await a.insert(pendingTask('t-2'), T0);
      expect((await b.bindIdempotencyKey('k', 't-1'))?.id).toBe('t-1');
      expect((await a.bindIdempotencyKey('k', 't-2'))?.id).toBe('t-1');
      expect(await a.bindIdempotencyKey('free', 'no-such-task')).toBeNull();
      expect(await b.findByIdempotencyKey('free')).toBeNull();
    });

    it('lets bindings expire with their finished task, keeps a PENDING task bound, and frees the key for a new task', async () => {
      await a.insert(pendingTask('done', { idempotencyKey: 'k-insert' }), T0);
      await a.insert(pendingTask('open', { idempotencyKey: 'k-open' }), T0);
      await b.bindIdempotencyKey('k-bound', 'done');
      await b.complete('done', taskOutcome('SUCCEEDED'));
      await b.bindIdempotencyKey('k-late', 'done');
      await pair.lapseRetention();
      expect(await a.get('done')).toBeNull();
      for (const key of ['k-insert', 'k-bound', 'k-late']) expect(await a.findByIdempotencyKey(key)).toBeNull();
      expect((await a.findByIdempotencyKey('k-open'))?.id).toBe('open');
      expect((await a.listByAsset(ASSET)).map((t) => t.id)).toEqual(['open']);
      // The freed key binds again, at insert and by bind.
      await b.insert(pendingTask('again', { idempotencyKey: 'k-insert', submittedAt: T0 + 2 }), T0 + 2);
      expect((await a.findByIdempotencyKey('k-insert'))?.id).toBe('again');
      expect((await a.bindIdempotencyKey('k-bound', 'open'))?.id).toBe('open');
    });
  });

  describe('submission claims', () => {
    it('lets one token per asset hold the claim; only the holder renews or releases it', async () => {
      expect(await a.claimSubmission(ASSET, 'tok-a', 1_000, T0)).toBe(true);
      expect(await b.claimSubmission(ASSET, 'tok-b', 1_000, T0 + 1)).toBe(false);
      expect(await b.renewSubmission(ASSET, 'tok-b', 1_000, T0 + 1)).toBe(false);
      expect(await b.releaseSubmission(ASSET, 'tok-b')).toBe(false);
      expect(await b.claimSubmission('re_1', 'tok-b', 1_000, T0 + 1)).toBe(true); // another asset is independent
      expect(await a.renewSubmission(ASSET, 'tok-a', 1_000, T0 + 2)).toBe(true);
      expect(await a.releaseSubmission(ASSET, 'tok-a')).toBe(true);
      expect(await b.claimSubmission(ASSET, 'tok-b', 1_000, T0 + 3)).toBe(true);
    });

    it("does not let a stale holder's release or renewal touch a newer holder's claim", async () => {
      expect(await a.claimSubmission(ASSET, 'stale', 1_000, T0)).toBe(true);
      const later = await pair.lapseClaim(ASSET, T0, 1_000); // the stale holder's claim ran out mid-call
      expect(await b.claimSubmission(ASSET, 'newer', 1_000, later)).toBe(true);
      expect(await a.releaseSubmission(ASSET, 'stale')).toBe(false);
      expect(await a.renewSubmission(ASSET, 'stale', 1_000, later)).toBe(false);
      expect(await a.claimSubmission(ASSET, 'third', 1_000, later)).toBe(false); // still the newer holder's
      expect(await b.renewSubmission(ASSET, 'newer', 1_000, later)).toBe(true);
      expect(await b.releaseSubmission(ASSET, 'newer')).toBe(true);
      expect(await a.releaseSubmission(ASSET, 'newer')).toBe(false); // a second release is a no-op
    });

    it('refuses renewal after the token changed, even while a claim exists', async () => {
      expect(await a.claimSubmission(ASSET, 'first', 1_000, T0)).toBe(true);
      expect(await a.releaseSubmission(ASSET, 'first')).toBe(true);
      expect(await b.claimSubmission(ASSET, 'second', 1_000, T0 + 1)).toBe(true);
      expect(await a.renewSubmission(ASSET, 'first', 1_000, T0 + 2)).toBe(false);
      expect(await b.claimSubmission(ASSET, 'first', 1_000, T0 + 2)).toBe(false);
    });

    it('lets exactly one of many concurrent claims win', async () => {
      for (let round = 0; round < 10; round++) {
        const asset = `re_${round}`;
        const results = await Promise.all(Array.from({ length: 6 }, (_, i) => (i % 2 ? a : b).claimSubmission(asset, `tok-${i}`, 1_000, T0)));
        expect(results.filter(Boolean)).toHaveLength(1);
      }
    });
  });
});
