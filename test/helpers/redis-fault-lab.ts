/**
 * The Redis fault lab shared by the fault tests: a private redis-server (AOF on) per test that can be killed
 * (SIGKILL) and restarted on the same port and directory, or frozen (SIGSTOP); gateway instances over it whose log
 * lines tests can await; and a TCP relay that partitions one instance (or one of its connections) off on its own.
 * `useRedisFaultLab()` registers the per-test setup and teardown in the calling file.
 */
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { connect, createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterEach, beforeEach, expect } from 'vitest';
import { createLogger, type Logger } from '../../src/logger.js';
import { createDeferred, type Deferred } from './deferred.js';
import { startFakeUpstream, type FakeUpstream } from './fake-upstream.js';
import { startTestGateway, TEST_WEBHOOK_SECRET, type GraphQLResponse, type Subscription, type TestGateway } from './gateway.js';
import { startRedisServer, type TestRedisServer } from './redis-server.js';

export const EXTRACT = /* GraphQL */ `
  mutation Extract($id: ID!) {
    extractFrames(assetId: $id) {
      __typename
      ... on ExtractFramesSuccess { task { id status } }
      ... on Error { code }
    }
  }
`;
export const WATCH = /* GraphQL */ `subscription Watch($id: ID!) { frameExtractionTask(id: $id) { id status frameCount } }`;
export const STATE = /* GraphQL */ `query State($id: ID!) { frameExtractionTask(id: $id) { status frameCount } }`;

export type LogEntry = Record<string, unknown> & { msg: string };

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

export interface Instance {
  gw: TestGateway;
  logs: ReturnType<typeof createLogWatch>;
  dataDir: string;
  hook: string;
  /** Entries in the webhook lane of the spool. */
  spooled(): Promise<string[]>;
  /** Entries in the registration lane of the spool. */
  spooledRegistrations(): Promise<string[]>;
}

export interface InstanceOptions {
  recheckMs?: number;
  dataDir?: string;
  /** Where this instance reaches Redis (default the private server; a {@link Relay} to partition it alone). */
  redisUrl?: string;
  env?: Record<string, string>;
}

/**
 * A TCP relay in front of the private Redis, so ONE instance (or one of its connections) can be partitioned off
 * while the others keep Redis: `cut(only?)` drops the relayed connections (those whose first bytes contain `only`,
 * e.g. the connection name ioredis sends first) and refuses such new ones until `heal()`.
 */
export interface Relay {
  url: string;
  cut(only?: string): void;
  heal(): void;
}

export const logged = (msg: string, role?: string) => (entry: LogEntry) =>
  entry.msg === msg && (role === undefined || entry.role === role);
/** The three Redis connections of an instance, as its log lines name them. */
export const ROLES = ['registry', 'pubsub-publish', 'pubsub-subscribe'];

/** Reads a subscription to its end: its last payload, and whether the server completed it. */
export async function lastPayload(sub: Subscription<Record<string, any>>): Promise<GraphQLResponse> {
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

export const post = (url: string, body: string) => fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body });

const names = async (dir: string) => (await readdir(dir).catch(() => [])).filter((n) => n.endsWith('.json'));

export interface RedisFaultLab {
  readonly redis: TestRedisServer;
  readonly fake: FakeUpstream;
  startInstance(options?: InstanceOptions): Promise<Instance>;
  /** Stops an instance now (it is no longer closed at the end of the test). */
  stopInstance(instance: Instance): Promise<void>;
  /** Kills Redis and resolves once every given instance's registry connection has noticed. */
  killRedis(...of: Instance[]): Promise<void>;
  /** Restarts Redis and resolves once every connection of every given instance is back (and re-subscribed). */
  restartRedis(...of: Instance[]): Promise<void>;
  /** Runs the extract mutation for a new asset (or `assetId`); GraphQL errors fail the test. */
  extract(instance: Instance, assetId?: string): Promise<{ __typename: string; task?: { id: string; status: string }; code?: string }>;
  startRelay(): Promise<Relay>;
  /** Freezes redis-server (SIGSTOP): its sockets stay open and it answers nothing. Returns `thaw` (SIGCONT). */
  freezeRedis(): Promise<() => void>;
}

/** Registers a fresh Redis, fake upstream and key prefix per test, and tears everything down after it. */
export function useRedisFaultLab(): RedisFaultLab {
  let redis: TestRedisServer;
  let fake: FakeUpstream;
  let prefix: string;
  const instances = new Set<Instance>();
  const dirs: string[] = [];
  // Before the instances close (a frozen Redis must thaw first) and after (relays outlive their instances).
  const beforeClose: (() => void)[] = [];
  const afterClose: (() => Promise<void>)[] = [];

  beforeEach(async () => {
    redis = await startRedisServer();
    fake = await startFakeUpstream({ rps: 0 });
    prefix = `faults-${randomUUID()}:`;
  });
  afterEach(async () => {
    for (const cleanup of beforeClose.splice(0)) cleanup();
    await Promise.all([...instances].map((i) => i.gw.close()));
    instances.clear();
    for (const cleanup of afterClose.splice(0)) await cleanup();
    await fake.close();
    await redis.close();
    await Promise.all(dirs.splice(0).map((d) => rm(d, { recursive: true, force: true })));
  });

  const startInstance = async (options: InstanceOptions = {}): Promise<Instance> => {
    const dataDir = options.dataDir ?? (await mkdtemp(join(tmpdir(), 'frames-data-')));
    dirs.push(dataDir);
    const logs = createLogWatch();
    const gw = await startTestGateway({
      upstreamUrl: fake.url,
      logger: logs.logger,
      env: {
        REDIS_URL: options.redisUrl ?? redis.url,
        REDIS_PREFIX: prefix,
        DATA_DIR: dataDir,
        SUBSCRIPTION_RECHECK_MS: String(options.recheckMs ?? 200),
        UPSTREAM_RPS: '50',
        ...options.env,
      },
    });
    const instance: Instance = {
      gw,
      logs,
      dataDir,
      hook: `${gw.url}/webhooks/mavi/${TEST_WEBHOOK_SECRET}`,
      spooled: () => names(join(dataDir, 'webhook-spool')),
      spooledRegistrations: () => names(join(dataDir, 'registration-spool')),
    };
    instances.add(instance);
    return instance;
  };

  const startRelay = async (): Promise<Relay> => {
    const links = new Map<Socket, { first: string }>();
    let refused: string | null = null; // null: nothing refused; '': everything
    const matches = (first: string) => refused !== null && first.includes(refused);
    const server = createServer((client) => {
      if (refused === '') return client.destroy();
      const upstream = connect(redis.port, '127.0.0.1');
      const link = { first: '' };
      links.set(client, link);
      client.once('data', (chunk: Buffer) => {
        link.first = chunk.toString('latin1');
        if (matches(link.first)) client.destroy();
      });
      for (const socket of [client, upstream]) socket.on('error', () => undefined);
      client.on('close', () => {
        links.delete(client);
        upstream.destroy();
      });
      upstream.on('close', () => client.destroy());
      client.pipe(upstream);
      upstream.pipe(client);
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    afterClose.push(async () => {
      for (const client of links.keys()) client.destroy();
      server.close();
      await once(server, 'close');
    });
    const address = server.address();
    return {
      url: `redis://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`,
      cut(only = '') {
        refused = only;
        for (const [client, link] of links) if (matches(link.first)) client.destroy();
      },
      heal() {
        refused = null;
      },
    };
  };

  return {
    get redis() {
      return redis;
    },
    get fake() {
      return fake;
    },
    startInstance,
    async stopInstance(instance) {
      await instance.gw.close();
      instances.delete(instance);
    },
    async killRedis(...of) {
      const lost = of.map((i) => i.logs.next(logged('redis connection lost', 'registry')));
      await redis.kill();
      await Promise.all(lost);
    },
    async restartRedis(...of) {
      const restored = of.flatMap((i) => ROLES.map((role) => i.logs.next(logged('redis connection restored', role))));
      await redis.restart();
      await Promise.all(restored);
    },
    async extract(instance, assetId = fake.addAsset()) {
      const res = await instance.gw.graphql(EXTRACT, { id: assetId });
      expect(res.errors).toBeUndefined();
      return res.data!.extractFrames as { __typename: string; task?: { id: string; status: string }; code?: string };
    },
    startRelay,
    async freezeRedis() {
      const probe = new Redis(redis.url, { lazyConnect: true });
      await probe.connect();
      const pid = Number(/process_id:(\d+)/.exec(await probe.info('server'))?.[1]);
      await probe.quit();
      process.kill(pid, 'SIGSTOP');
      let thawed = false;
      const thaw = () => {
        if (thawed) return;
        thawed = true;
        process.kill(pid, 'SIGCONT');
      };
      beforeClose.push(thaw);
      return thaw;
    },
  };
}
