/**
 * `/readyz` in embedded mode: the gateway is only ready while its engine answers. A real engine and a real gateway,
 * the engine stopped under it (the situation an orchestrator must see to restart the pod).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { connect, createServer, type AddressInfo, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { createEngine } from '../../src/engine/index.js';
import { silentLogger } from '../../src/logger.js';
import { createServices } from '../../src/services.js';
import { createDeferred } from '../helpers/deferred.js';
import { startTestGateway, TEST_API_KEY, TEST_WEBHOOK_SECRET } from '../helpers/gateway.js';
import { openTestRedis, TEST_REDIS_URL } from '../helpers/redis.js';

let disposers: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const dispose of disposers.reverse()) await dispose();
  disposers = [];
});

const silent = { info() {}, warn() {}, error() {} };

async function embeddedGateway() {
  const dataDir = await mkdtemp(path.join(tmpdir(), 'readyz-engine-'));
  disposers.push(() => rm(dataDir, { recursive: true, force: true }));
  const engine = await createEngine({ apiKey: TEST_API_KEY, port: 0, dataDir, logger: silent });
  disposers.push(engine.stop);
  const gw = await startTestGateway({ upstreamUrl: engine.url, deps: { engineUrl: engine.url } });
  disposers.push(gw.close);
  const readyz = async () => {
    const res = await fetch(`${gw.url}/readyz`);
    return { status: res.status, body: (await res.json()) as { status: string; checks: Record<string, string> } };
  };
  return { engine, gw, readyz };
}

describe('/readyz with the embedded engine', () => {
  it('is ready and names the engine check while the engine answers', async () => {
    const { readyz } = await embeddedGateway();
    expect(await readyz()).toEqual({ status: 200, body: expect.objectContaining({ status: 'ready', checks: { engine: 'ok' } }) });
  });

  it('answers 503 naming the engine once the engine is stopped, while /healthz stays 200', async () => {
    const { engine, gw, readyz } = await embeddedGateway();
    await engine.stop();
    expect(await readyz()).toEqual({
      status: 503,
      body: expect.objectContaining({ status: 'unavailable', checks: { engine: 'unavailable (ECONNREFUSED)' } }),
    });
    const health = await fetch(`${gw.url}/healthz`);
    expect({ status: health.status, body: await health.json() }).toEqual({ status: 200, body: { status: 'ok' } });
  });

  it('has no engine check when the upstream is remote', async () => {
    const { engine } = await embeddedGateway();
    const gw = await startTestGateway({ upstreamUrl: engine.url });
    disposers.push(gw.close);
    const res = await fetch(`${gw.url}/readyz`);
    expect((await res.json()) as unknown).toEqual(expect.objectContaining({ status: 'ready', checks: {} }));
  });
});

/**
 * A TCP relay to the test Redis that can go silent: `mute()` holds Redis' replies back (the sockets stay open, so the
 * connections stay "ready" and a PING just gets no answer) until `unmute()` delivers them in order.
 */
async function startMutableRelay() {
  const target = new URL(TEST_REDIS_URL);
  const sockets = new Set<Socket>();
  const held: Array<() => void> = [];
  let muted = false;
  let pingWhileMuted = createDeferred();
  const server = createServer((client) => {
    const redis = connect(Number(target.port || 6379), target.hostname);
    sockets.add(client).add(redis);
    client.on('data', (chunk: Buffer) => {
      if (muted && /ping/i.test(chunk.toString('latin1'))) pingWhileMuted.resolve();
      redis.write(chunk);
    });
    redis.on('data', (chunk: Buffer) => (muted ? held.push(() => client.write(chunk)) : client.write(chunk)));
    const close = () => {
      client.destroy();
      redis.destroy();
    };
    client.on('close', close).on('error', close);
    redis.on('close', close).on('error', close);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `redis://127.0.0.1:${(server.address() as AddressInfo).port}`,
    mute() {
      muted = true;
      pingWhileMuted = createDeferred();
    },
    pingWhileMuted: () => pingWhileMuted.promise,
    unmute() {
      muted = false;
      for (const deliver of held.splice(0)) deliver();
    },
    async close() {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

describe('/readyz checks', () => {
  it('runs them at once: with Redis and the engine both silent, the answer comes when ONE check timeout has passed', async () => {
    const redis = await openTestRedis();
    disposers.push(() => redis.dispose());
    const relay = await startMutableRelay();
    disposers.push(() => relay.close());
    const dataDir = await mkdtemp(path.join(tmpdir(), 'readyz-checks-'));
    disposers.push(() => rm(dataDir, { recursive: true, force: true }));
    const engineProbed = createDeferred();
    let engineSilent = false;
    // Once silent, an engine that takes the probe and never answers: only the check's own timeout (an abort) ends it.
    const engine: typeof fetch = async (_input, init) => {
      if (!engineSilent) return new Response(null, { status: 404 });
      engineProbed.resolve();
      return new Promise((_resolve, reject) => init?.signal?.addEventListener('abort', () => reject(init.signal!.reason)));
    };
    const config = loadConfig({
      HOST: '127.0.0.1',
      MAVI_API_KEY: TEST_API_KEY,
      MAVI_WEBHOOK_SECRET: TEST_WEBHOOK_SECRET,
      REDIS_URL: relay.url,
      REDIS_PREFIX: redis.prefix,
      DATA_DIR: dataDir,
      MEDIA_CACHE_DIR: path.join(dataDir, 'media-cache'),
    });
    const runtime = createServices(config, { logger: silentLogger, fetch: engine, engineUrl: 'http://127.0.0.1:9/' });
    disposers.push(() => runtime.dispose());
    await runtime.ready();
    expect(await runtime.readiness()).toEqual({ ok: true, checks: { redis: 'ok', redisPubSub: 'ok', engine: 'ok' } });

    relay.mute();
    engineSilent = true;
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] });
    try {
      const asked = Date.now();
      let answeredAfterMs: number | undefined;
      const answer = runtime.readiness().then((result) => {
        answeredAfterMs = Date.now() - asked;
        return result;
      });
      await relay.pingWhileMuted();
      // Past one check timeout (1 s) and short of two: one after the other would not be done yet.
      await vi.advanceTimersByTimeAsync(1_999);
      expect(answeredAfterMs).toBe(1_000);
      expect(await answer).toEqual({
        ok: false,
        checks: {
          redis: 'unavailable (no PING reply within 1000 ms)',
          redisPubSub: 'ok',
          engine: 'unavailable (no reply within 1000 ms)',
        },
      });
      await engineProbed.promise;
    } finally {
      vi.useRealTimers();
      relay.unmute();
    }
  });
});

