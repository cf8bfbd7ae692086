/**
 * A fake upstream started before each test and one gateway at a time in front of it, started by the test (or its
 * beforeEach) with its own env and deps; both are closed after each test.
 */
import { afterEach, beforeEach } from 'vitest';
import type { GatewayDeps } from '../../src/server.js';
import { startFakeUpstream, type FakeUpstream, type FakeUpstreamOptions } from './fake-upstream.js';
import { startTestGateway, TEST_WEBHOOK_SECRET, type TestGateway } from './gateway.js';

export interface GatewayPerTest {
  /** This test's fake upstream. */
  readonly fake: FakeUpstream;
  /** Closes the gateway started before (if any) and starts one with `env` and `deps` in front of `fake`. */
  start(env?: Record<string, string>, deps?: GatewayDeps): Promise<TestGateway>;
}

/**
 * `webhooks`: aim the fake upstream's callbacks at each gateway started (for tests whose tasks complete);
 * `fake`: options of the fake upstream (e.g. `frameImage` for frames with real pixels).
 */
export function useGatewayPerTest(options: { webhooks: boolean; fake?: FakeUpstreamOptions }): GatewayPerTest {
  let fake: FakeUpstream | undefined;
  let gateway: TestGateway | undefined;
  beforeEach(async () => {
    fake = await startFakeUpstream({ rps: 0, ...options.fake });
  });
  afterEach(async () => {
    await gateway?.close();
    gateway = undefined;
    await fake?.close();
  });
  const current = (): FakeUpstream => {
    if (!fake) throw new Error('useGatewayPerTest(): the fake upstream starts in beforeEach');
    return fake;
  };
  return {
    get fake() {
      return current();
    },
    async start(env = {}, deps) {
      await gateway?.close();
      gateway = undefined;
      const gw = await startTestGateway({ upstreamUrl: current().url, env, ...(deps ? { deps } : {}) });
      gateway = gw;
      if (options.webhooks) current().setWebhookUrl(`${gw.url}/webhooks/mavi/${TEST_WEBHOOK_SECRET}`);
      return gw;
    },
  };
}
