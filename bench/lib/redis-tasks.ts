/**
 * Registers PENDING tasks straight into the shared Redis registry (the same store code the gateways run), so a
 * bench can have tens of thousands of tasks without paying for one extract call each, and removes every key of
 * a bench prefix afterwards.
 */
import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import { createRedisTaskStore } from '../../src/jobs/redis-store.js';
import type { TaskRecord } from '../../src/jobs/store.js';

const BATCH = 500;

/**
 * Inserts `count` PENDING tasks (distinct assets, deadline one hour away) of `tenant` (default: none, i.e. the local
 * tenant of a gateway without auth); returns their ids in order.
 */
export async function insertPendingTasks(redis: Redis, prefix: string, count: number, tenant?: string): Promise<string[]> {
  const store = createRedisTaskStore({ redis, prefix });
  const now = Date.now();
  const ids = Array.from({ length: count }, () => randomBytes(16).toString('hex'));
  for (let start = 0; start < count; start += BATCH) {
    await Promise.all(ids.slice(start, start + BATCH).map((id, i) => store.insert(pendingTask(id, start + i, now, tenant), now)));
  }
  return ids;
}

function pendingTask(id: string, n: number, now: number, tenant: string | undefined): TaskRecord {
  return {
    ...(tenant === undefined ? {} : { tenant }),
    id,
    assetId: `re_${700_000_000_000_000_000n + BigInt(n)}`,
    status: 'PENDING',
    collectionId: null,
    frameIds: [],
    error: null,
    submittedAt: now,
    completedAt: null,
    deadlineAt: now + 3600_000,
    idempotencyKey: null,
  };
}

/** How many of `ids` the registry holds as SUCCEEDED (a cross-check of the webhook replies). */
export async function countSucceeded(redis: Redis, prefix: string, ids: readonly string[]): Promise<number> {
  const store = createRedisTaskStore({ redis, prefix });
  let succeeded = 0;
  for (let start = 0; start < ids.length; start += BATCH) {
    const tasks = await Promise.all(ids.slice(start, start + BATCH).map((id) => store.get(id)));
    succeeded += tasks.filter((t) => t?.status === 'SUCCEEDED').length;
  }
  return succeeded;
}

/** Deletes every key under `prefix` (SCAN + UNLINK); returns how many went. */
export async function deleteKeys(redis: Redis, prefix: string): Promise<number> {
  if (/[*?[\]\\]/.test(prefix)) throw new Error(`refusing to delete by a glob-like prefix: ${prefix}`);
  let cursor = '0';
  let deleted = 0;
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
    cursor = next;
    if (keys.length > 0) deleted += await redis.unlink(...keys);
  } while (cursor !== '0');
  return deleted;
}
