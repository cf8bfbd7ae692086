/**
 * Secrets never leak: one broad flow through a gateway with every secret configured (upstream key, webhook secret,
 * media signing secret, AUTH_JWT_SECRET, METRICS_TOKEN) and real JWTs, with everything captured: each byte the
 * gateway wrote to any socket (HTTP responses to clients, the webhook's replies to the upstream, graphql-ws frames,
 * SSE streams, media downloads, /metrics, /readyz), every byte it sent to a third-party server that `importVideo`
 * fetched from (through a redirect), and every log line of the production logger at debug level. Then
 * none of the secrets, nor any JWT used, nor their JSON- or URL-escaped forms, may appear in the captured text.
 */
import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { createClient } from 'graphql-ws';
import { SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { createLogger } from '../../src/logger.js';
import { UNAUTHORIZED_BODY } from '../fixtures/upstream/envelopes.js';
import { createDeferred } from '../helpers/deferred.js';
import { startFakeUpstream, type FakeUpstream } from '../helpers/fake-upstream.js';
import { startTestGateway, type GraphQLResponse, type TestGateway } from '../helpers/gateway.js';

const secret = (prefix: string) => `${prefix}${randomBytes(18).toString('base64url')}`;
const SECRETS = {
  apiKey: secret('sk-mavi-leak-'),
  webhook: secret('whsec_leak_'),
  signing: secret('signing_secret_leak_'),
  jwt: secret('jwt_secret_leak_'),
  metrics: secret('metrics_token_leak_'),
};

const captured: string[] = [];
const tokensUsed: string[] = [];
let fake: FakeUpstream;
let gw: TestGateway;
let thirdParty: Server;
let thirdPartyUrl: string;

/** A video host on the internet, as importVideo sees it: records each request it receives, raw. */
async function startThirdParty(): Promise<void> {
  thirdParty = createServer((req, res) => {
    captured.push(`${req.method} ${req.url}\n${req.rawHeaders.join('\n')}`);
    req.on('data', (chunk: Buffer) => captured.push(chunk.toString('latin1')));
    req.on('end', () => {
      if (req.url === '/moved') res.writeHead(302, { location: '/clip.mp4' }).end();
      else res.writeHead(200, { 'content-type': 'video/mp4' }).end(Buffer.alloc(2048, 5));
    });
  });
  await new Promise<void>((resolve) => thirdParty.listen(0, '127.0.0.1', resolve));
  thirdPartyUrl = `http://127.0.0.1:${(thirdParty.address() as AddressInfo).port}`;
}

/** Records every byte the gateway writes to a socket (HTTP responses and WebSocket frames alike). */
function captureSocket(socket: Socket): void {
  const write = socket.write.bind(socket) as (...args: unknown[]) => boolean;
  const end = socket.end.bind(socket) as (...args: unknown[]) => Socket;
  const record = (chunk: unknown) => {
    if (typeof chunk === 'string') captured.push(chunk);
    else if (chunk instanceof Uint8Array) captured.push(Buffer.from(chunk).toString('latin1'));
  };
  socket.write = ((chunk: unknown, ...rest: unknown[]) => (record(chunk), write(chunk, ...rest))) as Socket['write'];
  socket.end = ((chunk?: unknown, ...rest: unknown[]) => (typeof chunk === 'function' ? undefined : record(chunk), end(chunk, ...rest))) as Socket['end'];
}

const key = (value: string) => new TextEncoder().encode(value);
async function token(claims: Record<string, unknown>, secretValue = SECRETS.jwt): Promise<string> {
  const jwt = await new SignJWT(claims).setProtectedHeader({ alg: 'HS256', typ: 'JWT' }).sign(key(secretValue));
  tokensUsed.push(jwt);
  return jwt;
}

beforeAll(async () => {
  await startThirdParty();
  fake = await startFakeUpstream({ rps: 0, apiKey: SECRETS.apiKey });
  // The production logger (what main.ts builds), at its most talkative level.
  const logger = createLogger({ level: 'debug', secrets: Object.values(SECRETS), write: (line) => captured.push(line) });
  gw = await startTestGateway({
    upstreamUrl: fake.url,
    logger,
    env: {
      MAVI_API_KEY: SECRETS.apiKey,
      MAVI_WEBHOOK_SECRET: SECRETS.webhook,
      MEDIA_SIGNING_SECRET: SECRETS.signing,
      AUTH_JWT_SECRET: SECRETS.jwt,
      METRICS_TOKEN: SECRETS.metrics,
      UPSTREAM_RPS: '1000',
      IMPORT_ALLOW_PRIVATE_NETWORKS: 'true', // the "internet" host of this test is on loopback
    },
  });
  gw.gateway.server.on('connection', captureSocket);
  fake.setWebhookUrl(`${gw.url}/webhooks/mavi/${SECRETS.webhook}`);
});

afterAll(async () => {
  await gw?.close();
  await fake?.close();
  thirdParty?.closeAllConnections();
  await new Promise((resolve) => thirdParty?.close(resolve));
});

async function gql(query: string, variables: Record<string, unknown> = {}, jwt?: string): Promise<{ status: number; body: GraphQLResponse }> {
  const res = await fetch(`${gw.url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json', ...(jwt ? { authorization: `Bearer ${jwt}` } : {}) },
    body: JSON.stringify({ query, variables }),
  });
  return { status: res.status, body: (await res.json()) as GraphQLResponse };
}

const WATCH = 'subscription($id: ID!) { frameExtractionTask(id: $id) { id status collection { zipUrl frames { url } } } }';

interface Followed {
  /** The first payload (the current state). */
  first: Promise<unknown>;
  /** 'complete', or how the stream failed (a graphql-ws CloseEvent, an HTTP status). */
  end: Promise<unknown>;
}

/** A graphql-ws subscription authenticated in connection_init. */
function wsSubscribe(jwt: string | undefined, variables: Record<string, unknown>): Followed {
  const client = createClient({
    url: `${gw.url.replace(/^http/, 'ws')}/graphql`,
    webSocketImpl: WebSocket,
    retryAttempts: 0,
    lazy: true,
    connectionParams: jwt ? { authorization: `Bearer ${jwt}` } : {},
  });
  const first = createDeferred<unknown>();
  const end = new Promise<unknown>((resolve) => {
    client.subscribe({ query: WATCH, variables }, { next: (v) => first.resolve(v), error: resolve, complete: () => resolve('complete') });
  }).finally(() => client.dispose());
  end.then((e) => first.reject(e), () => {});
  first.promise.catch(() => {});
  return { first: first.promise, end };
}

/** An SSE subscription authenticated with the header. */
function sseSubscribe(jwt: string, variables: Record<string, unknown>): Followed {
  const first = createDeferred<unknown>();
  const end = (async () => {
    const res = await fetch(`${gw.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'text/event-stream', authorization: `Bearer ${jwt}` },
      body: JSON.stringify({ query: WATCH, variables }),
    });
    if (!res.ok || !res.body) return res.status;
    const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
    let text = '';
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return 'ended';
      text += value;
      if (text.includes('event: next')) first.resolve(text);
      if (text.includes('event: complete')) {
        await reader.cancel();
        return 'complete';
      }
    }
  })();
  end.then((e) => first.reject(e), () => {});
  first.promise.catch(() => {});
  return { first: first.promise, end };
}

async function uploadResult(jwt: string): Promise<{ __typename: string; code?: string; asset?: { id: string } }> {
  const form = new FormData();
  const query = 'mutation($file: File!) { uploadVideo(file: $file) { __typename ... on UploadVideoSuccess { asset { id url } } ... on Error { message code } } }';
  form.set('operations', JSON.stringify({ query, variables: { file: null } }));
  form.set('map', JSON.stringify({ 0: ['variables.file'] }));
  form.set('0', new Blob([new Uint8Array(4096).fill(3)], { type: 'video/mp4' }), 'clip.mp4');
  const res = await fetch(`${gw.url}/graphql`, { method: 'POST', body: form, headers: { authorization: `Bearer ${jwt}` } });
  return ((await res.json()) as GraphQLResponse<{ uploadVideo: { __typename: string; asset?: { id: string } } }>).data!.uploadVideo;
}

async function upload(jwt: string): Promise<string> {
  const result = await uploadResult(jwt);
  expect(result.__typename).toBe('UploadVideoSuccess');
  return result.asset!.id;
}

async function get(path: string, headers: Record<string, string> = {}): Promise<number> {
  const res = await fetch(new URL(path, gw.url), { headers });
  await res.arrayBuffer();
  return res.status;
}

/** Upload, extract, both subscriptions, the webhook, every media URL. */
async function happyPath(alpha: string): Promise<string> {
  const assetId = await upload(alpha);
  const extracted = await gql('mutation($id: ID!) { extractFrames(assetId: $id) { ... on ExtractFramesSuccess { task { id } } } }', { id: assetId }, alpha);
  const taskId = (extracted.body.data as { extractFrames: { task: { id: string } } }).extractFrames.task.id;
  const followers = [wsSubscribe(alpha, { id: taskId }), sseSubscribe(alpha, { id: taskId })];
  // Each has yielded the PENDING state, so each listens for the change.
  await Promise.all(followers.map((f) => f.first));
  expect((await fake.completeTask(taskId, { frames: 2 })).status).toBe(200);
  expect(await Promise.all(followers.map((f) => f.end))).toEqual(['complete', 'complete']);

  const imported = await gql(
    'mutation($url: String!) { importVideo(url: $url) { __typename } }',
    { url: `${thirdPartyUrl}/moved` },
    alpha,
  );
  expect(imported.body.data).toEqual({ importVideo: { __typename: 'ImportVideoSuccess' } });

  const read = await gql(
    'query($a: ID!, $t: ID!) { videoAsset(id: $a) { url } frameExtractionTask(id: $t) { collection { zipUrl frames { url } } } }',
    { a: assetId, t: taskId },
    alpha,
  );
  const data = read.body.data as { videoAsset: { url: string }; frameExtractionTask: { collection: { zipUrl: string; frames: { url: string }[] } } };
  const urls = [data.videoAsset.url, data.frameExtractionTask.collection.zipUrl, ...data.frameExtractionTask.collection.frames.map((f) => f.url)];
  for (const url of urls) expect(await get(url)).toBe(200);
  const tampered = urls[2]!.replace(/sig=./, 'sig=_');
  expect(await get(tampered)).toBe(403);
  return taskId;
}

/** Refused tokens over every transport, GraphQL errors, upstream 500 and 401, probes, metrics, bad webhooks. */
async function errorPaths(alpha: string, taskId: string): Promise<void> {
  const expired = await token({ tenant: 'alpha', exp: Math.floor(Date.now() / 1000) - 60 });
  const otherKey = await token({ tenant: 'alpha' }, secret('another-key-of-32-characters-'));
  const algNone = `${Buffer.from('{"alg":"none","typ":"JWT"}').toString('base64url')}.${Buffer.from('{"tenant":"alpha"}').toString('base64url')}.`;
  tokensUsed.push(algNone);
  for (const bad of [expired, otherKey, algNone, 'not-a-jwt']) {
    expect((await gql('{ frameExtractionTask(id: "x") { id } }', {}, bad)).status).toBe(401);
    expect(await sseSubscribe(bad, { id: taskId }).end).toBe(401);
    expect(((await wsSubscribe(bad, { id: taskId }).end) as { code?: number }).code).toBe(4401);
  }
  expect((await gql('{ videoAsset(id: "re_1") { id } }')).status).toBe(401);
  // A client that puts its token in the URL: it must not come back in a log line or a reply.
  expect(await get(`/graphql?query=${encodeURIComponent('{ __typename }')}&token=${alpha}&access_token=${alpha}`)).toBeLessThan(500);

  // GraphQL errors: syntax, validation, malformed and unknown ids, unknown task.
  await gql('{ videoAsset(id: ', {}, alpha);
  await gql('{ nope }', {}, alpha);
  await gql('query($a: ID!, $b: ID!, $c: ID!) { a: videoAsset(id: $a) { id } b: frame(id: $b) { id } c: frameExtractionTask(id: $c) { id } }', { a: 'bogus', b: 'imc_1_1', c: 'nope' }, alpha);

  // Upstream failures, the second one echoing the key back as a hostile or buggy upstream might.
  const assetId = await upload(alpha);
  const EXTRACT = 'mutation($id: ID!) { extractFrames(assetId: $id, force: true) { __typename ... on Error { message code } } }';
  const failed = async (status: number, body: unknown) => {
    fake.setFailure({ status, body });
    const res = await gql(EXTRACT, { id: assetId }, alpha);
    fake.setFailure(null);
    return (res.body.data as { extractFrames: { code?: string } }).extractFrames.code;
  };
  // An upload is never retried (its body is a one-shot stream), so its 500 reaches the client at once.
  fake.setFailure({ status: 500, body: { code: 500, msg: `Internal error for key ${SECRETS.apiKey}`, data: null } });
  const refused = await uploadResult(alpha);
  fake.setFailure(null);
  expect(refused).toMatchObject({ code: expect.stringMatching(/^UPSTREAM_|UPLOAD_/) });
  expect(await failed(401, { ...UNAUTHORIZED_BODY, msg: `Unauthorized: ${SECRETS.apiKey}` })).toBe('UPSTREAM_UNAUTHORIZED');

  expect(await get('/metrics', { authorization: `Bearer ${SECRETS.metrics}` })).toBe(200);
  expect(await get('/metrics', { authorization: 'Bearer wrong-metrics-token-0000' })).toBe(401);
  expect(await get('/readyz')).toBe(200);
  expect(await get('/healthz')).toBe(200);
  expect(await fake.sendCallback(null, { raw: '{"code":200,"task_id":' })).toBe(400);
  expect(await fake.sendCallback({ code: 200, message: 'SUCCESS', data: null, task_id: 'unknown-task' })).toBeLessThan(500);
}

/** The forms a secret takes in JSON text, in a URL, and as itself. */
const formsOf = (value: string) => [...new Set([value, JSON.stringify(value).slice(1, -1), encodeURIComponent(value)])];

describe('secrets never leak', () => {
  it('writes no secret and no JWT to any client, the upstream webhook replies, any socket or any log line', async () => {
    const alpha = await token({ tenant: 'alpha', exp: Math.floor(Date.now() / 1000) + 600 });
    const taskId = await happyPath(alpha);
    await errorPaths(alpha, taskId);
    await gw.close();

    const text = captured.join('\n');
    // The capture saw the flow (a broken capture would pass trivially).
    expect(text).toContain('SUCCEEDED');
    expect(text).toContain('UNAUTHENTICATED');
    expect(text).toContain('frames_upstream_requests_total');
    expect(text).toMatch(/"msg":"request"/);
    expect(text).toMatch(/\/media\/imc_\d+_1\?exp=\d+&sig=/);
    expect(text).toContain('GET /clip.mp4');

    const named = { ...SECRETS, ...Object.fromEntries(tokensUsed.flatMap((jwt, i) => [[`jwt${i}`, jwt], [`jwt${i}.signature`, jwt.split('.')[2]!]])) };
    const leaks = Object.entries(named).flatMap(([name, value]) =>
      value.length < 8 ? [] : formsOf(value).filter((form) => text.includes(form)).map((form) => `${name}: ...${text.slice(Math.max(0, text.indexOf(form) - 80), text.indexOf(form))}`),
    );
    expect(leaks).toEqual([]);
  });
});
