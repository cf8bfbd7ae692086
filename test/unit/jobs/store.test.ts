import { describe, expect, it } from 'vitest';
import {
  canTransition,
  createMemoryTaskStore,
  type TaskOutcome,
  type TaskStatus,
} from '../../../src/jobs/store.js';
import { pendingTask, T0 } from '../../fixtures/tasks.js';

const succeeded = (completedAt = T0 + 1_000): TaskOutcome => ({
  status: 'SUCCEEDED',
  collectionId: 'im_666914042514116999',
  frameIds: ['imc_666914042514116999_0', 'imc_666914042514116999_1'],
  error: null,
  completedAt,
});
const failed = (completedAt = T0 + 1_000): TaskOutcome => ({ status: 'FAILED', collectionId: null, frameIds: [], error: 'decode failed', completedAt });
const timedOut = (completedAt = T0 + 60_000): TaskOutcome => ({ status: 'TIMED_OUT', collectionId: null, frameIds: [], error: 'no result', completedAt });

describe('canTransition', () => {
  const table: [TaskStatus, TaskOutcome['status'], boolean][] = [
    ['PENDING', 'SUCCEEDED', true],
    ['PENDING', 'FAILED', true],
    ['PENDING', 'TIMED_OUT', true],
    ['TIMED_OUT', 'SUCCEEDED', true],
    ['TIMED_OUT', 'FAILED', true],
    ['TIMED_OUT', 'TIMED_OUT', false],
    ['SUCCEEDED', 'SUCCEEDED', false],
    ['SUCCEEDED', 'FAILED', false],
    ['SUCCEEDED', 'TIMED_OUT', false],
    ['FAILED', 'SUCCEEDED', false],
    ['FAILED', 'FAILED', false],
    ['FAILED', 'TIMED_OUT', false],
  ];
  it.each(table)('%s → %s is %s', (from, to, allowed) => {
    expect(canTransition(from, to)).toBe(allowed);
  });
});

describe('createMemoryTaskStore', () => {
  it('inserts and reads back a PENDING task; a second insert returns the stored one', async () => {
    const store = createMemoryTaskStore();
    const task = pendingTask('a1');
    expect(await store.insert(task, T0)).toEqual({ task, appliedParked: false });
    expect(await store.get('a1')).toEqual(task);
    expect(await store.insert({ ...task, assetId: 're_1' }, T0)).toEqual({ task, appliedParked: false });
    expect(await store.get('missing')).toBeNull();
  });

  it('completes a PENDING task once; a second outcome changes nothing', async () => {
    const store = createMemoryTaskStore();
    await store.insert(pendingTask('a1'), T0);
    const first = await store.complete('a1', succeeded());
    expect(first).toEqual({ changed: true, task: { ...pendingTask('a1'), ...succeeded() } });
    expect(await store.complete('a1', succeeded(T0 + 5_000))).toEqual({ changed: false, task: first.task });
    expect(await store.complete('a1', failed())).toEqual({ changed: false, task: first.task });
    expect(await store.complete('a1', timedOut())).toEqual({ changed: false, task: first.task });
    expect(await store.get('a1')).toEqual(first.task);
  });

  it('returns task null for an unknown id', async () => {
    expect(await createMemoryTaskStore().complete('nope', succeeded())).toEqual({ changed: false, task: null });
  });

  it('lets a late SUCCEEDED or FAILED replace TIMED_OUT, but not another TIMED_OUT', async () => {
    const store = createMemoryTaskStore();
    await store.insert(pendingTask('a1'), T0);
    await store.insert(pendingTask('a2'), T0);
    for (const id of ['a1', 'a2']) expect((await store.complete(id, timedOut())).changed).toBe(true);
    expect((await store.complete('a1', timedOut(T0 + 70_000))).changed).toBe(false);
    expect((await store.complete('a1', succeeded(T0 + 90_000))).task).toMatchObject({ status: 'SUCCEEDED', completedAt: T0 + 90_000 });
    expect((await store.complete('a2', failed(T0 + 90_000))).task).toMatchObject({ status: 'FAILED', error: 'decode failed' });
    expect((await store.complete('a1', failed())).changed).toBe(false);
  });

  it('lists PENDING tasks past their deadline as overdue, inclusive, and no others', async () => {
    const store = createMemoryTaskStore();
    await store.insert(pendingTask('early', { deadlineAt: T0 + 10 }), T0);
    await store.insert(pendingTask('late', { deadlineAt: T0 + 20 }), T0);
    await store.insert(pendingTask('done', { deadlineAt: T0 + 5 }), T0);
    await store.complete('done', succeeded());
    expect(await store.overdue(T0 + 9)).toEqual([]);
    expect(await store.overdue(T0 + 10)).toEqual(['early']);
    expect((await store.overdue(T0 + 20)).sort()).toEqual(['early', 'late']);
    await store.complete('early', timedOut());
    expect(await store.overdue(T0 + 20)).toEqual(['late']);
  });

  it('lists tasks of an asset newest first and finds them by idempotency key', async () => {
    const store = createMemoryTaskStore();
    await store.insert(pendingTask('old', { idempotencyKey: 'k-1' }), T0);
    await store.insert(pendingTask('new', { submittedAt: T0 + 1 }), T0 + 1);
    await store.insert(pendingTask('other', { assetId: 're_1' }), T0 + 2);
    expect((await store.listByAsset('re_666914042514116608')).map((t) => t.id)).toEqual(['new', 'old']);
    expect(await store.listByAsset('re_404')).toEqual([]);
    expect((await store.findByIdempotencyKey('k-1'))?.id).toBe('old');
    expect(await store.findByIdempotencyKey('k-2')).toBeNull();
  });

  describe('parked callbacks', () => {
    it('applies a parked outcome atomically on insert', async () => {
      const store = createMemoryTaskStore();
      expect(await store.park({ taskId: 'p1', outcome: succeeded(), expiresAt: T0 + 900_000 })).toBe(true);
      const { task, appliedParked } = await store.insert(pendingTask('p1'), T0 + 10);
      expect(appliedParked).toBe(true);
      expect(task).toEqual({ ...pendingTask('p1'), ...succeeded() });
      expect(await store.overdue(T0 + 10_000_000)).toEqual([]);
    });

    it('keeps the first callback parked for an id and refuses parking for a known task', async () => {
      const store = createMemoryTaskStore();
      expect(await store.park({ taskId: 'p1', outcome: failed(), expiresAt: T0 + 900_000 })).toBe(true);
      expect(await store.park({ taskId: 'p1', outcome: succeeded(), expiresAt: T0 + 900_000 })).toBe(false);
      expect((await store.insert(pendingTask('p1'), T0)).task.status).toBe('FAILED');
      expect(await store.park({ taskId: 'p1', outcome: succeeded(), expiresAt: T0 + 900_000 })).toBe(false);
    });

    it('ignores a parked callback once its TTL has passed (expiresAt itself still counts)', async () => {
      const store = createMemoryTaskStore();
      await store.park({ taskId: 'edge', outcome: succeeded(), expiresAt: T0 + 1_000 });
      await store.park({ taskId: 'gone', outcome: succeeded(), expiresAt: T0 + 1_000 });
      expect((await store.insert(pendingTask('edge'), T0 + 1_000)).appliedParked).toBe(true);
      const late = await store.insert(pendingTask('gone'), T0 + 1_001);
      expect(late).toEqual({ task: pendingTask('gone'), appliedParked: false });
    });

    it('drops expired parked callbacks during the overdue sweep', async () => {
      const store = createMemoryTaskStore();
      await store.park({ taskId: 'p1', outcome: succeeded(), expiresAt: T0 + 1_000 });
      await store.overdue(T0 + 2_000);
      // Dropped, so a new callback for the same id can be parked again.
      expect(await store.park({ taskId: 'p1', outcome: failed(), expiresAt: T0 + 900_000 })).toBe(true);
    });

    it('bounds parked callbacks to maxParked, dropping the oldest', async () => {
      const store = createMemoryTaskStore({ maxParked: 2 });
      for (const id of ['p1', 'p2', 'p3']) await store.park({ taskId: id, outcome: succeeded(), expiresAt: T0 + 900_000 });
      expect((await store.insert(pendingTask('p1'), T0)).appliedParked).toBe(false);
      expect((await store.insert(pendingTask('p2'), T0)).appliedParked).toBe(true);
      expect((await store.insert(pendingTask('p3'), T0)).appliedParked).toBe(true);
    });
  });
});

describe('submission claims (memory store)', () => {
  it('lets one submission per asset hold the claim until it is released or expires', async () => {
    const store = createMemoryTaskStore();
    expect(await store.claimSubmission('re_1', 1_000, 0)).toBe(true);
    expect(await store.claimSubmission('re_1', 1_000, 500)).toBe(false);
    expect(await store.claimSubmission('re_2', 1_000, 500)).toBe(true);
    await store.releaseSubmission('re_1');
    expect(await store.claimSubmission('re_1', 1_000, 600)).toBe(true);
    expect(await store.claimSubmission('re_2', 1_000, 1_500)).toBe(true); // re_2's claim expired at 1 500
  });
});

describe('retention (memory store)', () => {
  it('drops a finished task, its asset index entry and its key once the retention has passed', async () => {
    const store = createMemoryTaskStore({ retentionMs: 60_000 });
    await store.insert(pendingTask('done', { idempotencyKey: 'k' }), T0);
    await store.insert(pendingTask('open'), T0);
    await store.complete('done', { status: 'SUCCEEDED', collectionId: 'im_1', frameIds: ['imc_1_0'], error: null, completedAt: T0 + 1_000 });
    await store.overdue(T0 + 61_000); // exactly at the edge: still kept
    expect(await store.get('done')).not.toBeNull();
    await store.overdue(T0 + 61_001);
    expect(await store.get('done')).toBeNull();
    expect(await store.findByIdempotencyKey('k')).toBeNull();
    expect((await store.listByAsset('re_666914042514116608')).map((t) => t.id)).toEqual(['open']);
  });
});
