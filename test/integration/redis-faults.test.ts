/**
 * Redis faults, with a private redis-server (AOF on) that each test kills with SIGKILL and restarts on the same port
 * and directory, under two gateway instances sharing it: a webhook taken during the outage is spooled and replayed,
 * nothing hangs, readiness names Redis, and operations fail fast with SERVICE_UNAVAILABLE.
 */
import { randomUUID } from 'node:crypto';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createLogger, type Logger } from '../../src/logger.js';
import { createDeferred, type Deferred } from '../helpers/deferred.js';
import { startFakeUpstream, type FakeUpstream } from '../helpers/fake-upstream.js';
import { startTestGateway, TEST_WEBHOOK_SECRET, type GraphQLResponse, type Subscription, type TestGateway } from '../helpers/gateway.js';
import { startRedisServer, type TestRedisServer } from '../helpers/redis-server.js';

const EXTRACT = /* GraphQL */ `
  mutation Extract($id: ID!) {
    extractFrames(assetId: $id) {
      __typename
      ... on ExtractFramesSuccess { task { id status } }
      ... on Error { code }
    }
  }
`;
const WATCH = /* GraphQL */ `subscription Watch($id: ID!) { frameExtractionTask(id: $id) { id status frameCount } }`;
const STATE = /* GraphQL */ `query State($id: ID!) { frameExtractionTask(id: $id) { status frameCount } }`;

type LogEntry = Record<string, unknown> & { msg: string };

/** A logger whose lines tests can await: `next(match)` resolves with the first matching line logged after the call. */
function createLogWatch(): { logger: Logger; next(match: (entry: LogEntry) => boolean): Promise<LogEntry> } {
  const waiters = new Set<{ match: (entry: LogEntry) => boolean; deferred: Deferred<LogEntry> }>();
  const logger = createLogger({
    level: 'debug',
    write: (line) => {
      const entry = JSON.parse(line) as LogEntry;
      for (const waiter of waiters) {
        if (!waiter.match(entry)) continue;
        waiters.delete(waiter);
        waiter.deferred.resolve(entry);
      }
    },
  });
  return {
    logger,
    next(match) {
      const deferred = createDeferred<LogEntry>();
      waiters.add({ match, deferred });
      return deferred.promise;
    },
  };
}

interface Instance {
  gw: TestGateway;
  logs: ReturnType<typeof createLogWatch>;
  dataDir: string;
  hook: string;
  spooled(): Promise<string[]>;
}

let redis: TestRedisServer;
let fake: FakeUpstream;
let prefix: string;
const instances = new Set<Instance>();
const dirs: string[] = [];

beforeEach(async () => {
  redis = await startRedisServer();
  fake = await startFakeUpstream({ rps: 0 });
  prefix = `faults-${randomUUID()}:`;
});
afterEach(async () => {
  await Promise.all([...instances].map((i) => i.gw.close()));
  instances.clear();
  await fake.close();
  await redis.close();
  await Promise.all(dirs.splice(0).map((d) => rm(d, { recursive: true, force: true })));
});

async function startInstance(options: { recheckMs?: number; dataDir?: string } = {}): Promise<Instance> {
  const dataDir = options.dataDir ?? (await mkdtemp(join(tmpdir(), 'frames-data-')));
  dirs.push(dataDir);
  const logs = createLogWatch();
  const gw = await startTestGateway({
    upstreamUrl: fake.url,
    logger: logs.logger,
    env: {
      REDIS_URL: redis.url,
      REDIS_PREFIX: prefix,
      DATA_DIR: dataDir,
      SUBSCRIPTION_RECHECK_MS: String(options.recheckMs ?? 200),
      UPSTREAM_RPS: '50',
    },
  });
  const instance: Instance = {
    gw,
    logs,
    dataDir,
    hook: `${gw.url}/webhooks/mavi/${TEST_WEBHOOK_SECRET}`,
    spooled: async () => (await readdir(join(dataDir, 'webhook-spool')).catch(() => [])).filter((n) => n.endsWith('.json')),
  };
  instances.add(instance);
  return instance;
}

const logged = (msg: string, role?: string) => (entry: LogEntry) => entry.msg === msg && (role === undefined || entry.role === role);
const ROLES = ['registry', 'pubsub-publish', 'pubsub-subscribe'];

/** Kills Redis and resolves once every instance's registry connection has noticed. */
async function killRedis(...of: Instance[]) {
  const lost = of.map((i) => i.logs.next(logged('redis connection lost', 'registry')));
  await redis.kill();
  await Promise.all(lost);
}

/** Restarts Redis and resolves once every connection of every instance is back (and re-subscribed). */
async function restartRedis(...of: Instance[]) {
  const restored = of.flatMap((i) => ROLES.map((role) => i.logs.next(logged('redis connection restored', role))));
  await redis.restart();
  await Promise.all(restored);
}

async function extract(instance: Instance, assetId = fake.addAsset()) {
  const res = await instance.gw.graphql(EXTRACT, { id: assetId });
  expect(res.errors).toBeUndefined();
  return res.data!.extractFrames as { __typename: string; task?: { id: string; status: string }; code?: string };
}

/** Reads a subscription to its end: its last payload, and whether the server completed it. */
async function lastPayload(sub: Subscription<Record<string, any>>): Promise<GraphQLResponse> {
  let last: GraphQLResponse | undefined;
  for (;;) {
    try {
      last = await sub.events.next();
    } catch {
      await sub.completed; // rejects on a transport error: neither a result nor a clear error
      return last!;
    }
  }
}

const post = (url: string, body: string) => fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body });

describe('Redis killed (SIGKILL) and restarted mid-task', () => {
  it('spools a webhook taken during the outage, answers 202, and replays it into the registry once Redis is back', async () => {
    const a = await startInstance();
    const b = await startInstance();
    fake.setWebhookUrl(a.hook);
    const { task } = await extract(a);
    const id = task!.id;
    const before = [a.gw.subscribeWs(WATCH, { id }), b.gw.subscribeWs(WATCH, { id })];
    for (const sub of before) expect((await sub.events.next()).data!.frameExtractionTask).toMatchObject({ status: 'PENDING' });

    await killRedis(a, b);
    const done = await fake.completeTask(id, { frames: 3 });
    expect(done.status).toBe(202);
    expect(await a.spooled()).toHaveLength(1);
    // A malformed body is still refused, and never spooled.
    expect((await post(a.hook, '{"task_id":"' + id + '"')).status).toBe(400);
    expect(await a.spooled()).toHaveLength(1);

    const replayed = a.logs.next(logged('webhook spool replayed'));
    await restartRedis(a, b);
    expect(await replayed).toMatchObject({ applied: 1, remaining: 0 });
    expect(await a.spooled()).toEqual([]);
    for (const instance of [a, b]) {
      expect((await instance.gw.graphql(STATE, { id })).data!.frameExtractionTask).toEqual({ status: 'SUCCEEDED', frameCount: 3 });
    }

    // Subscriptions opened before the outage end either with the result or with a clear error; none hangs.
    for (const sub of before) {
      const last = await lastPayload(sub);
      if (last.errors) expect(last.errors[0]!.extensions).toMatchObject({ code: 'SERVICE_UNAVAILABLE' });
      else expect(last.data!.frameExtractionTask).toEqual({ id, status: 'SUCCEEDED', frameCount: 3 });
    }
    // Subscribing again after the reconnect re-reads the registry.
    for (const instance of [a, b]) {
      const again = instance.gw.subscribeWs(WATCH, { id });
      expect((await again.events.next()).data!.frameExtractionTask).toEqual({ id, status: 'SUCCEEDED', frameCount: 3 });
      await again.completed;
    }
    expect(fake.callsTo('POST', '/video/extract-frames')).toHaveLength(1);
  });

  it('delivers a webhook accepted after the restart to subscribers on both instances, old and new (as events)', async () => {
    // Re-reads far apart: the result can only arrive in time as an event, so the old subscriptions' channels must
    // have been subscribed again on reconnect.
    const a = await startInstance({ recheckMs: 600_000 });
    const b = await startInstance({ recheckMs: 600_000 });
    fake.setWebhookUrl(b.hook);
    const { task } = await extract(a);
    const id = task!.id;
    const old = [a.gw.subscribeWs(WATCH, { id }), b.gw.subscribeWs(WATCH, { id })];
    for (const sub of old) expect((await sub.events.next()).data!.frameExtractionTask).toMatchObject({ status: 'PENDING' });

    await killRedis(a, b);
    await restartRedis(a, b);
    const fresh = [a.gw.subscribeWs(WATCH, { id }), b.gw.subscribeWs(WATCH, { id })];
    for (const sub of fresh) expect((await sub.events.next()).data!.frameExtractionTask).toMatchObject({ status: 'PENDING' });
    const subs = [...old, ...fresh];
    expect((await fake.completeTask(id, { frames: 2 })).status).toBe(200);
    for (const sub of subs) {
      expect((await sub.events.next()).data!.frameExtractionTask).toEqual({ id, status: 'SUCCEEDED', frameCount: 2 });
      await sub.completed;
    }
  });

  it('answers /readyz 503 naming Redis and fails registry operations fast with SERVICE_UNAVAILABLE while it is down', async () => {
    const a = await startInstance();
    const { task } = await extract(a);
    const ready = await fetch(`${a.gw.url}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toMatchObject({ status: 'ready', checks: { redis: 'ok', redisPubSub: 'ok' } });

    await killRedis(a);
    const down = await fetch(`${a.gw.url}/readyz`);
    expect(down.status).toBe(503);
    expect(await down.json()).toMatchObject({ status: 'unavailable', checks: { redis: expect.stringMatching(/^unavailable/) } });

    const query = await a.gw.graphql(STATE, { id: task!.id });
    expect(query.errors).toEqual([expect.objectContaining({ path: ['frameExtractionTask'], extensions: { code: 'SERVICE_UNAVAILABLE' } })]);
    expect(await extract(a)).toEqual({ __typename: 'UpstreamUnavailableError', code: 'SERVICE_UNAVAILABLE' });
    const sub = a.gw.subscribeWs(WATCH, { id: task!.id });
    expect((await sub.events.next()).errors).toEqual([expect.objectContaining({ extensions: { code: 'SERVICE_UNAVAILABLE' } })]);
    // Refused before any billed call.
    expect(fake.callsTo('POST', '/video/extract-frames')).toHaveLength(1);

    await restartRedis(a);
    expect((await fetch(`${a.gw.url}/readyz`)).status).toBe(200);
  });

  it('replays at start-up the spool an instance left when it stopped during the outage', async () => {
    const first = await startInstance();
    fake.setWebhookUrl(first.hook);
    const { task } = await extract(first);
    await killRedis(first);
    expect((await fake.completeTask(task!.id, { frames: 4 })).status).toBe(202);
    await first.gw.close(); // the flush on dispose cannot apply it: it stays on disk
    instances.delete(first);
    expect(await first.spooled()).toHaveLength(1);

    await redis.restart();
    const next = await startInstance({ dataDir: first.dataDir });
    expect(await next.spooled()).toEqual([]);
    expect((await next.gw.graphql(STATE, { id: task!.id })).data!.frameExtractionTask).toEqual({ status: 'SUCCEEDED', frameCount: 4 });
  });
});
