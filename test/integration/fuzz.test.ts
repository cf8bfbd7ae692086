/**
 * Property-based fuzzing (fast-check) of everything a stranger can send: every id argument, webhook bodies, media
 * URLs and (fuzz-auth.test.ts) tokens. Properties: no 5xx (the fake upstream never fails here, so no 5xx is honest),
 * no masked "Unexpected error", and a rejected input changes nothing: no upstream call, the registry as it was.
 * Seeded (test/helpers/fuzz.ts); a failure prints the seed and the shrunk input.
 */
import { request } from 'node:http';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TASK_ID_PATTERN } from '../../src/upstream/types.js';
import { startFakeUpstream, type FakeUpstream } from '../helpers/fake-upstream.js';
import { fuzzParams, ID_FIELDS, idArbitrary, webhookBodyArbitrary } from '../helpers/fuzz.js';
import { startTestGateway, TEST_WEBHOOK_SECRET, type GraphQLResponse, type TestGateway } from '../helpers/gateway.js';

let fake: FakeUpstream;
let gw: TestGateway;

beforeAll(async () => {
  fake = await startFakeUpstream({ rps: 0 });
  gw = await startTestGateway({ upstreamUrl: fake.url, env: { UPSTREAM_RPS: '1000' } });
  fake.setWebhookUrl(`${gw.url}/webhooks/mavi/${TEST_WEBHOOK_SECRET}`);
});

afterAll(async () => {
  await gw?.close();
  await fake?.close();
});

/** POSTs a GraphQL request and keeps the HTTP status (the helper's `graphql` drops it). */
async function post(query: string, variables?: Record<string, unknown>): Promise<{ status: number; body: GraphQLResponse }> {
  const res = await fetch(`${gw.url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json, application/json' },
    body: JSON.stringify({ query, variables }),
  });
  return { status: res.status, body: (await res.json()) as GraphQLResponse };
}

/** A raw request whose path is sent byte for byte (fetch would normalise `..`, `//` and percent-escapes). */
function rawRequest(method: string, path: string, body?: string): Promise<number> {
  const url = new URL(gw.url);
  return new Promise((resolve, reject) => {
    const req = request({ host: url.hostname, port: url.port, method, path, headers: body === undefined ? {} : { 'content-type': 'application/json' } }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    req.end(body);
  });
}

const masked = (body: GraphQLResponse) => (body.errors ?? []).filter((e) => /unexpected error/i.test(e.message));
const upstreamCalls = () => fake.calls.length;

describe('fuzzing id arguments', () => {
  it('answers every id of every field without a 5xx or a crash; a malformed id costs no upstream call and no task', async () => {
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...ID_FIELDS), idArbitrary, async (field, id) => {
        const before = upstreamCalls();
        const { status, body } = await post(field.query, { id });
        expect(status).toBeLessThan(500);
        expect(masked(body)).toEqual([]);
        // A malformed id is refused before the upstream (the task lookup never goes there); a well-formed one may
        // cost a metadata read (or, for a delete, a DELETE answered "not found"), never a billed POST: nothing the
        // fuzzer sends names an asset the upstream has.
        const calls = fake.calls.slice(before);
        if (!(field.pattern?.test(id) ?? false)) expect(calls).toEqual([]);
        expect(calls.filter((c) => c.method === 'POST' || (c.method === 'DELETE' && c.status < 400))).toEqual([]);
        expect(await gw.gateway.services.tasks.listByAsset(id)).toEqual([]);
        expect(fake.tasks.size).toBe(0);
      }),
      fuzzParams(200),
    );
  });

  it('answers any page arguments of the two lists with a page or a clear error, without an upstream call', async () => {
    const lists = ['frameExtractionTasks', 'videoAssets'] as const;
    const after = fc.oneof(fc.constant(null), idArbitrary, idArbitrary.map((s) => Buffer.from(s).toString('base64url')));
    const first = fc.oneof(fc.constant(null), fc.integer({ min: -5, max: 200 }), fc.constantFrom(-(2 ** 31), 2 ** 31 - 1));
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...lists), first, after, async (list, n, cursor) => {
        const before = upstreamCalls();
        const { status, body } = await post(`query($n: Int, $a: String) { ${list}(first: $n, after: $a) { edges { cursor } pageInfo { hasNextPage } } }`, {
          n,
          a: cursor,
        });
        expect(status).toBeLessThan(500);
        expect(masked(body)).toEqual([]);
        // A page or a coded error, never neither.
        if (!body.data?.[list]) expect(body.errors?.[0]?.extensions?.['code']).toEqual(expect.any(String));
        expect(upstreamCalls()).toBe(before);
      }),
      fuzzParams(100),
    );
  });

  it('ends a subscription to any task id with an error and releases it, over graphql-ws and SSE', async () => {
    const query = 'subscription($id: ID!) { frameExtractionTask(id: $id) { id status } }';
    await fc.assert(
      fc.asyncProperty(fc.constantFrom('ws', 'sse'), idArbitrary, async (transport, id) => {
        const before = upstreamCalls();
        const sub = transport === 'ws' ? gw.subscribeWs(query, { id }) : gw.subscribeSse(query, { id });
        const ended = await sub.completed.then(
          () => 'complete',
          (error: unknown) => error,
        );
        const first = sub.events.size > 0 ? await sub.events.next() : undefined;
        await sub.dispose();
        // graphql-ws reports a validation-time error as an `error` message; both transports name the code otherwise.
        const codes = (first?.errors ?? []).map((e) => e.extensions?.['code']);
        if (first) expect(codes).toEqual([TASK_ID_PATTERN.test(id) ? 'TASK_NOT_FOUND' : 'INVALID_TASK_ID']);
        else expect(ended).not.toBe('complete');
        expect(first?.data?.['frameExtractionTask'] ?? null).toBeNull();
        expect(upstreamCalls()).toBe(before);
        expect(gw.gateway.services.pubsub.listenerCount()).toBe(0);
      }),
      fuzzParams(60),
    );
  });
});

describe('fuzzing the webhook', () => {
  it('answers any body with 200, 400 or 413; a refused body changes no task and calls nothing upstream', async () => {
    const asset = fake.addAsset({ filename: 'w.mp4' });
    const extract = async () => {
      const res = await post('mutation($id: ID!) { extractFrames(assetId: $id, force: true) { ... on ExtractFramesSuccess { task { id } } } }', {
        id: asset,
      });
      return (res.body.data as { extractFrames: { task: { id: string } } }).extractFrames.task.id;
    };
    let taskId = await extract();
    const taskIds = fc.oneof(fc.constant(taskId), fc.constant(null), fc.integer(), fc.stringMatching(/^[A-Za-z0-9_-]{1,130}$/), fc.jsonValue());
    await fc.assert(
      fc.asyncProperty(webhookBodyArbitrary(fc.oneof(taskIds, fc.constant('TASK'))), async (template) => {
        const text = template.replaceAll('"TASK"', JSON.stringify(taskId));
        const record = await gw.gateway.services.tasks.get(taskId);
        const before = upstreamCalls();
        const status = await rawRequest('POST', `/webhooks/mavi/${TEST_WEBHOOK_SECRET}`, text);
        expect([200, 400, 413]).toContain(status);
        expect(upstreamCalls()).toBe(before);
        const after = await gw.gateway.services.tasks.get(taskId);
        if (status !== 200) expect(after).toEqual(record);
        // An accepted callback for the task may legitimately settle it: carry on with a fresh PENDING one.
        if (after?.status !== 'PENDING') taskId = await extract();
      }),
      fuzzParams(200),
    );
  });

  it('answers 404 on any other webhook path, whatever the body', async () => {
    await fc.assert(
      fc.asyncProperty(fc.stringMatching(/^[A-Za-z0-9_%.~-]{0,64}$/), webhookBodyArbitrary(fc.string()), async (secret, body) => {
        fc.pre(secret !== TEST_WEBHOOK_SECRET);
        expect(await rawRequest('POST', `/webhooks/mavi/${secret}`, body)).toBe(404);
      }),
      fuzzParams(100),
    );
  });
});

describe('fuzzing media URLs', () => {
  it('refuses any forged, tampered or malformed media URL with a 4xx before any upstream call', async () => {
    const { frameIds } = fake.addCollection(2);
    const res = await post('query($id: ID!) { frame(id: $id) { url } }', { id: frameIds[0] });
    const valid = new URL((res.body.data as { frame: { url: string } }).frame.url);
    const [exp, sig] = [valid.searchParams.get('exp')!, valid.searchParams.get('sig')!];
    const mutateChar = (s: string, i: number, c: string) => {
      const at = i % s.length;
      return s.slice(0, at) + c + s.slice(at + 1);
    };
    const path = fc.oneof(
      // Random id, exp and sig.
      fc.tuple(fc.string({ maxLength: 40 }), fc.string({ maxLength: 15 }), fc.string({ maxLength: 50 })).map(
        ([id, e, s]) => `/media/${encodeURIComponent(id)}?exp=${encodeURIComponent(e)}&sig=${encodeURIComponent(s)}`,
      ),
      // The valid URL with one thing changed: a signature character, the expiry, the id.
      fc.tuple(fc.nat(), fc.constantFrom(...'ABCXYZabcxyz0189-_')).map(([i, c]) => [mutateChar(sig, i, c), c] as const)
        .filter(([s]) => s !== sig)
        .map(([s]) => `/media/${frameIds[0]}?exp=${exp}&sig=${s}`),
      fc.stringMatching(/^[0-9]{1,12}$/).filter((e) => e !== exp).map((e) => `/media/${frameIds[0]}?exp=${e}&sig=${sig}`),
      fc.constantFrom(frameIds[1]!, `${frameIds[0]}0`, frameIds[0]!.toUpperCase()).map((id) => `/media/${id}?exp=${exp}&sig=${sig}`),
      fc.constantFrom(`/media/${frameIds[0]}`, `/media/${frameIds[0]}?sig=${sig}`, `/media/${frameIds[0]}?exp=${exp}`, `/media/%2e%2e/${frameIds[0]}?exp=${exp}&sig=${sig}`),
    );
    await fc.assert(
      fc.asyncProperty(path, fc.constantFrom('GET', 'HEAD'), async (target, method) => {
        const before = upstreamCalls();
        const status = await rawRequest(method, target);
        expect(status).toBeGreaterThanOrEqual(400);
        expect(status).toBeLessThan(500);
        expect(upstreamCalls()).toBe(before);
      }),
      fuzzParams(200),
    );
    // The untampered URL still works (the properties above are not passing because every URL fails).
    expect(await rawRequest('GET', `${valid.pathname}${valid.search}`)).toBe(200);
  });
});
