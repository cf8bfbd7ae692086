/**
 * The Lua scripts behind {@link createRedisTaskStore} (`redis-store.ts`), one per operation that must be atomic
 * across instances, and the EVALSHA helper that runs them. Key and argument order is documented on each script.
 *
 * The submission claim is a token lock written here rather than taken from `redlock`: redlock@4 (the stable line on
 * npm) is written against the ioredis 4 API and 5.x has stayed a beta for years, while the single-Redis case needs
 * only SET NX PX plus a compare-and-delete and a compare-and-extend script (the algorithm redlock runs per node).
 */
import { createHash } from 'node:crypto';
import type { Redis } from 'ioredis';

/** A script's source and the SHA1 that EVALSHA names it by. */
export interface LuaScript {
  source: string;
  sha: string;
}

/** Names a Lua source by its SHA1 for {@link runScript}. */
export function script(source: string): LuaScript {
  return { source, sha: createHash('sha1').update(source).digest('hex') };
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
 * KEYS: task, parked, asset index, idempotency key (or ''), pending, parked index, the task's key set.
 * ARGV: task JSON, status, now, id, submittedAt, deadlineAt, retention ms (0 = keep), task key prefix, key name.
 * Returns { appliedParked, task JSON, outcome JSON or '' }. The key is bound unless it is bound to a task that
 * still exists; a bound key has the task's TTL (none while PENDING).
 */
export const INSERT = script(`
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
local bind = false
if KEYS[4] ~= '' then
  local bound = redis.call('GET', KEYS[4])
  bind = not bound or redis.call('EXISTS', ARGV[8] .. bound) == 0
end
redis.call('HSET', KEYS[1], 'task', ARGV[1], 'status', status)
if bind then
  redis.call('SET', KEYS[4], ARGV[4])
  redis.call('SADD', KEYS[7], ARGV[9])
end
if applied == 1 then
  redis.call('HSET', KEYS[1], 'outcome', outcome)
  if tonumber(ARGV[7]) > 0 then
    redis.call('PEXPIRE', KEYS[1], ARGV[7])
    if bind then
      redis.call('PEXPIRE', KEYS[4], ARGV[7])
      redis.call('PEXPIRE', KEYS[7], ARGV[7])
    end
  end
end
if status == 'PENDING' then redis.call('ZADD', KEYS[5], ARGV[6], ARGV[4]) end
redis.call('ZADD', KEYS[3], ARGV[5], ARGV[4])
return { applied, ARGV[1], outcome }
`);

/**
 * KEYS: task, pending, the task's key set. ARGV: id, target status, outcome JSON, retention ms (0 = keep), key prefix.
 * Returns nil for an unknown id, else { changed, task JSON, outcome JSON or '' }. Keys bound to the task get its
 * retention TTL, so a binding never outlives (or dies before) its task.
 */
export const COMPLETE = script(`
${CAN_TRANSITION}
local current = redis.call('HMGET', KEYS[1], 'task', 'status', 'outcome')
if not current[1] then return nil end
if not can_transition(current[2], ARGV[2]) then return { 0, current[1], current[3] or '' } end
redis.call('HSET', KEYS[1], 'status', ARGV[2], 'outcome', ARGV[3])
redis.call('ZREM', KEYS[2], ARGV[1])
if tonumber(ARGV[4]) > 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[4])
  for _, key in ipairs(redis.call('SMEMBERS', KEYS[3])) do
    local idem = ARGV[5] .. key
    if redis.call('GET', idem) == ARGV[1] then redis.call('PEXPIRE', idem, ARGV[4]) end
  end
  redis.call('PEXPIRE', KEYS[3], ARGV[4])
end
return { 1, current[1], ARGV[3] }
`);

/**
 * KEYS: idempotency key, task, the task's key set. ARGV: task id, key name, task key prefix.
 * Binds the key to the task unless it is bound to a task that still exists; returns the bound task id, or nil
 * when the key is free and the task unknown.
 */
export const BIND_KEY = script(`
local bound = redis.call('GET', KEYS[1])
if bound and redis.call('EXISTS', ARGV[3] .. bound) == 1 then return bound end
if redis.call('EXISTS', KEYS[2]) == 0 then return false end
redis.call('SET', KEYS[1], ARGV[1])
redis.call('SADD', KEYS[3], ARGV[2])
local ttl = redis.call('PTTL', KEYS[2])
if ttl > 0 then
  redis.call('PEXPIRE', KEYS[1], ttl)
  redis.call('PEXPIRE', KEYS[3], ttl)
end
return ARGV[1]
`);

/**
 * KEYS: parked, task, parked index. ARGV: id, expiresAt, status, outcome JSON, ttl ms, parkedMax, parked key prefix.
 * Returns 1 when parked, 0 when the task or a parked callback already exists.
 */
export const PARK = script(`
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
export const OVERDUE = script(`
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
local expired = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', '(' .. ARGV[1])
for _, id in ipairs(expired) do redis.call('DEL', ARGV[2] .. id) end
if #expired > 0 then redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', '(' .. ARGV[1]) end
return ids
`);

/** KEYS: claim. ARGV: token, ttl ms. Compare-and-extend: 1 when `token` still held the claim and it was extended. */
export const RENEW_CLAIM = script(`
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0
`);

/** KEYS: claim. ARGV: token. Compare-and-delete: 1 when `token` held the claim and it was dropped. */
export const RELEASE_CLAIM = script(`
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`);

/** EVALSHA, falling back to EVAL once when the server does not have the script cached (restart, SCRIPT FLUSH). */
export async function runScript(redis: Redis, lua: LuaScript, keys: string[], args: (string | number)[]): Promise<unknown> {
  const argv = args.map(String);
  try {
    return await redis.evalsha(lua.sha, keys.length, ...keys, ...argv);
  } catch (error) {
    if (!(error instanceof Error) || !error.message.includes('NOSCRIPT')) throw error;
    return redis.eval(lua.source, keys.length, ...keys, ...argv);
  }
}
