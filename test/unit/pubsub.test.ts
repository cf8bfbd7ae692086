import { describe, expect, it } from 'vitest';
import type { TaskRecord } from '../../src/jobs/store.js';
import { createPubSub } from '../../src/pubsub/index.js';

const task = (status: TaskRecord['status']): TaskRecord => ({
  id: 't1',
  assetId: 're_1',
  status,
  collectionId: null,
  frameIds: [],
  error: null,
  submittedAt: 0,
  completedAt: null,
  deadlineAt: 1,
  idempotencyKey: null,
});

describe('createPubSub', () => {
  it('listens from the moment of subscribe (an event before the first next() is kept)', async () => {
    const pubsub = createPubSub();
    const sub = pubsub.subscribe('task:updated', 't1');
    pubsub.publish('task:updated', 't1', task('SUCCEEDED'));
    pubsub.publish('task:updated', 'other', task('FAILED'));
    expect((await sub.next()).value?.status).toBe('SUCCEEDED');
    await sub.return();
  });

  it('return() ends a pending next() and removes the listener', async () => {
    const pubsub = createPubSub();
    const sub = pubsub.subscribe('task:updated', 't1');
    const pending = sub.next();
    expect(pubsub.listenerCount()).toBe(1);
    await sub.return();
    expect(await pending).toEqual({ value: undefined, done: true });
    expect(pubsub.listenerCount()).toBe(0);
  });

  it('keeps a bounded buffer per subscriber, dropping the oldest', async () => {
    const pubsub = createPubSub({ bufferSize: 2 });
    const a = pubsub.subscribe('task:updated', 't1');
    const b = pubsub.subscribe('task:updated', 't1');
    for (const s of ['PENDING', 'FAILED', 'SUCCEEDED'] as const) pubsub.publish('task:updated', 't1', task(s));
    expect((await a.next()).value?.status).toBe('FAILED');
    expect((await a.next()).value?.status).toBe('SUCCEEDED');
    expect((await b.next()).value?.status).toBe('FAILED');
    await pubsub.dispose();
    expect(await b.next()).toMatchObject({ done: false }); // buffered value still delivered
    expect(await b.next()).toEqual({ value: undefined, done: true });
    expect(pubsub.listenerCount()).toBe(0);
  });
});
