/**
 * The account rate limit across gateway instances. The upstream allows `rps` calls per second per ACCOUNT, so
 * with several instances a per-process {@link Scheduler} is not enough: the pacer keeps one shared "next free
 * slot" in Redis (on Redis' own clock, `TIME`, so instance clocks never matter) and hands out start times spaced
 * `1000 / rps` ms apart.
 *
 * {@link wrapSchedulerWithPacer} combines the two: the local scheduler keeps its per-tenant round-robin order,
 * TENANT_MAX_QUEUED, abort and the `maxWaitMs` fail-fast per instance, and the pacer spaces the starts of every
 * instance. Because each instance only sees its own queue, `maxWaitMs` is approximate across instances: the pacer
 * refuses a slot further away than `maxWaitMs` (nothing is reserved then), but time already spent in the local queue
 * is not subtracted. Fair share is per instance too: a local start reserves the next shared slot at once, so while
 * several instances are saturated their reservations run ahead of the shared rate (up to `maxWaitMs`), and a
 * tenant's first call queues behind them in reservation order rather than getting the next round-robin turn.
 */
import { createHash } from 'node:crypto';
import type { Redis } from 'ioredis';
import { UpstreamError, disposedError } from './errors.js';
import type { ScheduleOptions, Scheduler } from './rate-limit.js';

export interface RedisPacerOptions {
  /** A regular (non-subscriber) ioredis connection; the pacer never closes it. */
  redis: Redis;
  /** Shared by every instance calling with the same account, e.g. `frames:pacer`. */
  key: string;
  /** Starts per second for the whole account. Must be > 0. */
  rps: number;
  /** Extra spacing per interval in ms (default 0), against arrival jitter. */
  marginMs?: number;
}

export interface PacerSlot {
  /** Ms to wait before starting (0 when the slot is free now). */
  waitMs: number;
  /** The reserved start on the Redis clock (epoch ms, µs precision). */
  startAt: number;
}

export interface RedisPacer {
  /** Reserves the next shared slot; resolves with the ms to wait before starting. */
  reserve(maxWaitMs?: number): Promise<number>;
  /**
   * Same as `reserve`, with the slot's start time. With `maxWaitMs`, a slot further away is not reserved and the
   * call rejects with UpstreamError('RATE_LIMITED', { retryAfterSeconds }).
   */
  reserveSlot(maxWaitMs?: number): Promise<PacerSlot>;
}

/**
 * KEYS: next-slot key. ARGV: interval µs, max wait µs (-1: none).
 * Returns { reserved (1/0), slot µs, now µs }. Timestamps are µs on the Redis clock (< 2^53, exact in Lua).
 */
const RESERVE = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local interval = tonumber(ARGV[1])
local slot = math.max(now, tonumber(redis.call('GET', KEYS[1]) or '0'))
local maxWait = tonumber(ARGV[2])
if maxWait >= 0 and slot - now > maxWait then return { 0, slot, now } end
local nextSlot = slot + interval
-- The key outlives its slot by a second, then vanishes: an idle account leaves nothing behind.
redis.call('SET', KEYS[1], string.format('%.0f', nextSlot), 'PX', math.ceil((nextSlot - now) / 1000) + 1000)
return { 1, slot, now }
`;
const RESERVE_SHA = createHash('sha1').update(RESERVE).digest('hex');

/** Creates a pacer: `slot = max(now, next); next = slot + 1000 / rps; wait = slot - now`, atomically in Redis. */
export function createRedisPacer(options: RedisPacerOptions): RedisPacer {
  const { redis, key } = options;
  if (!(options.rps > 0) || !Number.isFinite(options.rps)) throw new RangeError('rps must be a positive number');
  // Same jitter margin as the local scheduler (see SchedulerOptions.marginMs).
  const intervalUs = Math.round(1_000_000 / options.rps + (options.marginMs ?? 0) * 1000);

  const reserveSlot = async (maxWaitMs?: number): Promise<PacerSlot> => {
    const argv = [String(intervalUs), maxWaitMs === undefined ? '-1' : String(Math.floor(maxWaitMs * 1000))];
    let reply: unknown;
    try {
      reply = await redis.evalsha(RESERVE_SHA, 1, key, ...argv).catch((error: unknown) => {
        if (!(error instanceof Error) || !error.message.includes('NOSCRIPT')) throw error;
        return redis.eval(RESERVE, 1, key, ...argv);
      });
    } catch (error) {
      // upstream/ only throws UpstreamError; nothing was sent, so callers see a refusal, not an ambiguous failure.
      throw new UpstreamError('UPSTREAM_ERROR', 'shared rate limiter (Redis) unavailable', { cause: error });
    }
    const [reserved, slot, now] = reply as [number, number, number];
    const waitMs = (slot - now) / 1000;
    if (reserved !== 1) {
      throw new UpstreamError(
        'RATE_LIMITED',
        `shared upstream rate limit: next free slot in ${Math.ceil(waitMs)} ms exceeds ${maxWaitMs} ms`,
        { retryAfterSeconds: Math.max(1, Math.ceil(waitMs / 1000)) },
      );
    }
    return { waitMs, startAt: slot / 1000 };
  };

  return {
    reserveSlot,
    reserve: async (maxWaitMs) => (await reserveSlot(maxWaitMs)).waitMs,
  };
}

export interface WrapSchedulerOptions {
  /** Default for the per-call `maxWaitMs` checked against the shared slot (the local scheduler's own is separate). */
  maxWaitMs?: number;
}

/**
 * A {@link Scheduler} whose starts honour the shared pacer: each task, once the local scheduler starts it, first
 * reserves a shared slot and waits for it. Order, abort and the local `maxWaitMs` stay per instance; spacing
 * holds across instances. `dispose()` disposes the local scheduler and rejects tasks still waiting for their slot.
 */
export function wrapSchedulerWithPacer(
  scheduler: Scheduler,
  pacer: Pick<RedisPacer, 'reserve'>,
  options: WrapSchedulerOptions = {},
): Scheduler {
  const waiting = new Set<(reason: unknown) => void>();
  let disposed = false;

  const waitForSlot = (ms: number, signal?: AbortSignal): Promise<void> =>
    new Promise<void>((resolve, reject) => {
      if (ms <= 0) {
        resolve();
        return;
      }
      const fail = (reason: unknown): void => {
        clearTimeout(timer);
        waiting.delete(fail);
        signal?.removeEventListener('abort', onAbort);
        reject(reason);
      };
      const onAbort = (): void => fail(signal?.reason);
      const timer = setTimeout(() => {
        waiting.delete(fail);
        signal?.removeEventListener('abort', onAbort);
        resolve();
      }, Math.ceil(ms));
      waiting.add(fail);
      signal?.addEventListener('abort', onAbort, { once: true });
    });

  return {
    schedule<T>(task: () => Promise<T>, callOptions: ScheduleOptions = {}): Promise<T> {
      const maxWaitMs = callOptions.maxWaitMs ?? options.maxWaitMs;
      return scheduler.schedule(async () => {
        const wait = await pacer.reserve(maxWaitMs);
        if (disposed) throw disposedError('upstream scheduler', 'the call');
        callOptions.signal?.throwIfAborted();
        await waitForSlot(wait, callOptions.signal);
        return task();
      }, callOptions);
    },
    get started() {
      return scheduler.started;
    },
    get pending() {
      return scheduler.pending;
    },
    dispose() {
      disposed = true;
      scheduler.dispose();
      for (const fail of [...waiting]) fail(disposedError('upstream scheduler', 'the call'));
    },
  };
}
