/**
 * Persisted operations from the map `npm run codegen` writes (test/__generated__/persisted-documents.json, the client
 * preset's `persistedDocuments`): clients send the hash their typed document carries in `__meta__.hash`. With
 * PERSISTED_OPERATIONS_ONLY=true nothing else runs, over HTTP, SSE AND graphql-ws (allow-lists are classically
 * bypassed over websockets).
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { print } from 'graphql';
import { createClient } from 'graphql-ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { ConfigError, loadConfig } from '../../src/config.js';
import { FollowFrameExtractionDocument, StartFrameExtractionDocument, VideoAssetStatusDocument } from '../__generated__/graphql.js';
import { createEventQueue } from '../helpers/deferred.js';
import { startTestGateway, type GraphQLResponse } from '../helpers/gateway.js';
import { useGatewayPerTest } from '../helpers/gateway-per-test.js';

const LIST = fileURLToPath(new URL('../__generated__/persisted-documents.json', import.meta.url));
const hashOf = (document: unknown) => (document as { __meta__: { hash: string } }).__meta__.hash;
const persisted = (document: unknown) => ({ persistedQuery: { version: 1, sha256Hash: hashOf(document) } });

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'frames-gw-persisted-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});
const stack = useGatewayPerTest({ webhooks: true });
const start = stack.start;
const post = async (url: string, body: Record<string, unknown>) => {
  const res = await fetch(`${url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json' },
    body: JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as GraphQLResponse };
};
const codeOf = (res: { body: GraphQLResponse }) => res.body.errors?.map((e) => e.extensions?.code);

/** One graphql-ws operation sent as a persisted operation clients send it: `query: ""` plus the hash. */
const subscribeWsPersisted = (url: string, extensions: Record<string, unknown>, variables: Record<string, unknown>) => {
  const client = createClient({ url: `${url.replace(/^http/, 'ws')}/graphql`, webSocketImpl: WebSocket, retryAttempts: 0, lazy: true });
  const events = createEventQueue<GraphQLResponse>();
  const done = new Promise<unknown>((resolve) => {
    client.subscribe(
      { query: '', extensions, variables },
      {
        next: (v) => events.push(v as GraphQLResponse),
        error: (error) => (events.close(error), resolve(error)),
        complete: () => (events.close('complete'), resolve('complete')),
      },
    );
  });
  return { events, done, dispose: () => client.dispose() };
};

describe('PERSISTED_OPERATIONS_ONLY=true', () => {
  const only = { PERSISTED_OPERATIONS_FILE: LIST, PERSISTED_OPERATIONS_ONLY: 'true' };

  it('runs a listed operation by its hash over HTTP (client preset `sha256:` form and the bare hex digest)', async () => {
    const t = await start(only);
    const assetId = stack.fake.addAsset({ filename: 'clip.mp4' });
    const res = await post(t.url, { extensions: persisted(VideoAssetStatusDocument), variables: { id: assetId } });
    expect(res).toMatchObject({ status: 200, body: { data: { videoAsset: { id: assetId, filename: 'clip.mp4' } } } });
    const bare = hashOf(VideoAssetStatusDocument).replace(/^sha256:/, '');
    const viaBare = await post(t.url, { extensions: { persistedQuery: { version: 1, sha256Hash: bare } }, variables: { id: assetId } });
    expect(viaBare.body).toEqual(res.body);
  });

  it('refuses a document (even a listed one) and an unknown hash over HTTP and SSE, with no upstream call', async () => {
    const t = await start(only);
    const assetId = stack.fake.addAsset();
    const asDocument = await post(t.url, { query: print(VideoAssetStatusDocument), variables: { id: assetId } });
    expect([asDocument.status, codeOf(asDocument), asDocument.body.data]).toEqual([400, ['PERSISTED_QUERY_ONLY'], undefined]);
    const unknown = await post(t.url, { extensions: { persistedQuery: { version: 1, sha256Hash: 'sha256:00' } }, variables: { id: assetId } });
    expect([unknown.status, codeOf(unknown)]).toEqual([400, ['PERSISTED_QUERY_NOT_IN_LIST']]);
    const neither = await post(t.url, { variables: { id: assetId } });
    expect(codeOf(neither)).toEqual(['PERSISTED_QUERY_ID_REQUIRED']);
    const sse = t.subscribeSse('subscription { frameExtractionTask(id: "ffffffffffffffffffffffffffffffff") { id } }');
    expect((await sse.events.next()).errors?.map((e) => e.extensions?.code)).toEqual(['PERSISTED_QUERY_ONLY']);
    await sse.dispose();
    expect(stack.fake.calls).toEqual([]);
  });

  it('refuses a document over graphql-ws, and follows a listed subscription by hash to completion', async () => {
    const t = await start(only);
    const sub = t.subscribeWs(print(FollowFrameExtractionDocument), { id: 'ffffffffffffffffffffffffffffffff' });
    await expect(sub.completed).rejects.toEqual([expect.objectContaining({ extensions: { code: 'PERSISTED_QUERY_ONLY' } })]);

    const unknown = subscribeWsPersisted(t.url, { persistedQuery: { version: 1, sha256Hash: 'sha256:00' } }, {});
    expect(await unknown.done).toEqual([expect.objectContaining({ extensions: { code: 'PERSISTED_QUERY_NOT_IN_LIST' } })]);
    await unknown.dispose();

    const started = await post(t.url, { extensions: persisted(StartFrameExtractionDocument), variables: { assetId: stack.fake.addAsset() } });
    const taskId = (started.body.data as { extractFrames: { task: { id: string } } }).extractFrames.task.id;
    const follow = subscribeWsPersisted(t.url, persisted(FollowFrameExtractionDocument), { id: taskId });
    expect((await follow.events.next()).data).toMatchObject({ frameExtractionTask: { id: taskId, status: 'PENDING' } });
    await stack.fake.completeTask(taskId, { frames: 2 });
    expect((await follow.events.next()).data).toMatchObject({ frameExtractionTask: { id: taskId, status: 'SUCCEEDED', frameCount: 2 } });
    expect(await follow.done).toBe('complete');
    await follow.dispose();
  });
});

describe('PERSISTED_OPERATIONS_FILE without _ONLY', () => {
  it('runs listed hashes and arbitrary documents alike, over HTTP and graphql-ws', async () => {
    const t = await start({ PERSISTED_OPERATIONS_FILE: LIST });
    const assetId = stack.fake.addAsset({ filename: 'a.mp4' });
    const byHash = await post(t.url, { extensions: persisted(VideoAssetStatusDocument), variables: { id: assetId } });
    expect(byHash.body).toMatchObject({ data: { videoAsset: { filename: 'a.mp4' } } });
    expect(await t.graphql('{ __typename }')).toEqual({ data: { __typename: 'Query' } });
    const ws = subscribeWsPersisted(t.url, persisted(VideoAssetStatusDocument), { id: assetId });
    expect((await ws.events.next()).data).toEqual(byHash.body.data);
    await ws.dispose();
    const sub = t.subscribeWs('{ __typename }');
    expect(await sub.events.next()).toEqual({ data: { __typename: 'Query' } });
  });
});

describe('a bad persisted operations configuration', () => {
  it('PERSISTED_OPERATIONS_ONLY=true without a file is a configuration error', () => {
    expect(() => loadConfig({ PERSISTED_OPERATIONS_ONLY: 'true' })).toThrow(
      expect.objectContaining({ problems: [expect.stringMatching(/^PERSISTED_OPERATIONS_ONLY: needs PERSISTED_OPERATIONS_FILE/)] }),
    );
  });

  it.each([
    ['missing', null, /cannot be read \(ENOENT/],
    ['not JSON', '{"a":', /not JSON/],
    ['an array', '["query { __typename }"]', /must be a JSON object/],
    ['a non-string entry', '{"sha256:1": 42}', /entry sha256:1 is not a string/],
    ['an unparsable document', '{"sha256:1": "query {"}', /entry sha256:1 is not a GraphQL document/],
  ])('refuses to start when the file is %s, naming the variable', async (_name, content, detail) => {
    const file = join(dir, `${_name.replace(/\W+/g, '-')}.json`);
    if (content !== null) await writeFile(file, content);
    const starting = startTestGateway({ upstreamUrl: stack.fake.url, env: { PERSISTED_OPERATIONS_FILE: file } });
    await expect(starting).rejects.toBeInstanceOf(ConfigError);
    await expect(starting).rejects.toThrow(new RegExp(`PERSISTED_OPERATIONS_FILE: ${file}: ${detail.source}`));
  });
});
