/**
 * Which Redis failures count as "the registry is unreachable" (answered SERVICE_UNAVAILABLE, webhooks spooled) and
 * which stay what they are (Redis answered: a bug to see, not an outage to wait out).
 */
import { ReplyError } from 'ioredis';
import { describe, expect, it, vi } from 'vitest';
import { checkRedis, guardRegistry, isRedisUnavailable, RegistryUnavailableError } from '../../../src/jobs/registry-guard.js';
import { createMemoryTaskStore, type TaskStore } from '../../../src/jobs/store.js';
import { pendingTask, T0 } from '../../fixtures/tasks.js';

const connection = (status: string) => ({ status }) as { status: 'ready' };

describe('isRedisUnavailable', () => {
  it.each([
    ['ready', new Error("Stream isn't writeable and enableOfflineQueue options is false"), true],
    ['ready', Object.assign(new Error('Reached the max retries per request limit (which is 0).'), { name: 'MaxRetriesPerRequestError' }), true],
    ['ready', new Error('connect ECONNREFUSED 127.0.0.1:6390'), true],
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
