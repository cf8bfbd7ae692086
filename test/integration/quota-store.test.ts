/**
 * ONE quota contract, run over the memory budget (RateLimiterMemory) and the Redis budget (RateLimiterRedis on a
 * real Redis), so the two cannot drift apart. Each kind opens two handles on one shared budget (memory: the same
 * object; Redis: two connections, one prefix, as two gateway instances have) and says how the hour passes (memory:
 * fake clock; Redis: the key's TTL running out, simulated by deleting exactly that key after checking its TTL).
 */
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import type { Redis } from 'ioredis';
import {
  QuotaExhaustedError,
  billed,
  createQuota,
  createQuotas,
  meterClient,
  type Quota,
} from '../../src/jobs/quota.js';
import { RegistryUnavailableError, createRegistryConnection } from '../../src/jobs/registry-guard.js';
import { runAsTenant } from '../../src/tenancy.js';
import type { UpstreamClient } from '../../src/upstream/client.js';
import { UpstreamError } from '../../src/upstream/errors.js';
import { openTestRedis, type TestRedis } from '../helpers/redis.js';

let redis: TestRedis;
beforeAll(async () => {
  redis = await openTestRedis();
});
afterAll(async () => {
  await redis?.dispose();
});
afterEach(() => {
  vi.useRealTimers();
});

interface Pair {
  a: Quota;
  b: Quota;
  /** Lets the tenant's hour pass. */
  lapseHour(tenant: string): Promise<void>;
}

interface QuotaKind {
  name: string;
  open(perHour: number, budget?: 'extractions' | 'uploads'): Pair;
}

let opened = 0;
const kinds: QuotaKind[] = [
  {
    name: 'memory',
    open(perHour, budget = 'extractions') {
      vi.useFakeTimers({ toFake: ['Date', 'setTimeout', 'clearTimeout'] });
      const quota = createQuota({ budget, perHour, prefix: 'frames:' });
      return { a: quota, b: quota, lapseHour: async () => void vi.advanceTimersByTime(3_600_000) };
    },
  },
  {
    name: 'redis',
    open(perHour, budget = 'extractions') {
      const prefix = `${redis.prefix}q${++opened}:`;
      const [a, b] = [redis.connect(), redis.connect()].map((connection) => createQuota({ budget, perHour, prefix, redis: connection }));
      return {
        a: a!,
        b: b!,
        async lapseHour(tenant) {
          const key = `${prefix}quota:${budget}:${tenant}`;
          const ttl = await redis.admin.pttl(key);
          // The window is the hour that began with the first charge.
          expect(ttl).toBeGreaterThan(3_590_000);
          expect(ttl).toBeLessThanOrEqual(3_600_000);
          await redis.admin.del(key);
        },
      };
    },
  },
];

const refusal = async (promise: Promise<unknown>): Promise<QuotaExhaustedError> => {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(QuotaExhaustedError);
  return error as QuotaExhaustedError;
};

describe.each(kinds)('quota over $name', (kind) => {
  it('charges up to the hourly budget across both handles, then refuses with the seconds until it refills', async () => {
    const { a, b, lapseHour } = kind.open(3);
    await a.charge('acme');
    await b.charge('acme');
    await a.charge('acme');
    const refused = await refusal(b.charge('acme'));
    expect(refused.budget).toBe('extractions');
    expect(refused.perHour).toBe(3);
    expect(refused.retryAfterSeconds).toBeGreaterThan(3590);
    expect(refused.retryAfterSeconds).toBeLessThanOrEqual(3600);
    expect(await a.remaining('acme')).toBe(0);
    await lapseHour('acme');
    expect(await b.remaining('acme')).toBe(3);
    await b.charge('acme');
  });

  it('keeps each tenant on its own budget', async () => {
    const { a, b } = kind.open(1);
    await a.charge('acme');
    await refusal(b.charge('acme'));
    await b.charge('globex');
    expect(await a.remaining('globex')).toBe(0);
    expect(await a.remaining('initech')).toBe(1);
  });

  it('a refund gives back exactly the unit it charged, once', async () => {
    const { a, b } = kind.open(2);
    const refund = await a.charge('acme');
    await a.charge('acme');
    await refusal(b.charge('acme'));
    // The refused charge must not swallow this refund.
    await refund();
    await refund();
    expect(await b.remaining('acme')).toBe(1);
    await b.charge('acme');
    await refusal(a.charge('acme'));
  });

  it('ensureAvailable refuses an exhausted budget without consuming anything', async () => {
    const { a, b } = kind.open(2);
    await a.ensureAvailable('acme');
    await a.ensureAvailable('acme');
    expect(await b.remaining('acme')).toBe(2);
    await a.charge('acme');
    await a.charge('acme');
    const refused = await refusal(b.ensureAvailable('acme'));
    expect(refused.retryAfterSeconds).toBeGreaterThan(3590);
  });

  it('a budget of 0 per hour refuses every charge', async () => {
    const { a } = kind.open(0, 'uploads');
    const refused = await refusal(a.charge('acme'));
    expect(refused).toMatchObject({ budget: 'uploads', perHour: 0, retryAfterSeconds: 3600 });
    await refusal(a.ensureAvailable('acme'));
    expect(await a.remaining('acme')).toBe(0);
  });

  it('billed() keeps the charge of a call that may have been billed and refunds one that was refused', async () => {
    const { a } = kind.open(5);
    const ran = await runAsTenant('acme', () => billed(a, async () => 'ok'));
    expect(ran).toBe('ok');
    const fail = (error: unknown) => runAsTenant('acme', () => billed(a, () => Promise.reject(error))).catch(() => undefined);
    // Refused: nothing was billed.
    await fail(new UpstreamError('RATE_LIMITED', 'queue full', { retryAfterSeconds: 3 }));
    await fail(new UpstreamError('PAYMENT_REQUIRED', 'no credits', { status: 402 }));
    await fail(new UpstreamError('BAD_REQUEST', 'invalid id'));
    expect(await a.remaining('acme')).toBe(4);
    // Ambiguous: the upstream may have taken (and billed) it.
    await fail(new UpstreamError('UPSTREAM_ERROR', '502', { status: 502 }));
    await fail(new UpstreamError('TIMEOUT', 'no reply'));
    expect(await a.remaining('acme')).toBe(2);
  });

  it('meterClient charges extractFrames and upload to their budgets and leaves other calls free', async () => {
    const extractions = kind.open(1, 'extractions').a;
    const uploads = kind.open(1, 'uploads').a;
    const calls: string[] = [];
    const client = {
      getMetadata: async () => (calls.push('getMetadata'), { resources: [] }),
      extractFrames: async () => (calls.push('extractFrames'), { taskId: 't1' }),
      upload: async () => (calls.push('upload'), { assetId: 're_1' }),
      download: async () => Promise.reject(new Error('unused')),
      deleteAsset: async () => void calls.push('deleteAsset'),
    } as unknown as UpstreamClient;
    const metered = meterClient(client, { extractions, uploads });
    await runAsTenant('acme', async () => {
      await metered.getMetadata('re_1');
      await metered.getMetadata('re_1');
      await metered.extractFrames('re_1');
      await refusal(metered.extractFrames('re_1'));
      await metered.upload({ body: new Blob(['x']), filename: 'a.mp4' });
      await refusal(metered.upload({ body: new Blob(['x']), filename: 'a.mp4' }));
      await metered.deleteAsset('re_1');
    });
    expect(calls).toEqual(['getMetadata', 'getMetadata', 'extractFrames', 'upload', 'deleteAsset']);
  });
});

describe('quota on Redis', () => {
  it('both budgets of createQuotas are separate keys', async () => {
    const prefix = `${redis.prefix}both:`;
    const quotas = createQuotas({ extractionsPerHour: 1, uploadsPerHour: 1, prefix, redis: redis.connect() });
    await quotas.extractions.charge('acme');
    await quotas.uploads.charge('acme');
    expect((await redis.admin.keys(`${prefix}*`)).sort()).toEqual([`${prefix}quota:extractions:acme`, `${prefix}quota:uploads:acme`]);
  });

  it('an unreachable Redis is a RegistryUnavailableError (SERVICE_UNAVAILABLE), never a free pass', async () => {
    // Port 1: nothing listens, and the registry connection has no offline queue, so commands fail at once.
    const connection: Redis = createRegistryConnection('redis://127.0.0.1:1', {
      commandTimeoutMs: 500,
      redisOptions: { retryStrategy: () => null, lazyConnect: true },
    });
    connection.on('error', () => undefined);
    try {
      const quota = createQuota({ budget: 'extractions', perHour: 5, prefix: 'x:', redis: connection });
      await expect(quota.charge('acme')).rejects.toBeInstanceOf(RegistryUnavailableError);
      await expect(quota.ensureAvailable('acme')).rejects.toBeInstanceOf(RegistryUnavailableError);
    } finally {
      connection.disconnect();
    }
  });
});
