/**
 * Real Redis for integration tests (CI starts one on 127.0.0.1:6379; `REDIS_URL` overrides). Nothing is skipped:
 * without Redis, `assertRedisReachable` fails the suite with a message saying so. Every test file gets its own
 * random key prefix and `dispose()` removes its keys and quits every connection it opened.
 */
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll } from 'vitest';

export const TEST_REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

export interface TestRedis {
  /** `frames-test:<uuid>:`: every key this file writes starts with it. */
  prefix: string;
  /** A connection for assertions and setup; closed by `dispose()`. */
  admin: Redis;
  /** A new tracked connection (closed by `dispose()` even when a test forgets). */
  connect(): Redis;
  /** Deletes the prefix's keys (while `admin` is connected); connections stay open. */
  clear(): Promise<void>;
  /** Deletes the prefix's keys and quits every tracked connection. */
  dispose(): Promise<void>;
}

export async function assertRedisReachable(url = TEST_REDIS_URL): Promise<void> {
  const probe = new Redis(url, { lazyConnect: true, retryStrategy: () => null, maxRetriesPerRequest: 0, connectTimeout: 3_000 });
  let cause: unknown;
  probe.on('error', (error: unknown) => (cause = error));
  try {
    await probe.connect();
    await probe.ping();
  } catch (error) {
    const reason = cause ?? error;
    throw new Error(
      `These tests need a real Redis at ${url} (CI starts one; locally run \`redis-server\` or set REDIS_URL): ` +
        (reason instanceof Error ? reason.message : String(reason)),
    );
  } finally {
    probe.disconnect();
  }
}

export async function openTestRedis(url = TEST_REDIS_URL): Promise<TestRedis> {
  await assertRedisReachable(url);
  const prefix = `frames-test:${randomUUID()}:`;
  const connections = new Set<Redis>();
  const connect = () => {
    const redis = new Redis(url, { maxRetriesPerRequest: 2 });
    connections.add(redis);
    return redis;
  };
  const admin = connect();
  const clear = async () => {
    if (admin.status !== 'ready') return;
    for await (const batch of admin.scanStream({ match: `${prefix}*`, count: 500 })) {
      if ((batch as string[]).length > 0) await admin.del(...(batch as string[]));
    }
  };
  return {
    prefix,
    admin,
    connect,
    clear,
    async dispose() {
      await clear();
      await Promise.all([...connections].map((c) => (c.status === 'end' ? undefined : c.quit().catch(() => c.disconnect()))));
    },
  };
}

/**
 * A file-wide TestRedis: opened in beforeAll, disposed in afterAll. The handle reads through to it, so it can be
 * taken at module level and used from the tests and their hooks.
 */
export function useTestRedis(url = TEST_REDIS_URL): TestRedis {
  let opened: TestRedis | undefined;
  beforeAll(async () => {
    opened = await openTestRedis(url);
  });
  afterAll(async () => {
    await opened?.dispose();
  });
  const current = (): TestRedis => {
    if (!opened) throw new Error('useTestRedis(): Redis is opened in beforeAll, use it from a test or a hook');
    return opened;
  };
  return {
    get prefix() {
      return current().prefix;
    },
    get admin() {
      return current().admin;
    },
    connect: () => current().connect(),
    clear: () => current().clear(),
    dispose: () => current().dispose(),
  };
}
