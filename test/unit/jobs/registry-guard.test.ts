/**
 * Which Redis failures count as "the registry is unreachable" (answered SERVICE_UNAVAILABLE, webhooks spooled) and
 * which stay what they are (Redis answered: a bug to see, not an outage to wait out).
 */
import { Duplex } from 'node:stream';
import { ReplyError, type Redis } from 'ioredis';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createRedisTaskStore } from '../../../src/jobs/redis-store.js';
import {
  checkRedis,
  createRegistryConnection,
  guardRegistry,
  isRedisUnavailable,
  RegistryUnavailableError,
} from '../../../src/jobs/registry-guard.js';
import { createMemoryTaskStore, type TaskStore } from '../../../src/jobs/store.js';
import { whenReady } from '../../../src/pubsub/redis.js';
import { pendingTask, T0 } from '../../fixtures/tasks.js';

const connection = (status: string) => ({ status }) as { status: 'ready' };

describe('isRedisUnavailable', () => {
  it.each([
    ['ready', new Error("Stream isn't writeable and enableOfflineQueue options is false"), true],
    ['ready', Object.assign(new Error('Reached the max retries per request limit (which is 0).'), { name: 'MaxRetriesPerRequestError' }), true],
    ['ready', new Error('connect ECONNREFUSED 127.0.0.1:6390'), true],
    ['ready', new Error('Command timed out'), true],
    ['reconnecting', new Error('anything at all'), true],
    ['ready', new Error('some bug in the store'), false],
    ['ready', new ReplyError('NOSCRIPT No matching script'), false],
    ['reconnecting', new ReplyError('WRONGTYPE Operation against a key holding the wrong kind of value'), false],
  ])('status %s, %s → %s', (status, error, expected) => {
    expect(isRedisUnavailable(error, connection(status))).toBe(expected);
  });
});

describe('guardRegistry', () => {
  const failing = (error: Error): TaskStore =>
    new Proxy(createMemoryTaskStore(), { get: (target, p) => (p === 'get' ? async () => Promise.reject(error) : Reflect.get(target, p)) });

  it('turns a connection failure of any store method into RegistryUnavailableError, keeping the cause', async () => {
    const cause = new Error('Connection is closed.');
    const store = guardRegistry(failing(cause), connection('reconnecting'));
    const rejection = await store.get('t-1').catch((e: unknown) => e);
    expect(rejection).toBeInstanceOf(RegistryUnavailableError);
    expect((rejection as Error).cause).toBe(cause);
  });

  it('passes other failures and every result through unchanged', async () => {
    const reply = new ReplyError('ERR script crashed');
    await expect(guardRegistry(failing(reply), connection('ready')).get('t-1')).rejects.toBe(reply);
    const store = guardRegistry(createMemoryTaskStore(), connection('ready'));
    await store.insert(pendingTask('t-1'), T0);
    expect(await store.get('t-1')).toEqual(pendingTask('t-1'));
  });
});

describe('checkRedis', () => {
  it('is ok when PING answers, names the connection state when it is down, and gives up on a silent PING', async () => {
    expect(await checkRedis({ status: 'ready', ping: async () => 'PONG' }, 50)).toBe('ok');
    expect(await checkRedis({ status: 'reconnecting', ping: async () => 'PONG' }, 50)).toBe('unavailable (connection reconnecting)');
    vi.useFakeTimers();
    try {
      const silent = checkRedis({ status: 'ready', ping: () => new Promise<'PONG'>(() => {}) }, 1_000);
      await vi.advanceTimersByTimeAsync(1_000);
      expect(await silent).toBe('unavailable (no PING reply within 1000 ms)');
    } finally {
      vi.useRealTimers();
    }
  });
});

/**
 * An ioredis connector whose "socket" takes every byte and never answers: a silent partition (no reset, no close)
 * without opening a real socket.
 */
class SilentConnector {
  stream: Duplex | undefined;
  connecting = false;
  async connect() {
    this.stream = Object.assign(new Duplex({ read() {}, write: (_chunk, _encoding, done) => done() }), {
      setNoDelay() {},
      setKeepAlive() {},
      setTimeout() {},
    });
    return this.stream;
  }
  check() {
    return true;
  }
  disconnect() {
    this.stream?.destroy();
  }
}

describe('createRegistryConnection over a silent link', () => {
  let redis: Redis | undefined;
  afterEach(() => {
    redis?.disconnect();
    redis = undefined;
    vi.useRealTimers();
  });

  it('fails a registry command after commandTimeoutMs, as RegistryUnavailableError, instead of hanging', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    redis = createRegistryConnection('redis://127.0.0.1:6379', {
      commandTimeoutMs: 2_000,
      // Nothing is asked before 'ready' (no name, no client info, no ready check): the link is up, then silent.
      redisOptions: { Connector: SilentConnector as never, connectionName: '', disableClientInfo: true, enableReadyCheck: false },
    });
    await whenReady(redis);
    const store = guardRegistry(createRedisTaskStore({ redis }), redis);
    const settled: unknown[] = [];
    const read = store.get('t-1').catch((error: unknown) => settled.push(error));
    await vi.advanceTimersByTimeAsync(1_999);
    expect(settled).toEqual([]);
    await vi.advanceTimersByTimeAsync(1);
    await read;
    expect(settled).toEqual([expect.any(RegistryUnavailableError)]);
    expect(((settled[0] as Error).cause as Error).message).toBe('Command timed out');
    expect(redis.status).toBe('ready'); // nothing told ioredis the link is gone: only the timeout did
  });
});
