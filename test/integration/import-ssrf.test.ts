/**
 * SSRF guard of `importVideo` through the real gateway (default env: guard on) in front of the fake upstream: URLs
 * pointing at this machine are refused without a single request reaching the local server, and nothing is uploaded.
 * With IMPORT_ALLOW_PRIVATE_NETWORKS=true the same URL imports. (Redirect hops and DNS answers are covered by
 * test/unit/ingest/import-video.test.ts with an injected resolver: a public redirect target is not reachable offline.)
 */
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { PRIVATE_ADDRESS_MESSAGE } from '../../src/ingest/address-policy.js';
import { startFakeUpstream, type FakeUpstream } from '../helpers/fake-upstream.js';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';

const IMPORT = readFileSync(new URL('../operations/import-video.graphql', import.meta.url), 'utf8');

let disposers: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const dispose of disposers.reverse()) await dispose();
  disposers = [];
});

/** A video server on every loopback address (dual-stack `::`), recording each request it receives. */
async function startLocalVideoServer() {
  const hits: string[] = [];
  const server = createServer((req, res) => {
    hits.push(req.url ?? '');
    res.writeHead(200, { 'content-type': 'video/mp4' }).end(Buffer.from('not really a video, but bytes'));
  });
  await new Promise<void>((resolve) => server.listen(0, '::', resolve));
  disposers.push(
    () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  );
  return { hits, port: (server.address() as AddressInfo).port };
}

async function setup(env: Record<string, string> = {}): Promise<{ fake: FakeUpstream; gw: TestGateway }> {
  const fake = await startFakeUpstream({ rps: 0 });
  disposers.push(fake.close);
  const gw = await startTestGateway({ upstreamUrl: fake.url, env });
  disposers.push(gw.close);
  return { fake, gw };
}

describe('importVideo SSRF guard (IMPORT_ALLOW_PRIVATE_NETWORKS unset)', () => {
  it.each([
    'http://127.0.0.1:PORT/x.mp4',
    'http://localhost:PORT/x.mp4', // resolved by DNS: refused in the connection's lookup
    'http://[::1]:PORT/x.mp4',
    'http://[::ffff:127.0.0.1]:PORT/x.mp4',
    'http://0x7f.0.0.1:PORT/x.mp4',
  ])('refuses %s: ImportFailedError, no request reaches the server, nothing uploaded', async (template) => {
    const local = await startLocalVideoServer();
    const { fake, gw } = await setup();
    const url = template.replace('PORT', String(local.port));
    const res = await gw.graphql(IMPORT, { url });
    expect(res.errors).toBeUndefined();
    expect(res.data!.importVideo).toEqual({ __typename: 'ImportFailedError', url, message: PRIVATE_ADDRESS_MESSAGE, code: 'IMPORT_FAILED' });
    expect(local.hits).toEqual([]);
    expect(fake.callsTo('POST', '/upload')).toHaveLength(0);
  });
});

describe('importVideo with IMPORT_ALLOW_PRIVATE_NETWORKS=true', () => {
  it('imports from the same local server', async () => {
    const local = await startLocalVideoServer();
    const { fake, gw } = await setup({ IMPORT_ALLOW_PRIVATE_NETWORKS: 'true' });
    const res = await gw.graphql(IMPORT, { url: `http://127.0.0.1:${local.port}/videos/x.mp4` });
    expect(res.errors).toBeUndefined();
    expect(res.data!.importVideo).toMatchObject({
      __typename: 'ImportVideoSuccess',
      asset: { id: expect.stringMatching(/^re_\d{18}$/), filename: 'x.mp4', fileSize: 29 },
    });
    expect(local.hits).toEqual(['/videos/x.mp4']);
    expect(fake.callsTo('POST', '/upload')).toHaveLength(1);
  });
});
