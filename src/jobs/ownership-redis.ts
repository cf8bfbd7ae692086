/**
 * The shared {@link OwnershipStore} on Redis, so every instance sees who owns what. Each write is one Lua script
 * (first owner wins across instances; forget removes the record and its list entry together).
 *
 * Key layout (`p` = prefix, default `frames:`):
 * - `p owner:<kind>:<id>`     the owning tenant; PX TTL of the kind's retention (tasks), none for assets/collections
 * - `p owned:<kind>:<tenant>` sorted set of the tenant's ids by first-claim `at` (the list); with a retention, the
 *                             set's TTL is that of its newest record, and entries whose record is gone are removed
 *                             as a list walks past them
 *
 * Like the task registry, scripts build record names from the prefix: a single Redis, not Redis Cluster.
 */
import type { Redis } from 'ioredis';
import { closeRedis } from '../redis/close.js';
import { checkFirst, decodeCursor, encodeCursor, type OwnedKind, type OwnedPage, type OwnershipRetention, type OwnershipStore } from './ownership.js';
import { runScript, script } from './redis-scripts.js';

export interface RedisOwnershipStoreOptions {
  /** An ioredis connection (not in subscriber mode). */
  redis: Redis;
  /** Key prefix shared by every instance of one deployment. Default `frames:`. */
  prefix?: string;
  /** Retention per kind after the last claim, in ms (absent or 0: until forgotten). */
  retentionMs?: OwnershipRetention;
  /** Whether `dispose()` closes `redis`. Default false: a shared connection is left to its owner. */
  ownsConnection?: boolean;
}

/**
 * KEYS: owner record, the tenant's list. ARGV: tenant, at, id, retention ms (0 = keep).
 * Returns the owner after the claim (another tenant's when it was taken).
 */
const CLAIM = script(`
local owner = redis.call('GET', KEYS[1])
if owner and owner ~= ARGV[1] then return owner end
local ttl = tonumber(ARGV[4])
if ttl > 0 then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ttl)
else
  redis.call('SET', KEYS[1], ARGV[1])
end
redis.call('ZADD', KEYS[2], 'NX', ARGV[2], ARGV[3])
-- Retention is constant per kind, so this claim is the newest to expire: the list lives exactly as long.
if ttl > 0 then redis.call('PEXPIRE', KEYS[2], ttl) end
return ARGV[1]
`);

/** KEYS: owner record. ARGV: list key prefix (`p owned:<kind>:`), id. Drops the record and its list entry. */
const FORGET = script(`
local owner = redis.call('GET', KEYS[1])
if not owner then return 0 end
redis.call('DEL', KEYS[1])
redis.call('ZREM', ARGV[1] .. owner, ARGV[2])
return 1
`);

/**
 * KEYS: the tenant's list. ARGV: record key prefix (`p owner:<kind>:`), tenant, cursor at or '', cursor id, first.
 * Returns up to first + 1 flat { id, score } pairs after the cursor whose record still names the tenant; entries
 * whose record expired (or was taken over after expiring) are removed on the way. Ties are ordered byte-wise here,
 * as ZREVRANGEBYSCORE orders them: Lua's own string comparison follows the server's locale.
 */
const LIST = script(`
local function byte_less(a, b)
  for i = 1, math.min(#a, #b) do
    local x, y = string.byte(a, i), string.byte(b, i)
    if x ~= y then return x < y end
  end
  return #a < #b
end
local first = tonumber(ARGV[5])
local max = ARGV[3] == '' and '+inf' or ARGV[3]
local out = {}
local offset = 0
while #out <= first * 2 do
  local rows = redis.call('ZREVRANGEBYSCORE', KEYS[1], max, '-inf', 'WITHSCORES', 'LIMIT', offset, first + 1)
  if #rows == 0 then break end
  local removed = 0
  for i = 1, #rows, 2 do
    local id, score = rows[i], rows[i + 1]
    if ARGV[3] == '' or tonumber(score) < tonumber(ARGV[3]) or byte_less(id, ARGV[4]) then
      if redis.call('GET', ARGV[1] .. id) == ARGV[2] then
        if #out < (first + 1) * 2 then
          out[#out + 1] = id
          out[#out + 1] = score
        end
      else
        redis.call('ZREM', KEYS[1], id)
        removed = removed + 1
      end
    end
  end
  offset = offset + #rows / 2 - removed
end
return out
`);

/** Creates the Redis-backed {@link OwnershipStore}. Instances sharing `prefix` share every record. */
export function createRedisOwnershipStore(options: RedisOwnershipStoreOptions): OwnershipStore {
  const { redis } = options;
  const prefix = options.prefix ?? 'frames:';
  const keys = {
    ownerPrefix: (kind: OwnedKind) => `${prefix}owner:${kind}:`,
    owner: (kind: OwnedKind, id: string) => `${prefix}owner:${kind}:${id}`,
    listPrefix: (kind: OwnedKind) => `${prefix}owned:${kind}:`,
    list: (kind: OwnedKind, tenant: string) => `${prefix}owned:${kind}:${tenant}`,
  };
  const retention = (kind: OwnedKind) => Math.max(0, Math.round(options.retentionMs?.[kind] ?? 0));

  return {
    async claim(kind, id, tenant, at) {
      return (await runScript(redis, CLAIM, [keys.owner(kind, id), keys.list(kind, tenant)], [tenant, at, id, retention(kind)])) as string;
    },
    ownerOf: (kind, id) => redis.get(keys.owner(kind, id)),
    async list(kind, tenant, page): Promise<OwnedPage> {
      checkFirst(page.first);
      const after = decodeCursor(page.after);
      const reply = (await runScript(
        redis,
        LIST,
        [keys.list(kind, tenant)],
        [keys.ownerPrefix(kind), tenant, after ? after.at : '', after ? after.id : '', page.first],
      )) as string[];
      const rows: { id: string; at: number }[] = [];
      for (let i = 0; i < reply.length; i += 2) rows.push({ id: reply[i]!, at: Number(reply[i + 1]) });
      const taken = rows.slice(0, page.first);
      const last = taken.at(-1);
      return { ids: taken.map((r) => r.id), endCursor: last ? encodeCursor(last) : null, hasNextPage: rows.length > taken.length };
    },
    async forget(kind, id) {
      await runScript(redis, FORGET, [keys.owner(kind, id)], [keys.listPrefix(kind), id]);
    },
    async dispose() {
      if (options.ownsConnection) await closeRedis(redis);
    },
  };
}
