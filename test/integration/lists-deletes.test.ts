import { SignJWT } from 'jose';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startFakeUpstream, type FakeUpstream } from '../helpers/fake-upstream.js';
import { startTestGateway, TEST_API_KEY, TEST_WEBHOOK_SECRET, type GraphQLResponse, type TestGateway } from '../helpers/gateway.js';
import { postGraphQLMultipart } from '../helpers/multipart.js';
import { openTestRedis, TEST_REDIS_URL, type TestRedis } from '../helpers/redis.js';

const JWT_SECRET = 'lists-deletes-jwt-secret-0123456789abcdef';

const UPLOAD = /* GraphQL */ `
  mutation Upload($file: File!) {
    uploadVideo(file: $file) { __typename ... on UploadVideoSuccess { asset { id } } ... on Error { code } }
  }
`;
const EXTRACT = /* GraphQL */ `
  mutation Extract($assetId: ID!) {
    extractFrames(assetId: $assetId) { __typename ... on ExtractFramesSuccess { task { id } } ... on Error { code message } }
  }
`;
const EXTRACT_REUSE = /* GraphQL */ `
  mutation ExtractAgain($assetId: ID!) {
    extractFrames(assetId: $assetId) { __typename ... on ExtractFramesSuccess { reused task { id } } ... on Error { code } }
  }
`;
const ASSETS = /* GraphQL */ `
  query Assets($first: Int, $after: String) {
    videoAssets(first: $first, after: $after) { edges { cursor node { id filename } } pageInfo { hasNextPage endCursor } }
  }
`;
const TASKS = /* GraphQL */ `
  query Tasks($first: Int, $after: String, $status: FrameExtractionStatus) {
    frameExtractionTasks(first: $first, after: $after, status: $status) {
      edges { cursor node { id assetId status } }
      pageInfo { hasNextPage endCursor }
    }
  }
`;
const DELETE_ASSET = /* GraphQL */ `
  mutation DeleteAsset($id: ID!) {
    deleteVideoAsset(id: $id) {
      __typename
      ... on DeleteVideoAssetSuccess { deletedId }
      ... on AssetNotFoundError { assetId }
      ... on Error { code message }
    }
  }
`;
const DELETE_COLLECTION = /* GraphQL */ `
  mutation DeleteCollection($id: ID!) {
    deleteFrameCollection(id: $id) {
      __typename
      ... on DeleteFrameCollectionSuccess { deletedId }
      ... on Error { code message }
    }
  }
`;
const ASSET = /* GraphQL */ `query Asset($id: ID!) { videoAsset(id: $id) { id url } }`;
const COLLECTION = /* GraphQL */ `
  query Collection($id: ID!) { frameCollection(id: $id) { id zipUrl frames { id url } } }
`;

let fake: FakeUpstream;
let gw: TestGateway;
const tokens = new Map<string, string>();

async function tokenOf(tenant: string): Promise<string> {
  let token = tokens.get(tenant);
  if (!token) {
    token = await new SignJWT({ tenant })
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject(`user-of-${tenant}`)
      .setIssuedAt()
      .setExpirationTime('1h')
      .sign(new TextEncoder().encode(JWT_SECRET));
    tokens.set(tenant, token);
  }
  return token;
}

async function as<T = Record<string, any>>(tenant: string, query: string, variables: Record<string, unknown> = {}, on = gw) {
  const res = await fetch(`${on.url}/graphql`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      accept: 'application/graphql-response+json, application/json',
      authorization: `Bearer ${await tokenOf(tenant)}`,
    },
    body: JSON.stringify({ query, variables }),
  });
  return (await res.json()) as GraphQLResponse<T>;
}

/** `as`, for a reply that must have no errors. */
async function dataAs(tenant: string, query: string, variables: Record<string, unknown> = {}, on = gw) {
  const res = await as(tenant, query, variables, on);
  expect(res.errors).toBeUndefined();
  return res.data!;
}

async function upload(tenant: string, filename: string): Promise<string> {
  const { body } = await postGraphQLMultipart(`${gw.url}/graphql`, {
    query: UPLOAD,
    files: [{ path: 'variables.file', data: 'not really a video', filename, type: 'video/mp4' }],
    headers: { authorization: `Bearer ${await tokenOf(tenant)}` },
  });
  expect(body.data?.uploadVideo.__typename).toBe('UploadVideoSuccess');
  return body.data!.uploadVideo.asset.id as string;
}

async function extract(tenant: string, assetId: string): Promise<string> {
  const { extractFrames } = await dataAs(tenant, EXTRACT, { assetId });
  expect(extractFrames.__typename).toBe('ExtractFramesSuccess');
  return extractFrames.task.id as string;
}

/** The collection of a completed extraction of a new asset of `tenant`, with its frames' signed URLs. */
async function collectionOf(tenant: string) {
  const taskId = await extract(tenant, await upload(tenant, 'clip.mp4'));
  const done = await fake.completeTask(taskId, { frames: 3 });
  expect(done.status).toBe(200);
  const { frameCollection } = await dataAs(tenant, COLLECTION, { id: done.collectionId });
  return { taskId, collectionId: done.collectionId, zipUrl: frameCollection.zipUrl as string, frames: frameCollection.frames as { id: string; url: string }[] };
}

const deletes = () => fake.calls.filter((call) => call.method === 'DELETE');

beforeEach(async () => {
  fake = await startFakeUpstream({ rps: 0 });
  gw = await startTestGateway({ upstreamUrl: fake.url, env: { AUTH_JWT_SECRET: JWT_SECRET } });
  fake.setWebhookUrl(`${gw.url}/webhooks/mavi/${TEST_WEBHOOK_SECRET}`);
});
afterEach(async () => {
  await gw.close();
  await fake.close();
});

describe('videoAssets', () => {
  it("pages the caller's own assets newest first, and no other tenant's", async () => {
    const mine = [await upload('acme', 'a.mp4'), await upload('acme', 'b.mp4'), await upload('acme', 'c.mp4')];
    const theirs = await upload('globex', 'g.mp4');

    const one = (await dataAs('acme', ASSETS, { first: 2 })).videoAssets;
    expect(one.edges.map((e: any) => e.node)).toEqual([
      { id: mine[2], filename: 'c.mp4' },
      { id: mine[1], filename: 'b.mp4' },
    ]);
    expect(one.pageInfo.hasNextPage).toBe(true);
    const two = (await dataAs('acme', ASSETS, { first: 2, after: one.pageInfo.endCursor })).videoAssets;
    expect(two.edges.map((e: any) => e.node.id)).toEqual([mine[0]]);
    expect(two.pageInfo).toEqual({ hasNextPage: false, endCursor: two.edges[0].cursor });

    const other = (await dataAs('globex', ASSETS)).videoAssets;
    expect(other.edges.map((e: any) => e.node.id)).toEqual([theirs]);
    expect((await dataAs('initech', ASSETS)).videoAssets).toEqual({ edges: [], pageInfo: { hasNextPage: false, endCursor: null } });
  });

  it('refuses first outside 1-100 and foreign or forged cursors with INVALID_ARGUMENT', async () => {
    await upload('acme', 'a.mp4');
    const taskCursor = (await dataAs('acme', TASKS, { first: 1 })).frameExtractionTasks.pageInfo.endCursor;
    const assetCursor = (await dataAs('acme', ASSETS, { first: 1 })).videoAssets.edges[0].cursor;
    const forged = Buffer.from(JSON.stringify([1, 'asset', 'not-a-store-cursor', 0])).toString('base64url');
    for (const variables of [{ first: 0 }, { first: 101 }, { after: 'bogus!' }, { after: forged }, { after: taskCursor ?? 'x' }]) {
      const res = await as('acme', ASSETS, variables);
      expect(res.data).toBeNull();
      expect(res.errors?.[0]?.extensions?.code).toBe('INVALID_ARGUMENT');
    }
    const res = await as('acme', TASKS, { after: assetCursor });
    expect(res.errors?.[0]?.extensions?.code).toBe('INVALID_ARGUMENT');
  });
});

describe('frameExtractionTasks', () => {
  it("pages the caller's tasks newest first, filtered by status, and no other tenant's", async () => {
    const assets = [await upload('acme', 'a.mp4'), await upload('acme', 'b.mp4'), await upload('acme', 'c.mp4')];
    const tasks = [];
    for (const assetId of assets) tasks.push(await extract('acme', assetId));
    await extract('globex', await upload('globex', 'g.mp4'));
    await fake.completeTask(tasks[1]!, { frames: 2 });

    const all = (await dataAs('acme', TASKS)).frameExtractionTasks;
    expect(all.edges.map((e: any) => [e.node.id, e.node.status])).toEqual([
      [tasks[2], 'PENDING'],
      [tasks[1], 'SUCCEEDED'],
      [tasks[0], 'PENDING'],
    ]);
    const succeeded = (await dataAs('acme', TASKS, { status: 'SUCCEEDED' })).frameExtractionTasks;
    expect(succeeded.edges.map((e: any) => e.node.id)).toEqual([tasks[1]]);

    // One PENDING task per page, then on from that page's endCursor, past the SUCCEEDED one in between.
    const firstPending = (await dataAs('acme', TASKS, { status: 'PENDING', first: 1 })).frameExtractionTasks;
    expect(firstPending.edges.map((e: any) => e.node.id)).toEqual([tasks[2]]);
    expect(firstPending.pageInfo.hasNextPage).toBe(true);
    const next = (await dataAs('acme', TASKS, { status: 'PENDING', first: 1, after: firstPending.pageInfo.endCursor }))
      .frameExtractionTasks;
    expect(next.edges.map((e: any) => e.node.id)).toEqual([tasks[0]]);

    const theirs = (await dataAs('globex', TASKS)).frameExtractionTasks.edges;
    expect(theirs).toHaveLength(1);
    expect(tasks).not.toContain(theirs[0].node.id);
    expect((await as('acme', TASKS, { first: 101 })).errors?.[0]?.extensions?.code).toBe('INVALID_ARGUMENT');
  });
});

describe('deleteVideoAsset', () => {
  it('deletes an owned asset upstream, then it leaves the list and is gone from the cache', async () => {
    const keep = await upload('acme', 'keep.mp4');
    const doomed = await upload('acme', 'doomed.mp4');
    expect((await dataAs('acme', ASSET, { id: doomed })).videoAsset.id).toBe(doomed); // cached now

    const { deleteVideoAsset } = await dataAs('acme', DELETE_ASSET, { id: doomed });
    expect(deleteVideoAsset).toEqual({ __typename: 'DeleteVideoAssetSuccess', deletedId: doomed });
    expect(deletes().map((call) => [call.path, call.authorization, call.status])).toEqual([[`/${doomed}`, TEST_API_KEY, 200]]);
    expect((await dataAs('acme', ASSETS)).videoAssets.edges.map((e: any) => e.node.id)).toEqual([keep]);
    expect((await dataAs('acme', ASSET, { id: doomed })).videoAsset).toBeNull();
  });

  it("answers AssetNotFoundError for another tenant's asset, an id never handed out, or a bad id, without an upstream call", async () => {
    const theirs = await upload('globex', 'g.mp4');
    const neverHandedOut = fake.addAsset();
    for (const id of [theirs, neverHandedOut]) {
      const { deleteVideoAsset } = await dataAs('acme', DELETE_ASSET, { id });
      expect(deleteVideoAsset).toMatchObject({ __typename: 'AssetNotFoundError', assetId: id, code: 'ASSET_NOT_FOUND' });
    }
    const { deleteVideoAsset } = await dataAs('acme', DELETE_ASSET, { id: 'im_1' });
    expect(deleteVideoAsset).toMatchObject({ __typename: 'InvalidAssetIdError', code: 'INVALID_ASSET_ID' });
    expect(deletes()).toEqual([]);
    expect((await dataAs('globex', ASSETS)).videoAssets.edges.map((e: any) => e.node.id)).toEqual([theirs]);
  });

  it('keeps the asset when the upstream delete fails, and forgets one the upstream no longer has', async () => {
    const assetId = await upload('acme', 'a.mp4');
    fake.setFailure({ status: 402, body: { code: 402, msg: 'Insufficient balance', data: null, success: false, failed: true } });
    const failed = (await dataAs('acme', DELETE_ASSET, { id: assetId })).deleteVideoAsset;
    expect(failed).toMatchObject({ __typename: 'UpstreamUnavailableError', code: 'UPSTREAM_PAYMENT_REQUIRED' });
    expect((await dataAs('acme', ASSETS)).videoAssets.edges.map((e: any) => e.node.id)).toEqual([assetId]);

    // Deleted behind the gateway's back (another app on the account): the gateway's record goes too.
    expect((await fetch(`${fake.url}/${assetId}`, { method: 'DELETE', headers: { authorization: TEST_API_KEY } })).status).toBe(200);
    const gone = (await dataAs('acme', DELETE_ASSET, { id: assetId })).deleteVideoAsset;
    expect(gone).toMatchObject({ __typename: 'AssetNotFoundError', assetId });
    expect((await dataAs('acme', ASSETS)).videoAssets.edges).toEqual([]);
  });
});

describe('deleteFrameCollection', () => {
  it('deletes an owned collection upstream and evicts its cached metadata, zip and frames', async () => {
    const { collectionId, zipUrl, frames } = await collectionOf('acme');
    const before = await fetch(frames[0]!.url);
    expect(before.status).toBe(200);
    await before.arrayBuffer();
    expect((await fetch(zipUrl)).status).toBe(200);
    const downloads = fake.callsTo('GET', /\/download$/).length;

    const { deleteFrameCollection } = await dataAs('acme', DELETE_COLLECTION, { id: collectionId });
    expect(deleteFrameCollection).toEqual({ __typename: 'DeleteFrameCollectionSuccess', deletedId: collectionId });
    expect(deletes().map((call) => call.path)).toEqual([`/${collectionId}`]);

    // URLs minted before the delete no longer serve the cached bytes (the id is nobody's now: no upstream call).
    for (const url of [frames[1]!.url, zipUrl]) {
      const res = await fetch(url);
      await res.arrayBuffer();
      expect(res.status).toBe(404);
    }
    expect(fake.callsTo('GET', /\/download$/)).toHaveLength(downloads);
    expect((await dataAs('acme', COLLECTION, { id: collectionId })).frameCollection).toBeNull();
  });

  it('a later extractFrames of the asset submits anew instead of reusing the task whose frames were deleted', async () => {
    const { taskId, collectionId } = await collectionOf('acme');
    const assetId = fake.tasks.get(taskId)!.assetId;
    const reused = (await dataAs('acme', EXTRACT_REUSE, { assetId })).extractFrames;
    expect(reused).toMatchObject({ reused: true, task: { id: taskId } });

    await dataAs('acme', DELETE_COLLECTION, { id: collectionId });
    const again = (await dataAs('acme', EXTRACT_REUSE, { assetId })).extractFrames;
    expect(again).toMatchObject({ __typename: 'ExtractFramesSuccess', reused: false });
    expect(again.task.id).not.toBe(taskId);
    expect(fake.callsTo('POST', '/video/extract-frames')).toHaveLength(2);
  });

  it("refuses another tenant's collection and a malformed id without an upstream call", async () => {
    const { collectionId, frames } = await collectionOf('globex');
    const { deleteFrameCollection } = await dataAs('acme', DELETE_COLLECTION, { id: collectionId });
    expect(deleteFrameCollection).toMatchObject({ __typename: 'AssetNotFoundError', code: 'ASSET_NOT_FOUND' });
    const bad = (await dataAs('acme', DELETE_COLLECTION, { id: 're_1' })).deleteFrameCollection;
    expect(bad).toMatchObject({ __typename: 'InvalidArgumentError', code: 'INVALID_ARGUMENT' });
    expect(deletes()).toEqual([]);
    expect((await fetch(frames[0]!.url)).status).toBe(200);
  });
});

describe('across instances (REDIS_URL)', () => {
  let redis: TestRedis;
  let other: TestGateway;

  beforeEach(async () => {
    redis = await openTestRedis();
    const env = { AUTH_JWT_SECRET: JWT_SECRET, REDIS_URL: TEST_REDIS_URL, REDIS_PREFIX: redis.prefix };
    await gw.close();
    gw = await startTestGateway({ upstreamUrl: fake.url, env });
    other = await startTestGateway({ upstreamUrl: fake.url, env });
    fake.setWebhookUrl(`${gw.url}/webhooks/mavi/${TEST_WEBHOOK_SECRET}`);
  });
  afterEach(async () => {
    await other.close();
    await redis.dispose();
  });

  it('a delete through one instance empties the lists of every instance and ends the cached media of the others', async () => {
    const { collectionId, frames } = await collectionOf('acme');
    const cached = await fetch(frames[0]!.url);
    expect(cached.status).toBe(200);
    await cached.arrayBuffer();
    const downloads = fake.callsTo('GET', /\/download$/).length;
    const assetId = (await dataAs('acme', ASSETS, {}, other)).videoAssets.edges[0].node.id;

    const deleted = (await dataAs('acme', DELETE_COLLECTION, { id: collectionId }, other)).deleteFrameCollection;
    expect(deleted.__typename).toBe('DeleteFrameCollectionSuccess');
    expect((await dataAs('acme', DELETE_ASSET, { id: assetId }, other)).deleteVideoAsset.__typename).toBe('DeleteVideoAssetSuccess');
    expect((await dataAs('acme', ASSETS)).videoAssets.edges).toEqual([]);

    // The first instance still has the frames on disk, but a URL it signed before the delete no longer serves them.
    for (const frame of frames) {
      const res = await fetch(frame.url);
      await res.arrayBuffer();
      expect(res.status).toBe(404);
    }
    expect(fake.callsTo('GET', /\/download$/)).toHaveLength(downloads);
  });
});

describe('without auth (the one local tenant)', () => {
  beforeEach(async () => {
    await gw.close();
    gw = await startTestGateway({ upstreamUrl: fake.url });
    fake.setWebhookUrl(`${gw.url}/webhooks/mavi/${TEST_WEBHOOK_SECRET}`);
  });

  it('lists what was uploaded and deletes any well-formed id, as every id works there', async () => {
    const uploaded = (
      await postGraphQLMultipart(`${gw.url}/graphql`, {
        query: UPLOAD,
        files: [{ path: 'variables.file', data: 'x', filename: 'local.mp4', type: 'video/mp4' }],
      })
    ).body.data!.uploadVideo.asset.id;
    expect((await gw.graphql(ASSETS)).data!.videoAssets.edges.map((e: any) => e.node.id)).toEqual([uploaded]);
    const external = fake.addAsset();
    const res = await gw.graphql(DELETE_ASSET, { id: external });
    expect(res.data!.deleteVideoAsset).toEqual({ __typename: 'DeleteVideoAssetSuccess', deletedId: external });
    expect(deletes().map((call) => call.path)).toEqual([`/${external}`]);
  });

  it('a deleted asset or collection is not answered from cached metadata or media afterwards', async () => {
    const assetId = fake.addAsset();
    const { collectionId } = fake.addCollection(2);
    expect((await gw.graphql(ASSET, { id: assetId })).data!.videoAsset.id).toBe(assetId);
    const { frames } = (await gw.graphql(COLLECTION, { id: collectionId })).data!.frameCollection;
    expect(frames).toHaveLength(2);
    const cached = await fetch(frames[0].url);
    expect(cached.status).toBe(200);
    await cached.arrayBuffer();
    const downloads = fake.callsTo('GET', /\/download$/).length;

    expect((await gw.graphql(DELETE_ASSET, { id: assetId })).data!.deleteVideoAsset.__typename).toBe('DeleteVideoAssetSuccess');
    expect((await gw.graphql(DELETE_COLLECTION, { id: collectionId })).data!.deleteFrameCollection.__typename).toBe(
      'DeleteFrameCollectionSuccess',
    );
    expect((await gw.graphql(ASSET, { id: assetId })).data!.videoAsset).toBeNull();
    expect((await gw.graphql(COLLECTION, { id: collectionId })).data!.frameCollection).toBeNull();
    expect((await gw.graphql(`query { frame(id: "${collectionId.replace('im_', 'imc_')}_0") { id } }`)).data!.frame).toBeNull();
    // Without auth nothing is checked at serve time: the evicted cache misses, and the upstream has nothing.
    const after = await fetch(frames[1].url);
    await after.arrayBuffer();
    expect(after.status).toBe(404);
    expect(fake.callsTo('GET', /\/download$/).length).toBeGreaterThan(downloads);
  });
});
