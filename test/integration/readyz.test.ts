/**
 * `/readyz` in embedded mode: the gateway is only ready while its engine answers. A real engine and a real gateway,
 * the engine stopped under it (the situation an orchestrator must see to restart the pod).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createEngine } from '../../src/engine/index.js';
import { startTestGateway, TEST_API_KEY } from '../helpers/gateway.js';

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
