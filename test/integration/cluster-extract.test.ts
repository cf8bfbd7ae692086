/**
 * Several gateway instances over one real Redis (one REDIS_PREFIX) and one fake upstream: one extraction per asset
 * even when the extract call outlives the claim TTL, idempotency keys bound to their asset, and a deadline sweep
 * that acts once per task. Nothing sleeps: the test waits for the instances' own log events (claim renewed,
 * waiting for another instance) and releases the held extract reply itself.
 */
import { describe, expect, it } from 'vitest';
import { createRedisTaskStore } from '../../src/jobs/redis-store.js';
import type { TaskRecord } from '../../src/jobs/store.js';
import { createTaskService, type TaskService } from '../../src/jobs/tasks.js';
import { silentLogger, type Logger } from '../../src/logger.js';
import { createPubSub } from '../../src/pubsub/index.js';
import type { UpstreamClient } from '../../src/upstream/client.js';
import { useGatewayCluster } from '../helpers/cluster.js';
import { createDeferred, type Deferred } from '../helpers/deferred.js';
import { pendingTask, T0 } from '../fixtures/tasks.js';

const EXTRACT = /* GraphQL */ `
  mutation Extract($assetId: ID!, $key: String) {
    extractFrames(assetId: $assetId, idempotencyKey: $key) {
      __typename
      ... on ExtractFramesSuccess { reused task { id assetId } }
      ... on Error { message code }
      ... on IdempotencyKeyConflictError { idempotencyKey taskId }
    }
  }
`;

const cluster = useGatewayCluster('c');
const redis = cluster.redis;

/** Resolves once `count` matching log events have been seen (from any of the instances it is given to). */
function logWatch(message: string, level: keyof Logger) {
  const seen: string[] = [];
  const waiters: { count: number; done: Deferred<void> }[] = [];
  const loggerFor = (instance: string): Logger => ({
    ...silentLogger,
    [level]: (msg: string) => {
      if (msg !== message) return;
      seen.push(instance);
      for (const w of waiters) if (seen.length >= w.count) w.done.resolve();
    },
  });
  const atLeast = (count: number) => {
    const done = createDeferred();
    waiters.push({ count, done });
    if (seen.length >= count) done.resolve();
    return done.promise;
  };
  return { seen, loggerFor, atLeast };
}

async function startCluster(count: number, env: Record<string, string>, loggers: ((name: string) => Logger)[] = []) {
  return cluster.start(count, (i) => {
    const parts = loggers.map((make) => make(String.fromCharCode(65 + i)));
    const logger: Logger = {
      debug: (m, f) => parts.forEach((l) => l.debug(m, f)),
      info: (m, f) => parts.forEach((l) => l.info(m, f)),
      warn: (m, f) => parts.forEach((l) => l.warn(m, f)),
      error: (m, f) => parts.forEach((l) => l.error(m, f)),
    };
    return { env, logger };
  });
}

const extractCalls = () => cluster.fake.callsTo('POST', '/video/extract-frames');

describe('one extraction per asset across instances', () => {
  it('bills once when three instances race and the extract call outlives the claim TTL (the holder renews)', async () => {
    const renewals = logWatch('extract claim renewed', 'debug');
    const waiting = logWatch('waiting for another instance submitting the same asset', 'info');
    const lost = logWatch('extract claim lost while the extract call was in flight (another instance may bill too)', 'warn');
    // 600 ms: short enough to lapse mid-call, with 400 ms of slack per renewal for a busy CI machine.
    const { fake, gateways: gws } = await startCluster(3, { EXTRACT_CLAIM_TTL_MS: '600' }, [renewals.loggerFor, waiting.loggerFor, lost.loggerFor]);
    const assetId = fake.addAsset();
    const release = createDeferred();
    fake.onExtract = () => release.promise;

    const results = Promise.all(gws.map((gw) => gw.graphql(EXTRACT, { assetId })));
    await waiting.atLeast(2); // the two others saw the claim and wait instead of calling extract
    // Renewed every ttl/3 = 200 ms: the 4th renewal lands ≥ 800 ms after the claim, past its 600 ms TTL.
    await renewals.atLeast(4);
    expect(new Set(renewals.seen).size).toBe(1); // one holder throughout
    release.resolve();

    const answers = (await results).map((r) => r.data!.extractFrames);
    expect(answers.map((a) => a.__typename)).toEqual(['ExtractFramesSuccess', 'ExtractFramesSuccess', 'ExtractFramesSuccess']);
    expect(new Set(answers.map((a) => a.task.id)).size).toBe(1);
    expect(answers.filter((a) => !a.reused)).toHaveLength(1);
    expect(extractCalls()).toHaveLength(1);
    expect(lost.seen).toEqual([]);
  });
});

describe('idempotency keys bound to their asset', () => {
  it('answers the same key with another assetId by IdempotencyKeyConflictError and no upstream call, on any instance', async () => {
    const { fake, gateways: [a, b] } = await startCluster(2, {});
    const first = fake.addAsset();
    const second = fake.addAsset();
    const ok = (await a!.graphql(EXTRACT, { assetId: first, key: 'order-7' })).data!.extractFrames;
    expect(ok).toMatchObject({ __typename: 'ExtractFramesSuccess', reused: false, task: { assetId: first } });
    const callsBefore = fake.calls.length;
    for (const gw of [a!, b!]) {
      expect((await gw.graphql(EXTRACT, { assetId: second, key: 'order-7' })).data!.extractFrames).toEqual({
        __typename: 'IdempotencyKeyConflictError',
        code: 'IDEMPOTENCY_KEY_CONFLICT',
        idempotencyKey: 'order-7',
        taskId: ok.task.id,
        message: expect.stringContaining(ok.task.id),
      });
    }
    expect(fake.calls).toHaveLength(callsBefore);
    expect((await b!.graphql(EXTRACT, { assetId: first, key: 'order-7' })).data!.extractFrames).toEqual({ ...ok, reused: true });
    expect(extractCalls()).toHaveLength(1);
  });
});

describe('deadline sweep across instances (one Redis store)', () => {
  it('times each overdue task out once in total, with one event, however the two instances race', async () => {
    const prefix = `${redis.prefix}sweep-${Date.now()}:`;
    const pubsub = createPubSub(); // both instances publish here, so one listener counts every event
    const clock = { now: T0 };
    const instance = (): TaskService =>
      createTaskService({
        store: createRedisTaskStore({ redis: redis.connect(), prefix, ownsConnection: true }),
        pubsub,
        client: {} as UpstreamClient,
        logger: silentLogger,
        lookupAsset: async () => {
          throw new Error('not used');
        },
        now: () => clock.now,
        timeoutSeconds: 60,
        reuseSeconds: 0,
        parkTtlSeconds: 900,
        claimTtlMs: 30_000,
        maxWaitMs: 1_000,
      });
    const [a, b] = [instance(), instance()];
    const seeder = createRedisTaskStore({ redis: redis.admin, prefix });
    const ids = Array.from({ length: 20 }, (_, i) => `overdue-${i}`);
    for (const id of ids) await seeder.insert(pendingTask(id), T0);
    const events: TaskRecord[] = [];
    const subs = ids.map((id) => pubsub.subscribe('task:updated', id));
    clock.now = T0 + 60_000;

    const [sweptA, sweptB, ...reads] = await Promise.all([a.sweep(), b.sweep(), ...ids.flatMap((id) => [a.get(id), b.get(id)])]);
    expect(sweptA + sweptB).toBeLessThanOrEqual(ids.length);
    expect(reads.every((t) => t?.status === 'TIMED_OUT')).toBe(true);
    for (const sub of subs) {
      await sub.return();
      for (let r = await sub.next(); !r.done; r = await sub.next()) events.push(r.value);
    }
    expect(events.map((e) => e.id).sort()).toEqual([...ids].sort());
    expect(await a.sweep()).toBe(0);
    a.stop();
    b.stop();
    await pubsub.dispose();
  });
});
