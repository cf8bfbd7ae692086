/**
 * Upstream economy through the real gateway: extract-frames dedupe (asset, idempotency key, reuse window), fail-fast
 * instead of long queueing, and request coalescing.
 *
 * Where the rate is the point, the fake enforces the real account limit (1 request per sliding second, 429 beyond)
 * and the gateway runs UPSTREAM_RPS=1. Dedupe tests count calls, so there the fake does not enforce a rate: the
 * concurrent ones keep the gateway at 1 rps (the first call stays in flight ~1 s, so every request overlaps it), the
 * sequential ones run it at 50 rps to stay fast.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { startFakeUpstream, type FakeUpstream } from '../helpers/fake-upstream.js';
import { startTestGateway, TEST_WEBHOOK_SECRET, type GraphQLResponse, type TestGateway } from '../helpers/gateway.js';

const EXTRACT = /* GraphQL */ `
  mutation Extract($assetId: ID!, $force: Boolean, $key: String) {
    extractFrames(assetId: $assetId, force: $force, idempotencyKey: $key) {
      __typename
      ... on ExtractFramesSuccess { reused task { id assetId status } }
      ... on Error { message code }
      ... on InvalidArgumentError { argument }
      ... on UpstreamRateLimitedError { retryAfterSeconds }
    }
  }
`;
const COLLECTION = /* GraphQL */ `
  query Collection($id: ID!) { frameCollection(id: $id) { id frameCount } }
`;

interface ExtractResult {
  __typename: string;
  reused?: boolean;
  task?: { id: string; assetId: string; status: string };
  code?: string;
  message?: string;
  argument?: string;
  retryAfterSeconds?: number;
}

let fake: FakeUpstream | undefined;
let gw: TestGateway | undefined;
/** The gateway's clock (task submit / completion times); tests move it instead of sleeping. */
let clock = Date.now();

interface Rates {
  /** Limit the fake enforces (0 = none). */
  fake: number;
  /** The gateway's UPSTREAM_RPS. */
  gateway: number;
}
/** The real account: 1 request per second, enforced. */
const REAL: Rates = { fake: 1, gateway: 1 };
/** Pacing as the real account, nothing enforced: for counting calls of overlapping requests. */
const PACED: Rates = { fake: 0, gateway: 1 };
const FAST: Rates = { fake: 0, gateway: 50 };

async function start(rates: Rates, env: Record<string, string> = {}): Promise<{ fake: FakeUpstream; gw: TestGateway }> {
  clock = Date.now();
  fake = await startFakeUpstream({ rps: rates.fake });
  gw = await startTestGateway({
    upstreamUrl: fake.url,
    env: { UPSTREAM_RPS: String(rates.gateway), ...env },
    deps: { now: () => clock },
  });
  fake.setWebhookUrl(`${gw.url}/webhooks/mavi/${TEST_WEBHOOK_SECRET}`);
  return { fake, gw };
}

afterEach(async () => {
  await gw?.close();
  await fake?.close();
  gw = undefined;
  fake = undefined;
});

async function extract(assetId: string, extra: { force?: boolean; key?: string } = {}): Promise<ExtractResult> {
  const res = await gw!.graphql<{ extractFrames: ExtractResult }>(EXTRACT, { assetId, ...extra });
  expect(res.errors).toBeUndefined();
  return res.data!.extractFrames;
}

const extractCalls = () => fake!.callsTo('POST', '/video/extract-frames');

describe('extractFrames dedupe (one billed upstream extraction per asset)', () => {
  it('returns the PENDING task with reused: true on a second request, with one extract call', async () => {
    const { fake } = await start(FAST);
    const assetId = fake.addAsset();
    const first = await extract(assetId);
    expect(first).toMatchObject({ __typename: 'ExtractFramesSuccess', reused: false, task: { assetId, status: 'PENDING' } });
    const second = await extract(assetId);
    expect(second).toEqual({ __typename: 'ExtractFramesSuccess', reused: true, task: first.task });
    expect(extractCalls()).toHaveLength(1);
  });

  it('answers 10 concurrent requests for one asset with one extract call and one task', async () => {
    const { fake } = await start(PACED);
    const assetId = fake.addAsset();
    const results = await Promise.all(Array.from({ length: 10 }, () => extract(assetId)));
    const ids = new Set(results.map((r) => r.task?.id));
    expect(ids.size).toBe(1);
    expect([...ids][0]).toMatch(/^[0-9a-f]{32}$/);
    expect(results.filter((r) => r.reused === false)).toHaveLength(1);
    expect(extractCalls()).toHaveLength(1);
    // One metadata lookup of the asset (shared by all ten), one extraction.
    expect(fake.calls.map((c) => `${c.method} ${c.path}`).sort()).toEqual([`GET /${assetId}/metadata`, 'POST /video/extract-frames']);
  });

  it('reuses a SUCCEEDED task inside EXTRACT_REUSE_SECONDS and extracts again once the window has passed', async () => {
    const { fake } = await start(FAST, { EXTRACT_REUSE_SECONDS: '60' });
    const assetId = fake.addAsset();
    const first = await extract(assetId);
    expect((await fake.completeTask(first.task!.id, { frames: 2 })).status).toBe(200);

    clock += 59_000;
    expect(await extract(assetId)).toEqual({
      __typename: 'ExtractFramesSuccess',
      reused: true,
      task: { ...first.task, status: 'SUCCEEDED' },
    });
    expect(extractCalls()).toHaveLength(1);

    clock += 2_000;
    const later = await extract(assetId);
    expect(later).toMatchObject({ __typename: 'ExtractFramesSuccess', reused: false, task: { assetId, status: 'PENDING' } });
    expect(later.task!.id).not.toBe(first.task!.id);
    expect(extractCalls()).toHaveLength(2);
  });

  it('with EXTRACT_REUSE_SECONDS=0 a SUCCEEDED task is not reused: a new task is submitted', async () => {
    const { fake } = await start(FAST, { EXTRACT_REUSE_SECONDS: '0' });
    const assetId = fake.addAsset();
    const first = await extract(assetId);
    await fake.completeTask(first.task!.id, { frames: 1 });
    clock += 1;
    const second = await extract(assetId);
    expect(second).toMatchObject({ __typename: 'ExtractFramesSuccess', reused: false, task: { status: 'PENDING' } });
    expect(second.task!.id).not.toBe(first.task!.id);
    expect(extractCalls()).toHaveLength(2);
  });

  it('force: true submits a new (billed) extraction even while one is PENDING', async () => {
    const { fake } = await start(FAST);
    const assetId = fake.addAsset();
    const first = await extract(assetId);
    const forced = await extract(assetId, { force: true });
    expect(forced).toMatchObject({ __typename: 'ExtractFramesSuccess', reused: false, task: { assetId, status: 'PENDING' } });
    expect(forced.task!.id).not.toBe(first.task!.id);
    expect(extractCalls()).toHaveLength(2);
  });
});

describe('extractFrames idempotencyKey (the key wins over force)', () => {
  it('returns the same task for the same key, even with force: true on the repeat', async () => {
    const { fake } = await start(FAST);
    const assetId = fake.addAsset();
    const first = await extract(assetId, { key: 'k1' });
    expect(first).toMatchObject({ __typename: 'ExtractFramesSuccess', reused: false });
    expect(await extract(assetId, { key: 'k1', force: true })).toEqual({ __typename: 'ExtractFramesSuccess', reused: true, task: first.task });
    expect(extractCalls()).toHaveLength(1);
  });

  it('gives different keys different tasks (force: true, so asset dedupe does not interfere), each stable', async () => {
    const { fake } = await start(FAST);
    const assetId = fake.addAsset();
    const k1 = await extract(assetId, { key: 'k1', force: true });
    const k2 = await extract(assetId, { key: 'k2', force: true });
    expect(k1.reused).toBe(false);
    expect(k2.reused).toBe(false);
    expect(k2.task!.id).not.toBe(k1.task!.id);
    expect((await extract(assetId, { key: 'k1', force: true })).task).toEqual(k1.task);
    expect((await extract(assetId, { key: 'k2' })).task).toEqual(k2.task);
    expect(extractCalls()).toHaveLength(2);
  });

  it('shares one extract call between concurrent requests with the same key and force: true', async () => {
    const { fake } = await start(PACED);
    const assetId = fake.addAsset();
    const results = await Promise.all(Array.from({ length: 5 }, () => extract(assetId, { key: 'same-key', force: true })));
    expect(new Set(results.map((r) => r.task?.id)).size).toBe(1);
    expect(results.filter((r) => r.reused === false)).toHaveLength(1);
    expect(extractCalls()).toHaveLength(1);
  });

  it('does not bill keyed and unkeyed requests for one asset separately when they race', async () => {
    const { fake } = await start(PACED);
    const assetId = fake.addAsset();
    const results = await Promise.all([extract(assetId), extract(assetId, { key: 'r1' }), extract(assetId, { key: 'r2' })]);
    expect(new Set(results.map((r) => r.task?.id)).size).toBe(1);
    expect(extractCalls()).toHaveLength(1);
  });

  it('binds a key to the task that answered it, so a later forced request with that key still returns it', async () => {
    const { fake } = await start(FAST);
    const assetId = fake.addAsset();
    const plain = await extract(assetId);
    const keyed = await extract(assetId, { key: 'bind-me' });
    expect(keyed).toMatchObject({ reused: true, task: plain.task });
    expect((await extract(assetId, { key: 'bind-me', force: true })).task).toEqual(plain.task);
    expect(extractCalls()).toHaveLength(1);
  });

  it.each([
    ['an empty key', ''],
    ['a 200-character key', 'k'.repeat(200)],
    ['a key with a space', 'two words'],
  ])('rejects %s with InvalidArgumentError and no upstream call', async (_label, key) => {
    const { fake } = await start(REAL);
    const assetId = fake.addAsset();
    expect(await extract(assetId, { key })).toMatchObject({
      __typename: 'InvalidArgumentError',
      code: 'INVALID_ARGUMENT',
      argument: 'idempotencyKey',
    });
    expect(fake.calls).toHaveLength(0);
  });

  it('accepts a 128-character key (the documented maximum)', async () => {
    const { fake } = await start(FAST);
    const assetId = fake.addAsset();
    expect(await extract(assetId, { key: 'k'.repeat(128) })).toMatchObject({ __typename: 'ExtractFramesSuccess', reused: false });
  });
});

describe('fail fast instead of queueing past UPSTREAM_MAX_WAIT_MS', () => {
  it('refuses the calls that would wait longer than 1.5 s, before the queue would have served them, without bursting', async () => {
    const { fake, gw } = await start(REAL, { UPSTREAM_MAX_WAIT_MS: '1500' });
    const assetId = fake.addAsset();
    const collections = Array.from({ length: 6 }, () => fake.addCollection(3).collectionId);
    // Warm the asset's metadata (cached 60 s once SUCCESS), so the extraction below needs exactly one upstream call.
    expect((await gw.graphql(`query($id: ID!) { videoAsset(id: $id) { uploadStatus } }`, { id: assetId })).data).toEqual({
      videoAsset: { uploadStatus: 'SUCCESS' },
    });

    // Six distinct collections at once: the next rate slot is ~1 s away, so one query can wait for it (≤ 1.5 s);
    // every other would wait ≥ 2 s and must be refused at once.
    const settled: { id: string; res: GraphQLResponse; at: number }[] = [];
    let notify = () => {};
    const queries = collections.map(async (id) => {
      const res = await gw.graphql(COLLECTION, { id });
      settled.push({ id, res, at: Date.now() });
      notify();
      return res;
    });
    await new Promise<void>((resolve) => {
      notify = () => settled.length >= collections.length - 1 && resolve();
      notify();
    });
    // The extraction arrives while one query is still queued: it would wait ~2 s, so it is refused too.
    const mutation = await extract(assetId);
    const mutationAt = Date.now();
    await Promise.all(queries);

    const failed = settled.filter((s) => s.res.errors !== undefined);
    const served = settled.filter((s) => s.res.errors === undefined);
    expect(failed.length).toBeGreaterThanOrEqual(1);
    expect(failed.length + served.length).toBe(6);
    for (const { res } of failed) {
      expect(res.data).toEqual({ frameCollection: null });
      expect(res.errors?.map((e) => e.extensions?.code)).toEqual(['UPSTREAM_RATE_LIMITED']);
    }
    for (const { id, res } of served) expect(res.data).toEqual({ frameCollection: { id, frameCount: 3 } });
    expect(mutation).toMatchObject({ __typename: 'UpstreamRateLimitedError', code: 'UPSTREAM_RATE_LIMITED' });
    expect(mutation.retryAfterSeconds).toBeGreaterThanOrEqual(1);

    // Only the served queries reached the upstream: refused ones cost nothing and the extraction was not billed.
    const metadata = fake.callsTo('GET', /^\/im_\d+\/metadata$/);
    expect(metadata.filter((c) => c.status === 200).map((c) => c.id).sort()).toEqual(served.map((s) => s.id).sort());
    expect(extractCalls()).toHaveLength(0);
    // Refusals came back before the queue served even the call ahead of them (so none waited in the queue).
    const firstServedAt = Math.min(...metadata.map((c) => c.at));
    for (const { at } of failed) expect(at).toBeLessThanOrEqual(firstServedAt);
    expect(mutationAt).toBeLessThanOrEqual(firstServedAt);
    // Paced at the account rate on the fake's own clock: no burst, consecutive arrivals ~1 s apart.
    // UPSTREAM_RATE_MARGIN_MS keeps arrivals > 1 s apart despite jitter: the account limit is never hit.
    expect(fake.calls.filter((c) => c.status === 429)).toHaveLength(0);
    const at = fake.calls.map((c) => c.at).sort((a, b) => a - b);
    for (let i = 1; i < at.length; i++) expect(at[i]! - at[i - 1]!).toBeGreaterThanOrEqual(1000);
  });
});

describe('coalescing', () => {
  it('answers 100 concurrent clients asking for one 500-frame collection with ONE upstream metadata call', async () => {
    const { fake, gw } = await start(REAL);
    const { collectionId, frameIds } = fake.addCollection(500);
    const query = `query($id: ID!) { frameCollection(id: $id) { id frameCount frames(limit: 1000) { id } } }`;
    const results = await Promise.all(Array.from({ length: 100 }, () => gw.graphql(query, { id: collectionId })));
    for (const r of results) {
      expect(r.errors).toBeUndefined();
      expect(r.data!.frameCollection.frameCount).toBe(500);
      expect(r.data!.frameCollection.frames.map((f: { id: string }) => f.id)).toEqual(frameIds);
    }
    expect(fake.calls.map((c) => `${c.method} ${c.path}`)).toEqual([`GET /${collectionId}/metadata`]);
    // Immutable: later queries are served from the shared cache, still one call.
    expect((await gw.graphql(query, { id: collectionId })).data!.frameCollection.frameCount).toBe(500);
    expect(fake.calls).toHaveLength(1);
  });
});
