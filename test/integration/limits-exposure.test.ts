/**
 * Operation limits (graphql-armor through GRAPHQL_MAX_*), the JSON body cap (GRAPHQL_MAX_BODY_BYTES), GraphiQL and
 * introspection exposure, and no cookies anywhere. Limits and introspection must hold on every transport: HTTP,
 * graphql-ws (execution through yoga.getEnveloped) and SSE.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { silentLogger } from '../../src/logger.js';
import { createGateway } from '../../src/server.js';
import { TEST_API_KEY, TEST_WEBHOOK_SECRET, type GraphQLResponse, type TestGateway } from '../helpers/gateway.js';
import { useGatewayPerTest } from '../helpers/gateway-per-test.js';

const stack = useGatewayPerTest({ webhooks: false });
const start = stack.start;

const post = async (url: string, body: BodyInit, headers: Record<string, string> = {}) => {
  const res = await fetch(`${url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json', ...headers },
    body,
    ...(body instanceof ReadableStream ? { duplex: 'half' } : {}),
  } as RequestInit);
  return { status: res.status, body: (await res.json()) as GraphQLResponse };
};

/** Every error message of one operation over graphql-ws (the `error` message) or SSE. */
const wsErrors = async (t: TestGateway, query: string) => {
  const sub = t.subscribeWs(query);
  const error = await sub.completed.then(() => [], (e: unknown) => e as { message: string }[]);
  return error.map((e) => e.message);
};
const sseErrors = async (t: TestGateway, query: string) => {
  const sub = t.subscribeSse(query);
  const first = await sub.events.next();
  await sub.dispose();
  return (first.errors ?? []).map((e) => e.message);
};

const COLLECTION_DEPTH_3 = 'query($id: ID!) { frameCollection(id: $id) { frames { id } } }';
const TASK_DEPTH_3 = 'subscription { frameExtractionTask(id: "ffffffffffffffffffffffffffffffff") { asset { id } } }';
// Armor does not count aliases of `__typename`: alias a field that needs no upstream call instead.
const aliases = (n: number) => `{ ${Array.from({ length: n }, (_, i) => `a${i}: _service { sdl }`).join(' ')} }`;
const directives = (n: number) => `{ ${Array.from({ length: n }, (_, i) => `a${i}: __typename @include(if: true)`).join(' ')} }`;

describe('operation limits', () => {
  it('refuses an operation deeper than GRAPHQL_MAX_DEPTH over HTTP, graphql-ws and SSE, before any upstream call', async () => {
    const t = await start({ GRAPHQL_MAX_DEPTH: '2' });
    const { collectionId } = stack.fake.addCollection(1);
    const http = await t.graphql(COLLECTION_DEPTH_3, { id: collectionId });
    expect(http.errors?.map((e) => e.message)).toEqual(['Syntax Error: Query depth limit of 2 exceeded, found 3.']);
    expect(await wsErrors(t, TASK_DEPTH_3)).toEqual(['Syntax Error: Query depth limit of 2 exceeded, found 3.']);
    expect(await sseErrors(t, TASK_DEPTH_3)).toEqual(['Syntax Error: Query depth limit of 2 exceeded, found 3.']);
    expect(stack.fake.calls).toEqual([]);
    expect(await t.graphql('query($id: ID!) { frameCollection(id: $id) { id } }', { id: collectionId })).toEqual({ data: { frameCollection: { id: collectionId } } });
  });

  it.each([
    ['GRAPHQL_MAX_ALIASES', aliases, 'Syntax Error: Aliases limit of 3 exceeded, found 4.'],
    ['GRAPHQL_MAX_DIRECTIVES', directives, 'Syntax Error: Directives limit of 3 exceeded, found 4.'],
    // `{` and `}` plus 6 tokens per `aN: _service { sdl }`: 3 aliases = 20 tokens.
    ['GRAPHQL_MAX_TOKENS', aliases, 'Syntax Error: Token limit of 20 exceeded.'],
  ] as const)('%s bounds HTTP and graphql-ws operations', async (name, build, message) => {
    const t = await start({ [name]: name === 'GRAPHQL_MAX_TOKENS' ? '20' : '3' });
    const within = await t.graphql(build(3));
    expect([within.errors, Object.keys(within.data ?? {})]).toEqual([undefined, ['a0', 'a1', 'a2']]);
    expect((await t.graphql(build(4))).errors?.map((e) => e.message)).toEqual([message]);
    expect(await wsErrors(t, build(4))).toEqual([message]);
  });

  it('GRAPHQL_MAX_COST bounds the static cost of an operation', async () => {
    const t = await start({ GRAPHQL_MAX_COST: '10' });
    const { collectionId } = stack.fake.addCollection(1);
    const res = await t.graphql('query($id: ID!) { frameCollection(id: $id) { id frameCount zipUrl frames { id index url } } }', { id: collectionId });
    expect(res.errors?.map((e) => e.message)).toEqual([expect.stringMatching(/^Syntax Error: Query Cost limit of 10 exceeded, found [\d.]+\.$/)]);
    expect(stack.fake.calls).toEqual([]);
    expect((await t.graphql('query($id: ID!) { frameCollection(id: $id) { id } }', { id: collectionId })).errors).toBeUndefined();
  });

  it('the defaults accept a router batch of 100 aliased _entities fetches and refuse 101 aliases', async () => {
    const t = await start();
    const { collectionId } = stack.fake.addCollection(2);
    const batch = (n: number) =>
      `query($r: [_Any!]!) { ${Array.from({ length: n }, (_, i) => `_${i}__entities: _entities(representations: $r) { ... on FrameCollection { id frameCount frames { id index } } }`).join(' ')} }`;
    const res = await t.graphql(batch(100), { r: [{ __typename: 'FrameCollection', id: collectionId }] });
    expect(res.errors).toBeUndefined();
    expect(Object.keys(res.data!)).toHaveLength(100);
    expect(res.data!._99__entities).toEqual([{ id: collectionId, frameCount: 2, frames: [expect.objectContaining({ index: 0 }), expect.objectContaining({ index: 1 })] }]);
    expect((await t.graphql(batch(101), { r: [] })).errors?.map((e) => e.message)).toEqual(['Syntax Error: Aliases limit of 100 exceeded, found 101.']);
  });
});

describe('request body limit', () => {
  const padded = (bytes: number) => JSON.stringify({ query: '{ __typename }', variables: { pad: 'x'.repeat(bytes) } });

  it('answers 413 to a JSON body over GRAPHQL_MAX_BODY_BYTES, declared or streamed without a length', async () => {
    const t = await start({ GRAPHQL_MAX_BODY_BYTES: '2048' });
    expect(await post(t.url, padded(1500))).toEqual({ status: 200, body: { data: { __typename: 'Query' } } });
    const declared = await post(t.url, padded(3000));
    expect(declared.status).toBe(413);
    expect(declared.body.errors).toEqual([expect.objectContaining({ message: 'Request body too large (limit 2048 bytes)', extensions: { code: 'REQUEST_ENTITY_TOO_LARGE' } })]);
    const chunks = [padded(3000).slice(0, 1000), padded(3000).slice(1000)].map((s) => new TextEncoder().encode(s));
    const chunked = new ReadableStream<Uint8Array>({
      pull(controller) {
        const next = chunks.shift();
        if (next) controller.enqueue(next);
        else controller.close();
      },
    });
    const streamed = await post(t.url, chunked);
    expect(streamed.status).toBe(413);
    expect(streamed.body.errors?.[0]?.extensions).toEqual({ code: 'REQUEST_ENTITY_TOO_LARGE' });
  });

  it('lets a multipart upload larger than GRAPHQL_MAX_BODY_BYTES through (UPLOAD_MAX_BYTES governs it)', async () => {
    const t = await start({ GRAPHQL_MAX_BODY_BYTES: '2048', UPLOAD_MAX_BYTES: '100000' });
    const form = new FormData();
    const query = 'mutation($file: File!) { uploadVideo(file: $file) { __typename } }';
    form.set('operations', JSON.stringify({ query, variables: { file: null } }));
    form.set('map', JSON.stringify({ 0: ['variables.file'] }));
    form.set('0', new Blob([new Uint8Array(50_000).fill(7)], { type: 'video/mp4' }), 'clip.mp4');
    const res = await fetch(`${t.url}/graphql`, { method: 'POST', body: form });
    expect([res.status, await res.json()]).toEqual([200, { data: { uploadVideo: { __typename: 'UploadVideoSuccess' } } }]);
  });
});

describe('GraphiQL and introspection exposure', () => {
  const INTROSPECT = '{ __schema { queryType { name } } }';
  /** NoSchemaIntrospectionCustomRule reports each introspection field it meets. */
  const refused = (messages: string[]) => messages.length > 0 && messages.every((m) => m.startsWith('GraphQL introspection has been disabled'));
  const graphiqlPage = async (url: string) => {
    const res = await fetch(`${url}/graphql`, { headers: { accept: 'text/html' } });
    const text = await res.text();
    return { html: (res.headers.get('content-type') ?? '').startsWith('text/html'), graphiql: text.includes('<title>frames gateway</title>') };
  };

  it('are on by default only in the embedded default (no MAVI_API_KEY); GRAPHIQL / INTROSPECTION override', () => {
    expect(loadConfig({}).exposure).toEqual({ graphiql: true, introspection: true, demoPage: true });
    const remote = { HOST: '127.0.0.1', MAVI_API_KEY: 'k', MAVI_WEBHOOK_SECRET: TEST_WEBHOOK_SECRET };
    expect(loadConfig(remote).exposure).toEqual({ graphiql: false, introspection: false, demoPage: false });
    expect(loadConfig({ ...remote, GRAPHIQL: 'true' }).exposure).toEqual({ graphiql: true, introspection: false, demoPage: false });
    expect(loadConfig({ ...remote, INTROSPECTION: 'true' }).exposure).toEqual({ graphiql: false, introspection: true, demoPage: false });
    expect(loadConfig({ ...remote, DEMO_PAGE: 'true' }).exposure).toEqual({ graphiql: false, introspection: false, demoPage: true });
    expect(loadConfig({ GRAPHIQL: 'false', INTROSPECTION: '0', DEMO_PAGE: 'false' }).exposure).toEqual({ graphiql: false, introspection: false, demoPage: false });
  });

  it('with MAVI_API_KEY: no GraphiQL page, introspection refused over HTTP, graphql-ws and SSE, _service { sdl } still served', async () => {
    const t = await start();
    expect(await graphiqlPage(t.url)).toEqual({ html: false, graphiql: false });
    const http = await t.graphql(INTROSPECT);
    expect([http.data, refused(http.errors!.map((e) => e.message))]).toEqual([undefined, true]);
    expect(refused((await t.graphql('{ __type(name: "VideoAsset") { fields { name } } }')).errors!.map((e) => e.message))).toBe(true);
    expect(refused(await wsErrors(t, INTROSPECT))).toBe(true);
    expect(refused(await sseErrors(t, INTROSPECT))).toBe(true);
    // Federation routers read the subgraph SDL through a plain field, not introspection.
    const sdl = await t.graphql<{ _service: { sdl: string } }>('{ _service { sdl } __typename }');
    expect(sdl.errors).toBeUndefined();
    expect(sdl.data!._service.sdl).toMatch(/^type VideoAsset\n {2}@key\(fields: "id"\)/m);
    // Field suggestions would leak the schema piece by piece: armor masks them.
    expect((await t.graphql('{ videoAset(id: "x") { id } }')).errors?.map((e) => e.message)).toEqual(['Cannot query field "videoAset" on type "Query". [Suggestion hidden]']);
  });

  it('GRAPHIQL=true and INTROSPECTION=true serve both with MAVI_API_KEY set', async () => {
    const t = await start({ GRAPHIQL: 'true', INTROSPECTION: 'true' });
    expect(await graphiqlPage(t.url)).toEqual({ html: true, graphiql: true });
    expect(await t.graphql(INTROSPECT)).toEqual({ data: { __schema: { queryType: { name: 'Query' } } } });
    const sub = t.subscribeWs(INTROSPECT);
    expect(await sub.events.next()).toEqual({ data: { __schema: { queryType: { name: 'Query' } } } });
    await sub.completed;
  });

  it('the embedded default (no MAVI_API_KEY) serves GraphiQL and introspection', async () => {
    const mediaDir = await mkdtemp(join(tmpdir(), 'frames-gw-exposure-'));
    const config = loadConfig({ PORT: '0', HOST: '127.0.0.1', MAVI_BASE_URL: stack.fake.url, MEDIA_CACHE_DIR: mediaDir, LOG_LEVEL: 'silent' });
    // As main.ts does in embedded mode: the engine's key becomes the upstream key after loadConfig.
    const embedded = createGateway({ ...config, upstream: { ...config.upstream, apiKey: TEST_API_KEY } }, { logger: silentLogger });
    try {
      await embedded.start();
      expect(await graphiqlPage(embedded.url)).toEqual({ html: true, graphiql: true });
      expect(await post(embedded.url, JSON.stringify({ query: INTROSPECT }))).toEqual({ status: 200, body: { data: { __schema: { queryType: { name: 'Query' } } } } });
    } finally {
      await embedded.stop();
      await rm(mediaDir, { recursive: true, force: true });
    }
  });
});

describe('cookies', () => {
  it('no response sets a cookie, so CSRF has no ambient credential to ride on', async () => {
    const t = await start({ GRAPHIQL: 'true' });
    const { collectionId } = stack.fake.addCollection(1);
    const frames = await t.graphql('query($id: ID!) { frameCollection(id: $id) { zipUrl frames { url } } }', { id: collectionId });
    const { zipUrl, frames: [frame] } = frames.data!.frameCollection;
    const responses = await Promise.all([
      fetch(`${t.url}/`, { redirect: 'manual' }),
      fetch(`${t.url}/graphql`, { headers: { accept: 'text/html' } }),
      fetch(`${t.url}/graphql?query=${encodeURIComponent('{ __typename }')}`),
      fetch(`${t.url}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"query":"{ nope }"}' }),
      fetch(`${t.url}/graphql`, { method: 'OPTIONS', headers: { origin: 'https://elsewhere.example', 'access-control-request-method': 'POST' } }),
      fetch(frame.url as string),
      fetch(zipUrl as string),
      fetch(`${t.url}/healthz`),
      fetch(`${t.url}/readyz`),
      fetch(`${t.url}/metrics`),
      fetch(t.gateway.webhookUrl, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' }),
    ]);
    for (const res of responses) await res.arrayBuffer();
    expect(responses.map((r) => [new URL(r.url).pathname, r.headers.getSetCookie()])).toEqual(responses.map((r) => [new URL(r.url).pathname, []]));
    expect(responses.every((r) => r.status < 500)).toBe(true);
  });
});
