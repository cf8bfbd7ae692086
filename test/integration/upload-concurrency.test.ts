/**
 * UPLOAD_CONCURRENCY through a real gateway: uploadVideo and importVideo share the slots, and a caller that cannot
 * get one within UPSTREAM_MAX_WAIT_MS gets UpstreamRateLimitedError (nothing reaches the upstream for it).
 */
import { readFileSync } from 'node:fs';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { createDeferred, type Deferred } from '../helpers/deferred.js';
import { startFakeUpstream, type FakeUpstream } from '../helpers/fake-upstream.js';
import { startTestGateway, TEST_API_KEY, type TestGateway } from '../helpers/gateway.js';
import { postGraphQLMultipart } from '../helpers/multipart.js';

const operation = (name: string) => readFileSync(new URL(`../operations/${name}.graphql`, import.meta.url), 'utf8');

let fake: FakeUpstream;
let gw: TestGateway;
let uploadArrived: Deferred<void>;
let releaseUpload: Deferred<void>;

beforeEach(async () => {
  uploadArrived = createDeferred();
  releaseUpload = createDeferred();
  fake = await startFakeUpstream({ rps: 0 });
  // Holds the first upstream upload until the test releases it, so its slot stays taken.
  const heldFetch: typeof fetch = async (input, init) => {
    if (String(input instanceof Request ? input.url : input).endsWith('/upload')) {
      uploadArrived.resolve();
      await releaseUpload.promise;
    }
    return fetch(input, init);
  };
  gw = await startTestGateway({
    upstreamUrl: fake.url,
    env: { UPLOAD_CONCURRENCY: '1', UPSTREAM_MAX_WAIT_MS: '0', UPSTREAM_RPS: '1000', UPSTREAM_RATE_MARGIN_MS: '0', IMPORT_ALLOW_PRIVATE_NETWORKS: 'true' },
    deps: { fetch: heldFetch },
  });
});
afterEach(async () => {
  releaseUpload.resolve();
  await gw.close();
  await fake.close();
});

it('refuses an importVideo that finds every upload slot taken past UPSTREAM_MAX_WAIT_MS, then serves the upload', async () => {
  const video = new Uint8Array(300).fill(9);
  const upload = postGraphQLMultipart(`${gw.url}/graphql`, {
    query: operation('upload-video'),
    files: [{ path: 'variables.file', data: video, filename: 'held.mp4', type: 'video/mp4' }],
  });
  await uploadArrived.promise;

  const refused = await gw.graphql(operation('import-video'), { url: `${fake.url}/never-fetched.mp4` });
  expect(refused.errors).toBeUndefined();
  expect(refused.data?.importVideo).toMatchObject({ __typename: 'UpstreamRateLimitedError', code: 'UPSTREAM_RATE_LIMITED' });
  expect(fake.calls.filter((c) => c.path.includes('never-fetched'))).toEqual([]);

  releaseUpload.resolve();
  const { body } = await upload;
  expect(body.errors).toBeUndefined();
  expect(body.data?.uploadVideo).toMatchObject({ __typename: 'UploadVideoSuccess', asset: { filename: 'held.mp4', fileSize: 300 } });
  const id = (body.data?.uploadVideo as { asset: { id: string } }).asset.id;
  const stored = await fetch(`${fake.url}/${id}/download`, { headers: { authorization: TEST_API_KEY } });
  expect(new Uint8Array(await stored.arrayBuffer())).toEqual(video);
  expect(fake.callsTo('POST', '/upload')).toHaveLength(1);
});
