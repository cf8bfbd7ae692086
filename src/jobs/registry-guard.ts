/**
 * What "the shared registry is unreachable" means to the layers above: one error class, raised for every
 * {@link TaskStore} call that failed because Redis could not be reached, so the schema can answer
 * SERVICE_UNAVAILABLE and the webhook route can spool the callback instead of refusing it.
 *
 * The registry connection ({@link createRegistryConnection}) is opened with `enableOfflineQueue: false` and
 * `maxRetriesPerRequest: 0`: a command fails at once while Redis is away instead of waiting in ioredis' queue
 * through 20 reconnects; and with a `commandTimeout`, so a command also fails when Redis stops answering on a
 * socket that stays open (a silent partition, a frozen server), where no error would ever come. This module tells
 * those failures apart from Redis answering with an error (a bug, not an outage).
 */
import { Redis, ReplyError, type RedisOptions } from 'ioredis';
import type { OwnershipStore } from './ownership.js';
import type { TaskStore } from './store.js';

/**
 * A registry operation failed because Redis is unreachable. Usually nothing changed; but a command that timed out
 * may still run once Redis answers again, so whatever follows (the spool's replays) must be idempotent.
 */
export class RegistryUnavailableError extends Error {
  override readonly name = 'RegistryUnavailableError';
  constructor(cause: unknown) {
    super('The task registry (Redis) is unreachable', { cause });
  }
}

/** How the registry connection is opened. */
export interface RegistryConnectionOptions {
  /** How long a command waits for its reply before it fails (then as {@link RegistryUnavailableError}). */
  commandTimeoutMs: number;
  /** Overrides for ioredis (tests swap the connector). */
  redisOptions?: RedisOptions;
}

/** Opens the connection the registry (and the shared pacer) run on; see the module comment for its failure modes. */
export function createRegistryConnection(url: string, options: RegistryConnectionOptions): Redis {
  return new Redis(url, {
    connectionName: 'frames-gateway',
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    commandTimeout: options.commandTimeoutMs,
    ...options.redisOptions,
  });
}

/** The messages ioredis rejects commands with when the connection, not Redis, failed. */
const CONNECTION_FAILURES = [
  /Stream isn't writeable/,
  /max retries per request/i,
  /^Connection is closed/,
  /Command timed out/,
  /\b(ECONNREFUSED|ECONNRESET|ETIMEDOUT|EPIPE|EHOSTUNREACH|ENOTFOUND)\b/,
];

/** Whether `error`, thrown by a command on `redis`, means Redis could not be reached (rather than refused it). */
export function isRedisUnavailable(error: unknown, redis: Pick<Redis, 'status'>): boolean {
  if (!(error instanceof Error) || error instanceof ReplyError || error instanceof RegistryUnavailableError) return false;
  // A command failing while the connection is down failed because of it, whatever ioredis called the error.
  return redis.status !== 'ready' || CONNECTION_FAILURES.some((pattern) => pattern.test(error.message));
}

/**
 * Wraps every method of `store` so that a Redis connection failure rejects with {@link RegistryUnavailableError}.
 * A Proxy rather than a hand-written wrapper: the TaskStore interface grows (claims, idempotency bindings), and a
 * method added later must not slip past the translation.
 */
export function guardRegistry<T extends TaskStore | OwnershipStore>(store: T, redis: Pick<Redis, 'status'>): T {
  return new Proxy(store, {
    get(target, property, receiver) {
      const value: unknown = Reflect.get(target, property, receiver);
      if (typeof value !== 'function' || property === 'dispose') return value;
      return async (...args: unknown[]) => {
        try {
          return await (value as (...a: unknown[]) => Promise<unknown>).apply(target, args);
        } catch (error) {
          throw isRedisUnavailable(error, redis) ? new RegistryUnavailableError(error) : error;
        }
      };
    },
  });
}

/**
 * The registry connection's health for `/readyz`: 'ok' when a PING answers within `timeoutMs`, else why not.
 * A PING, not just the ioredis status: a Redis that is stopped (not dead) keeps the socket open and answers nothing.
 */
export async function checkRedis(redis: Pick<Redis, 'status' | 'ping'>, timeoutMs: number): Promise<string> {
  if (redis.status !== 'ready') return `unavailable (connection ${redis.status})`;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<string>((resolve) => {
    timer = setTimeout(() => resolve(`unavailable (no PING reply within ${timeoutMs} ms)`), timeoutMs);
  });
  try {
    return await Promise.race([redis.ping().then(() => 'ok'), timeout]);
  } catch (error) {
    return `unavailable (${error instanceof Error ? error.message : String(error)})`;
  } finally {
    clearTimeout(timer);
  }
}
