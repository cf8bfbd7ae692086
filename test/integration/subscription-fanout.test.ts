/**
 * Subscription fan-out executed once per event (issue 12 point 4), through the real gateway over real graphql-ws
 * and SSE clients, on memory pub/sub and on Redis pub/sub (one suite for both): subscribers of one task with one
 * document share ONE execution (the executor's subscribe runs once, each event is executed once) and receive
 * identical payloads; other variables, documents and tenants never share; a late joiner gets the latest state; the
 * last leaver closes the source; a token's expiry and the drain still act per subscriber.
 */
import { SignJWT } from 'jose';
import WebSocket from 'ws';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createDeferred, createEventQueue } from '../helpers/deferred.js';
import { startFakeUpstream, type FakeUpstream } from '../helpers/fake-upstream.js';
import { startTestGateway, TEST_WEBHOOK_SECRET, type GraphQLResponse, type Subscription, type TestGateway } from '../helpers/gateway.js';
import { postGraphQLMultipart } from '../helpers/multipart.js';
import { TEST_REDIS_URL, useTestRedis } from '../helpers/redis.js';
import { readSseEvents } from '../helpers/sse.js';

const EXTRACT = /* GraphQL */ `
  mutation Extract($assetId: ID!) {
    extractFrames(assetId: $assetId) { __typename ... on ExtractFramesSuccess { task { id } } ... on Error { code message } }
  }
`;
const UPLOAD = `mutation($file: File!) { uploadVideo(file: $file) { __typename ... on UploadVideoSuccess { asset { id } } } }`;
const WATCH = /* GraphQL */ `
  subscription Watch($id: ID!) { frameExtractionTask(id: $id) { id status frameCount collectionId } }
`;
const WATCH_MORE = /* GraphQL */ `
  subscription WatchMore($id: ID!) { frameExtractionTask(id: $id) { id status error deadlineAt } }
`;
const JWT_SECRET = 'fanout-jwt-secret-0123456789abcdef0123';
const TIMEOUT_S = 60;

type Watch = { frameExtractionTask: { id: string; status: string } };
type Kind = 'memory' | 'redis';

const redis = useTestRedis();
let fake: FakeUpstream;
let gw: TestGateway | undefined;
let clock: number;
let gateways = 0;
const disposers: (() => unknown)[] = [];

beforeEach(async () => {
  fake = await startFakeUpstream({ rps: 0 });
  clock = Date.now();
});
afterEach(async () => {
  for (const dispose of disposers.splice(0).reverse()) await dispose();
  await gw?.close();
  gw = undefined;
  await fake.close();
});

async function start(kind: Kind, env: Record<string, string> = {}): Promise<TestGateway> {
  const pubsub: Record<string, string> = kind === 'redis' ? { REDIS_URL: TEST_REDIS_URL, REDIS_PREFIX: `${redis.prefix}${++gateways}:` } : {};
  gw = await startTestGateway({
    upstreamUrl: fake.url,
    env: { TASK_TIMEOUT_SECONDS: String(TIMEOUT_S), ...pubsub, ...env },
    deps: { now: () => clock },
  });
  fake.setWebhookUrl(`${gw.url}/webhooks/mavi/${TEST_WEBHOOK_SECRET}`);
  return gw;
}

async function newTask(gateway: TestGateway): Promise<string> {
  const res = await gateway.graphql(EXTRACT, { assetId: fake.addAsset() });
  expect(res.data!.extractFrames.__typename).toBe('ExtractFramesSuccess');
  return res.data!.extractFrames.task.id as string;
}

/** The counters of the gateway's sharing module, as deltas from now. */
function counters(gateway: TestGateway) {
  const stats = gateway.gateway.subscriptions;
  const base = { subscribeCalls: stats.subscribeCalls, results: stats.results };
  return {
    get subscribeCalls() {
      return stats.subscribeCalls - base.subscribeCalls;
    },
    get results() {
      return stats.results - base.results;
    },
  };
}

const statusOf = (r: GraphQLResponse<Watch>) => r.data?.frameExtractionTask.status;

describe.each<Kind>(['memory', 'redis'])('subscription fan-out over %s pub/sub', (kind) => {
  it('executes each event once for graphql-ws and SSE subscribers of one task with one document; all get identical payloads', async () => {
    const gateway = await start(kind);
    const taskId = await newTask(gateway);
    const count = counters(gateway);
    const subs: Subscription<Watch>[] = [
      ...Array.from({ length: 12 }, () => gateway.subscribeWs<Watch>(WATCH, { id: taskId })),
      ...Array.from({ length: 4 }, () => gateway.subscribeSse<Watch>(WATCH, { id: taskId })),
    ];
    const first = await Promise.all(subs.map((s) => s.events.next()));
    expect(first.map(statusOf)).toEqual(subs.map(() => 'PENDING'));
    expect(count.subscribeCalls).toBe(1);
    expect(count.results).toBe(1);
    expect(gateway.gateway.subscriptions).toMatchObject({ subscribers: 16, executions: 1 });
    expect(gateway.gateway.services.pubsub.listenerCount()).toBe(1);

    const done = await fake.completeTask(taskId, { frames: 3 });
    const final = await Promise.all(subs.map((s) => s.events.next()));
    expect(new Set(final.map((r) => JSON.stringify(r))).size).toBe(1);
    expect(final[0]).toEqual({
      data: { frameExtractionTask: { id: taskId, status: 'SUCCEEDED', frameCount: 3, collectionId: done.collectionId } },
    });
    await Promise.all(subs.map((s) => s.completed));
    expect(count.results).toBe(2);
    expect(count.subscribeCalls).toBe(1);
    await expect.poll(() => gateway.gateway.subscriptions).toMatchObject({ subscribers: 0, executions: 0 });
    expect(gateway.gateway.services.pubsub.listenerCount()).toBe(0);
  });

  it('does not share across variables or documents', async () => {
    const gateway = await start(kind);
    const [one, two] = [await newTask(gateway), await newTask(gateway)];
    const count = counters(gateway);
    const a = gateway.subscribeWs<Watch>(WATCH, { id: one });
    const b = gateway.subscribeSse<Watch>(WATCH, { id: one });
    const c = gateway.subscribeWs<Watch>(WATCH, { id: two });
    const d = gateway.subscribeWs<Watch>(WATCH_MORE, { id: one });
    const firsts = await Promise.all([a, b, c, d].map((s) => s.events.next()));
    expect(firsts.map((r) => r.data?.frameExtractionTask.id)).toEqual([one, one, two, one]);
    expect(Object.keys(firsts[3]!.data!.frameExtractionTask)).toEqual(['id', 'status', 'error', 'deadlineAt']);
    // a and b share; c (other variables) and d (other document) run their own.
    expect(count.subscribeCalls).toBe(3);
    await fake.completeTask(two, { frames: 1 });
    expect(statusOf(await c.events.next())).toBe('SUCCEEDED');
    await c.completed;
    expect(a.events.size + b.events.size + d.events.size).toBe(0);
    await fake.completeTask(one, { frames: 2 });
    for (const s of [a, b, d]) expect(statusOf(await s.events.next())).toBe('SUCCEEDED');
    expect(count.results).toBe(6);
  });

  it('gives a subscriber joining a running execution its latest state (TIMED_OUT), not the first one', async () => {
    const gateway = await start(kind);
    const taskId = await newTask(gateway);
    const count = counters(gateway);
    const early = gateway.subscribeWs<Watch>(WATCH, { id: taskId });
    expect(statusOf(await early.events.next())).toBe('PENDING');
    clock += TIMEOUT_S * 1000;
    expect(await gateway.gateway.services.tasks.sweep()).toBe(1);
    expect(statusOf(await early.events.next())).toBe('TIMED_OUT');

    const late = gateway.subscribeSse<Watch>(WATCH, { id: taskId });
    expect(statusOf(await late.events.next())).toBe('TIMED_OUT');
    expect(count.subscribeCalls).toBe(1);
    // The late result after the timeout reaches both, once each, and both complete.
    await fake.completeTask(taskId, { frames: 2 });
    expect(statusOf(await early.events.next())).toBe('SUCCEEDED');
    expect(statusOf(await late.events.next())).toBe('SUCCEEDED');
    await Promise.all([early.completed, late.completed]);
    expect(early.events.size + late.events.size).toBe(0);
    expect(count.results).toBe(3);
  });

  it('closes the shared source when the last sharer leaves, not before', async () => {
    const gateway = await start(kind);
    const taskId = await newTask(gateway);
    const subs = [gateway.subscribeWs<Watch>(WATCH, { id: taskId }), gateway.subscribeWs<Watch>(WATCH, { id: taskId }), gateway.subscribeSse<Watch>(WATCH, { id: taskId })];
    await Promise.all(subs.map((s) => s.events.next()));
    expect(gateway.gateway.services.pubsub.listenerCount()).toBe(1);
    await subs[0]!.dispose();
    await subs[2]!.dispose();
    await expect.poll(() => gateway.gateway.subscriptions.subscribers).toBe(1);
    expect(gateway.gateway.subscriptions.executions).toBe(1);
    expect(gateway.gateway.services.pubsub.listenerCount()).toBe(1);
    await subs[1]!.dispose();
    await expect.poll(() => gateway.gateway.services.pubsub.listenerCount()).toBe(0);
    expect(gateway.gateway.subscriptions).toMatchObject({ subscribers: 0, executions: 0 });
    // A new subscriber starts a new execution and still gets the current state.
    const count = counters(gateway);
    const again = gateway.subscribeWs<Watch>(WATCH, { id: taskId });
    expect(statusOf(await again.events.next())).toBe('PENDING');
    expect(count.subscribeCalls).toBe(1);
  });

  it('drain closes every sharer (graphql-ws 1001) and the shared source', async () => {
    const gateway = await start(kind);
    const taskId = await newTask(gateway);
    const sockets = [rawWs(gateway, {}), rawWs(gateway, {}), rawWs(gateway, {})];
    for (const ws of sockets) {
      expect(await ws.messages.next()).toEqual({ type: 'connection_ack' });
      ws.subscribe(WATCH, { id: taskId });
      expect(statusOfMessage(await ws.messages.next())).toBe('PENDING');
    }
    expect(gateway.gateway.subscriptions.executions).toBe(1);
    await gateway.gateway.stop();
    for (const ws of sockets) expect((await ws.closed).code).toBe(1001);
    expect(gateway.gateway.services.pubsub.listenerCount()).toBe(0);
    expect(gateway.gateway.subscriptions).toMatchObject({ subscribers: 0, executions: 0 });
  });

  describe('with auth', () => {
    const token = (tenant: string, expSeconds = Math.floor(Date.now() / 1000) + 600) =>
      new SignJWT({ tenant }).setProtectedHeader({ alg: 'HS256' }).setExpirationTime(expSeconds).sign(new TextEncoder().encode(JWT_SECRET));

    /** Uploads a video and starts its extraction as `tenant`; the task stays PENDING. */
    async function tenantTask(gateway: TestGateway, tenant: string): Promise<string> {
      const authorization = `Bearer ${await token(tenant)}`;
      const { body } = await postGraphQLMultipart(`${gateway.url}/graphql`, {
        query: UPLOAD,
        files: [{ path: 'variables.file', data: 'a video', filename: 'clip.mp4', type: 'video/mp4' }],
        headers: { authorization },
      });
      const assetId = body.data?.uploadVideo.asset.id as string;
      const res = await fetch(`${gateway.url}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization },
        body: JSON.stringify({ query: EXTRACT, variables: { assetId } }),
      });
      const reply = (await res.json()) as GraphQLResponse;
      expect(reply.data?.extractFrames.__typename).toBe('ExtractFramesSuccess');
      return reply.data!.extractFrames.task.id as string;
    }

    it('never shares between tenants: the same document and variables give the owner its task and the other TASK_NOT_FOUND', async () => {
      const gateway = await start(kind, { AUTH_JWT_SECRET: JWT_SECRET });
      const taskId = await tenantTask(gateway, 'acme');
      const count = counters(gateway);
      const acme = [rawWs(gateway, { authorization: `Bearer ${await token('acme')}` }), rawWs(gateway, { authorization: `Bearer ${await token('acme')}` })];
      const globex = rawWs(gateway, { authorization: `Bearer ${await token('globex')}` });
      for (const ws of [...acme, globex]) expect(await ws.messages.next()).toEqual({ type: 'connection_ack' });
      for (const ws of acme) ws.subscribe(WATCH, { id: taskId });
      for (const ws of acme) expect(statusOfMessage(await ws.messages.next())).toBe('PENDING');
      const acmeSse = await sse(gateway, WATCH, { id: taskId }, await token('acme'));
      expect(((await acmeSse()) as GraphQLResponse<Watch>).data?.frameExtractionTask.status).toBe('PENDING');
      expect(count.subscribeCalls).toBe(1);
      globex.subscribe(WATCH, { id: taskId });
      const refused = await globex.messages.next();
      expect(refused.type).toBe('next');
      expect(refused.payload.errors[0].extensions.code).toBe('TASK_NOT_FOUND');
      expect(await globex.messages.next()).toMatchObject({ type: 'complete' });
      const globexSse = await sse(gateway, WATCH, { id: taskId }, await token('globex'));
      expect(((await globexSse()) as GraphQLResponse).errors?.[0]?.extensions?.code).toBe('TASK_NOT_FOUND');
      expect(count.subscribeCalls).toBe(3);

      await fake.completeTask(taskId, { frames: 1 });
      for (const ws of acme) expect(statusOfMessage(await ws.messages.next())).toBe('SUCCEEDED');
      expect(((await acmeSse()) as GraphQLResponse<Watch>).data?.frameExtractionTask.status).toBe('SUCCEEDED');
      expect(globex.messages.size).toBe(0);
    });

    it("ends only the expiring sharer at its token's exp (4401 / UNAUTHENTICATED); the others keep the shared execution", async () => {
      const gateway = await start(kind, { AUTH_JWT_SECRET: JWT_SECRET });
      const taskId = await tenantTask(gateway, 'acme');
      const count = counters(gateway);
      // Expires within 1-2 s (exp has whole seconds); the test awaits the close, it does not sleep.
      const exp = Math.floor(Date.now() / 1000) + 2;
      const short = rawWs(gateway, { authorization: `Bearer ${await token('acme', exp)}` });
      const long = rawWs(gateway, { authorization: `Bearer ${await token('acme')}` });
      for (const ws of [short, long]) {
        expect(await ws.messages.next()).toEqual({ type: 'connection_ack' });
        ws.subscribe(WATCH, { id: taskId });
        expect(statusOfMessage(await ws.messages.next())).toBe('PENDING');
      }
      const shortSse = await sse(gateway, WATCH, { id: taskId }, await token('acme', exp));
      expect(((await shortSse()) as GraphQLResponse<Watch>).data?.frameExtractionTask.status).toBe('PENDING');
      expect(count.subscribeCalls).toBe(1);
      expect(gateway.gateway.subscriptions.subscribers).toBe(3);

      expect(await short.closed).toMatchObject({ code: 4401, reason: 'Token expired' });
      expect(await shortSse()).toEqual({ errors: [{ message: 'Token expired', extensions: { code: 'UNAUTHENTICATED' } }] });
      expect(await shortSse()).toBe('complete');
      await expect.poll(() => gateway.gateway.subscriptions.subscribers).toBe(1);
      expect(gateway.gateway.subscriptions.executions).toBe(1);

      await fake.completeTask(taskId, { frames: 1 });
      expect(statusOfMessage(await long.messages.next())).toBe('SUCCEEDED');
      expect(await long.messages.next()).toMatchObject({ type: 'complete' });
    });
  });
});

function statusOfMessage(message: Record<string, any>): string | undefined {
  return message.payload?.data?.frameExtractionTask?.status;
}

/** A raw graphql-transport-ws socket (to see close codes) that sends connection_init with `payload`. */
function rawWs(gateway: TestGateway, payload: unknown) {
  const socket = new WebSocket(`${gateway.url.replace(/^http/, 'ws')}/graphql`, 'graphql-transport-ws');
  disposers.push(() => socket.terminate());
  const messages = createEventQueue<Record<string, any>>();
  const closed = createDeferred<{ code: number; reason: string }>();
  let ids = 0;
  socket.on('message', (data) => messages.push(JSON.parse(String(data))));
  socket.on('close', (code, reason) => closed.resolve({ code, reason: String(reason) }));
  socket.on('open', () => socket.send(JSON.stringify({ type: 'connection_init', payload })));
  return {
    messages,
    closed: closed.promise,
    subscribe(query: string, variables: Record<string, unknown>) {
      socket.send(JSON.stringify({ id: String(++ids), type: 'subscribe', payload: { query, variables } }));
    },
  };
}

/** POSTs a subscription with `accept: text/event-stream` and a token; yields each `next` payload, then 'complete'. */
async function sse(gateway: TestGateway, query: string, variables: Record<string, unknown>, jwt: string) {
  const controller = new AbortController();
  disposers.push(() => controller.abort());
  const res = await fetch(`${gateway.url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'text/event-stream', authorization: `Bearer ${jwt}` },
    body: JSON.stringify({ query, variables }),
    signal: controller.signal,
  });
  return readSseEvents<GraphQLResponse>(res.body!);
}
