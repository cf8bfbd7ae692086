/**
 * OpenTelemetry traces of one extraction flow (mutation → fake upstream → webhook → subscription push), exported
 * by the real SDK with OTEL_EXPORTER_OTLP_PROTOCOL=http/json to a real OTLP/HTTP receiver. Two gateway instances
 * share a real Redis: the mutation runs on A, the webhook lands on B, so the link from the webhook span to the
 * submitting span can only come from the trace context stored with the task in Redis.
 *
 * The tests run in order: first without any OTLP endpoint (nothing starts), then with the SDK.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';
import { createLogger, type Logger } from '../../src/logger.js';
import { tracingEnabled } from '../../src/observability/spans.js';
import { startTracing, tracingRequested } from '../../src/observability/tracing.js';
import { createEventQueue } from '../helpers/deferred.js';
import { startFakeUpstream, type FakeUpstream } from '../helpers/fake-upstream.js';
import { startTestGateway, TEST_API_KEY, TEST_WEBHOOK_SECRET, type GraphQLResponse, type TestGateway } from '../helpers/gateway.js';
import { SPAN_KIND, STATUS_ERROR, startOtlpReceiver, type ReceivedSpan } from '../helpers/otlp-receiver.js';
import { openTestRedis, TEST_REDIS_URL, type TestRedis } from '../helpers/redis.js';

const EXTRACT = /* GraphQL */ `
  mutation Extract($assetId: ID!) {
    extractFrames(assetId: $assetId) { __typename ... on ExtractFramesSuccess { task { id status } } }
  }
`;
const WATCH = /* GraphQL */ `
  subscription Watch($id: ID!) { frameExtractionTask(id: $id) { id status } }
`;

const hex = (bytes: number) => randomBytes(bytes).toString('hex');
const traceparent = (traceId: string, spanId: string) => `00-${traceId}-${spanId}-01`;

const disposers: (() => unknown)[] = [];
afterEach(async () => {
  for (const dispose of disposers.splice(0).reverse()) await dispose();
  vi.unstubAllEnvs();
});

async function post(gw: TestGateway, query: string, variables: Record<string, unknown>, headers: Record<string, string> = {}) {
  const res = await fetch(`${gw.url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json', ...headers },
    body: JSON.stringify({ query, variables }),
  });
  return (await res.json()) as GraphQLResponse;
}

/** A graphql-ws subscription whose upgrade request carries `headers`; resolves with every event once it completes. */
function subscribeWs(gw: TestGateway, variables: Record<string, unknown>, headers: Record<string, string>) {
  class HeaderedWebSocket extends WebSocket {
    constructor(address: string, protocols?: string | string[]) {
      super(address, protocols, { headers });
    }
  }
  const client = createClient({ url: `${gw.url.replace(/^http/, 'ws')}/graphql`, webSocketImpl: HeaderedWebSocket, retryAttempts: 0 });
  disposers.push(() => client.dispose());
  const events = createEventQueue<GraphQLResponse>();
  const completed = new Promise<GraphQLResponse[]>((resolve, reject) => {
    const all: GraphQLResponse[] = [];
    client.subscribe(
      { query: WATCH, variables },
      {
        next: (value) => {
          all.push(value as GraphQLResponse);
          events.push(value as GraphQLResponse);
        },
        error: reject,
        complete: () => resolve(all),
      },
    );
  });
  return { events, completed };
}

/** An SSE subscription with `headers`; resolves with the raw stream once the server ends it. */
async function subscribeSse(gw: TestGateway, variables: Record<string, unknown>, headers: Record<string, string>) {
  const res = await fetch(`${gw.url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'text/event-stream', ...headers },
    body: JSON.stringify({ query: WATCH, variables }),
  });
  return res.text();
}

interface Flow {
  fake: FakeUpstream;
  a: TestGateway;
  b: TestGateway;
  /** traceparent header values the gateway sent to the upstream. */
  upstreamTraceparents: (string | null)[];
}

async function startFlow(options: { redis?: TestRedis; logger?: Logger } = {}): Promise<Flow> {
  const fake = await startFakeUpstream({ rps: 0 });
  disposers.push(() => fake.close());
  const upstreamTraceparents: (string | null)[] = [];
  const recordingFetch: typeof fetch = (input, init) => {
    upstreamTraceparents.push(new Headers(init?.headers).get('traceparent'));
    return fetch(input, init);
  };
  const env: Record<string, string> = options.redis ? { REDIS_URL: TEST_REDIS_URL, REDIS_PREFIX: options.redis.prefix } : {};
  const start = () =>
    startTestGateway({
      upstreamUrl: fake.url,
      env,
      deps: { fetch: recordingFetch },
      ...(options.logger ? { logger: options.logger } : {}),
    });
  const a = await start();
  disposers.push(() => a.close());
  // Without Redis the second instance would not share tasks: the webhook then goes to A itself.
  const b = options.redis ? await start() : a;
  if (b !== a) disposers.push(() => b.close());
  fake.setWebhookUrl(`${b.url}/webhooks/mavi/${TEST_WEBHOOK_SECRET}`);
  return { fake, a, b, upstreamTraceparents };
}

describe('without an OTLP endpoint', () => {
  it('starts no SDK, records no trace context, and the extraction flow works as before', async () => {
    expect(tracingRequested({})).toBe(false);
    expect(await startTracing({ env: {}, logger: createLogger({ level: 'silent' }) })).toBeUndefined();
    expect(tracingEnabled()).toBe(false);
    const { fake, a, upstreamTraceparents } = await startFlow();

    const client = traceparent(hex(16), hex(8));
    const result = await post(a, EXTRACT, { assetId: fake.addAsset() }, { traceparent: client });
    const taskId = result.data!.extractFrames.task.id as string;
    const sub = subscribeWs(a, { id: taskId }, { traceparent: client });
    await sub.events.next();
    await fake.completeTask(taskId, { frames: 2 });
    expect((await sub.completed).map((e) => e.data!.frameExtractionTask.status)).toEqual(['PENDING', 'SUCCEEDED']);

    expect((await a.gateway.services.store.get(taskId))?.traceparent).toBeUndefined();
    expect(upstreamTraceparents.length).toBeGreaterThan(0);
    expect(upstreamTraceparents.every((value) => value === null)).toBe(true);
  });
});

/** Starts the SDK against a fresh receiver with `env` (plus http/json and a short batch delay). */
async function startTraced(env: Record<string, string>, logger: Logger, dispose: (() => unknown)[]) {
  const receiver = await startOtlpReceiver();
  dispose.push(() => receiver.close());
  vi.stubEnv('OTEL_EXPORTER_OTLP_PROTOCOL', 'http/json');
  vi.stubEnv('OTEL_BSP_SCHEDULE_DELAY', '20');
  for (const [name, value] of Object.entries(env)) vi.stubEnv(name, value.replace('<receiver>', receiver.url));
  const tracing = await startTracing({ env: process.env, logger });
  if (!tracing) throw new Error('tracing did not start');
  dispose.push(() => tracing.shutdown());
  return { receiver, tracing };
}

const named = (spans: ReceivedSpan[], name: string) => spans.filter((s) => s.name === name);

describe('with OTEL_EXPORTER_OTLP_ENDPOINT (http/json): one extraction over two instances sharing Redis', () => {
  const suiteDisposers: (() => unknown)[] = [];
  const logLines: Record<string, unknown>[] = [];
  const lineWaiters: { match: (line: Record<string, unknown>) => boolean; resolve: (line: Record<string, unknown>) => void }[] = [];
  /** The first log line matching `match`, written already or still to come (request lines follow the response). */
  const logLine = (match: (line: Record<string, unknown>) => boolean) =>
    new Promise<Record<string, unknown>>((resolve) => {
      const found = logLines.find(match);
      if (found) resolve(found);
      else lineWaiters.push({ match, resolve });
    });
  const traceId = hex(16);
  const [clientSpan, wsParent, sseParent] = [hex(8), hex(8), hex(8)];
  let spans: ReceivedSpan[];
  let assetId: string;
  let taskId: string;
  let upstreamTraceparents: (string | null)[];
  let mutation: ReceivedSpan;

  beforeAll(async () => {
    const logger = createLogger({
      level: 'info',
      write: (text) => {
        const line = JSON.parse(text) as Record<string, unknown>;
        logLines.push(line);
        for (const waiter of lineWaiters.filter((w) => w.match(line))) {
          lineWaiters.splice(lineWaiters.indexOf(waiter), 1);
          waiter.resolve(line);
        }
      },
    });
    const { receiver, tracing } = await startTraced({ OTEL_EXPORTER_OTLP_ENDPOINT: '<receiver>' }, logger, suiteDisposers);
    const redis = await openTestRedis();
    suiteDisposers.push(() => redis.dispose());
    const flow = await startFlow({ redis, logger });
    ({ upstreamTraceparents } = flow);
    const { fake, a } = flow;

    assetId = fake.addAsset();
    const result = await post(a, EXTRACT, { assetId }, { traceparent: traceparent(traceId, clientSpan) });
    taskId = result.data!.extractFrames.task.id as string;
    const sub = subscribeWs(a, { id: taskId }, { traceparent: traceparent(traceId, wsParent) });
    expect((await sub.events.next()).data!.frameExtractionTask.status).toBe('PENDING');
    expect((await fake.completeTask(taskId, { frames: 2 })).status).toBe(200);
    expect((await sub.completed).map((e) => e.data!.frameExtractionTask.status)).toEqual(['PENDING', 'SUCCEEDED']);
    expect(await subscribeSse(a, { id: taskId }, { traceparent: traceparent(traceId, sseParent) })).toContain('SUCCEEDED');
    await post(a, '{ broken', {});
    await tracing.forceFlush();
    spans = await receiver.waitFor(
      (all) =>
        named(all, 'mutation').length === 1 &&
        named(all, 'subscription').length === 2 &&
        named(all, 'POST /webhooks/mavi/{secret}').length === 1 &&
        named(all, 'GraphQL Operation').length === 1,
    );
    mutation = named(spans, 'mutation')[0]!;
    expect(receiver.requests.every((r) => r.path === '/v1/traces' && r.contentType === 'application/json')).toBe(true);
  });
  afterAll(async () => {
    for (const dispose of suiteDisposers.splice(0).reverse()) await dispose();
    vi.unstubAllEnvs();
  });

  it('continues the client traceparent in a SERVER span named after the operation type', () => {
    expect(mutation).toMatchObject({
      traceId,
      parentSpanId: clientSpan,
      kind: SPAN_KIND.SERVER,
      attributes: { 'graphql.operation.type': 'mutation', 'graphql.operation.name': 'Extract' },
      resource: { 'service.name': 'frames-gateway' },
    });
  });

  it('records each upstream call as a CLIENT span with its queue wait, and sends the trace context along', () => {
    const upstream = spans.filter((s) => s.kind === SPAN_KIND.CLIENT && s.parentSpanId === mutation.spanId);
    const extract = upstream.find((s) => s.name === 'POST /video/extract-frames');
    expect(extract?.attributes).toMatchObject({
      'http.request.method': 'POST',
      'http.response.status_code': 200,
      'url.path': '/video/extract-frames',
      'server.address': '127.0.0.1',
      'frames.upstream.endpoint': 'extract',
    });
    expect(extract?.attributes['frames.upstream.queue_wait_ms']).toBeGreaterThanOrEqual(0);
    expect(upstream.find((s) => s.name === 'GET /{id}/metadata')?.attributes['url.path']).toBe(`/${assetId}/metadata`);
    expect(upstreamTraceparents).toContain(traceparent(traceId, extract!.spanId));
  });

  it('links the webhook SERVER span to the submitting span, through the task kept in Redis', () => {
    const webhook = named(spans, 'POST /webhooks/mavi/{secret}')[0]!;
    expect(webhook).toMatchObject({
      kind: SPAN_KIND.SERVER,
      attributes: { 'frames.task.id': taskId, 'http.response.status_code': 200, 'frames.webhook.outcome': 'applied' },
    });
    expect(webhook.traceId).not.toBe(traceId);
    expect(webhook.links).toContainEqual({ traceId, spanId: mutation.spanId });
    expect(spans.find((s) => s.name === 'publish task:updated' && s.parentSpanId === webhook.spanId)).toMatchObject({
      kind: SPAN_KIND.PRODUCER,
      attributes: { 'frames.task.id': taskId, 'frames.task.status': 'SUCCEEDED' },
    });
  });

  it('records every push on the subscription span, over graphql-ws (upgrade headers) and SSE', () => {
    const subscriptions = named(spans, 'subscription').filter((s) => s.traceId === traceId);
    const [ws, sse] = [wsParent, sseParent].map((parent) => subscriptions.find((s) => s.parentSpanId === parent));
    expect(ws).toMatchObject({
      kind: SPAN_KIND.SERVER,
      attributes: { 'graphql.operation.type': 'subscription', 'graphql.operation.name': 'Watch' },
    });
    expect(ws!.events.filter((e) => e.name === 'frames.subscription.push')).toHaveLength(2);
    expect(sse?.events.filter((e) => e.name === 'frames.subscription.push')).toHaveLength(1);
  });

  it('names an operation that fails to parse "GraphQL Operation", with ERROR status', () => {
    expect(named(spans, 'GraphQL Operation')[0]).toMatchObject({
      statusCode: STATUS_ERROR,
      attributes: { 'error.type': 'GRAPHQL_PARSE_FAILED' },
    });
  });

  it('never records the API key or the webhook secret', () => {
    const everything = JSON.stringify(spans);
    expect(everything).not.toContain(TEST_API_KEY);
    expect(everything).not.toContain(TEST_WEBHOOK_SECRET);
  });

  it('puts trace_id and span_id on log lines written inside a span', () => {
    expect(logLines.find((line) => line.msg === 'extract submitted')).toMatchObject({ trace_id: traceId, span_id: mutation.spanId });
  });

  it("puts the operation span's trace_id and span_id on the request line, written after the span ended", async () => {
    const requestLine = (match: (line: Record<string, unknown>) => boolean) => logLine((line) => line.msg === 'request' && match(line));
    expect(await requestLine((line) => line.operationName === 'Extract')).toMatchObject({ trace_id: traceId, span_id: mutation.spanId });
    const sse = named(spans, 'subscription').find((s) => s.parentSpanId === sseParent)!;
    expect(await requestLine((line) => line.operationName === 'Watch')).toMatchObject({ trace_id: traceId, span_id: sse.spanId });
    const unparsed = named(spans, 'GraphQL Operation')[0]!;
    expect(await requestLine((line) => line.status === 400)).toMatchObject({ trace_id: unparsed.traceId, span_id: unparsed.spanId });
  });
});

describe('with OTEL_EXPORTER_OTLP_TRACES_ENDPOINT and OTEL_SERVICE_NAME', () => {
  it('exports to the traces endpoint under that service name; a query span is named `query`', async () => {
    const env = { OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: '<receiver>/v1/traces', OTEL_SERVICE_NAME: 'frames-gateway-eu' };
    const { receiver, tracing } = await startTraced(env, createLogger({ level: 'silent' }), disposers);
    const { a } = await startFlow();

    expect((await post(a, 'query Probe { __typename }', {})).data).toEqual({ __typename: 'Query' });
    await tracing.forceFlush();
    const [span] = await receiver.waitFor((all) => all.some((s) => s.name === 'query'));
    expect(span).toMatchObject({
      name: 'query',
      parentSpanId: '',
      attributes: { 'graphql.operation.type': 'query', 'graphql.operation.name': 'Probe' },
      resource: { 'service.name': 'frames-gateway-eu' },
    });
  });
});
