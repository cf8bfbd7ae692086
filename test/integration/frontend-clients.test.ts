/**
 * docs/frontend.md's client code, run for real: Apollo Client 4 and urql 6 (test/fixtures/frontend/) against a
 * gateway on port 0 with auth on, over the fake upstream, HTTP for queries/mutations and graphql-ws for the
 * subscription. Each client uploads (GraphQL multipart), waits for the upload, extracts, follows the task to
 * SUCCEEDED while the fake's webhook completes it, reads the frames and fetches an image; token refusals (HTTP 401,
 * close 4401) are retried with a fresh token; error unions and the subscription's TASK_NOT_FOUND reach the page.
 */
import { SignJWT } from 'jose';
import { beforeEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { createFramesApolloClient } from '../fixtures/frontend/apollo.js';
import * as apolloFlows from '../fixtures/frontend/apollo-flows.js';
import type { TokenSource } from '../fixtures/frontend/auth.js';
import type { FollowExtractionSubscription } from '../fixtures/frontend/gql/graphql.js';
import { createFramesUrqlClient } from '../fixtures/frontend/urql.js';
import * as urqlFlows from '../fixtures/frontend/urql-flows.js';
import { type TestGateway } from '../helpers/gateway.js';
import { useGatewayPerTest } from '../helpers/gateway-per-test.js';

const SECRET = 'frontend-test-jwt-secret-0123456789abcdef';
const FAKE_MP4 = Buffer.from('000000186674797069736f6d0000020069736f6d6d703431', 'hex');
type Task = FollowExtractionSubscription['frameExtractionTask'];

// Apollo's GraphQLWsLink checks `WebSocket.CLOSED` on the global when a subscription errors; browsers have it,
// Node 20 does not.
globalThis.WebSocket ??= WebSocket as unknown as typeof globalThis.WebSocket;

const nowSeconds = () => Math.floor(Date.now() / 1000);
const sign = (tenant: string, exp: number) =>
  new SignJWT({ tenant })
    .setProtectedHeader({ alg: 'HS256' })
    .setExpirationTime(exp)
    .sign(new TextEncoder().encode(SECRET));

/** Hands out tokens (the ones whose issue number is in `expired` are already expired); counts what the client did. */
function testTokens(tenant: string, expired: number[] = []) {
  let current: string | null = null;
  const counts = { issued: 0, invalidated: 0 };
  const source: TokenSource = {
    async getToken() {
      if (current === null) {
        current = await sign(tenant, expired.includes(counts.issued) ? nowSeconds() - 60 : nowSeconds() + 600);
        counts.issued++;
      }
      return current;
    },
    invalidate() {
      counts.invalidated++;
      current = null;
    },
  };
  return { source, counts };
}

/** One client setup and its page flows, behind the same shape for both libraries. */
interface Frontend {
  uploadVideo(file: File): Promise<{ assetId: string } | { error: string }>;
  waitForUpload(id: string): Promise<string | null>;
  startExtraction(assetId: string): Promise<{ taskId: string } | { error: string }>;
  followExtraction(id: string, onUpdate: (task: Task) => void): Promise<Task>;
  loadFrames(collectionId: string): ReturnType<typeof apolloFlows.loadFrames>;
  dispose(): Promise<void>;
}

type Options = { httpUrl: string; wsUrl: string; auth: TokenSource; webSocketImpl: unknown };

const frontends: Record<'apollo' | 'urql', (options: Options) => Frontend> = {
  apollo(options) {
    const { client, wsClient } = createFramesApolloClient(options);
    return {
      uploadVideo: (file) => apolloFlows.uploadVideo(client, file),
      waitForUpload: (id) => apolloFlows.waitForUpload(client, id, 0),
      startExtraction: (assetId) => apolloFlows.startExtraction(client, assetId),
      followExtraction: (id, onUpdate) => apolloFlows.followExtraction(client, id, onUpdate),
      loadFrames: (id) => apolloFlows.loadFrames(client, id),
      async dispose() {
        client.stop();
        await wsClient.dispose();
      },
    };
  },
  urql(options) {
    const { client, wsClient } = createFramesUrqlClient(options);
    return {
      uploadVideo: (file) => urqlFlows.uploadVideo(client, file),
      waitForUpload: (id) => urqlFlows.waitForUpload(client, id, 0),
      startExtraction: (assetId) => urqlFlows.startExtraction(client, assetId),
      followExtraction: (id, onUpdate) => urqlFlows.followExtraction(client, id, onUpdate),
      loadFrames: (id) => urqlFlows.loadFrames(client, id),
      dispose: async () => wsClient.dispose(),
    };
  },
};

const stack = useGatewayPerTest({ webhooks: true });
let gw: TestGateway;
const opened: Frontend[] = [];

beforeEach(async () => {
  gw = await stack.start({ AUTH_JWT_SECRET: SECRET });
  return async () => {
    await Promise.all(opened.splice(0).map((f) => f.dispose()));
  };
});

function open(name: keyof typeof frontends, auth: TokenSource): Frontend {
  const frontend = frontends[name]({
    httpUrl: `${gw.url}/graphql`,
    wsUrl: `${gw.url.replace(/^http/, 'ws')}/graphql`,
    auth,
    webSocketImpl: WebSocket,
  });
  opened.push(frontend);
  return frontend;
}

const clip = () => new File([FAKE_MP4], 'clip.mp4', { type: 'video/mp4' });

/** Uploads through the gateway and waits for SUCCESS; returns the asset id. */
async function uploadedAsset(frontend: Frontend): Promise<string> {
  const uploaded = await frontend.uploadVideo(clip());
  if (!('assetId' in uploaded)) throw new Error(`upload failed: ${uploaded.error}`);
  expect(await frontend.waitForUpload(uploaded.assetId)).toBe('SUCCESS');
  return uploaded.assetId;
}

describe.each(['apollo', 'urql'] as const)('%s', (name) => {
  it('uploads, extracts, follows the task over graphql-ws to SUCCEEDED and reads the frames', async () => {
    const tokens = testTokens('acme');
    const frontend = open(name, tokens.source);
    const assetId = await uploadedAsset(frontend);
    expect(stack.fake.callsTo('POST', '/upload')).toHaveLength(1);

    const started = await frontend.startExtraction(assetId);
    if (!('taskId' in started)) throw new Error(started.error);
    const updates: Task[] = [];
    let completed: Promise<unknown> | undefined;
    const final = await frontend.followExtraction(started.taskId, (task) => {
      updates.push(task);
      // The first push is the current state (PENDING); only then does the upstream's callback arrive.
      if (task.status === 'PENDING') completed = stack.fake.completeTask(started.taskId, { frames: 3 });
    });
    await completed;
    expect(updates.map((t) => t.status)).toEqual(['PENDING', 'SUCCEEDED']);
    expect(final).toMatchObject({ id: started.taskId, status: 'SUCCEEDED', frameCount: 3, error: null });

    const collection = await frontend.loadFrames(final.collectionId!);
    expect(collection).toMatchObject({ id: final.collectionId, frameCount: 3 });
    expect(collection!.frames.map((f) => f.index)).toEqual([0, 1, 2]);
    // Media URLs are signed: an <img src> needs no token.
    const image = await fetch(collection!.frames[1]!.url);
    expect(image.status).toBe(200);
    expect(image.headers.get('content-type')).toBe('image/jpeg');
    expect((await image.arrayBuffer()).byteLength).toBeGreaterThan(0);
    expect(tokens.counts).toEqual({ issued: 1, invalidated: 0 });
  });

  it('retries with a fresh token when the gateway refuses one: HTTP 401, then graphql-ws close 4401', async () => {
    // Token 0 is expired: the upload's HTTP request is refused (401) and sent again once with token 1.
    const tokens = testTokens('acme', [0, 2]);
    const frontend = open(name, tokens.source);
    const assetId = await uploadedAsset(frontend);
    expect(tokens.counts).toEqual({ issued: 2, invalidated: 1 });
    expect(stack.fake.callsTo('POST', '/upload')).toHaveLength(1);
    const started = await frontend.startExtraction(assetId);
    if (!('taskId' in started)) throw new Error(started.error);

    // The app rotates its token; the socket's connection_init carries token 2, expired: close 4401, then the
    // subscription is sent again on a new socket with token 3.
    tokens.source.invalidate();
    const statuses: string[] = [];
    let completed: Promise<unknown> | undefined;
    const final = await frontend.followExtraction(started.taskId, (task) => {
      statuses.push(task.status);
      if (task.status === 'PENDING') completed = stack.fake.completeTask(started.taskId, { frames: 2 });
    });
    await completed;
    expect(statuses).toEqual(['PENDING', 'SUCCEEDED']);
    expect(final.frameCount).toBe(2);
    expect(tokens.counts.issued).toBe(4);
    expect(stack.fake.callsTo('POST', '/video/extract-frames')).toHaveLength(1);
  });

  it('turns an error member of a result union into a message, and rejects a follow of an unknown task with TASK_NOT_FOUND', async () => {
    const frontend = open(name, testTokens('acme').source);
    expect(await frontend.startExtraction('not-an-asset')).toEqual({ error: expect.stringMatching(/re_/) });
    expect(stack.fake.calls).toHaveLength(0);

    const error = await frontend.followExtraction('0123456789abcdef0123456789abcdef', () => {}).catch((e: unknown) => e);
    expect(JSON.stringify((error as { errors?: unknown; graphQLErrors?: unknown }).errors ?? (error as { graphQLErrors?: unknown }).graphQLErrors)).toContain(
      'TASK_NOT_FOUND',
    );
  });
});
