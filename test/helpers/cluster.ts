/**
 * Several gateway instances over one real Redis (one REDIS_PREFIX per cluster) in front of one fake upstream, for
 * the cross-instance integration tests. Every instance and the fake upstream are closed after each test.
 */
import { afterEach } from 'vitest';
import type { Logger } from '../../src/logger.js';
import { startFakeUpstream, type FakeUpstream } from './fake-upstream.js';
import { startTestGateway, type TestGateway } from './gateway.js';
import { TEST_REDIS_URL, useTestRedis, type TestRedis } from './redis.js';

export interface InstanceOptions {
  /** Added to the instance's env (REDIS_URL and REDIS_PREFIX come from the cluster). */
  env: Record<string, string>;
  logger?: Logger;
}

export interface GatewayCluster {
  /** The file's Redis (see useTestRedis). */
  redis: TestRedis;
  /** The fake upstream of the cluster started by this test; throws when none was started. */
  readonly fake: FakeUpstream;
  /** Starts the fake upstream and `count` instances on a fresh prefix `<file prefix><tag><n>:`. */
  start(count: number, options: (index: number) => InstanceOptions): Promise<{ fake: FakeUpstream; gateways: TestGateway[] }>;
}

/** Registers the file's Redis hooks and an afterEach that closes what `start` opened; `tag` names the prefixes. */
export function useGatewayCluster(tag: string): GatewayCluster {
  const redis = useTestRedis();
  let fake: FakeUpstream | undefined;
  const gateways: TestGateway[] = [];
  let clusters = 0;
  afterEach(async () => {
    await Promise.all(gateways.splice(0).map((g) => g.close()));
    await fake?.close();
    fake = undefined;
  });
  return {
    redis,
    get fake() {
      if (!fake) throw new Error('useGatewayCluster(): no cluster started in this test');
      return fake;
    },
    async start(count, options) {
      const upstream = await startFakeUpstream({ rps: 0 });
      fake = upstream;
      const prefix = `${redis.prefix}${tag}${++clusters}:`;
      for (let i = 0; i < count; i++) {
        const { env, logger } = options(i);
        gateways.push(
          await startTestGateway({ upstreamUrl: upstream.url, env: { REDIS_URL: TEST_REDIS_URL, REDIS_PREFIX: prefix, ...env }, ...(logger ? { logger } : {}) }),
        );
      }
      return { fake: upstream, gateways: [...gateways] };
    },
  };
}
