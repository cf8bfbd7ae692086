/**
 * Tenant isolation through the real auth (HS256 JWTs signed with jose): for another tenant an id does not exist
 * (null in queries and `_entities`, TASK_NOT_FOUND on subscriptions, which then complete, no media URL), and a
 * well-formed id no tenant obtained through the gateway is refused without an upstream call. Ownership lives in
 * Redis with REDIS_URL: a second instance on the same registry enforces the same.
 */
import { createClient } from 'graphql-ws';
import { SignJWT } from 'jose';
import WebSocket from 'ws';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startFakeUpstream, type FakeUpstream } from '../helpers/fake-upstream.js';
import { startTestGateway, TEST_WEBHOOK_SECRET, type GraphQLResponse, type TestGateway } from '../helpers/gateway.js';
import { postGraphQLMultipart } from '../helpers/multipart.js';
import { openTestRedis, TEST_REDIS_URL, type TestRedis } from '../helpers/redis.js';

const JWT_SECRET = 'isolation-jwt-secret-0123456789abcdef';

const UPLOAD = `mutation($file: File!) { uploadVideo(file: $file) { __typename ... on UploadVideoSuccess { asset { id url } } } }`;
const EXTRACT = `mutation($assetId: ID!, $key: String) {
  extractFrames(assetId: $assetId, idempotencyKey: $key) {
    __typename ... on ExtractFramesSuccess { reused task { id } } ... on Error { code }
  }
}`;
const ASSET = `query($id: ID!) { videoAsset(id: $id) { id url frameExtractionTasks { id } } }`;
const TASK = `query($id: ID!) { frameExtractionTask(id: $id) { id status collection { id zipUrl } asset { id } } }`;
const COLLECTION = `query($id: ID!) { frameCollection(id: $id) { id zipUrl frames { id url } } }`;
const FRAME = `query($id: ID!) { frame(id: $id) { id url } }`;
const ENTITIES = `query($r: [_Any!]!) {
  _entities(representations: $r) {
    ... on VideoAsset { id url } ... on FrameExtractionTask { id } ... on FrameCollection { id zipUrl } ... on Frame { id url }
  }
}`;
const WATCH = `subscription($id: ID!) { frameExtractionTask(id: $id) { id status } }`;

const token = (tenant: string) =>
  new SignJWT({ tenant }).setProtectedHeader({ alg: 'HS256' }).setIssuedAt().setExpirationTime('1h').sign(new TextEncoder().encode(JWT_SECRET));

let fake: FakeUpstream;
let redis: TestRedis;
const gateways: TestGateway[] = [];
const disposers: (() => Promise<void>)[] = [];

async function startGateway(env: Record<string, string> = {}) {
  const gw = await startTestGateway({ upstreamUrl: fake.url, env: { AUTH_JWT_SECRET: JWT_SECRET, ...env } });
  gateways.push(gw);
  fake.setWebhookUrl(`${gw.url}/webhooks/mavi/${TEST_WEBHOOK_SECRET}`);
  return gw;
}

/** The GraphQL client of one tenant on one gateway. */
function client(gw: TestGateway, tenant: string) {
  const auth = async () => `Bearer ${await token(tenant)}`;
  const post = async (query: string, variables: Record<string, unknown> = {}, accept = 'application/graphql-response+json') =>
    fetch(`${gw.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept, authorization: await auth() },
      body: JSON.stringify({ query, variables }),
    });
  return {
    async gql(query: string, variables: Record<string, unknown> = {}): Promise<GraphQLResponse> {
      return (await (await post(query, variables)).json()) as GraphQLResponse;
    },
    async upload(): Promise<string> {
      const { body } = await postGraphQLMultipart(`${gw.url}/graphql`, {
        query: UPLOAD,
        files: [{ path: 'variables.file', data: 'a video', filename: 'clip.mp4', type: 'video/mp4' }],
        headers: { authorization: await auth() },
      });
      expect(body.data?.uploadVideo.__typename).toBe('UploadVideoSuccess');
      return body.data!.uploadVideo.asset.id as string;
    },
    /** Every result a graphql-ws subscription produced until it completed. */
    async watchWs(id: string): Promise<unknown[]> {
      const ws = createClient({
        url: `${gw.url.replace(/^http/, 'ws')}/graphql`,
        webSocketImpl: WebSocket,
        retryAttempts: 0,
        connectionParams: { authorization: await auth() },
      });
      disposers.push(async () => ws.dispose());
      const results: unknown[] = [];
      await new Promise<void>((resolve, reject) =>
        ws.subscribe({ query: WATCH, variables: { id } }, { next: (r) => results.push(r), error: reject, complete: resolve }),
      );
      return results;
    },
    /** The SSE stream's body, read to its end. */
    async watchSse(id: string): Promise<string> {
      return (await post(WATCH, { id }, 'text/event-stream')).text();
    },
  };
}

const upstreamCalls = () => fake.calls.length;

beforeEach(async () => {
  fake = await startFakeUpstream({ rps: 0 });
  redis = await openTestRedis();
});
afterEach(async () => {
  for (const dispose of disposers.splice(0)) await dispose();
  for (const gw of gateways.splice(0)) await gw.close();
  await fake.close();
  await redis.dispose();
});

describe('tenant isolation (AUTH_JWT_SECRET)', () => {
  it("answers another tenant's asset, task, collection and frames like unknown ids, with no upstream call and no media URL", async () => {
    const gw = await startGateway();
    const acme = client(gw, 'acme');
    const globex = client(gw, 'globex');
    const assetId = await acme.upload();
    const extracted = await acme.gql(EXTRACT, { assetId });
    const taskId = (extracted.data!.extractFrames as any).task.id as string;
    const done = await fake.completeTask(taskId, { frames: 2 });
    const frameId = `${done.collectionId.replace('im_', 'imc_')}_0`;

    // The owner sees everything, with signed URLs.
    const own = await acme.gql(COLLECTION, { id: done.collectionId });
    expect((own.data!.frameCollection as any).frames).toHaveLength(2);
    expect((await acme.gql(TASK, { id: taskId })).data!.frameExtractionTask).toMatchObject({
      status: 'SUCCEEDED',
      collection: { id: done.collectionId, zipUrl: expect.stringContaining('/media/') },
      asset: { id: assetId },
    });
    expect((await acme.gql(ASSET, { id: assetId })).data!.videoAsset).toMatchObject({ id: assetId, frameExtractionTasks: [{ id: taskId }] });

    const before = upstreamCalls();
    const answers = {
      asset: await globex.gql(ASSET, { id: assetId }),
      task: await globex.gql(TASK, { id: taskId }),
      collection: await globex.gql(COLLECTION, { id: done.collectionId }),
      frame: await globex.gql(FRAME, { id: frameId }),
    };
    expect(answers).toEqual({
      asset: { data: { videoAsset: null } },
      task: { data: { frameExtractionTask: null } },
      collection: { data: { frameCollection: null } },
      frame: { data: { frame: null } },
    });
    const entities = await globex.gql(ENTITIES, {
      r: [
        { __typename: 'VideoAsset', id: assetId },
        { __typename: 'FrameExtractionTask', id: taskId },
        { __typename: 'FrameCollection', id: done.collectionId },
        { __typename: 'Frame', id: frameId },
      ],
    });
    expect(entities.data!._entities).toEqual([null, null, null, null]);
    expect(entities.errors!.map((e) => e.path![1]).sort()).toEqual([0, 1, 2, 3]);
    // Not even extracting another tenant's asset reaches the upstream.
    expect((await globex.gql(EXTRACT, { assetId })).data!.extractFrames).toEqual({ __typename: 'AssetNotFoundError', code: 'ASSET_NOT_FOUND' });
    expect(upstreamCalls()).toBe(before);
    expect(JSON.stringify({ answers, entities })).not.toContain('/media/');
  });

  it('ends another tenant’s task subscription with TASK_NOT_FOUND and completes it, over graphql-ws and SSE', async () => {
    const gw = await startGateway();
    const acme = client(gw, 'acme');
    const globex = client(gw, 'globex');
    const taskId = ((await acme.gql(EXTRACT, { assetId: await acme.upload() })).data!.extractFrames as any).task.id as string;
    const ws = await globex.watchWs(taskId);
    expect(ws).toEqual([{ errors: [expect.objectContaining({ extensions: { code: 'TASK_NOT_FOUND' } })] }]);
    const sse = await globex.watchSse(taskId);
    expect(sse).toContain('"code":"TASK_NOT_FOUND"');
    expect(sse).toContain('event: complete');
    expect(sse).not.toContain('"status"');
    // The owner follows it as usual.
    await fake.completeTask(taskId, { frames: 1 });
    expect(await acme.watchSse(taskId)).toContain('"status":"SUCCEEDED"');
  });

  it('refuses well-formed ids no tenant obtained through the gateway, without an upstream call', async () => {
    const gw = await startGateway();
    const acme = client(gw, 'acme');
    const assetId = fake.addAsset();
    const { collectionId, frameIds } = fake.addCollection(1);
    const before = upstreamCalls();
    expect((await acme.gql(ASSET, { id: assetId })).data).toEqual({ videoAsset: null });
    expect((await acme.gql(COLLECTION, { id: collectionId })).data).toEqual({ frameCollection: null });
    expect((await acme.gql(FRAME, { id: frameIds[0] })).data).toEqual({ frame: null });
    expect((await acme.gql(TASK, { id: '0123456789abcdef0123456789abcdef' })).data).toEqual({ frameExtractionTask: null });
    expect((await acme.gql(EXTRACT, { assetId })).data!.extractFrames).toEqual({ __typename: 'AssetNotFoundError', code: 'ASSET_NOT_FOUND' });
    expect(upstreamCalls()).toBe(before);
  });

  it('keeps idempotency keys per tenant: the same key used by two tenants names two tasks', async () => {
    const gw = await startGateway();
    const acme = client(gw, 'acme');
    const globex = client(gw, 'globex');
    const a = (await acme.gql(EXTRACT, { assetId: await acme.upload(), key: 'order-1' })).data!.extractFrames as any;
    const g = (await globex.gql(EXTRACT, { assetId: await globex.upload(), key: 'order-1' })).data!.extractFrames as any;
    expect([a.__typename, g.__typename, g.reused]).toEqual(['ExtractFramesSuccess', 'ExtractFramesSuccess', false]);
    expect(g.task.id).not.toBe(a.task.id);
  });

  it('shares ownership through Redis: a second instance refuses the other tenant and serves the owner', async () => {
    const env = { REDIS_URL: TEST_REDIS_URL, REDIS_PREFIX: redis.prefix };
    const [one, two] = [await startGateway(env), await startGateway(env)];
    const assetId = await client(one, 'acme').upload();
    expect((await client(two, 'globex').gql(ASSET, { id: assetId })).data).toEqual({ videoAsset: null });
    expect((await client(two, 'acme').gql(ASSET, { id: assetId })).data!.videoAsset).toMatchObject({ id: assetId, url: expect.stringContaining('/media/') });
  });
});
