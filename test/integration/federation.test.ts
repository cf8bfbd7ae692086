/**
 * The frames gateway as a Federation v2 subgraph: composed with a second subgraph (the catalog fixture) by
 * @theguild/federation-composition, and served by a real Hive Gateway runtime with the real http and ws transports
 * (test/helpers/router.ts, configured exactly as docs/federation.md says) on a real HTTP port.
 */
import { composeServices, type CompositionSuccess } from '@theguild/federation-composition';
import { parse } from 'graphql';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { printSchemaFile } from '../../src/schema/print.js';
import { CATALOG_TYPE_DEFS, start as startCatalog, type CatalogSubgraph } from '../fixtures/catalog-subgraph.js';
import { startFakeUpstream, type FakeUpstream } from '../helpers/fake-upstream.js';
import { startTestGateway, TEST_WEBHOOK_SECRET, type GraphQLResponse, type TestGateway } from '../helpers/gateway.js';
import { startRouter, type TestRouter } from '../helpers/router.js';

const FRAMES_SDL = printSchemaFile();
const ENTITIES = ['FrameCollection', 'Frame', 'VideoAsset', 'FrameExtractionTask'] as const;

const WATCH = /* GraphQL */ `
  subscription Watch($id: ID!) {
    frameExtractionTask(id: $id) { id status frameCount asset { id filename } collection { id frameCount } }
  }
`;

const compose = (frames: { sdl: string; url: string }, catalog: { sdl: string; url: string }) =>
  composeServices([
    { name: 'frames', typeDefs: parse(frames.sdl), url: frames.url },
    { name: 'catalog', typeDefs: parse(catalog.sdl), url: catalog.url },
  ]);

describe('composition', () => {
  it('prints the subgraph SDL with @link and a @key on every entity', () => {
    expect(FRAMES_SDL).toContain('extend schema\n  @link(url: "https://specs.apollo.dev/federation/v2.6", import: ["@key", "@shareable"])');
    for (const entity of ENTITIES) expect(FRAMES_SDL).toMatch(new RegExp(`^type ${entity}\\n  @key\\(fields: "id"\\)`, 'm'));
  });

  it('composes with the catalog subgraph into a supergraph holding the four entities', () => {
    const result = compose({ sdl: FRAMES_SDL, url: 'http://frames.test/graphql' }, { sdl: CATALOG_TYPE_DEFS, url: 'http://catalog.test/graphql' });
    expect(result.errors).toBeUndefined();
    const sdl = result.supergraphSdl!;
    expect(sdl).toContain('FRAMES @join__graph(name: "frames", url: "http://frames.test/graphql")');
    for (const entity of ['FrameCollection', 'Frame', 'FrameExtractionTask']) {
      expect(sdl).toMatch(new RegExp(`^type ${entity} @join__type\\(graph: FRAMES, key: "id"\\)`, 'm'));
    }
    expect(sdl).toMatch(/^type VideoAsset @join__type\(graph: CATALOG, key: "id", resolvable: false\) @join__type\(graph: FRAMES, key: "id"\)/m);
    expect(sdl).toMatch(/frameExtractionTasks: \[FrameExtractionTask!\]! @join__field\(graph: FRAMES\)/);
    expect(sdl).toMatch(/^type Video @join__type\(graph: CATALOG, key: "id"\)/m);
  });

  it('reports an error when the catalog declares a conflicting VideoAsset field', () => {
    const conflicting = CATALOG_TYPE_DEFS.replace(/(type VideoAsset [^{]*\{\s*id: ID!)/, '$1\n    filename: Int');
    expect(conflicting).toContain('filename: Int');
    const result = compose({ sdl: FRAMES_SDL, url: 'http://frames.test/graphql' }, { sdl: conflicting, url: 'http://catalog.test/graphql' });
    expect(result.supergraphSdl).toBeUndefined();
    expect(result.errors?.map((e) => e.extensions.code)).toEqual(expect.arrayContaining(['FIELD_TYPE_MISMATCH', 'INVALID_FIELD_SHARING']));
  });
});

// ---------------------------------------------------------------------------------------------------------------

let fake: FakeUpstream;
let gw: TestGateway;
let catalog: CatalogSubgraph | undefined;
let router: TestRouter | undefined;
let assets: { a: string; b: string };

const gatewayQuery = <T = Record<string, any>>(query: string, variables?: Record<string, unknown>): Promise<GraphQLResponse<T>> =>
  router!.query<T>(query, variables);
const gatewaySubscribe = (query: string, variables: Record<string, unknown>) => router!.subscribe(query, variables);
const subgraphRequests = () => router!.requests;

async function extract(assetId: string): Promise<string> {
  const res = await gw.graphql(
    `mutation($id: ID!) { extractFrames(assetId: $id) { __typename ... on ExtractFramesSuccess { task { id status } } } }`,
    { id: assetId },
  );
  expect(res.data?.extractFrames).toMatchObject({ __typename: 'ExtractFramesSuccess', task: { status: 'PENDING' } });
  return res.data!.extractFrames.task.id as string;
}

/** `_entities` sent straight to the frames subgraph, as a router would. */
const framesEntities = (representations: Record<string, unknown>[], selection: string) =>
  gw.graphql(`query($r: [_Any!]!) { _entities(representations: $r) { __typename ${selection} } }`, { r: representations });

/** Composes frames + a catalog serving `catalogAssets`, and serves the supergraph with Hive Gateway on port 0. */
async function startFederatedGateway(catalogAssets: Record<string, string | null>): Promise<void> {
  catalog = await startCatalog({ assets: catalogAssets });
  const composed = compose({ sdl: FRAMES_SDL, url: `${gw.url}/graphql` }, { sdl: CATALOG_TYPE_DEFS, url: catalog.url });
  expect(composed.errors).toBeUndefined();
  router = await startRouter((composed as CompositionSuccess).supergraphSdl);
}

describe('behind Hive Gateway', () => {
  beforeEach(async () => {
    fake = await startFakeUpstream({ rps: 0 });
    gw = await startTestGateway({ upstreamUrl: fake.url });
    fake.setWebhookUrl(`${gw.url}/webhooks/mavi/${TEST_WEBHOOK_SECRET}`);
    assets = { a: fake.addAsset({ filename: 'a.mp4' }), b: fake.addAsset({ filename: 'b.mp4' }) };
  });

  afterEach(async () => {
    await router?.close();
    await catalog?.close();
    router = catalog = undefined;
    await gw.close();
    await fake.close();
  });

  it('joins catalog videos with frames data in one query (one batched _entities call to frames)', async () => {
    await startFederatedGateway({ v1: assets.a, v2: assets.b, v3: null });
    const taskId = await extract(assets.a);
    const done = await fake.completeTask(taskId, { frames: 3, shuffle: true });
    expect(done.status).toBe(200);
    subgraphRequests().length = 0;
    const callsBefore = fake.calls.length;

    const res = await gatewayQuery(/* GraphQL */ `
      {
        videos {
          id
          title
          asset {
            id
            filename
            uploadStatus
            frameExtractionTasks { id status collection { frameCount frames { id index url } } }
          }
        }
      }
    `);
    expect(res.errors).toBeUndefined();
    const [v1, v2, v3] = res.data!.videos;
    expect(v1).toMatchObject({ id: 'v1', title: 'Video v1', asset: { id: assets.a, filename: 'a.mp4', uploadStatus: 'SUCCESS' } });
    expect(v1.asset.frameExtractionTasks).toHaveLength(1);
    const [task] = v1.asset.frameExtractionTasks;
    expect(task).toMatchObject({ id: taskId, status: 'SUCCEEDED', collection: { frameCount: 3 } });
    expect(task.collection.frames.map((f: { id: string; index: number }) => [f.id, f.index])).toEqual(done.frameIds.map((id, i) => [id, i]));
    for (const frame of task.collection.frames) expect(frame.url).toMatch(/^http:\/\/localhost:\d+\/media\/imc_\d+_\d\?/);
    expect(v2).toEqual({
      id: 'v2',
      title: 'Video v2',
      asset: { id: assets.b, filename: 'b.mp4', uploadStatus: 'SUCCESS', frameExtractionTasks: [] },
    });
    expect(v3).toEqual({ id: 'v3', title: 'Video v3', asset: null });

    // One request per subgraph: the catalog list, then both assets in a single _entities batch.
    expect(subgraphRequests().map((r) => r.subgraph)).toEqual(['catalog', 'frames']);
    expect(subgraphRequests()[1]!.query).toContain('_entities(representations:');
    // Upstream: asset A is still in the shared metadata cache from extractFrames; B and the collection cost one call each.
    const upstream = fake.calls.slice(callsBefore).map((c) => `${c.method} ${c.path}`);
    expect(upstream.sort()).toEqual([`GET /${assets.b}/metadata`, `GET /${done.collectionId}/metadata`].sort());
  });

  it('resolves 500 Frame representations of one collection with exactly one upstream metadata call', async () => {
    const { collectionId, frameIds } = fake.addCollection(500);
    const before = fake.calls.length;
    const res = await framesEntities(
      frameIds.map((id) => ({ __typename: 'Frame', id })),
      '... on Frame { id index }',
    );
    expect(res.errors).toBeUndefined();
    expect(res.data!._entities).toEqual(frameIds.map((id, index) => ({ __typename: 'Frame', id, index })));
    const calls = fake.calls.slice(before);
    expect(calls.map((c) => `${c.method} ${c.path}`)).toEqual([`GET /${collectionId}/metadata`]);
  });

  it('answers malformed and unknown ids with null entities and per-entry errors, resolving the rest', async () => {
    const { collectionId, frameIds } = fake.addCollection(2);
    const unknownFrame = `imc_${collectionId.slice(3)}_7`;
    const representations = [
      { __typename: 'Frame', id: frameIds[1] },
      { __typename: 'Frame', id: 'imc_nope' },
      { __typename: 'Frame', id: unknownFrame },
      { __typename: 'FrameCollection', id: collectionId },
      { __typename: 'FrameCollection', id: 'im_x' },
      { __typename: 'FrameCollection', id: 'im_123456789012345678' },
      { __typename: 'VideoAsset', id: assets.a },
      { __typename: 'VideoAsset', id: 'not-an-asset' },
      { __typename: 'VideoAsset', id: 're_123456789012345678' },
      { __typename: 'FrameExtractionTask', id: 'bad id!' },
      { __typename: 'FrameExtractionTask', id: 'ffffffffffffffffffffffffffffffff' },
    ];
    const before = fake.calls.length;
    const res = await framesEntities(
      representations,
      '... on Frame { id index } ... on FrameCollection { id frameCount } ... on VideoAsset { id filename } ... on FrameExtractionTask { id status }',
    );
    expect(res.data!._entities).toEqual([
      { __typename: 'Frame', id: frameIds[1], index: 1 },
      null,
      null,
      { __typename: 'FrameCollection', id: collectionId, frameCount: 2 },
      null,
      null,
      { __typename: 'VideoAsset', id: assets.a, filename: 'a.mp4' },
      null,
      null,
      null,
      null,
    ]);
    const errors = Object.fromEntries((res.errors ?? []).map((e) => [e.path?.join('.'), e.extensions?.code]));
    expect(errors).toEqual({
      '_entities.1': 'INVALID_FRAME_ID',
      '_entities.2': 'ASSET_NOT_FOUND',
      '_entities.4': 'INVALID_COLLECTION_ID',
      '_entities.5': 'ASSET_NOT_FOUND',
      '_entities.7': 'INVALID_ASSET_ID',
      '_entities.8': 'ASSET_NOT_FOUND',
      '_entities.9': 'INVALID_TASK_ID',
      '_entities.10': 'TASK_NOT_FOUND',
    });
    // Malformed ids never reach the upstream; the known collection is read once for its frame, itself and the miss.
    expect(fake.calls.slice(before).map((c) => c.path).sort()).toEqual(
      [`/${collectionId}/metadata`, '/im_123456789012345678/metadata', `/${assets.a}/metadata`, '/re_123456789012345678/metadata'].sort(),
    );
  });

  it('keeps sibling videos whole when one catalog asset is unknown or malformed in the frames subgraph', async () => {
    await startFederatedGateway({ v1: assets.a, v2: 're_123456789012345678', v3: 'bogus' });
    const res = await gatewayQuery(`{ videos { id asset { id filename frameExtractionTasks { id } } } }`);
    expect(res.data!.videos).toEqual([
      { id: 'v1', asset: { id: assets.a, filename: 'a.mp4', frameExtractionTasks: [] } },
      { id: 'v2', asset: null },
      { id: 'v3', asset: null },
    ]);
    // The frames subgraph's coded error reaches the client at each field it could not resolve (never a masked
    // "Unexpected error" for the non-null frameExtractionTasks).
    const codes = (res.errors ?? []).map((e) => [e.path?.slice(0, 3).join('.'), e.extensions?.code, e.extensions?.serviceName]);
    expect(codes.length).toBeGreaterThan(0);
    for (const [path, code, service] of codes) {
      expect([path, code, service]).toEqual(
        path === 'videos.1.asset' ? ['videos.1.asset', 'ASSET_NOT_FOUND', 'frames'] : ['videos.2.asset', 'INVALID_ASSET_ID', 'frames'],
      );
    }
    expect(new Set(codes.map(([path]) => path))).toEqual(new Set(['videos.1.asset', 'videos.2.asset']));
  });

  it('streams frameExtractionTask through the gateway (client SSE, subgraph WS): PENDING, SUCCEEDED, complete', async () => {
    await startFederatedGateway({ v1: assets.a });
    const taskId = await extract(assets.a);
    const sub = gatewaySubscribe(WATCH, { id: taskId });
    const first = await sub.events.next();
    expect(first.errors).toBeUndefined();
    expect(first.data!.frameExtractionTask).toEqual({
      id: taskId,
      status: 'PENDING',
      frameCount: null,
      asset: { id: assets.a, filename: 'a.mp4' },
      collection: null,
    });
    expect(subgraphRequests().filter((r) => r.kind === 'ws').map((r) => r.subgraph)).toEqual(['frames']);

    const done = await fake.completeTask(taskId, { frames: 2 });
    expect(done.status).toBe(200);
    const second = await sub.events.next();
    expect(second.data!.frameExtractionTask).toMatchObject({
      id: taskId,
      status: 'SUCCEEDED',
      frameCount: 2,
      collection: { id: done.collectionId, frameCount: 2 },
    });
    await sub.completed;
    await expect.poll(() => gw.gateway.services.pubsub.listenerCount()).toBe(0);
  });

  it('releases the frames subscription when a gateway client leaves before the first change', async () => {
    await startFederatedGateway({ v1: assets.a });
    const taskId = await extract(assets.a);
    const sub = gatewaySubscribe(WATCH, { id: taskId });
    expect((await sub.events.next()).data!.frameExtractionTask.status).toBe('PENDING');
    expect(gw.gateway.services.pubsub.listenerCount()).toBe(1);
    sub.close();
    await expect.poll(() => gw.gateway.services.pubsub.listenerCount()).toBe(0);
  });
});
