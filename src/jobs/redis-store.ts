/**
 * The shared task registry: {@link TaskStore} on Redis, so several gateway instances behind one account webhook
 * see (and change) the same task state. Every write is one Lua script, so a compare-and-set is atomic across
 * instances: two instances applying the same callback get exactly one `changed: true`.
 *
 * Key layout (`p` = prefix, default `frames:`):
 * - `p task:<id>`       hash { task: TaskRecord JSON as registered, status, outcome?: TaskOutcome JSON }
 * - `p parked:<id>`     hash { expiresAt, status, outcome: TaskOutcome JSON }, PX TTL until `expiresAt`
 * - `p parked-index`    sorted set of parked ids by `expiresAt` (bounds their number to `parkedMax`)
 * - `p asset:<assetId>` sorted set of task ids by `submittedAt`
 * - `p idem:<key>`      the task id an idempotency key is bound to; same TTL as that task (none while PENDING)
 * - `p task-keys:<id>`  set of the idempotency keys bound to a task (completion gives them the task's TTL)
 * - `p pending`         sorted set of PENDING task ids by `deadlineAt` (the timeout sweep reads it)
 * - `p submitting:<assetId>` the submission claim: a random holder token, PX TTL on the Redis clock
 *
 * Status and `expiresAt` are plain hash fields, so Lua compares them without decoding JSON; JSON is only ever
 * written and read by JS (Lua's cjson would turn `[]` into `{}` and round numbers to 14 digits). Scripts build
 * parked, task and key names from the prefix, so this targets a single Redis (or a primary with replicas), not
 * Redis Cluster. The scripts live in `redis-scripts.ts`.
 */
import type { Redis } from 'ioredis';
import { closeRedis } from '../redis/close.js';
import { BIND_KEY, COMPLETE, INSERT, OVERDUE, PARK, RELEASE_CLAIM, RENEW_CLAIM, runScript } from './redis-scripts.js';
import { applyOutcome, taskFields, type ParkedCallback, type TaskOutcome, type TaskRecord, type TaskStore, type TransitionResult } from './store.js';

export interface RedisTaskStoreOptions {
  /** An ioredis connection (not in subscriber mode). */
  redis: Redis;
  /** Key prefix shared by every instance of one deployment. Default `frames:`. */
  prefix?: string;
  /** Upper bound on parked callbacks; the ones closest to expiry are dropped first. Default 10000. */
  parkedMax?: number;
  /** Whether `dispose()` closes `redis`. Default false: a shared connection is left to its owner. */
  ownsConnection?: boolean;
  /** Wall clock in epoch ms, only used to turn `expiresAt` into a PX TTL. Default `Date.now`. */
  now?: () => number;
  /**
   * How long a finished task (and its asset-index entry and idempotency keys) is kept, in ms. Default 7 days;
   * 0 keeps them forever.
   */
  retentionMs?: number;
}

/** Creates the Redis-backed {@link TaskStore}. Instances sharing `prefix` share every task. */
export function createRedisTaskStore(options: RedisTaskStoreOptions): TaskStore {
  const { redis } = options;
  const prefix = options.prefix ?? 'frames:';
  const parkedMax = options.parkedMax ?? 10_000;
  const wallClock = options.now ?? Date.now;
  const retentionMs = options.retentionMs ?? 7 * 24 * 3600 * 1000;
  const keys = {
    task: (id: string) => `${prefix}task:${id}`,
    parkedPrefix: `${prefix}parked:`,
    parked: (id: string) => `${prefix}parked:${id}`,
    parkedIndex: `${prefix}parked-index`,
    asset: (assetId: string) => `${prefix}asset:${assetId}`,
    taskPrefix: `${prefix}task:`,
    idemPrefix: `${prefix}idem:`,
    idem: (key: string) => `${prefix}idem:${key}`,
    taskKeys: (id: string) => `${prefix}task-keys:${id}`,
    pending: `${prefix}pending`,
    claim: (assetId: string) => `${prefix}submitting:${assetId}`,
  };

  const readTask = async (id: string): Promise<TaskRecord | null> => {
    const [task, outcome] = await redis.hmget(keys.task(id), 'task', 'outcome');
    return task ? decode(task, outcome ?? '') : null;
  };

  return {
    async insert(task, now) {
      const reply = await runScript(
        redis,
        INSERT,
        [
          keys.task(task.id),
          keys.parked(task.id),
          keys.asset(task.assetId),
          task.idempotencyKey ? keys.idem(task.idempotencyKey) : '',
          keys.pending,
          keys.parkedIndex,
          keys.taskKeys(task.id),
        ],
        [
          encodeTask(task),
          task.status,
          now,
          task.id,
          task.submittedAt,
          task.deadlineAt,
          retentionMs,
          keys.taskPrefix,
          task.idempotencyKey ?? '',
        ],
      );
      const [applied, json, outcome] = reply as [number, string, string];
      if (retentionMs > 0) {
        // The asset index lives as long as its newest task can: its deadline plus the retention of a finished task.
        await redis.pexpire(keys.asset(task.assetId), Math.max(1, Math.ceil(task.deadlineAt - now + retentionMs)));
      }
      return { task: decode(json, outcome), appliedParked: applied === 1 };
    },

    get: readTask,

    async complete(id, outcome): Promise<TransitionResult> {
      const reply = (await runScript(
        redis,
        COMPLETE,
        [keys.task(id), keys.pending, keys.taskKeys(id)],
        [id, outcome.status, encodeOutcome(outcome), retentionMs, keys.idemPrefix],
      )) as [number, string, string] | null;
      if (!reply) return { changed: false, task: null };
      return { changed: reply[0] === 1, task: decode(reply[1], reply[2]) };
    },

    async park(callback: ParkedCallback) {
      const { taskId, outcome, expiresAt } = callback;
      // PX must be positive; an entry already past its expiry by the wall clock just vanishes at once.
      const ttlMs = Math.max(1, Math.ceil(expiresAt - wallClock()));
      const reply = await runScript(
        redis,
        PARK,
        [keys.parked(taskId), keys.task(taskId), keys.parkedIndex],
        [taskId, expiresAt, outcome.status, encodeOutcome(outcome), ttlMs, parkedMax, keys.parkedPrefix],
      );
      return reply === 1;
    },

    async claimSubmission(assetId, token, ttlMs) {
      return (await redis.set(keys.claim(assetId), token, 'PX', pxTtl(ttlMs), 'NX')) === 'OK';
    },

    async renewSubmission(assetId, token, ttlMs) {
      return (await runScript(redis, RENEW_CLAIM, [keys.claim(assetId)], [token, pxTtl(ttlMs)])) === 1;
    },

    async releaseSubmission(assetId, token) {
      return (await runScript(redis, RELEASE_CLAIM, [keys.claim(assetId)], [token])) === 1;
    },

    async listByAsset(assetId) {
      const ids = await redis.zrevrange(keys.asset(assetId), 0, -1);
      if (ids.length === 0) return [];
      const pipeline = redis.pipeline();
      for (const id of ids) pipeline.hmget(keys.task(id), 'task', 'outcome');
      const replies = (await pipeline.exec()) ?? [];
      const tasks: TaskRecord[] = [];
      const expired: string[] = [];
      replies.forEach(([error, value], i) => {
        if (error) throw error;
        const [task, outcome] = value as [string | null, string | null];
        if (task) tasks.push(decode(task, outcome ?? ''));
        else expired.push(ids[i]!);
      });
      if (expired.length > 0) await redis.zrem(keys.asset(assetId), ...expired);
      return tasks;
    },

    async bindIdempotencyKey(key, taskId) {
      const bound = (await runScript(redis, BIND_KEY, [keys.idem(key), keys.task(taskId), keys.taskKeys(taskId)], [taskId, key, keys.taskPrefix])) as
        | string
        | null;
      return bound ? readTask(bound) : null;
    },
    async findByIdempotencyKey(key) {
      const id = await redis.get(keys.idem(key));
      return id ? readTask(id) : null;
    },

    async overdue(now) {
      return (await runScript(redis, OVERDUE, [keys.pending, keys.parkedIndex], [now, keys.parkedPrefix])) as string[];
    },

    pendingCount: () => redis.zcard(keys.pending),

    async dispose() {
      if (options.ownsConnection) await closeRedis(redis);
    },
  };
}

function encodeTask(task: TaskRecord): string {
  return JSON.stringify(taskFields(task));
}

function encodeOutcome(outcome: TaskOutcome): string {
  const { status, collectionId, frameIds, error, completedAt } = outcome;
  return JSON.stringify({ status, collectionId, frameIds, error, completedAt });
}

/** PX must be a positive integer. */
function pxTtl(ms: number): number {
  return Math.max(1, Math.round(ms));
}

function decode(task: string, outcome: string): TaskRecord {
  const base = JSON.parse(task) as TaskRecord;
  return outcome ? applyOutcome(base, JSON.parse(outcome) as TaskOutcome) : base;
}
