import { beforeEach, describe, expect, it } from 'vitest';
import { createPubSub } from '../../src/pubsub/index.js';
import { TEST_WEBHOOK_SECRET, type TestGateway } from '../helpers/gateway.js';
import { useGatewayPerTest } from '../helpers/gateway-per-test.js';

const EXTRACT = /* GraphQL */ `
  mutation Extract($assetId: ID!, $force: Boolean, $key: String) {
    extractFrames(assetId: $assetId, force: $force, idempotencyKey: $key) {
      __typename
      ... on ExtractFramesSuccess { reused task { id assetId status frameCount error submittedAt completedAt } }
      ... on Error { message code }
      ... on UpstreamRateLimitedError { retryAfterSeconds }
    }
  }
`;
const WATCH = /* GraphQL */ `
  subscription Watch($id: ID!) {
    frameExtractionTask(id: $id) { id status frameCount error collection { id frameCount } }
  }
`;

const stack = useGatewayPerTest({ webhooks: true });
let gw: TestGateway;

beforeEach(async () => {
  gw = await stack.start();
});

async function extract(assetId: string, extra: Record<string, unknown> = {}) {
  const res = await gw.graphql(EXTRACT, { assetId, ...extra });
  expect(res.errors).toBeUndefined();
  return res.data!.extractFrames;
}

describe('extractFrames → webhook → subscription', () => {
  it('pushes PENDING then SUCCEEDED over graphql-ws and completes', async () => {
    const assetId = stack.fake.addAsset();
    const result = await extract(assetId);
    expect(result).toMatchObject({ __typename: 'ExtractFramesSuccess', reused: false, task: { assetId, status: 'PENDING', frameCount: null } });
    expect(stack.fake.callsTo('POST', '/video/extract-frames')).toHaveLength(1);

    const sub = gw.subscribeWs(WATCH, { id: result.task.id });
    expect((await sub.events.next()).data!.frameExtractionTask.status).toBe('PENDING');
    const done = await stack.fake.completeTask(result.task.id, { frames: 4, shuffle: true });
    expect(done.status).toBe(200);
    const final = (await sub.events.next()).data!.frameExtractionTask;
    expect(final).toEqual({
      id: result.task.id,
      status: 'SUCCEEDED',
      frameCount: 4,
      error: null,
      collection: { id: done.collectionId, frameCount: 4 },
    });
    await sub.completed;
  });

  it('pushes the same over SSE', async () => {
    const result = await extract(stack.fake.addAsset());
    const sub = gw.subscribeSse(WATCH, { id: result.task.id });
    expect((await sub.events.next()).data!.frameExtractionTask.status).toBe('PENDING');
    await stack.fake.failTask(result.task.id, { code: 500, message: 'video decode failed' });
    expect((await sub.events.next()).data!.frameExtractionTask).toMatchObject({ status: 'FAILED', error: 'video decode failed' });
    await sub.completed;
  });

  it('a subscriber arriving after completion gets the final state at once and completes', async () => {
    const result = await extract(stack.fake.addAsset());
    await stack.fake.completeTask(result.task.id, { frames: 2 });
    const sub = gw.subscribeWs(WATCH, { id: result.task.id });
    expect((await sub.events.next()).data!.frameExtractionTask.status).toBe('SUCCEEDED');
    await sub.completed;
  });

  it('applies a callback that beats the extract reply (parked, then applied on registration)', async () => {
    const assetId = stack.fake.addAsset();
    stack.fake.onExtract = async (taskId) => {
      const sent = await stack.fake.completeTask(taskId, { frames: 3 });
      expect(sent.status).toBe(200);
    };
    const result = await extract(assetId);
    expect(result.task).toMatchObject({ status: 'SUCCEEDED', frameCount: 3 });
    const again = await gw.graphql(`query($id: ID!) { frameExtractionTask(id: $id) { status frameCount } }`, { id: result.task.id });
    expect(again.data!.frameExtractionTask).toEqual({ status: 'SUCCEEDED', frameCount: 3 });
  });

  it('rejects an unknown task id on subscribe with an error instead of hanging', async () => {
    const sub = gw.subscribeWs(WATCH, { id: '0123456789abcdef0123456789abcdef' });
    expect((await sub.events.next()).errors?.[0]?.extensions?.code).toBe('TASK_NOT_FOUND');
    await sub.completed;
    const sse = gw.subscribeSse(WATCH, { id: '0123456789abcdef0123456789abcdef' });
    const first = await sse.events.next();
    expect(first.errors?.[0]?.extensions?.code).toBe('TASK_NOT_FOUND');
  });

  it('releases the listener when a client leaves before the first change', async () => {
    const result = await extract(stack.fake.addAsset());
    const sub = gw.subscribeWs(WATCH, { id: result.task.id });
    await sub.events.next();
    expect(gw.gateway.services.pubsub.listenerCount()).toBe(1);
    await sub.dispose();
    await expect.poll(() => gw.gateway.services.pubsub.listenerCount()).toBe(0);
  });
});

describe('extractFrames input and upstream errors', () => {
  it.each(['', 'im_123', 're_', 're_12a', 'RE_1', 're_1 OR 1=1'])('rejects asset id %j without calling upstream', async (bad) => {
    const result = await extract(bad);
    expect(result).toMatchObject({ __typename: 'InvalidAssetIdError', code: 'INVALID_ASSET_ID' });
    expect(stack.fake.calls).toHaveLength(0);
  });

  it('returns AssetNotFoundError for an unknown asset (upstream answers 400 "not found")', async () => {
    const result = await extract('re_123456789012345678');
    expect(result).toMatchObject({ __typename: 'AssetNotFoundError', code: 'ASSET_NOT_FOUND' });
    expect(stack.fake.callsTo('POST', '/video/extract-frames')).toHaveLength(0);
  });

  it('returns AssetNotReadyError / NotAVideoError without a billed extract call', async () => {
    const waiting = stack.fake.addAsset({ uploadStatus: 'UPLOADING' });
    expect(await extract(waiting)).toMatchObject({ __typename: 'AssetNotReadyError', code: 'ASSET_NOT_READY' });
    const image = stack.fake.addAsset({ extension: 'png', filename: 'a.png' });
    expect(await extract(image)).toMatchObject({ __typename: 'NotAVideoError', code: 'NOT_A_VIDEO' });
    expect(stack.fake.callsTo('POST', '/video/extract-frames')).toHaveLength(0);
  });

  it('maps an upstream outage to UpstreamUnavailableError', async () => {
    const assetId = stack.fake.addAsset();
    await gw.graphql(`query($id: ID!) { videoAsset(id: $id) { id } }`, { id: assetId }); // warm the asset cache
    stack.fake.setFailure({ status: 500, body: { code: 500, msg: 'Internal error', data: null, success: false, failed: true } }, 1);
    expect(await extract(assetId)).toMatchObject({ __typename: 'UpstreamUnavailableError', code: 'UPSTREAM_UNAVAILABLE' });
    // Extract is billed, so a 5xx is not retried.
    expect(stack.fake.calls.filter((c) => c.path === '/video/extract-frames')).toHaveLength(1);
  });
});

describe('webhook receiver', () => {
  const post = (path: string, body: string, headers: Record<string, string> = {}) =>
    fetch(`${gw.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body });
  const hook = `/webhooks/mavi/${TEST_WEBHOOK_SECRET}`;

  it('answers 404 for a wrong secret and changes nothing', async () => {
    const result = await extract(stack.fake.addAsset());
    const res = await post('/webhooks/mavi/wrong-secret-000000000000', JSON.stringify({ code: 200, message: 'SUCCESS', task_id: result.task.id, data: { asset_id: 'im_1', asset_ch_ids: ['imc_1_0'] } }));
    expect(res.status).toBe(404);
    const state = await gw.graphql(`query($id: ID!) { frameExtractionTask(id: $id) { status } }`, { id: result.task.id });
    expect(state.data!.frameExtractionTask.status).toBe('PENDING');
  });

  it('answers 400 for malformed bodies and 413 for oversized ones, changing nothing', async () => {
    const result = await extract(stack.fake.addAsset());
    expect((await post(hook, '{not json')).status).toBe(400);
    expect((await post(hook, JSON.stringify({ code: 200, data: {} }))).status).toBe(400);
    expect((await post(hook, JSON.stringify([1, 2]))).status).toBe(400);
    expect((await post(hook, JSON.stringify({ task_id: result.task.id, pad: 'x'.repeat(2_000_000) }))).status).toBe(413);
    const state = await gw.graphql(`query($id: ID!) { frameExtractionTask(id: $id) { status } }`, { id: result.task.id });
    expect(state.data!.frameExtractionTask.status).toBe('PENDING');
  });

  it('is idempotent: a duplicate callback produces no second event', async () => {
    const result = await extract(stack.fake.addAsset());
    const sub = gw.subscribeWs(WATCH, { id: result.task.id });
    await sub.events.next();
    const first = await stack.fake.completeTask(result.task.id, { frames: 2 });
    expect((await sub.events.next()).data!.frameExtractionTask.status).toBe('SUCCEEDED');
    await sub.completed;
    const seen: string[] = [];
    const watcher = gw.gateway.services.pubsub.subscribe('task:updated', result.task.id);
    void (async () => {
      for await (const t of watcher) seen.push(t.status);
    })();
    expect(await stack.fake.sendCallback(first.body)).toBe(200);
    expect(await stack.fake.sendCallback({ ...first.body, code: 500, message: 'late failure' })).toBe(200);
    await watcher.return();
    expect(seen).toEqual([]);
    const state = await gw.graphql(`query($id: ID!) { frameExtractionTask(id: $id) { status frameCount } }`, { id: result.task.id });
    expect(state.data!.frameExtractionTask).toEqual({ status: 'SUCCEEDED', frameCount: 2 });
  });

  it('marks FAILED when a success code comes without asset_ch_ids, keeping the upstream message', async () => {
    const result = await extract(stack.fake.addAsset());
    expect(await stack.fake.sendCallback({ code: '0000', message: 'no frames produced', data: { asset_id: 'im_666914042514116999' }, task_id: result.task.id })).toBe(200);
    const state = await gw.graphql(`query($id: ID!) { frameExtractionTask(id: $id) { status error frameCount } }`, { id: result.task.id });
    expect(state.data!.frameExtractionTask).toEqual({ status: 'FAILED', error: 'no frames produced', frameCount: null });
  });

  it('answers 200 for task ids it does not know (other endpoints share the webhook)', async () => {
    expect(await stack.fake.sendCallback({ code: 200, message: 'SUCCESS', data: { data: [] }, task_id: 'ffffffffffffffffffffffffffffffff' })).toBe(200);
  });
});

describe('task deadline', () => {
  it('marks a task without callback TIMED_OUT at the deadline, tells subscribers, and accepts a late success', async () => {
    let clock = Date.now();
    gw = await stack.start({ TASK_TIMEOUT_SECONDS: '60' }, { now: () => clock });
    const result = await extract(stack.fake.addAsset());
    const sub = gw.subscribeWs(WATCH, { id: result.task.id });
    expect((await sub.events.next()).data!.frameExtractionTask.status).toBe('PENDING');

    clock += 59_000;
    expect(await gw.gateway.services.tasks.sweep()).toBe(0);
    clock += 1_000;
    expect(await gw.gateway.services.tasks.sweep()).toBe(1);
    const timedOut = (await sub.events.next()).data!.frameExtractionTask;
    expect(timedOut).toMatchObject({ status: 'TIMED_OUT' });
    expect(timedOut.error).toMatch(/60 s/);

    // TIMED_OUT is not final for subscribers either: the late result reaches the same subscription, then it completes.
    await stack.fake.completeTask(result.task.id, { frames: 2 });
    expect((await sub.events.next()).data!.frameExtractionTask).toMatchObject({ status: 'SUCCEEDED', frameCount: 2 });
    await sub.completed;
    const state = await gw.graphql(`query($id: ID!) { frameExtractionTask(id: $id) { status frameCount } }`, { id: result.task.id });
    expect(state.data!.frameExtractionTask).toEqual({ status: 'SUCCEEDED', frameCount: 2 });
  });
});

describe('lost events', () => {
  it('still delivers the final state when the event is lost (the subscription re-reads the registry)', async () => {
    // A pub/sub that drops every event, as a Redis reconnect can.
    const lossy = { ...createPubSub(), publish: () => {} };
    gw = await stack.start({ SUBSCRIPTION_RECHECK_MS: '20' }, { pubsub: lossy });
    const result = await extract(stack.fake.addAsset());
    const sub = gw.subscribeWs(WATCH, { id: result.task.id });
    expect((await sub.events.next()).data!.frameExtractionTask.status).toBe('PENDING');
    await stack.fake.completeTask(result.task.id, { frames: 2 });
    expect((await sub.events.next()).data!.frameExtractionTask).toMatchObject({ status: 'SUCCEEDED', frameCount: 2 });
    await sub.completed;
    expect(lossy.listenerCount()).toBe(0);
  });
});

describe('subscription events and loaders', () => {
  it('resolves every event with fresh loaders (no loader cache carried from one event to the next)', async () => {
    const assetId = stack.fake.addAsset();
    const result = await extract(assetId);
    const metadata = gw.gateway.services.metadata;
    const original = metadata.get.bind(metadata);
    const reads: string[] = [];
    metadata.get = (id) => {
      reads.push(id);
      return original(id);
    };
    const sub = gw.subscribeWs(`subscription($id: ID!) { frameExtractionTask(id: $id) { status asset { id } } }`, { id: result.task.id });
    expect((await sub.events.next()).data!.frameExtractionTask).toEqual({ status: 'PENDING', asset: { id: assetId } });
    await stack.fake.completeTask(result.task.id, { frames: 1 });
    expect((await sub.events.next()).data!.frameExtractionTask).toEqual({ status: 'SUCCEEDED', asset: { id: assetId } });
    await sub.completed;
    // One read per event: a per-subscription loader would have answered the second from its own cache.
    expect(reads).toEqual([assetId, assetId]);
  });
});
