import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/logger.js';
import { createDeferred, type Deferred } from '../helpers/deferred.js';
import { startFakeUpstream, type FakeUpstream } from '../helpers/fake-upstream.js';
import { startTestGateway, TEST_WEBHOOK_SECRET, type TestGateway } from '../helpers/gateway.js';

type Entry = Record<string, unknown> & { msg: string; level: string };
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

/**
 * Captures every line; `waitFor` resolves with the first line (already written or still to come) that matches.
 * No `secrets` on purpose: the request line itself must keep the webhook secret and signatures out, not the scrubber.
 */
function captureLogs() {
  const lines: string[] = [];
  const waiters = new Set<{ match: (e: Entry) => boolean; deferred: Deferred<Entry> }>();
  const logger = createLogger({
    level: 'debug',
    write: (line) => {
      lines.push(line);
      const entry = JSON.parse(line) as Entry;
      for (const waiter of waiters) {
        if (!waiter.match(entry)) continue;
        waiters.delete(waiter);
        waiter.deferred.resolve(entry);
      }
    },
  });
  const entries = () => lines.map((line) => JSON.parse(line) as Entry);
  const waitFor = (match: (e: Entry) => boolean): Promise<Entry> => {
    const found = entries().find(match);
    if (found) return Promise.resolve(found);
    const deferred = createDeferred<Entry>();
    waiters.add({ match, deferred });
    return deferred.promise;
  };
  const requestLine = (requestId: string) => waitFor((e) => e.msg === 'request' && e.request_id === requestId);
  return { logger, lines, entries, waitFor, requestLine };
}

let fake: FakeUpstream;
let gw: TestGateway;
let logs: ReturnType<typeof captureLogs>;

beforeEach(async () => {
  fake = await startFakeUpstream({ rps: 0 });
  logs = captureLogs();
  gw = await startTestGateway({ upstreamUrl: fake.url, logger: logs.logger });
});
afterEach(async () => {
  await gw.close();
  await fake.close();
});

const EXTRACT = /* GraphQL */ `
  mutation Extract($assetId: ID!) {
    extractFrames(assetId: $assetId) { __typename ... on ExtractFramesSuccess { task { id } } }
  }
`;

function postGraphQL(body: Record<string, unknown>, headers: Record<string, string> = {}) {
  return fetch(`${gw.url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json', ...headers },
    body: JSON.stringify(body),
  });
}

describe('request log', () => {
  it('writes one line per request with method, route, status, duration and the GraphQL operation, under a generated request id', async () => {
    const res = await postGraphQL({ query: EXTRACT, variables: { assetId: fake.addAsset() }, operationName: 'Extract' });
    expect(res.status).toBe(200);
    await res.json();
    const requestId = res.headers.get('x-request-id') ?? '';
    expect(requestId).toMatch(UUID);

    const line = await logs.requestLine(requestId);
    expect(line).toEqual({
      level: 'info',
      time: expect.any(String),
      msg: 'request',
      request_id: requestId,
      method: 'POST',
      route: '/graphql',
      status: 200,
      durationMs: expect.any(Number),
      operationName: 'Extract',
      operationType: 'mutation',
    });
    // Lines the services wrote while handling it carry the same id.
    expect(logs.entries().find((e) => e.msg === 'extract submitted')?.request_id).toBe(requestId);

    const anonymous = await postGraphQL({ query: '{ __typename }' });
    await anonymous.json();
    const second = anonymous.headers.get('x-request-id') ?? '';
    expect(second).toMatch(UUID);
    expect(second).not.toBe(requestId);
    expect(await logs.requestLine(second)).toMatchObject({ route: '/graphql', status: 200, operationType: 'query' });
    expect(logs.entries().filter((e) => e.msg === 'request')).toHaveLength(2);
  });

  it('honours a sane x-request-id and replaces one that is not', async () => {
    const sane = await fetch(`${gw.url}/healthz`, { headers: { 'x-request-id': 'router-7f3a.01:b' } });
    expect(sane.headers.get('x-request-id')).toBe('router-7f3a.01:b');
    // Probes are logged at debug level.
    expect(await logs.requestLine('router-7f3a.01:b')).toMatchObject({ level: 'debug', route: '/healthz', status: 200 });

    for (const bad of ['has spaces', 'quote"', 'x'.repeat(129)]) {
      const res = await fetch(`${gw.url}/healthz`, { headers: { 'x-request-id': bad } });
      const replaced = res.headers.get('x-request-id') ?? '';
      expect(replaced).toMatch(UUID);
      await logs.requestLine(replaced);
    }
    expect(logs.lines.join('\n')).not.toContain('has spaces');
  });

  it('never logs the webhook secret, a media signature or a GET document', async () => {
    const hook = await fetch(`${gw.url}/webhooks/mavi/${TEST_WEBHOOK_SECRET}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{not json',
    });
    expect(hook.status).toBe(400);
    const hookId = hook.headers.get('x-request-id') ?? '';
    expect(await logs.requestLine(hookId)).toMatchObject({ level: 'warn', method: 'POST', route: '/webhooks/mavi/tes********', status: 400 });
    expect(logs.entries().find((e) => e.msg === 'malformed webhook body')?.request_id).toBe(hookId);

    const media = await fetch(`${gw.url}/media/imc_660727003963174912_0?exp=4102444800&sig=SIGNATUREVALUE`);
    expect(media.status).toBe(403);
    await media.arrayBuffer();
    const mediaLine = await logs.requestLine(media.headers.get('x-request-id') ?? '');
    expect(mediaLine).toMatchObject({ route: '/media/imc_660727003963174912_0?exp=4102444800', status: 403 });

    const get = await fetch(`${gw.url}/graphql?query=${encodeURIComponent('query Peek { __typename }')}&operationName=Peek`, {
      headers: { accept: 'application/json' },
    });
    await get.json();
    const getLine = await logs.requestLine(get.headers.get('x-request-id') ?? '');
    expect(getLine).toMatchObject({ method: 'GET', route: '/graphql?operationName=Peek', operationName: 'Peek', operationType: 'query' });

    const text = logs.lines.join('\n');
    expect(text).not.toContain(TEST_WEBHOOK_SECRET);
    expect(text).not.toContain('SIGNATUREVALUE');
    expect(text).not.toContain('__typename');
  });

  it('names the operation of a request that fails validation', async () => {
    const res = await postGraphQL({ query: 'query Broken { noSuchField }', operationName: 'Broken' });
    await res.json();
    const line = await logs.requestLine(res.headers.get('x-request-id') ?? '');
    expect(line).toMatchObject({ route: '/graphql', operationName: 'Broken' });
    expect(line.operationType).toBeUndefined();
  });
});
