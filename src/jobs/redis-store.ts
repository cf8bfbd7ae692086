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
 * - `p idem:<key>`      the task id first registered with that idempotency key
 * - `p pending`         sorted set of PENDING task ids by `deadlineAt` (the timeout sweep reads it)
 *
 * Status and `expiresAt` are plain hash fields, so Lua compares them without decoding JSON; JSON is only ever
 * written and read by JS (Lua's cjson would turn `[]` into `{}` and round numbers to 14 digits). Scripts build
 * parked keys from the prefix, so this targets a single Redis (or a primary with replicas), not Redis Cluster.
 */
import { createHash } from 'node:crypto';
import type { Redis } from 'ioredis';
import { applyOutcome, type ParkedCallback, type TaskOutcome, type TaskRecord, type TaskStore, type TransitionResult } from './store.js';

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
   * How long a finished task (and its asset-index entry and idempotency key) is kept, in ms. Default 7 days;
   * 0 keeps them forever.
   */
  retentionMs?: number;
}

/**
 * The transition rule of {@link canTransition} (`store.ts`), in Lua: PENDING → any terminal state; TIMED_OUT →
 * SUCCEEDED or FAILED (a late real result); nothing leaves SUCCEEDED or FAILED.
 */
const CAN_TRANSITION = `
local function can_transition(from, to)
  if to ~= 'SUCCEEDED' and to ~= 'FAILED' and to ~= 'TIMED_OUT' then return false end
  if from == 'PENDING' then return true end
  return from == 'TIMED_OUT' and to ~= 'TIMED_OUT'
end
`;

/**
 * KEYS: task, parked, asset index, idempotency key (or ''), pending, parked index.
 * ARGV: task JSON, status, now, id, submittedAt, deadlineAt, retention ms (0 = keep).
 * Returns { appliedParked, task JSON, outcome JSON or '' }.
 */
const INSERT = script(`
${CAN_TRANSITION}
local existing = redis.call('HMGET', KEYS[1], 'task', 'outcome')
if existing[1] then return { 0, existing[1], existing[2] or '' } end
local status = ARGV[2]
local outcome = ''
local applied = 0
local parked = redis.call('HMGET', KEYS[2], 'expiresAt', 'status', 'outcome')
if parked[1] then
  redis.call('DEL', KEYS[2])
  redis.call('ZREM', KEYS[6], ARGV[4])
  -- expiresAt is checked against the caller's clock: the PX TTL only collects garbage.
  if tonumber(parked[1]) >= tonumber(ARGV[3]) and can_transition(status, parked[2]) then
    status = parked[2]
    outcome = parked[3]
    applied = 1
  end
end
redis.call('HSET', KEYS[1], 'task', ARGV[1], 'status', status)
if applied == 1 then
  redis.call('HSET', KEYS[1], 'outcome', outcome)
  if tonumber(ARGV[7]) > 0 then redis.call('PEXPIRE', KEYS[1], ARGV[7]) end
end
if status == 'PENDING' then redis.call('ZADD', KEYS[5], ARGV[6], ARGV[4]) end
redis.call('ZADD', KEYS[3], ARGV[5], ARGV[4])
if KEYS[4] ~= '' then redis.call('SET', KEYS[4], ARGV[4], 'NX') end
return { applied, ARGV[1], outcome }
`);

/**
 * KEYS: task, pending. ARGV: id, target status, outcome JSON, retention ms (0 = keep).
 * Returns nil for an unknown id, else { changed, task JSON, outcome JSON or '' }.
 */
const COMPLETE = script(`
${CAN_TRANSITION}
local current = redis.call('HMGET', KEYS[1], 'task', 'status', 'outcome')
if not current[1] then return nil end
if not can_transition(current[2], ARGV[2]) then return { 0, current[1], current[3] or '' } end
redis.call('HSET', KEYS[1], 'status', ARGV[2], 'outcome', ARGV[3])
redis.call('ZREM', KEYS[2], ARGV[1])
if tonumber(ARGV[4]) > 0 then redis.call('PEXPIRE', KEYS[1], ARGV[4]) end
return { 1, current[1], ARGV[3] }
`);

/**
 * KEYS: parked, task, parked index. ARGV: id, expiresAt, status, outcome JSON, ttl ms, parkedMax, parked key prefix.
 * Returns 1 when parked, 0 when the task or a parked callback already exists.
 */
const PARK = script(`
if redis.call('EXISTS', KEYS[2]) == 1 or redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], 'expiresAt', ARGV[2], 'status', ARGV[3], 'outcome', ARGV[4])
redis.call('PEXPIRE', KEYS[1], ARGV[5])
redis.call('ZADD', KEYS[3], ARGV[2], ARGV[1])
local excess = redis.call('ZCARD', KEYS[3]) - tonumber(ARGV[6])
if excess > 0 then
  local dropped = redis.call('ZPOPMIN', KEYS[3], excess)
  for i = 1, #dropped, 2 do redis.call('DEL', ARGV[7] .. dropped[i]) end
end
return 1
`);

/**
 * KEYS: pending, parked index. ARGV: now, parked key prefix.
 * Returns the overdue PENDING ids; drops parked callbacks that expired by `now` (as the memory store does).
 */
const OVERDUE = script(`
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
local expired = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', '(' .. ARGV[1])
for _, id in ipairs(expired) do redis.call('DEL', ARGV[2] .. id) end
if #expired > 0 then redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', '(' .. ARGV[1]) end
return ids
`);

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
    idem: (key: string) => `${prefix}idem:${key}`,
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
        ],
        [encodeTask(task), task.status, now, task.id, task.submittedAt, task.deadlineAt, retentionMs],
      );
      const [applied, json, outcome] = reply as [number, string, string];
      if (retentionMs > 0) {
        // Index entries live as long as the task can: its deadline plus the retention of a finished task.
        const ttl = Math.max(1, Math.ceil(task.deadlineAt - now + retentionMs));
        const indexes = redis.pipeline().pexpire(keys.asset(task.assetId), ttl);
        if (task.idempotencyKey) indexes.pexpire(keys.idem(task.idempotencyKey), ttl);
        await indexes.exec();
      }
      return { task: decode(json, outcome), appliedParked: applied === 1 };
    },

    get: readTask,

    async complete(id, outcome): Promise<TransitionResult> {
      const reply = (await runScript(redis, COMPLETE, [keys.task(id), keys.pending], [id, outcome.status, encodeOutcome(outcome), retentionMs])) as
        | [number, string, string]
        | null;
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

    async claimSubmission(assetId, ttlMs) {
      return (await redis.set(keys.claim(assetId), '1', 'PX', Math.max(1, Math.round(ttlMs)), 'NX')) === 'OK';
    },

    async releaseSubmission(assetId) {
      await redis.del(keys.claim(assetId));
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
      // First binding wins (SET NX); answer with whichever task the key is bound to now.
      await redis.set(keys.idem(key), taskId, 'NX');
      return this.findByIdempotencyKey(key);
    },
    async findByIdempotencyKey(key) {
      const id = await redis.get(keys.idem(key));
      return id ? readTask(id) : null;
    },

    async overdue(now) {
      return (await runScript(redis, OVERDUE, [keys.pending, keys.parkedIndex], [now, keys.parkedPrefix])) as string[];
    },

    async dispose() {
      if (options.ownsConnection) await closeRedis(redis);
    },
  };
}

/** Only the declared fields: whatever else rides on the objects never reaches Redis. */
function encodeTask(task: TaskRecord): string {
  const { id, assetId, status, collectionId, frameIds, error, submittedAt, completedAt, deadlineAt, idempotencyKey } = task;
  return JSON.stringify({ id, assetId, status, collectionId, frameIds, error, submittedAt, completedAt, deadlineAt, idempotencyKey });
}

function encodeOutcome(outcome: TaskOutcome): string {
  const { status, collectionId, frameIds, error, completedAt } = outcome;
  return JSON.stringify({ status, collectionId, frameIds, error, completedAt });
}

function decode(task: string, outcome: string): TaskRecord {
  const base = JSON.parse(task) as TaskRecord;
  return outcome ? applyOutcome(base, JSON.parse(outcome) as TaskOutcome) : base;
}

interface LuaScript {
  source: string;
  sha: string;
}

function script(source: string): LuaScript {
  return { source, sha: createHash('sha1').update(source).digest('hex') };
}

/** EVALSHA, falling back to EVAL once when the server does not have the script cached (restart, SCRIPT FLUSH). */
async function runScript(redis: Redis, lua: LuaScript, keys: string[], args: (string | number)[]): Promise<unknown> {
  const argv = args.map(String);
  try {
    return await redis.evalsha(lua.sha, keys.length, ...keys, ...argv);
  } catch (error) {
    if (!(error instanceof Error) || !error.message.includes('NOSCRIPT')) throw error;
    return redis.eval(lua.source, keys.length, ...keys, ...argv);
  }
}

/** QUIT (waits for pending replies); a connection that is down or already closed is just dropped. */
export async function closeRedis(redis: Redis): Promise<void> {
  if (redis.status === 'end') return;
  try {
    await redis.quit();
  } catch {
    redis.disconnect();
  }
}
