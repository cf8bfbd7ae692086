/**
 * The response cache of immutable reads (http/response-cache.ts), through the real gateway with auth (HS256 JWTs):
 * keyed by tenant (another tenant never receives a cached answer), ownership asked of the store on every request a
 * cached answer would serve, task state never cached (also when a task is asked next to a collection), a deleted
 * collection not served, and signed URLs exactly as fresh as uncached ones when the clock crosses a window.
 */
import { getNamedType, isObjectType, type GraphQLNamedType } from 'graphql';
import { SignJWT } from 'jose';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createMemoryOwnershipStore } from '../../src/jobs/ownership-memory.js';
import { schema } from '../../src/schema/index.js';
import type { OwnershipStore } from '../../src/jobs/ownership.js';
import { startFakeUpstream, type FakeUpstream } from '../helpers/fake-upstream.js';
import { startTestGateway, TEST_WEBHOOK_SECRET, type GraphQLResponse, type TestGateway } from '../helpers/gateway.js';

const JWT_SECRET = 'response-cache-jwt-secret-0123456789abcdef';
const COLLECTION = `query($id: ID!) { frameCollection(id: $id) { id frames(limit: 3) { id index createdAt url } zipUrl } }`;
const FRAME = `query($id: ID!) { frame(id: $id) { id index url } }`;
const MIXED = `query($id: ID!, $task: ID!) { frameCollection(id: $id) { id } frameExtractionTask(id: $task) { id status } }`;
const TASK = `query($id: ID!) { frameExtractionTask(id: $id) { id status collectionId } }`;
const EXTRACT = `mutation($assetId: ID!) { extractFrames(assetId: $assetId) { ... on ExtractFramesSuccess { task { id } } } }`;
const DELETE = `mutation($id: ID!) { deleteFrameCollection(id: $id) { __typename } }`;

const token = (tenant: string) =>
  new SignJWT({ tenant }).setProtectedHeader({ alg: 'HS256' }).setIssuedAt().setExpirationTime('1h').sign(new TextEncoder().encode(JWT_SECRET));

let fake: FakeUpstream;
let gw: TestGateway;
let ownerLookups: number;
let owners: OwnershipStore;
const clock = { now: Date.now() };

beforeEach(async () => {
  fake = await startFakeUpstream({ rps: 0 });
  ownerLookups = 0;
  clock.now = Date.now();
  const store = (owners = createMemoryOwnershipStore());
  const ownership: OwnershipStore = {
    ...store,
    ownerOf: (kind, id) => {
      ownerLookups++;
      return store.ownerOf(kind, id);
    },
  };
  gw = await startTestGateway({
    upstreamUrl: fake.url,
    env: { AUTH_JWT_SECRET: JWT_SECRET, MEDIA_URL_TTL_SECONDS: '3600' },
    deps: { ownership, now: () => clock.now },
  });
  fake.setWebhookUrl(`${gw.url}/webhooks/mavi/${TEST_WEBHOOK_SECRET}`);
});
afterEach(async () => {
  await gw.close();
  await fake.close();
});

async function gql(tenant: string, query: string, variables: Record<string, unknown>): Promise<GraphQLResponse> {
  const res = await fetch(`${gw.url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${await token(tenant)}` },
    body: JSON.stringify({ query, variables }),
  });
  return (await res.json()) as GraphQLResponse;
}

/** A PENDING task of `tenant` (its video recorded as the tenant's, as an upload would), and a finished one. */
async function taskOf(tenant: string): Promise<string> {
  const assetId = fake.addAsset();
  await owners.claim('asset', assetId, tenant, Date.now());
  const { data, errors } = await gql(tenant, EXTRACT, { assetId });
  expect(errors).toBeUndefined();
  return data!.extractFrames.task.id as string;
}
async function collectionOf(tenant: string): Promise<{ taskId: string; collectionId: string; frameIds: string[] }> {
  const taskId = await taskOf(tenant);
  const done = await fake.completeTask(taskId, { frames: 5 });
  expect(done.status).toBe(200);
  return { taskId, collectionId: done.collectionId, frameIds: done.frameIds };
}

const stats = () => gw.gateway.responseCache!.stats();

describe('response cache of immutable reads', () => {
  it('serves a tenant its cached answer, still asking the ownership store each time; another tenant gets null, never it', async () => {
    const { collectionId, frameIds } = await collectionOf('acme');
    const first = await gql('acme', COLLECTION, { id: collectionId });
    expect(first.data!.frameCollection.frames).toHaveLength(3);
    const lookups = ownerLookups;
    const again = await gql('acme', COLLECTION, { id: collectionId });
    expect(again).toEqual(first);
    expect(stats().hits).toBe(1);
    expect(ownerLookups).toBeGreaterThan(lookups);

    // Same document and variables, another tenant: executed for that tenant (null), twice; acme still served.
    for (let i = 0; i < 2; i++) {
      expect(await gql('globex', COLLECTION, { id: collectionId })).toEqual({ data: { frameCollection: null } });
      expect(await gql('globex', FRAME, { id: frameIds[1] })).toEqual({ data: { frame: null } });
    }
    expect(stats().hits).toBe(3); // globex's second two reads were its own cached nulls, never acme's answer
    expect(await gql('acme', COLLECTION, { id: collectionId })).toEqual(first);
    expect(stats().hits).toBe(4);
  });

  it('does not serve a collection once its owner deleted it, nor a cached answer once ownership is gone', async () => {
    const { collectionId } = await collectionOf('acme');
    await gql('acme', COLLECTION, { id: collectionId });
    expect((await gql('acme', COLLECTION, { id: collectionId })).data!.frameCollection).not.toBeNull();
    const hits = stats().hits;
    expect((await gql('acme', DELETE, { id: collectionId })).data!.deleteFrameCollection.__typename).toBe('DeleteFrameCollectionSuccess');
    expect(await gql('acme', COLLECTION, { id: collectionId })).toEqual({ data: { frameCollection: null } });
    expect(stats().hits).toBe(hits);

    // Ownership forgotten (as another instance's delete leaves it), metadata still cached here: not served.
    const other = await collectionOf('acme');
    await gql('acme', COLLECTION, { id: other.collectionId });
    await owners.forget('collection', other.collectionId);
    expect(await gql('acme', COLLECTION, { id: other.collectionId })).toEqual({ data: { frameCollection: null } });
    expect(stats().hits).toBe(hits);
  });

  it('executes again once a metadata reply the answer came from left the metadata cache', async () => {
    const { collectionId } = await collectionOf('acme');
    const first = await gql('acme', FRAME, { id: `imc_${collectionId.slice(3)}_2` });
    expect(first.data!.frame.index).toBe(2);
    gw.gateway.services.metadata.invalidate(collectionId);
    const { hits, misses } = stats();
    expect(await gql('acme', FRAME, { id: `imc_${collectionId.slice(3)}_2` })).toEqual(first);
    expect(stats()).toMatchObject({ hits, misses: misses + 1 });
    expect(fake.callsTo('GET', new RegExp(`/${collectionId}/metadata$`))).toHaveLength(2);
  });

  it('never caches task state, alone or next to a collection', async () => {
    const { collectionId } = await collectionOf('acme');
    const taskId = await taskOf('acme');
    const before = stats();
    expect((await gql('acme', TASK, { id: taskId })).data!.frameExtractionTask.status).toBe('PENDING');
    expect((await gql('acme', MIXED, { id: collectionId, task: taskId })).data!.frameExtractionTask.status).toBe('PENDING');
    expect((await fake.completeTask(taskId, { frames: 2 })).status).toBe(200);
    expect((await gql('acme', TASK, { id: taskId })).data!.frameExtractionTask.status).toBe('SUCCEEDED');
    expect((await gql('acme', MIXED, { id: collectionId, task: taskId })).data!.frameExtractionTask.status).toBe('SUCCEEDED');
    expect(stats()).toEqual({ ...before, size: before.size });
  });

  it('hands out URLs exactly as fresh as an uncached answer when the clock crosses a signing window', async () => {
    const { collectionId } = await collectionOf('acme');
    const first = await gql('acme', COLLECTION, { id: collectionId });
    const exp = Number(new URL(first.data!.frameCollection.zipUrl as string).searchParams.get('exp'));
    // Last second of the window (step = 3600 / 4): still the same URLs, from the cache.
    clock.now = (exp - 3600 - 1) * 1000;
    expect(await gql('acme', COLLECTION, { id: collectionId })).toEqual(first);
    const hits = stats().hits;
    // Next window: a fresh answer with the new expiry, never the old one.
    clock.now = (exp - 3600 + 1) * 1000;
    const later = await gql('acme', COLLECTION, { id: collectionId });
    expect(stats().hits).toBe(hits);
    expect(Number(new URL(later.data!.frameCollection.zipUrl as string).searchParams.get('exp'))).toBe(exp + 900);
    for (const frame of later.data!.frameCollection.frames as { url: string }[]) {
      expect(Number(new URL(frame.url).searchParams.get('exp')) * 1000 - clock.now).toBeGreaterThanOrEqual(3600 * 1000);
    }
  });
});

describe('what the response cache may cover', () => {
  // The cache answers any selection under Query.frameCollection / Query.frame: every object type reachable from them
  // must derive from immutable data (and signed URLs). A new type here (a task, an asset, a list) must be reviewed
  // against http/response-cache.ts before this list grows.
  it('reaches only immutable object types from frameCollection and frame', () => {
    const seen = new Set<string>();
    const visit = (type: GraphQLNamedType) => {
      if (!isObjectType(type) || seen.has(type.name)) return;
      seen.add(type.name);
      for (const field of Object.values(type.getFields())) visit(getNamedType(field.type));
    };
    const query = schema.getQueryType()!.getFields();
    for (const root of ['frameCollection', 'frame'] as const) visit(getNamedType(query[root]!.type));
    expect([...seen].sort()).toEqual(['Frame', 'FrameCollection', 'FrameSprite', 'FrameSpriteTile']);
  });
});
