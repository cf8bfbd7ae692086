/**
 * docs/frontend.md's client code, run for real: Apollo Client 4 and urql 6 (test/fixtures/frontend/) against a
 * gateway on port 0 with auth on, over the fake upstream (frames are real 640×360 JPEGs), HTTP for queries and
 * mutations, graphql-ws for the subscription. For each client: GraphQL multipart upload and direct upload
 * (createVideoUpload, then the file straight to uploadUrl), extract, follow the task to SUCCEEDED while the fake's
 * webhook completes it, frames; renditions decoded from the served bytes at the srcset widths, the sprite tile a
 * scrub-bar CSS offset shows, the animated preview; an expired signed URL refreshed through a network-only read;
 * token refusals (HTTP 401, close 4401 at connect and at the token's exp mid-stream) retried once with a fresh
 * token; error unions and TASK_NOT_FOUND; the docs' quotes of these files and the codegen config's output.
 */
import { readFileSync } from 'node:fs';
import { generate } from '@graphql-codegen/cli';
import { SignJWT } from 'jose';
import { beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import WebSocket from 'ws';
import { createFramesApolloClient } from '../fixtures/frontend/apollo.js';
import * as apolloFlows from '../fixtures/frontend/apollo-flows.js';
import type { TokenSource } from '../fixtures/frontend/auth.js';
import codegenConfig from '../fixtures/frontend/codegen.js';
import type { FollowExtractionSubscription } from '../fixtures/frontend/gql/graphql.js';
import { fetchMedia, frameImgHtml, frameSrcset, scrubTileStyle, urlExpiresAt } from '../fixtures/frontend/media.js';
import { createFramesUrqlClient } from '../fixtures/frontend/urql.js';
import * as urqlFlows from '../fixtures/frontend/urql-flows.js';
import { FAKE_STORAGE_PREFIX } from '../helpers/fake-upstream.js';
import { type TestGateway } from '../helpers/gateway.js';
import { useGatewayPerTest } from '../helpers/gateway-per-test.js';
import { colourOf, decode, meanColour, near, solidJpegs } from '../helpers/images.js';

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

/**
 * Hands out tokens: those whose issue number is in `expired` are already expired, those in `shortLived` expire
 * within 1-2 s (exp has whole seconds); counts what the client did.
 */
function testTokens(tenant: string, expired: number[] = [], shortLived: number[] = []) {
  let current: string | null = null;
  const counts = { issued: 0, invalidated: 0 };
  const expOf = (n: number) => (expired.includes(n) ? nowSeconds() - 60 : shortLived.includes(n) ? nowSeconds() + 2 : nowSeconds() + 600);
  const source: TokenSource = {
    async getToken() {
      if (current === null) {
        current = await sign(tenant, expOf(counts.issued));
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
  directUpload(file: File): Promise<{ assetId: string } | { error: string }>;
  loadGrid(collectionId: string, fresh?: boolean): ReturnType<typeof apolloFlows.loadGrid>;
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
      directUpload: (file) => apolloFlows.directUpload(client, file),
      loadGrid: (id, fresh) => apolloFlows.loadGrid(client, id, fresh),
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
      directUpload: (file) => urqlFlows.directUpload(client, file),
      loadGrid: (id, fresh) => urqlFlows.loadGrid(client, id, fresh),
      dispose: async () => wsClient.dispose(),
    };
  },
};

const FRAME_W = 640;
const FRAME_H = 360;
let frameImages: Buffer[] = [];
beforeAll(async () => {
  frameImages = await solidJpegs(12, FRAME_W, FRAME_H);
});

const stack = useGatewayPerTest({ webhooks: true, fake: { frameImage: (n) => frameImages[n % frameImages.length]! } });
let gw: TestGateway;
const opened: Frontend[] = [];

let warnings: unknown[][] = [];

beforeEach(async () => {
  gw = await stack.start({ AUTH_JWT_SECRET: SECRET });
  // Apollo warns (console) when its cache cannot match `... on Error` for lack of possibleTypes ("Data might be lost").
  warnings = [];
  const record = (...args: unknown[]) => void warnings.push(args);
  const spies = [vi.spyOn(console, 'warn').mockImplementation(record), vi.spyOn(console, 'error').mockImplementation(record)];
  return async () => {
    await Promise.all(opened.splice(0).map((f) => f.dispose()));
    for (const spy of spies) spy.mockRestore();
    expect(warnings).toEqual([]);
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

/** Extracts frames from the asset and lets the fake's webhook complete the task once the page follows it. */
async function extracted(frontend: Frontend, assetId: string, frames: number): Promise<Task> {
  const started = await frontend.startExtraction(assetId);
  if (!('taskId' in started)) throw new Error(started.error);
  let completed: Promise<unknown> | undefined;
  const final = await frontend.followExtraction(started.taskId, (task) => {
    if (task.status === 'PENDING') completed = stack.fake.completeTask(started.taskId, { frames });
  });
  await completed;
  return final;
}

async function bytesOf(url: string): Promise<Buffer> {
  const res = await fetch(url);
  expect(res.status).toBe(200);
  return Buffer.from(await res.arrayBuffer());
}

describe.each(['apollo', 'urql'] as const)('%s', (name) => {
  it('uploads, extracts, follows the task over graphql-ws to SUCCEEDED and reads the frames', async () => {
    const tokens = testTokens('acme');
    const frontend = open(name, tokens.source);
    const assetId = await uploadedAsset(frontend);
    expect(stack.fake.callsTo('POST', /^\/upload$/)).toHaveLength(1);

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
    expect(stack.fake.callsTo('POST', /^\/upload$/)).toHaveLength(1);
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

  it('resubscribes with a fresh token when the socket closes with 4401 at the token exp mid-stream', async () => {
    const tokens = testTokens('acme', [], [1]);
    const frontend = open(name, tokens.source);
    const assetId = await uploadedAsset(frontend);
    const started = await frontend.startExtraction(assetId);
    if (!('taskId' in started)) throw new Error(started.error);
    tokens.source.invalidate(); // the socket connects with token 1, which expires while the task is PENDING
    const statuses: string[] = [];
    let completed: Promise<unknown> | undefined;
    const final = await frontend.followExtraction(started.taskId, (task) => {
      statuses.push(task.status);
      // The second PENDING is the resent subscription's current state, on a new socket with token 2.
      if (statuses.length === 2) completed = stack.fake.completeTask(started.taskId, { frames: 2 });
    });
    await completed;
    expect(statuses).toEqual(['PENDING', 'PENDING', 'SUCCEEDED']);
    expect(final.status).toBe('SUCCEEDED');
    expect(tokens.counts.issued).toBe(3);
  });

  it('turns an error member of a result union into a message, and rejects a follow of an unknown task with TASK_NOT_FOUND', async () => {
    const frontend = open(name, testTokens('acme').source);
    expect(await frontend.startExtraction('not-an-asset')).toEqual({ error: expect.stringMatching(/re_/) });
    expect(stack.fake.calls).toHaveLength(0);

    const error = (await frontend.followExtraction('0123456789abcdef0123456789abcdef', () => {}).catch((e: unknown) => e)) as {
      errors?: { extensions?: Record<string, unknown> }[]; // Apollo: CombinedGraphQLErrors
      graphQLErrors?: { extensions?: Record<string, unknown> }[]; // urql: CombinedError
    };
    expect((error.errors ?? error.graphQLErrors)?.[0]?.extensions?.['code']).toBe('TASK_NOT_FOUND');
  });

  it('uploads directly: a ticket from the gateway, then the file straight to uploadUrl with no token', async () => {
    const frontend = open(name, testTokens('acme').source);
    const uploaded = await frontend.directUpload(clip());
    if (!('assetId' in uploaded)) throw new Error(uploaded.error);
    const sent = stack.fake.calls.filter((c) => c.method === 'POST' && c.path.startsWith(FAKE_STORAGE_PREFIX));
    expect(sent).toHaveLength(1);
    expect(sent[0]).toMatchObject({ status: 200, authorization: null, id: uploaded.assetId });
    expect(stack.fake.callsTo('POST', /^\/upload$/)).toHaveLength(0); // the bytes did not pass through the gateway
    expect(stack.fake.callsTo('POST', '/upload/signed-url')).toHaveLength(1);
    expect(await frontend.waitForUpload(uploaded.assetId)).toBe('SUCCESS');
    expect((await extracted(frontend, uploaded.assetId, 2)).status).toBe('SUCCEEDED');
  });

  it('shows renditions in <img srcset>, a sprite tile for the scrub bar and the animated preview', async () => {
    const frontend = open(name, testTokens('acme').source);
    const asset = await frontend.directUpload(clip());
    if (!('assetId' in asset)) throw new Error(asset.error);
    await frontend.waitForUpload(asset.assetId);
    const task = await extracted(frontend, asset.assetId, 12);
    const grid = (await frontend.loadGrid(task.collectionId!))!;
    expect(grid.frames).toHaveLength(12);

    const frame = grid.frames[4]!;
    expect(frameSrcset(frame)).toBe(`${frame.w160} 160w, ${frame.w320} 320w, ${frame.w640} 640w`);
    expect(frameImgHtml(frame)).toContain(`sizes="(min-width: 960px) 240px, 33vw"`);
    for (const [url, width] of [[frame.w160, 160], [frame.w320, 320], [frame.w640, 640]] as const) {
      const image = await decode(await bytesOf(url));
      expect(image).toMatchObject({ format: 'webp', width, height: (width * FRAME_H) / FRAME_W });
    }
    expect(await decode(await bytesOf(frame.original))).toMatchObject({ format: 'jpeg', width: FRAME_W, height: FRAME_H });

    // 12 frames, 10 columns: 2 rows. The pointer at 95 % of the bar is over frame 11, the second tile of row 2.
    const { sprite } = grid;
    expect(sprite).toMatchObject({ columns: 10, rows: 2, tileWidth: 160, tileHeight: 90 });
    const scrub = scrubTileStyle(sprite, 0.95);
    expect(scrub.index).toBe(11);
    expect(scrub.css).toMatchObject({ width: '160px', height: '90px', 'background-position': '-160px -90px' });
    const sheet = await bytesOf(sprite.url);
    expect(await decode(sheet)).toMatchObject({ width: 1600, height: 180 });
    // What the CSS offset shows is frame 11's picture.
    const shown = await meanColour(sheet, { left: 160 + 20, top: 90 + 20, width: 120, height: 50 });
    expect(near(shown, colourOf(11))).toBe(true);

    expect(await decode(await bytesOf(grid.preview))).toMatchObject({ format: 'webp', pages: 12, width: 320 });
  });

  it('gets a fresh URL when a signed media URL has expired (403 "expired"), skipping the cached one', async () => {
    let clock = Date.now();
    gw = await stack.start({ AUTH_JWT_SECRET: SECRET, MEDIA_URL_TTL_SECONDS: '60' }, { now: () => clock });
    const frontend = open(name, testTokens('acme').source);
    const asset = await frontend.directUpload(clip());
    if (!('assetId' in asset)) throw new Error(asset.error);
    await frontend.waitForUpload(asset.assetId);
    const task = await extracted(frontend, asset.assetId, 3);
    const stale = (await frontend.loadGrid(task.collectionId!))!.frames[1]!.w160;
    expect(urlExpiresAt(stale).getTime()).toBeGreaterThan(clock);

    clock = urlExpiresAt(stale).getTime() + 1000;
    const refused = await fetch(stale);
    expect(refused.status).toBe(403);
    expect(await refused.json()).toMatchObject({ error: 'expired' });
    // The cache still holds the old URL; only a network-only read mints a new one.
    expect((await frontend.loadGrid(task.collectionId!))!.frames[1]!.w160).toBe(stale);
    const refreshed: string[] = [];
    const res = await fetchMedia(stale, async () => {
      const url = (await frontend.loadGrid(task.collectionId!, true))!.frames[1]!.w160;
      refreshed.push(url);
      return url;
    });
    expect(res.status).toBe(200);
    expect(await decode(Buffer.from(await res.arrayBuffer()))).toMatchObject({ format: 'webp', width: 160 });
    expect(refreshed).toHaveLength(1);
    expect(urlExpiresAt(refreshed[0]!).getTime()).toBeGreaterThan(clock);
  });
});

describe('GraphQL Code Generator (test/fixtures/frontend/codegen.ts)', () => {
  it('the committed typed documents are what the config makes from schema/schema.graphql and from the introspection of a gateway', async () => {
    const fromFile = await generate(codegenConfig, false);
    expect(fromFile.map((f: { filename: string }) => f.filename).sort()).toEqual(
      ['gql.ts', 'graphql.ts', 'index.ts', 'possible-types.ts'].map((f) => `test/fixtures/frontend/gql/${f}`),
    );
    for (const file of fromFile) expect(file.content, `${file.filename}: run npm run codegen`).toBe(readFileSync(file.filename, 'utf8'));

    // Introspection is off when MAVI_API_KEY is set unless INTROSPECTION=true; with auth on it needs the token too.
    gw = await stack.start({ AUTH_JWT_SECRET: SECRET, INTROSPECTION: 'true' });
    const token = await sign('acme', nowSeconds() + 600);
    const fromUrl = await generate(
      { ...codegenConfig, schema: { [`${gw.url}/graphql`]: { headers: { authorization: `Bearer ${token}` } } } },
      false,
    );
    const byName = (files: { filename: string; content: string }[]) => Object.fromEntries(files.map((f) => [f.filename, f.content]));
    // The one difference: introspection also shows federation's `_Entity` union (harmless in possibleTypes).
    const withoutEntity = (content: string) => content.replace(/,\n\s*"_Entity": \[[^\]]*\]/g, '');
    const possibleTypes = 'test/fixtures/frontend/gql/possible-types.ts';
    expect(byName(fromUrl)[possibleTypes]).toContain('"_Entity"');
    expect({ ...byName(fromUrl), [possibleTypes]: withoutEntity(byName(fromUrl)[possibleTypes]!) }).toEqual(byName(fromFile));
  });
});

describe('docs/frontend.md', () => {
  it('quotes the tested files verbatim (every "quoted from" block, paragraph by paragraph)', () => {
    const doc = readFileSync('docs/frontend.md', 'utf8');
    const blocks = [...doc.matchAll(/<!-- quoted from (\S+) -->\n```ts\n([\s\S]*?)\n```/g)];
    expect(blocks.length).toBeGreaterThanOrEqual(10);
    for (const [, file, code] of blocks) {
      const source = readFileSync(file!, 'utf8');
      for (const paragraph of code!.split('\n\n')) expect(source, `docs/frontend.md quotes ${file}`).toContain(paragraph);
    }
  });
});
