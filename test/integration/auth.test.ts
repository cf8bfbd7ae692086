/**
 * Authentication end to end: a real gateway on port 0 in front of the fake upstream, tokens made with jose, a real
 * JWKS server (node:http on port 0) for RS256/ES256 and key rotation, the real graphql-ws client and raw websockets
 * for close codes, SSE over fetch. Refused requests must cost no upstream call.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createClient } from 'graphql-ws';
import { exportJWK, generateKeyPair, SignJWT, type JWK, type JWTPayload } from 'jose';
import { afterEach, describe, expect, it, vi } from 'vitest';
import WebSocket from 'ws';
import { currentTenant } from '../../src/tenancy.js';
import { createDeferred, createEventQueue } from '../helpers/deferred.js';
import { startFakeUpstream, type FakeUpstream } from '../helpers/fake-upstream.js';
import { startTestGateway, type GraphQLResponse, type TestGateway } from '../helpers/gateway.js';
import { readSseEvents } from '../helpers/sse.js';

const SECRET = 'integration-jwt-secret-0123456789abcdef';
const FAKE_MP4 = Buffer.from('000000186674797069736f6d0000020069736f6d6d703431', 'hex');
const UPLOAD = 'mutation ($file: File!) { uploadVideo(file: $file) { __typename ... on UploadVideoSuccess { asset { id } } ... on Error { code } } }';
const EXTRACT = `mutation ($assetId: ID!) {
  extractFrames(assetId: $assetId) { __typename ... on ExtractFramesSuccess { task { id status } } ... on Error { code } }
}`;
const FOLLOW = 'subscription ($id: ID!) { frameExtractionTask(id: $id) { id status } }';

const nowSeconds = () => Math.floor(Date.now() / 1000);
const hs256 = (claims: JWTPayload, options: { secret?: string; exp?: number } = {}) =>
  new SignJWT(claims)
    .setProtectedHeader({ alg: 'HS256' })
    .setIssuedAt()
    .setExpirationTime(options.exp ?? nowSeconds() + 600)
    .sign(new TextEncoder().encode(options.secret ?? SECRET));
const b64url = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
/** An unsigned token, as an attacker hand-builds it. */
const algNone = (claims: JWTPayload) => `${b64url({ alg: 'none', typ: 'JWT' })}.${b64url({ exp: nowSeconds() + 600, ...claims })}.`;

const disposers: (() => Promise<unknown> | void)[] = [];
afterEach(async () => {
  vi.useRealTimers();
  for (const dispose of disposers.splice(0).reverse()) await dispose();
});

/** Gateway with auth over a fake upstream; `tenants` lists currentTenant() at every upstream fetch. */
async function startAuthGateway(env: Record<string, string> = { AUTH_JWT_SECRET: SECRET }) {
  const fake = await startFakeUpstream({ rps: 0 });
  disposers.push(() => fake.close());
  const tenants: (string | undefined)[] = [];
  const recordingFetch: typeof fetch = (input, init) => {
    tenants.push(currentTenant());
    return fetch(input, init);
  };
  const gw = await startTestGateway({ upstreamUrl: fake.url, env, deps: { fetch: recordingFetch } });
  disposers.push(() => gw.close());
  return { fake, gw, tenants };
}

interface Reply {
  status: number;
  headers: Headers;
  body: GraphQLResponse;
}

async function postJson(gw: TestGateway, query: string, variables: Record<string, unknown>, token?: string): Promise<Reply> {
  const res = await fetch(`${gw.url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json', ...bearer(token) },
    body: JSON.stringify({ query, variables }),
  });
  return { status: res.status, headers: res.headers, body: (await res.json()) as GraphQLResponse };
}

async function upload(gw: TestGateway, authorization: Record<string, string>): Promise<Reply> {
  const form = new FormData();
  form.append('operations', JSON.stringify({ query: UPLOAD, variables: { file: null } }));
  form.append('map', JSON.stringify({ 0: ['variables.file'] }));
  form.append('0', new Blob([FAKE_MP4], { type: 'video/mp4' }), 'clip.mp4');
  const res = await fetch(`${gw.url}/graphql`, { method: 'POST', body: form, headers: { accept: 'application/json', ...authorization } });
  return { status: res.status, headers: res.headers, body: (await res.json()) as GraphQLResponse };
}

const bearer = (token: string | undefined): Record<string, string> => (token ? { authorization: `Bearer ${token}` } : {});

/** Uploads a video and starts its extraction as the token's tenant; the task stays PENDING (no callback sent). */
async function pendingTask(gw: TestGateway, token: string): Promise<string> {
  const uploaded = await upload(gw, bearer(token));
  const assetId = uploaded.body.data?.uploadVideo?.asset?.id as string;
  const started = await postJson(gw, EXTRACT, { assetId }, token);
  expect(started.body.data?.extractFrames).toMatchObject({ __typename: 'ExtractFramesSuccess', task: { status: 'PENDING' } });
  return started.body.data!.extractFrames.task.id as string;
}

function expectUnauthenticated(reply: Reply) {
  expect(reply.status).toBe(401);
  expect(reply.headers.get('www-authenticate')).toBe('Bearer');
  expect(reply.body.data).toBeUndefined();
  expect(reply.body.errors).toHaveLength(1);
  expect(reply.body.errors?.[0]?.extensions).toEqual({ code: 'UNAUTHENTICATED' });
}

/** Opens a raw graphql-transport-ws socket and sends connection_init; resolves the ack, or the close. */
function rawWs(gw: TestGateway, payload: unknown, headers: Record<string, string> = {}) {
  const socket = new WebSocket(`${gw.url.replace(/^http/, 'ws')}/graphql`, 'graphql-transport-ws', { headers });
  disposers.push(() => socket.terminate());
  const messages = createEventQueue<Record<string, any>>();
  const closed = createDeferred<{ code: number; reason: string; at: number }>();
  socket.on('message', (data) => messages.push(JSON.parse(String(data))));
  socket.on('close', (code, reason) => closed.resolve({ code, reason: String(reason), at: Date.now() }));
  socket.on('open', () => socket.send(JSON.stringify({ type: 'connection_init', payload })));
  return { socket, messages, closed: closed.promise };
}

/** POSTs a subscription with `accept: text/event-stream`; yields each `next` payload, then 'complete'. */
async function sse(gw: TestGateway, query: string, variables: Record<string, unknown>, token?: string) {
  const controller = new AbortController();
  disposers.push(() => controller.abort());
  const res = await fetch(`${gw.url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'text/event-stream', ...bearer(token) },
    body: JSON.stringify({ query, variables }),
    signal: controller.signal,
  });
  const next = readSseEvents<GraphQLResponse>(res.body!);
  return { status: res.status, next };
}

describe('authentication with AUTH_JWT_SECRET (HS256)', () => {
  it('runs an operation as the token tenant: every upstream call it makes has currentTenant() = the tenant', async () => {
    const { fake, gw, tenants } = await startAuthGateway();
    const reply = await upload(gw, bearer(await hs256({ tenant: 'acme', sub: 'user-1' })));
    expect(reply.status).toBe(200);
    expect(reply.body.data?.uploadVideo).toMatchObject({ __typename: 'UploadVideoSuccess', asset: { id: expect.stringMatching(/^re_/) } });
    expect(fake.callsTo('POST', '/upload')).toHaveLength(1);
    expect(tenants.length).toBe(fake.calls.length);
    expect(new Set(tenants)).toEqual(new Set(['acme']));
  });

  it('takes the tenant from sub when the token has no tenant claim', async () => {
    const { gw, tenants } = await startAuthGateway();
    expect((await upload(gw, bearer(await hs256({ sub: 'user-7' })))).status).toBe(200);
    expect(new Set(tenants)).toEqual(new Set(['user-7']));
  });

  it.each([
    ['no Authorization header', async () => ({})],
    ['an expired token', async () => bearer(await hs256({ tenant: 'acme' }, { exp: nowSeconds() - 1 }))],
    ['a token signed with another secret', async () => bearer(await hs256({ tenant: 'acme' }, { secret: 'another-secret-0123456789abcdefghij' }))],
    ['an unsigned alg:none token', async () => bearer(algNone({ tenant: 'acme' }))],
    ['a token naming no tenant', async () => bearer(await hs256({ name: 'no tenant here' }))],
    ['a Basic header', async () => ({ authorization: 'Basic YWxhZGRpbjpvcGVuc2VzYW1l' })],
  ])('refuses %s with HTTP 401 UNAUTHENTICATED and no upstream call', async (_name, headers) => {
    const { fake, gw } = await startAuthGateway();
    expectUnauthenticated(await upload(gw, await headers()));
    expect(fake.calls).toEqual([]);
  });

  it('refuses GET and SSE requests without a valid token the same way', async () => {
    const { fake, gw } = await startAuthGateway();
    const assetId = fake.addAsset();
    const get = await fetch(`${gw.url}/graphql?query=${encodeURIComponent(`{ videoAsset(id: "${assetId}") { id } }`)}`, {
      headers: { accept: 'application/json', authorization: `Bearer ${algNone({ tenant: 'acme' })}` },
    });
    expectUnauthenticated({ status: get.status, headers: get.headers, body: (await get.json()) as GraphQLResponse });

    const stream = await sse(gw, FOLLOW, { id: '1234567890' });
    expect(stream.status).toBe(401);
    const event = await stream.next();
    expect(event).toMatchObject({ errors: [{ extensions: { code: 'UNAUTHENTICATED' } }] });
    expect(fake.calls).toEqual([]);
  });

  it('leaves /healthz, /readyz, /metrics and the webhook route outside JWT auth', async () => {
    const { gw } = await startAuthGateway();
    for (const path of ['/healthz', '/readyz', '/metrics']) expect((await fetch(`${gw.url}${path}`)).status).toBe(200);
    const webhook = await fetch(gw.gateway.webhookUrl, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    expect(webhook.status).not.toBe(401);
  });

  it.each([
    ['no payload', undefined],
    ['no authorization', {}],
    ['a forged token', { authorization: `Bearer ${algNone({ tenant: 'acme' })}` }],
    ['a bare token without Bearer', { authorization: 'abc.def.ghi' }],
  ])('closes a graphql-ws connection whose connection_init has %s with 4401', async (_name, payload) => {
    const { gw } = await startAuthGateway();
    const ws = rawWs(gw, payload);
    expect(await ws.closed).toMatchObject({ code: 4401, reason: 'Unauthorized' });
    expect(ws.messages.size).toBe(0);
  });

  it('closes with 4401 for an expired token, and runs every operation on an accepted socket as its tenant', async () => {
    const { gw, tenants, fake } = await startAuthGateway();
    const expired = rawWs(gw, { authorization: `Bearer ${await hs256({ tenant: 'acme' }, { exp: nowSeconds() - 1 })}` });
    expect(await expired.closed).toMatchObject({ code: 4401, reason: 'Token expired' });

    const token = await hs256({ tenant: 'acme' });
    const assetId = (await upload(gw, bearer(token))).body.data?.uploadVideo.asset.id as string;
    tenants.length = 0;
    const client = createClient({
      url: `${gw.url.replace(/^http/, 'ws')}/graphql`,
      webSocketImpl: WebSocket,
      retryAttempts: 0,
      connectionParams: { authorization: `Bearer ${token}` },
    });
    disposers.push(() => client.dispose());
    const result = await new Promise<GraphQLResponse>((resolve, reject) => {
      let value: GraphQLResponse;
      client.subscribe(
        { query: EXTRACT, variables: { assetId } },
        { next: (v) => (value = v as GraphQLResponse), error: reject, complete: () => resolve(value) },
      );
    });
    expect(result.data?.extractFrames).toMatchObject({ __typename: 'ExtractFramesSuccess', task: { status: 'PENDING' } });
    expect(fake.callsTo('POST', '/video/extract-frames')).toHaveLength(1);
    expect(tenants.length).toBeGreaterThan(0);
    expect(new Set(tenants)).toEqual(new Set(['acme']));
  });

  it('accepts the token from the upgrade request when connection_init carries none (routers propagate headers there)', async () => {
    const { gw } = await startAuthGateway();
    const routed = rawWs(gw, {}, { authorization: `Bearer ${await hs256({ tenant: 'acme' })}` });
    expect(await routed.messages.next()).toEqual({ type: 'connection_ack' });
    const forged = rawWs(gw, {}, { authorization: 'Bearer not-a-jwt' });
    expect(await forged.closed).toMatchObject({ code: 4401 });
  });

  it('closes a graphql-ws socket with 4401 at the token exp, while its subscription streams', async () => {
    const { gw } = await startAuthGateway();
    const taskId = await pendingTask(gw, await hs256({ tenant: 'acme' }));
    // Short-lived: expires within 1-2 s (exp has whole seconds); the test awaits the close, it does not sleep.
    const exp = nowSeconds() + 2;
    const ws = rawWs(gw, { authorization: `Bearer ${await hs256({ tenant: 'acme' }, { exp })}` });
    expect(await ws.messages.next()).toEqual({ type: 'connection_ack' });
    ws.socket.send(JSON.stringify({ id: '1', type: 'subscribe', payload: { query: FOLLOW, variables: { id: taskId } } }));
    expect(await ws.messages.next()).toEqual({
      id: '1',
      type: 'next',
      payload: { data: { frameExtractionTask: { id: taskId, status: 'PENDING' } } },
    });
    const closed = await ws.closed;
    expect(closed).toMatchObject({ code: 4401, reason: 'Token expired' });
    expect(closed.at).toBeGreaterThanOrEqual(exp * 1000);
  });

  it('ends an SSE subscription with an UNAUTHENTICATED error at the token exp, then completes', async () => {
    const { gw } = await startAuthGateway();
    const taskId = await pendingTask(gw, await hs256({ tenant: 'acme' }));
    const exp = nowSeconds() + 2;
    const stream = await sse(gw, FOLLOW, { id: taskId }, await hs256({ tenant: 'acme' }, { exp }));
    expect(stream.status).toBe(200);
    expect(await stream.next()).toEqual({ data: { frameExtractionTask: { id: taskId, status: 'PENDING' } } });
    expect(await stream.next()).toEqual({ errors: [{ message: 'Token expired', extensions: { code: 'UNAUTHENTICATED' } }] });
    expect(Date.now()).toBeGreaterThanOrEqual(exp * 1000);
    expect(await stream.next()).toBe('complete');
  });
});

describe('authentication with AUTH_JWKS_URL (RS256/ES256)', () => {
  async function signingKey(alg: 'RS256' | 'ES256', kid: string) {
    const { privateKey, publicKey } = await generateKeyPair(alg);
    const jwk: JWK = { ...(await exportJWK(publicKey)), kid, alg, use: 'sig' };
    const sign = (claims: JWTPayload, build = (jwt: SignJWT) => jwt) =>
      build(new SignJWT(claims).setProtectedHeader({ alg, kid }).setIssuedAt().setExpirationTime(nowSeconds() + 600)).sign(privateKey);
    return { jwk, sign };
  }

  /** A real JWKS endpoint: serves `keys` (mutable: rotation), counts requests, or fails with 500. */
  async function startJwksServer(keys: JWK[]) {
    const state = { keys, requests: 0, failing: false };
    const server: Server = createServer((_req, res) => {
      state.requests += 1;
      if (state.failing) {
        res.writeHead(500).end();
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys: state.keys }));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    disposers.push(() => new Promise((resolve) => server.close(resolve)));
    return { state, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/.well-known/jwks.json` };
  }

  const typename = async (gw: TestGateway, token: string) => postJson(gw, '{ __typename }', {}, token);

  it('accepts tokens of the served keys and picks up a rotated key (new kid) by fetching the JWKS again', async () => {
    const a = await signingKey('RS256', 'key-2025');
    const b = await signingKey('ES256', 'key-2026');
    const jwks = await startJwksServer([a.jwk]);
    const { gw, fake } = await startAuthGateway({ AUTH_JWKS_URL: jwks.url });

    expect((await typename(gw, await a.sign({ tenant: 'acme' }))).body).toEqual({ data: { __typename: 'Query' } });
    expect((await typename(gw, await a.sign({ tenant: 'acme' }))).status).toBe(200);
    expect(jwks.state.requests).toBe(1);

    jwks.state.keys = [b.jwk];
    // Only the clock moves (jose's 30 s refetch cooldown, measured with Date); sockets and timers stay real.
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(Date.now() + 31_000);
    expect((await typename(gw, await b.sign({ tenant: 'acme' }))).body).toEqual({ data: { __typename: 'Query' } });
    expect(jwks.state.requests).toBe(2);
    // The retired key is gone from the refreshed set.
    expectUnauthenticated(await typename(gw, await a.sign({ tenant: 'acme' })));
    expect(fake.calls).toEqual([]);
  });

  it('refuses an unknown kid inside the cooldown without fetching the JWKS again, and HS256 tokens altogether', async () => {
    const a = await signingKey('RS256', 'key-a');
    const stranger = await signingKey('RS256', 'key-unknown');
    const jwks = await startJwksServer([a.jwk]);
    const { gw } = await startAuthGateway({ AUTH_JWKS_URL: jwks.url });
    expect((await typename(gw, await a.sign({ tenant: 'acme' }))).status).toBe(200);
    for (let i = 0; i < 3; i++) expectUnauthenticated(await typename(gw, await stranger.sign({ tenant: 'acme' })));
    expect(jwks.state.requests).toBe(1);
    expectUnauthenticated(await typename(gw, await hs256({ tenant: 'acme' })));
  });

  it('checks AUTH_ISSUER and AUTH_AUDIENCE', async () => {
    const a = await signingKey('ES256', 'key-a');
    const jwks = await startJwksServer([a.jwk]);
    const { gw } = await startAuthGateway({ AUTH_JWKS_URL: jwks.url, AUTH_ISSUER: 'https://idp.example.com/', AUTH_AUDIENCE: 'frames' });
    const token = (iss: string, aud: string) => a.sign({ tenant: 'acme' }, (jwt) => jwt.setIssuer(iss).setAudience(aud));
    expect((await typename(gw, await token('https://idp.example.com/', 'frames'))).status).toBe(200);
    expectUnauthenticated(await typename(gw, await token('https://evil.example.com/', 'frames')));
    expectUnauthenticated(await typename(gw, await token('https://idp.example.com/', 'another-api')));
    expectUnauthenticated(await typename(gw, await a.sign({ tenant: 'acme' })));
  });

  it('answers 503 SERVICE_UNAVAILABLE (not 401) while the JWKS cannot be read, and graphql-ws closes with 1013', async () => {
    const a = await signingKey('RS256', 'key-a');
    const jwks = await startJwksServer([a.jwk]);
    jwks.state.failing = true;
    const { gw, fake } = await startAuthGateway({ AUTH_JWKS_URL: jwks.url });
    const reply = await typename(gw, await a.sign({ tenant: 'acme' }));
    expect(reply.status).toBe(503);
    expect(reply.body.errors?.[0]?.extensions).toEqual({ code: 'SERVICE_UNAVAILABLE' });
    const ws = rawWs(gw, { authorization: `Bearer ${await a.sign({ tenant: 'acme' })}` });
    expect((await ws.closed).code).toBe(1013);
    jwks.state.failing = false;
    expect((await typename(gw, await a.sign({ tenant: 'acme' }))).status).toBe(200);
    expect(fake.calls).toEqual([]);
  });
});
