/**
 * `/metrics` of a real gateway in front of the fake upstream: scraped before and after each step, and the counters
 * must have moved by exactly the expected amounts (every other `frames_*` sample stays put).
 */
import { beforeEach, describe, expect, it } from 'vitest';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { useGatewayPerTest } from '../helpers/gateway-per-test.js';
import { delta, scrapeMetrics } from '../helpers/metrics.js';

const COLLECTION = /* GraphQL */ `
  query Collection($id: ID!) {
    frameCollection(id: $id) { frameCount frames { id url } }
  }
`;
const EXTRACT = /* GraphQL */ `
  mutation Extract($assetId: ID!) {
    extractFrames(assetId: $assetId) { __typename ... on ExtractFramesSuccess { task { id status } } }
  }
`;
const WATCH = /* GraphQL */ `
  subscription Watch($id: ID!) { frameExtractionTask(id: $id) { id status } }
`;

const stack = useGatewayPerTest({ webhooks: true });
let gw: TestGateway;

beforeEach(async () => {
  gw = await stack.start();
});

describe('GET /metrics', () => {
  it('moves the upstream and cache counters by exactly one uncached, then one cached query', async () => {
    const { collectionId } = stack.fake.addCollection(2);
    const before = await scrapeMetrics(gw.url);
    expect((await gw.graphql(COLLECTION, { id: collectionId })).errors).toBeUndefined();
    const uncached = await scrapeMetrics(gw.url);
    expect(delta(before, uncached)).toEqual({
      'frames_upstream_requests_total{endpoint="metadata",outcome="ok"}': 1,
      'frames_upstream_queue_wait_seconds_count': 1,
      'frames_metadata_cache_requests_total{result="miss"}': 1,
    });

    const res = await gw.graphql(COLLECTION, { id: collectionId });
    const cached = await scrapeMetrics(gw.url);
    expect(delta(uncached, cached)).toEqual({ 'frames_metadata_cache_requests_total{result="hit"}': 1 });
    expect(stack.fake.callsTo('GET', /\/metadata$/)).toHaveLength(1);

    // Media: the first frame downloads its collection's zip (a miss), the second is split out of it (a hit).
    const [first, second] = res.data!.frameCollection.frames as { url: string }[];
    expect((await fetch(first!.url)).status).toBe(200);
    const miss = await scrapeMetrics(gw.url);
    expect(delta(cached, miss)).toEqual({
      'frames_upstream_requests_total{endpoint="download",outcome="ok"}': 1,
      'frames_upstream_queue_wait_seconds_count': 1,
      'frames_upstream_download_bytes_total': expect.any(Number),
      'frames_media_requests_total{result="miss"}': 1,
      'frames_media_cache_bytes': expect.any(Number),
    });
    expect(miss.value('frames_upstream_download_bytes_total')).toBeGreaterThan(0);
    expect(miss.value('frames_media_cache_bytes')).toBeGreaterThan(0);
    expect((await fetch(second!.url)).status).toBe(200);
    expect(delta(miss, await scrapeMetrics(gw.url))).toEqual({ 'frames_media_requests_total{result="hit"}': 1 });
  });

  it('counts a webhook applied, its redelivery duplicate, and subscriptions 1 → 0 over ws and SSE', async () => {
    const assetId = stack.fake.addAsset();
    const before = await scrapeMetrics(gw.url);
    const extract = await gw.graphql(EXTRACT, { assetId });
    const taskId = extract.data!.extractFrames.task.id as string;
    const ws = gw.subscribeWs(WATCH, { id: taskId });
    const sse = gw.subscribeSse(WATCH, { id: taskId });
    expect((await ws.events.next()).data!.frameExtractionTask.status).toBe('PENDING');
    expect((await sse.events.next()).data!.frameExtractionTask.status).toBe('PENDING');
    const open = await scrapeMetrics(gw.url);
    expect(delta(before, open)).toEqual({
      'frames_upstream_requests_total{endpoint="metadata",outcome="ok"}': 1,
      'frames_upstream_requests_total{endpoint="extract",outcome="ok"}': 1,
      'frames_upstream_queue_wait_seconds_count': 2,
      'frames_metadata_cache_requests_total{result="miss"}': 1,
      'frames_tasks_total{status="PENDING"}': 1,
      'frames_tasks_pending': 1,
      'frames_subscriptions_active{transport="ws"}': 1,
      'frames_subscriptions_active{transport="sse"}': 1,
    });

    const done = await stack.fake.completeTask(taskId, { frames: 2 });
    expect(done.status).toBe(200);
    for (const sub of [ws, sse]) {
      expect((await sub.events.next()).data!.frameExtractionTask.status).toBe('SUCCEEDED');
      await sub.completed;
    }
    const applied = await scrapeMetrics(gw.url);
    expect(delta(open, applied)).toEqual({
      'frames_webhook_deliveries_total{outcome="applied"}': 1,
      'frames_callback_to_publish_seconds_count': 1,
      'frames_tasks_total{status="SUCCEEDED"}': 1,
      'frames_tasks_pending': -1,
      'frames_subscriptions_active{transport="ws"}': -1,
      'frames_subscriptions_active{transport="sse"}': -1,
    });
    expect(applied.value('frames_subscriptions_active', { transport: 'ws' })).toBe(0);
    expect(applied.value('frames_subscriptions_active', { transport: 'sse' })).toBe(0);

    expect(await stack.fake.sendCallback(done.body)).toBe(200);
    expect(delta(applied, await scrapeMetrics(gw.url))).toEqual({ 'frames_webhook_deliveries_total{outcome="duplicate"}': 1 });
  });

  it('counts a media request the upstream cannot serve as an error', async () => {
    const before = await scrapeMetrics(gw.url);
    const res = await fetch(gw.gateway.services.mediaUrl('imc_123456789012345678_0'));
    expect(res.status).toBe(404);
    expect(delta(before, await scrapeMetrics(gw.url))).toEqual({
      'frames_upstream_requests_total{endpoint="download",outcome="client_error"}': 1,
      'frames_upstream_queue_wait_seconds_count': 1,
      'frames_media_requests_total{result="error"}': 1,
    });
  });

  it('counts refused webhook deliveries as rejected', async () => {
    const before = await scrapeMetrics(gw.url);
    expect(await stack.fake.sendCallback(null, { raw: '{"not": "a callback"' })).toBe(400);
    expect((await fetch(`${gw.url}/webhooks/mavi/not-the-secret-0123456789`, { method: 'POST', body: '{}' })).status).toBe(404);
    expect(delta(before, await scrapeMetrics(gw.url))).toEqual({ 'frames_webhook_deliveries_total{outcome="rejected"}': 2 });
  });

  it('serves process metrics and the GraphQL phases from the gateway registry, with bounded labels', async () => {
    await gw.graphql(`query NamedByTheClient_${Date.now()} { __typename }`);
    const scrape = await scrapeMetrics(gw.url);
    expect(scrape.types.get('process_cpu_user_seconds_total')).toBe('counter');
    expect(scrape.types.get('nodejs_eventloop_lag_seconds')).toBe('gauge');
    expect(scrape.value('graphql_envelop_phase_execute_count', { operationType: 'query' })).toBe(1);
    // Client-chosen operation names and URLs never become label values.
    for (const sample of scrape.samples) {
      expect(sample.labels).not.toHaveProperty('operationName');
      expect(sample.labels).not.toHaveProperty('url');
    }
  });
});

describe('METRICS_TOKEN', () => {
  const TOKEN = 'metrics-token-0123456789';

  it('answers 401 without the bearer token (or with a wrong one) and 200 with it', async () => {
    await using secured = await startTestGateway({ upstreamUrl: stack.fake.url, env: { METRICS_TOKEN: TOKEN } });
    const without = await fetch(`${secured.url}/metrics`);
    expect(without.status).toBe(401);
    expect(without.headers.get('www-authenticate')).toBe('Bearer realm="metrics"');
    expect(await without.text()).not.toContain('frames_');
    const wrong = await fetch(`${secured.url}/metrics`, { headers: { authorization: `Bearer ${TOKEN}x` } });
    expect(wrong.status).toBe(401);
    const withToken = await fetch(`${secured.url}/metrics`, { headers: { authorization: `Bearer ${TOKEN}` } });
    expect(withToken.status).toBe(200);
    expect(withToken.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    expect(await withToken.text()).toContain('frames_upstream_requests_total{endpoint="extract",outcome="ok"} 0');
  });
});
