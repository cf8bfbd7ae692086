/**
 * Shared state through a REAL Redis (CI starts one on 127.0.0.1:6379; `REDIS_URL` overrides). Nothing is skipped:
 * without Redis every test here fails with a message saying so. Keys live under a random prefix, removed afterwards.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { createRedisTaskStore } from '../../src/jobs/redis-store.js';
import type { TaskRecord } from '../../src/jobs/store.js';
import { createRedisPubSub, type RedisPubSub } from '../../src/pubsub/redis.js';
import { UpstreamError } from '../../src/upstream/errors.js';
import { createScheduler } from '../../src/upstream/rate-limit.js';
import { createRedisPacer, wrapSchedulerWithPacer, type PacerSlot } from '../../src/upstream/redis-pacer.js';
import { startFakeUpstream, type FakeUpstream } from '../helpers/fake-upstream.js';
import { startTestGateway, TEST_WEBHOOK_SECRET, type TestGateway } from '../helpers/gateway.js';
import { openTestRedis, TEST_REDIS_URL, type TestRedis } from '../helpers/redis.js';
import { pendingTask, T0, taskOutcome } from '../fixtures/tasks.js';

let redis: TestRedis;
beforeAll(async () => {
  redis = await openTestRedis();
});
afterAll(async () => {
  if (!redis) return;
  await redis.clear();
  if (redis.admin.status === 'ready') expect(await redis.admin.keys(`${redis.prefix}*`)).toEqual([]);
  await redis.dispose();
});

// The TaskStore contract (memory and Redis) and the Redis store's specifics live in task-store.test.ts.

describe('createRedisPubSub', () => {
  const pubsubs: RedisPubSub[] = [];
  const open = async (channelPrefix: string) => {
    const pubsub = createRedisPubSub({ url: TEST_REDIS_URL, channelPrefix });
    pubsubs.push(pubsub);
    await pubsub.ready();
    return pubsub;
  };
  const subscribers = (channel: string) =>
    redis.admin.pubsub('NUMSUB', channel).then((reply) => Number((reply as [string, number])[1]));
  afterEach(async () => {
    await Promise.all(pubsubs.splice(0).map((p) => p.dispose()));
  });

  it('delivers a TaskRecord published on one instance to a subscriber on another, intact through JSON', async () => {
    const prefix = `${redis.prefix}ps-${randomUUID()}:`;
    const [a, b] = [await open(prefix), await open(prefix)];
    const task: TaskRecord = { ...pendingTask('t-1', { idempotencyKey: 'k' }), ...taskOutcome('SUCCEEDED') };
    const sub = b.subscribe('task:updated', 't-1');
    await expect.poll(() => subscribers(`${prefix}task:updated:t-1`)).toBe(1);
    a.publish('task:updated', 't-1', task);
    expect(await sub.next()).toEqual({ value: task, done: false });
    await sub.return();
    expect(b.listenerCount()).toBe(0);
    await expect.poll(() => subscribers(`${prefix}task:updated:t-1`)).toBe(0);
  });

  it('keeps deployments with different channel prefixes apart', async () => {
    const p1 = `${redis.prefix}ps-${randomUUID()}:`;
    const [a, b] = [await open(p1), await open(`${redis.prefix}ps-${randomUUID()}:`)];
    const onB = b.subscribe('task:updated', 't-1');
    const onA = a.subscribe('task:updated', 't-1');
    await expect.poll(() => subscribers(`${p1}task:updated:t-1`)).toBe(1);
    a.publish('task:updated', 't-1', pendingTask('t-1'));
    expect((await onA.next()).value).toEqual(pendingTask('t-1'));
    await onB.return();
    expect(await onB.next()).toEqual({ value: undefined, done: true });
  });

  it('quits both connections on dispose', async () => {
    const connectionName = `frames-test-${randomUUID()}`;
    const pubsub = createRedisPubSub({ url: TEST_REDIS_URL, channelPrefix: `${redis.prefix}ps-${randomUUID()}:`, redisOptions: { connectionName } });
    await pubsub.ready();
    const named = async () =>
      ((await redis.admin.client('LIST')) as string)
        .split('\n')
        .map((line) => /name=(\S+)/.exec(line)?.[1])
        .filter((name) => name?.startsWith(connectionName))
        .sort();
    expect(await named()).toEqual([`${connectionName}-publish`, `${connectionName}-subscribe`]);
    await pubsub.dispose();
    await expect.poll(named).toEqual([]);
  });
});

describe('createRedisPacer', () => {
  it('spaces 20 concurrent reservations from two connections ≥ 1000/rps ms apart', async () => {
    const key = `${redis.prefix}pacer-${randomUUID()}`;
    const pacers = [createRedisPacer({ redis: redis.connect(), key, rps: 5 }), createRedisPacer({ redis: redis.connect(), key, rps: 5 })];
    const slots = await Promise.all(Array.from({ length: 20 }, (_, i) => pacers[i % 2]!.reserveSlot()));
    // µs on the Redis clock (the ms values are µs / 1000, so rounding recovers them exactly).
    const starts = slots.map((s) => Math.round(s.startAt * 1000)).sort((x, y) => x - y);
    for (let i = 1; i < starts.length; i++) expect(starts[i]! - starts[i - 1]!).toBeGreaterThanOrEqual(200_000);
    expect(Math.min(...slots.map((s) => s.waitMs))).toBeGreaterThanOrEqual(0);
    // Packed back to back: the last slot is 19 intervals after the first (the test took far less than 200 ms).
    expect(starts.at(-1)! - starts[0]!).toBe(19 * 200_000);
  });

  it('refuses a slot beyond maxWaitMs without reserving it', async () => {
    const key = `${redis.prefix}pacer-${randomUUID()}`;
    const pacer = createRedisPacer({ redis: redis.admin, key, rps: 5 });
    const slots: PacerSlot[] = [];
    for (let i = 0; i < 3; i++) slots.push(await pacer.reserveSlot());
    expect(await pacer.reserve(10_000)).toBeGreaterThan(0);
    const refused = await pacer.reserve(100).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(UpstreamError);
    expect(refused).toMatchObject({ kind: 'RATE_LIMITED', retryAfterSeconds: 1 });
    const next = await pacer.reserveSlot();
    expect(Math.round(next.startAt * 1000) - Math.round(slots[0]!.startAt * 1000)).toBe(4 * 200_000);
  });
});

describe('wrapSchedulerWithPacer (stub pacer, fake timers)', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('waits for the reserved slot before starting each task, in local priority order', async () => {
    vi.useFakeTimers();
    const waits = [0, 300, 600];
    const pacer = { reserve: vi.fn(async () => waits.shift() ?? 0) };
    const scheduler = wrapSchedulerWithPacer(createScheduler({ rps: 1000 }), pacer);
    const starts: [string, number][] = [];
    const run = (name: string) => async () => {
      starts.push([name, performance.now()]);
      return name;
    };
    const t0 = performance.now();
    const results = Promise.all([scheduler.schedule(run('a')), scheduler.schedule(run('b')), scheduler.schedule(run('c'))]);
    await vi.advanceTimersByTimeAsync(1_000);
    expect(await results).toEqual(['a', 'b', 'c']);
    // Each start lands on its slot (timers are whole ms; the local scheduler adds ≤ 1 ms per start at rps 1000).
    const offsets = starts.map(([name, at]) => [name, Math.floor((at - t0) / 100) * 100]);
    expect(offsets).toEqual([
      ['a', 0],
      ['b', 300],
      ['c', 600],
    ]);
    expect(pacer.reserve).toHaveBeenCalledTimes(3);
    expect(scheduler.started).toBe(3);
    scheduler.dispose();
  });

  it('passes maxWaitMs to the pacer and rejects a task still waiting for its slot on dispose or abort', async () => {
    vi.useFakeTimers();
    const pacer = { reserve: vi.fn(async (_maxWaitMs?: number) => 5_000) };
    const scheduler = wrapSchedulerWithPacer(createScheduler({ rps: 1000 }), pacer, { maxWaitMs: 7_000 });
    const task = vi.fn(async () => 'ran');
    const controller = new AbortController();
    const aborted = scheduler.schedule(task, { signal: controller.signal, maxWaitMs: 6_000 }).catch((e: unknown) => e);
    const disposed = scheduler.schedule(task).catch((e: unknown) => e);
    await vi.advanceTimersByTimeAsync(10);
    expect(pacer.reserve.mock.calls).toEqual([[6_000], [7_000]]);
    controller.abort(new Error('client left'));
    expect(await aborted).toMatchObject({ message: 'client left' });
    scheduler.dispose();
    expect(await disposed).toMatchObject({ name: 'UpstreamError', kind: 'UPSTREAM_ERROR' });
    expect(task).not.toHaveBeenCalled();
    expect(vi.getTimerCount()).toBe(0);
  });
});

describe('two gateway instances sharing Redis', () => {
  const EXTRACT = /* GraphQL */ `
    mutation Extract($assetId: ID!) {
      extractFrames(assetId: $assetId) {
        __typename
        ... on ExtractFramesSuccess { reused task { id status frameCount } }
        ... on Error { message code }
      }
    }
  `;
  const WATCH = /* GraphQL */ `
    subscription Watch($id: ID!) {
      frameExtractionTask(id: $id) { id status frameCount error }
    }
  `;
  const STATE = /* GraphQL */ `
    query State($id: ID!) { frameExtractionTask(id: $id) { status frameCount } }
  `;
  const hook = (gw: TestGateway) => `${gw.url}/webhooks/mavi/${TEST_WEBHOOK_SECRET}`;

  let fake: FakeUpstream;
  let gwA: TestGateway;
  let gwB: TestGateway;
  let prefix: string;

  const startInstance = async () => {
    const pubsub = createRedisPubSub({ url: TEST_REDIS_URL, channelPrefix: prefix });
    await pubsub.ready();
    const store = createRedisTaskStore({ redis: redis.connect(), prefix, ownsConnection: true });
    return startTestGateway({ upstreamUrl: fake.url, deps: { store, pubsub } });
  };

  beforeEach(async () => {
    prefix = `${redis.prefix}gw-${randomUUID()}:`;
    fake = await startFakeUpstream({ rps: 0 });
    gwA = await startInstance();
    gwB = await startInstance();
    fake.setWebhookUrl(hook(gwA));
  });
  afterEach(async () => {
    await gwA.close();
    await gwB.close();
    await fake.close();
  });

  async function extractOn(gw: TestGateway, assetId: string) {
    const res = await gw.graphql(EXTRACT, { assetId });
    expect(res.errors).toBeUndefined();
    return res.data!.extractFrames;
  }

  const postCallback = async (gw: TestGateway, body: unknown) => {
    const res = await fetch(hook(gw), { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    return { status: res.status, body: (await res.json()) as { result?: string } };
  };

  it('pushes a callback applied on A to a subscriber on B; the same callback on B changes nothing', async () => {
    const result = await extractOn(gwA, fake.addAsset());
    expect(result).toMatchObject({ __typename: 'ExtractFramesSuccess', task: { status: 'PENDING' } });
    const id: string = result.task.id;

    const sub = gwB.subscribeWs(WATCH, { id });
    expect((await sub.events.next()).data!.frameExtractionTask).toMatchObject({ id, status: 'PENDING' });
    const done = await fake.completeTask(id, { frames: 3 });
    expect(done.status).toBe(200);
    expect((await sub.events.next()).data!.frameExtractionTask).toEqual({ id, status: 'SUCCEEDED', frameCount: 3, error: null });
    await sub.completed;

    // Absence of an event, without waiting: listen on B, send the duplicates, then publish an end marker from each
    // instance. Redis keeps order per connection, so an event from a duplicate would arrive before its marker.
    const watcher = gwB.gateway.services.pubsub.subscribe('task:updated', id);
    await expect.poll(() => redis.admin.pubsub('NUMSUB', `${prefix}task:updated:${id}`).then((r) => Number((r as unknown[])[1]))).toBe(1);
    expect(await postCallback(gwB, done.body)).toEqual({ status: 200, body: expect.objectContaining({ result: 'duplicate' }) });
    expect(await postCallback(gwA, done.body)).toEqual({ status: 200, body: expect.objectContaining({ result: 'duplicate' }) });
    const marker = (from: string): TaskRecord => ({ ...pendingTask(id), error: `marker:${from}` });
    gwA.gateway.services.pubsub.publish('task:updated', id, marker('A'));
    gwB.gateway.services.pubsub.publish('task:updated', id, marker('B'));
    const seen: (string | null)[] = [];
    while (seen.filter((e) => e?.startsWith('marker:')).length < 2) seen.push((await watcher.next()).value!.error);
    await watcher.return();
    expect(seen.sort()).toEqual(['marker:A', 'marker:B']);

    for (const gw of [gwA, gwB]) {
      expect((await gw.graphql(STATE, { id })).data!.frameExtractionTask).toEqual({ status: 'SUCCEEDED', frameCount: 3 });
    }

    const late = gwB.subscribeWs(WATCH, { id });
    expect((await late.events.next()).data!.frameExtractionTask).toMatchObject({ id, status: 'SUCCEEDED', frameCount: 3 });
    await late.completed;
    await expect.poll(() => gwB.gateway.services.pubsub.listenerCount()).toBe(0);
  });

  it('reuses a pending task started on the other instance (one upstream call)', async () => {
    const assetId = fake.addAsset();
    const first = await extractOn(gwA, assetId);
    const second = await extractOn(gwB, assetId);
    expect(second).toMatchObject({ reused: true, task: { id: first.task.id, status: 'PENDING' } });
    expect(fake.callsTo('POST', '/video/extract-frames')).toHaveLength(1);
  });

  it('applies on A a callback that B parked before A registered the task', async () => {
    fake.setWebhookUrl(hook(gwB));
    fake.onExtract = async (taskId) => {
      expect((await fake.completeTask(taskId, { frames: 2 })).status).toBe(200);
    };
    const result = await extractOn(gwA, fake.addAsset());
    expect(result.task).toMatchObject({ status: 'SUCCEEDED', frameCount: 2 });
    expect((await gwB.graphql(STATE, { id: result.task.id })).data!.frameExtractionTask).toEqual({ status: 'SUCCEEDED', frameCount: 2 });
  });
});

describe('REDIS_URL wiring (createGateway from config alone)', () => {
  it('shares task state and events between two instances configured only by REDIS_URL', async () => {
    const fake = await startFakeUpstream({ rps: 0 });
    const env = { REDIS_URL: TEST_REDIS_URL, REDIS_PREFIX: `${redis.prefix}wired:`, UPSTREAM_RPS: '50' };
    const a = await startTestGateway({ upstreamUrl: fake.url, env });
    const b = await startTestGateway({ upstreamUrl: fake.url, env });
    try {
      fake.setWebhookUrl(`${a.url}/webhooks/mavi/${TEST_WEBHOOK_SECRET}`);
      const res = await a.graphql(`mutation($id: ID!) { extractFrames(assetId: $id) { ... on ExtractFramesSuccess { task { id status } } } }`, {
        id: fake.addAsset(),
      });
      const taskId = res.data!.extractFrames.task.id as string;
      const sub = b.subscribeWs(`subscription($id: ID!) { frameExtractionTask(id: $id) { status frameCount } }`, { id: taskId });
      expect((await sub.events.next()).data!.frameExtractionTask).toEqual({ status: 'PENDING', frameCount: null });
      await fake.completeTask(taskId, { frames: 3 });
      expect((await sub.events.next()).data!.frameExtractionTask).toEqual({ status: 'SUCCEEDED', frameCount: 3 });
      await sub.completed;
    } finally {
      await a.close();
      await b.close();
      await fake.close();
    }
  });
});

describe('cross-instance extract dedupe', () => {
  it('bills one extraction when two instances get the same asset at the same moment', async () => {
    const { createLogger } = await import('../../src/logger.js');
    const { createDeferred } = await import('../helpers/deferred.js');
    const fake = await startFakeUpstream({ rps: 0 });
    const env = { REDIS_URL: TEST_REDIS_URL, REDIS_PREFIX: `${redis.prefix}claim:`, UPSTREAM_RPS: '50' };
    const bWaiting = createDeferred();
    const bLogger = createLogger({
      level: 'info',
      write: (line) => {
        if (line.includes('waiting for another instance submitting the same asset')) bWaiting.resolve();
      },
    });
    const a = await startTestGateway({ upstreamUrl: fake.url, env });
    const b = await startTestGateway({ upstreamUrl: fake.url, env, logger: bLogger });
    try {
      const assetId = fake.addAsset();
      const extractArrived = createDeferred();
      const release = createDeferred();
      fake.onExtract = () => {
        extractArrived.resolve();
        return release.promise;
      };
      const query = `mutation($id: ID!) { extractFrames(assetId: $id) { ... on ExtractFramesSuccess { reused task { id } } } }`;
      const onA = a.graphql(query, { id: assetId });
      await extractArrived.promise; // A holds the claim and its extract call is in flight
      const onB = b.graphql(query, { id: assetId });
      await bWaiting.promise; // B saw the claim and waits instead of calling extract
      release.resolve();
      const [ra, rb] = await Promise.all([onA, onB]);
      expect(ra.data!.extractFrames.reused).toBe(false);
      expect(rb.data!.extractFrames).toEqual({ reused: true, task: ra.data!.extractFrames.task });
      expect(fake.callsTo('POST', '/video/extract-frames')).toHaveLength(1);
    } finally {
      await a.close();
      await b.close();
      await fake.close();
    }
  });
});
