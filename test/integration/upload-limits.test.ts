import { afterEach, beforeEach, expect, it } from 'vitest';
import { startFakeUpstream, type FakeUpstream } from '../helpers/fake-upstream.js';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';

let fake: FakeUpstream;
let gw: TestGateway;
beforeEach(async () => {
  fake = await startFakeUpstream({ rps: 0 });
  gw = await startTestGateway({ upstreamUrl: fake.url, env: { UPLOAD_MAX_BYTES: '1000' } });
});
afterEach(async () => {
  await gw.close();
  await fake.close();
});

const upload = (bytes: Uint8Array<ArrayBuffer>, name = 'clip.mp4', target: TestGateway = gw) => {
  const form = new FormData();
  form.set(
    'operations',
    JSON.stringify({
      query: 'mutation($file: File!) { uploadVideo(file: $file) { __typename ... on UploadVideoSuccess { asset { id filename } } ... on Error { code } } }',
      variables: { file: null },
    }),
  );
  form.set('map', JSON.stringify({ 0: ['variables.file'] }));
  form.set('0', new Blob([bytes], { type: 'video/mp4' }), name);
  return fetch(`${target.url}/graphql`, { method: 'POST', body: form });
};

it('forwards an upload within UPLOAD_MAX_BYTES to the upstream', async () => {
  const res = await upload(new Uint8Array(900).fill(7));
  const body = (await res.json()) as { errors?: unknown; data: { uploadVideo: { __typename: string; asset: { id: string; filename: string } } } };
  expect(body.errors).toBeUndefined();
  expect(body.data.uploadVideo).toMatchObject({ __typename: 'UploadVideoSuccess', asset: { filename: 'clip.mp4' } });
  expect(fake.callsTo('POST', '/upload')).toHaveLength(1);
});

it('refuses an upload over UPLOAD_MAX_BYTES before anything reaches the upstream', async () => {
  const res = await upload(new Uint8Array(5000).fill(7));
  expect(res.status).toBe(413);
  expect(JSON.stringify(await res.json())).toMatch(/File size limit exceeded: 1000 bytes/);
  expect(fake.calls).toHaveLength(0);
});

it('accepts an upload larger than yoga\'s 25 MB default request body limit when UPLOAD_MAX_BYTES allows it', async () => {
  await using big = await startTestGateway({ upstreamUrl: fake.url, env: { UPLOAD_MAX_BYTES: String(40_000_000) } });
  const res = await upload(new Uint8Array(30_000_000).fill(7), 'big.mp4', big);
  const body = (await res.json()) as { errors?: unknown; data: { uploadVideo: { __typename: string } } };
  expect(res.status).toBe(200);
  expect(body.errors).toBeUndefined();
  expect(body.data.uploadVideo.__typename).toBe('UploadVideoSuccess');
  expect(fake.callsTo('POST', '/upload')).toHaveLength(1);
});
