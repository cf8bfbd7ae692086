/**
 * Behind a router, the client's forwarded token decides the tenant. A real Hive Gateway runtime with the settings of
 * docs/federation.md (test/helpers/router.ts: `propagateHeaders` for Authorization, graphql-ws subscriptions with
 * the token in connection_init) in front of the frames gateway with auth on (AUTH_JWT_SECRET) and the catalog
 * subgraph. Two tenants, each with an upload and a task made through the router, see only their own: in root
 * queries, in the catalog join (`_entities`), and in a subscription.
 */
import { composeServices, type CompositionSuccess } from '@theguild/federation-composition';
import { parse } from 'graphql';
import { SignJWT } from 'jose';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { printSchemaFile } from '../../src/schema/print.js';
import { CATALOG_TYPE_DEFS, start as startCatalog, type CatalogSubgraph } from '../fixtures/catalog-subgraph.js';
import { startFakeUpstream, type FakeUpstream } from '../helpers/fake-upstream.js';
import { startTestGateway, type GraphQLResponse, type TestGateway } from '../helpers/gateway.js';
import { startRouter, type TestRouter } from '../helpers/router.js';

const JWT_SECRET = 'federation-auth-secret-0123456789abcdef';
const WEBHOOK_SECRET = 'federation-auth-webhook-0123456789';

const sign = (tenant: string) =>
  new SignJWT({ tenant })
    .setProtectedHeader({ alg: 'HS256' })
    .setExpirationTime('10m')
    .sign(new TextEncoder().encode(JWT_SECRET));

let fake: FakeUpstream;
let gw: TestGateway;
let catalog: CatalogSubgraph;
let router: TestRouter;

beforeEach(async () => {
  fake = await startFakeUpstream({ rps: 0 });
  gw = await startTestGateway({ upstreamUrl: fake.url, env: { AUTH_JWT_SECRET: JWT_SECRET, MAVI_WEBHOOK_SECRET: WEBHOOK_SECRET } });
  fake.setWebhookUrl(`${gw.url}/webhooks/mavi/${WEBHOOK_SECRET}`);
  catalog = await startCatalog({ assets: {} });
  const composed = composeServices([
    { name: 'frames', typeDefs: parse(printSchemaFile()), url: `${gw.url}/graphql` },
    { name: 'catalog', typeDefs: parse(CATALOG_TYPE_DEFS), url: catalog.url },
  ]);
  expect(composed.errors).toBeUndefined();
  router = await startRouter((composed as CompositionSuccess).supergraphSdl);
});

afterEach(async () => {
  await router?.close();
  await catalog?.close();
  await gw?.close();
  await fake?.close();
});

/** uploadVideo through the router (GraphQL multipart request, forwarded to frames with the caller's token). */
async function uploadThroughRouter(token: string, filename: string): Promise<string> {
  const form = new FormData();
  const query = 'mutation($file: File!) { uploadVideo(file: $file) { __typename ... on UploadVideoSuccess { asset { id } } } }';
  form.set('operations', JSON.stringify({ query, variables: { file: null } }));
  form.set('map', JSON.stringify({ 0: ['variables.file'] }));
  form.set('0', new Blob([new Uint8Array(2048).fill(1)], { type: 'video/mp4' }), filename);
  const res = await fetch(router.url, { method: 'POST', body: form, headers: { authorization: `Bearer ${token}`, 'apollo-require-preflight': 'true' } });
  const body = (await res.json()) as GraphQLResponse<{ uploadVideo: { __typename: string; asset: { id: string } } }>;
  expect(body.data?.uploadVideo.__typename).toBe('UploadVideoSuccess');
  return body.data!.uploadVideo.asset.id;
}

async function extractThroughRouter(token: string, assetId: string): Promise<string> {
  const res = await router.query<{ extractFrames: { task: { id: string } } }>(
    'mutation($id: ID!) { extractFrames(assetId: $id) { ... on ExtractFramesSuccess { task { id } } } }',
    { id: assetId },
    token,
  );
  expect(res.errors).toBeUndefined();
  return res.data!.extractFrames.task.id;
}

const LOOKUP = /* GraphQL */ `
  query($mine: ID!, $theirs: ID!, $myTask: ID!, $theirTask: ID!) {
    mine: videoAsset(id: $mine) { id filename }
    theirs: videoAsset(id: $theirs) { id filename }
    myTask: frameExtractionTask(id: $myTask) { id status asset { id } }
    theirTask: frameExtractionTask(id: $theirTask) { id status }
  }
`;

describe('behind Hive Gateway with auth on', () => {
  it('lets the forwarded token decide the tenant: each tenant sees only its own asset and task, in queries and in _entities', async () => {
    const tokens = { alpha: await sign('alpha'), beta: await sign('beta') };
    const assets = { alpha: await uploadThroughRouter(tokens.alpha, 'alpha.mp4'), beta: await uploadThroughRouter(tokens.beta, 'beta.mp4') };
    const tasks = { alpha: await extractThroughRouter(tokens.alpha, assets.alpha), beta: await extractThroughRouter(tokens.beta, assets.beta) };
    catalog.videos.push({ id: 'va', title: 'Alpha video', assetId: assets.alpha }, { id: 'vb', title: 'Beta video', assetId: assets.beta });

    for (const [me, other] of [['alpha', 'beta'], ['beta', 'alpha']] as const) {
      const own = await router.query(LOOKUP, { mine: assets[me], theirs: assets[other], myTask: tasks[me], theirTask: tasks[other] }, tokens[me]);
      expect(own.data).toEqual({
        mine: { id: assets[me], filename: `${me}.mp4` },
        theirs: null,
        myTask: { id: tasks[me], status: 'PENDING', asset: { id: assets[me] } },
        theirTask: null,
      });
      // The catalog lists both videos; the frames subgraph resolves only the caller's asset through _entities.
      const joined = await router.query(`{ videos { id asset { id filename frameExtractionTasks { id } } } }`, {}, tokens[me]);
      const asset = (id: string) => (joined.data!['videos'] as { id: string; asset: unknown }[]).find((v) => v.id === id)!.asset;
      expect(asset(me === 'alpha' ? 'va' : 'vb')).toEqual({ id: assets[me], filename: `${me}.mp4`, frameExtractionTasks: [{ id: tasks[me] }] });
      expect(asset(me === 'alpha' ? 'vb' : 'va')).toBeNull();
    }
    // Every request the router sent to frames carried the caller's own token.
    const toFrames = router.requests.filter((r) => r.subgraph === 'frames' && r.kind === 'http');
    expect(toFrames.length).toBeGreaterThanOrEqual(8);
    for (const request of toFrames) expect([`Bearer ${tokens.alpha}`, `Bearer ${tokens.beta}`]).toContain(request.authorization);
  });

  it('answers a client without a token with UNAUTHENTICATED from frames and no upstream call', async () => {
    const before = fake.calls.length;
    const res = await router.query('{ videoAsset(id: "re_123456789012345678") { id } }');
    expect(res.data?.['videoAsset'] ?? null).toBeNull();
    expect(res.errors?.map((e) => e.extensions?.['code'])).toContain('UNAUTHENTICATED');
    expect(fake.calls.length).toBe(before);
  });

  it("streams a task to its tenant through the router (token in the subgraph's connection_init) and refuses it to another", async () => {
    const tokens = { alpha: await sign('alpha'), beta: await sign('beta') };
    const taskId = await extractThroughRouter(tokens.alpha, await uploadThroughRouter(tokens.alpha, 'alpha.mp4'));
    const watch = 'subscription($id: ID!) { frameExtractionTask(id: $id) { id status } }';

    const theirs = router.subscribe(watch, { id: taskId }, tokens.beta);
    const refused = await theirs.events.next();
    expect(refused.errors?.map((e) => e.extensions?.['code'])).toEqual(['TASK_NOT_FOUND']);
    await theirs.completed;

    const mine = router.subscribe(watch, { id: taskId }, tokens.alpha);
    expect((await mine.events.next()).data).toEqual({ frameExtractionTask: { id: taskId, status: 'PENDING' } });
    expect((await fake.completeTask(taskId, { frames: 2 })).status).toBe(200);
    expect((await mine.events.next()).data).toEqual({ frameExtractionTask: { id: taskId, status: 'SUCCEEDED' } });
    await mine.completed;
    expect(router.requests.filter((r) => r.kind === 'ws').map((r) => r.subgraph)).toEqual(['frames', 'frames']);
  });
});
