/**
 * Per-tenant budgets of billed work across two gateway instances over one real Redis (one REDIS_PREFIX) and one
 * fake upstream: TENANT_EXTRACTIONS_PER_HOUR and TENANT_UPLOADS_PER_HOUR are spent on either instance, a refused
 * call never reaches the upstream, reused tasks are free, and a call the upstream refused gives its unit back.
 * Callers are real JWT holders (AUTH_JWT_SECRET, tokens signed with jose).
 */
import { SignJWT } from 'jose';
import { describe, expect, it } from 'vitest';
import { useGatewayCluster } from '../helpers/cluster.js';
import type { GraphQLResponse, TestGateway } from '../helpers/gateway.js';
import { postGraphQLMultipart } from '../helpers/multipart.js';

const JWT_SECRET = 'quota-test-jwt-secret-0123456789abcdef';

const EXTRACT = /* GraphQL */ `
  mutation Extract($assetId: ID!, $force: Boolean) {
    extractFrames(assetId: $assetId, force: $force) {
      __typename
      ... on ExtractFramesSuccess { reused task { id } }
      ... on Error { code }
      ... on QuotaExceededError { retryAfterSeconds }
    }
  }
`;
const UPLOAD = /* GraphQL */ `
  mutation Upload($file: File!) {
    uploadVideo(file: $file) {
      __typename
      ... on UploadVideoSuccess { asset { id } }
      ... on Error { code }
      ... on QuotaExceededError { retryAfterSeconds }
    }
  }
`;
const IMPORT = /* GraphQL */ `
  mutation Import($url: String!) {
    importVideo(url: $url) {
      __typename
      ... on Error { code }
      ... on QuotaExceededError { retryAfterSeconds }
    }
  }
`;

const cluster = useGatewayCluster('q');

/** Two instances sharing one Redis prefix (so one set of budgets) in front of one fake upstream. */
async function startPair(env: Record<string, string>, auth = true): Promise<[TestGateway, TestGateway]> {
  const { gateways } = await cluster.start(2, () => ({ env: { ...(auth ? { AUTH_JWT_SECRET: JWT_SECRET } : {}), ...env } }));
  return [gateways[0]!, gateways[1]!];
}

const tokenFor = (tenant: string) =>
  new SignJWT({ tenant }).setProtectedHeader({ alg: 'HS256' }).setSubject(`user-of-${tenant}`).setExpirationTime('10m').sign(new TextEncoder().encode(JWT_SECRET));

/** A GraphQL POST as `tenant` (the helper's graphql() sends no Authorization header). */
async function as(tenant: string, gateway: TestGateway, query: string, variables: Record<string, unknown>): Promise<GraphQLResponse> {
  const res = await fetch(`${gateway.url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json', authorization: `Bearer ${await tokenFor(tenant)}` },
    body: JSON.stringify({ query, variables }),
  });
  return (await res.json()) as GraphQLResponse;
}

const extract = async (tenant: string, gateway: TestGateway, assetId: string, force = false) =>
  (await as(tenant, gateway, EXTRACT, { assetId, force })).data?.extractFrames;

/** uploadVideo as `tenant`: a GraphQL multipart request (operations, map, then the file). */
async function upload(tenant: string, gateway: TestGateway) {
  const form = new FormData();
  form.append('operations', JSON.stringify({ query: UPLOAD, variables: { file: null } }));
  form.append('map', JSON.stringify({ 0: ['variables.file'] }));
  form.append('0', new Blob(['not really a video'], { type: 'video/mp4' }), 'clip.mp4');
  const res = await fetch(`${gateway.url}/graphql`, {
    method: 'POST',
    body: form,
    headers: { accept: 'application/graphql-response+json', authorization: `Bearer ${await tokenFor(tenant)}` },
  });
  return ((await res.json()) as GraphQLResponse).data?.uploadVideo;
}

/** An asset `tenant` owns: with auth on, only assets obtained through the gateway can be extracted. */
async function ownedAssets(tenant: string, gateway: TestGateway, count: number): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < count; i++) {
    const result = await upload(tenant, gateway);
    expect(result).toMatchObject({ __typename: 'UploadVideoSuccess' });
    ids.push(result!.asset.id);
  }
  return ids;
}

const extractCalls = () => cluster.fake.callsTo('POST', '/video/extract-frames').length;
const uploadCalls = () => cluster.fake.callsTo('POST', '/upload').length;

describe('per-tenant budgets shared across instances', () => {
  it('TENANT_EXTRACTIONS_PER_HOUR=2: the third new extraction is refused on the other instance, with no upstream call', async () => {
    const [a, b] = await startPair({ TENANT_EXTRACTIONS_PER_HOUR: '2' });
    const [first, second, third] = (await ownedAssets('acme', a, 3)) as [string, string, string];
    const [theirs] = (await ownedAssets('globex', b, 1)) as [string];
    await expect(extract('acme', a, first)).resolves.toMatchObject({ __typename: 'ExtractFramesSuccess', reused: false });
    await expect(extract('acme', b, second)).resolves.toMatchObject({ __typename: 'ExtractFramesSuccess', reused: false });
    // A reused task is free, on either instance.
    await expect(extract('acme', b, first)).resolves.toMatchObject({ __typename: 'ExtractFramesSuccess', reused: true });
    expect(extractCalls()).toBe(2);

    const refused = await extract('acme', b, third);
    expect(refused).toMatchObject({ __typename: 'QuotaExceededError', code: 'QUOTA_EXCEEDED' });
    expect(refused!.retryAfterSeconds).toBeGreaterThan(3590);
    expect(refused!.retryAfterSeconds).toBeLessThanOrEqual(3600);
    await expect(extract('acme', a, third)).resolves.toMatchObject({ __typename: 'QuotaExceededError' });
    expect(extractCalls()).toBe(2);

    // Another tenant has a budget of its own.
    await expect(extract('globex', a, theirs)).resolves.toMatchObject({ __typename: 'ExtractFramesSuccess', reused: false });
    expect(extractCalls()).toBe(3);
  });

  it('gives the unit back when the upstream refuses the extraction (402), and keeps nothing for it', async () => {
    const [a, b] = await startPair({ TENANT_EXTRACTIONS_PER_HOUR: '2' });
    const [first, second, third] = (await ownedAssets('acme', a, 3)) as [string, string, string];
    await expect(extract('acme', a, first)).resolves.toMatchObject({ __typename: 'ExtractFramesSuccess' });
    // The asset's metadata is cached on `a` now, so the next upstream reply is the forced extraction's.
    cluster.fake.setFailure({ status: 402, body: { code: 402, msg: 'Insufficient balance', data: null, success: false, failed: true } });
    await expect(extract('acme', a, first, true)).resolves.toMatchObject({ code: 'UPSTREAM_PAYMENT_REQUIRED' });
    await expect(extract('acme', b, second)).resolves.toMatchObject({ __typename: 'ExtractFramesSuccess', reused: false });
    await expect(extract('acme', b, third)).resolves.toMatchObject({ __typename: 'QuotaExceededError' });
    expect(cluster.fake.callsTo('POST', '/video/extract-frames').map((call) => call.status)).toEqual([200, 402, 200]);
  });

  it('TENANT_UPLOADS_PER_HOUR=1: uploads and imports share the budget across instances; refused ones upload and fetch nothing', async () => {
    const [a, b] = await startPair({ TENANT_UPLOADS_PER_HOUR: '1' });
    await expect(upload('acme', a)).resolves.toMatchObject({ __typename: 'UploadVideoSuccess' });
    expect(uploadCalls()).toBe(1);

    const refused = await upload('acme', b);
    expect(refused).toMatchObject({ __typename: 'QuotaExceededError', code: 'QUOTA_EXCEEDED' });
    expect(refused!.retryAfterSeconds).toBeGreaterThan(3590);
    const callsBefore = cluster.fake.calls.length;
    const imported = await as('acme', a, IMPORT, { url: `${cluster.fake.url}/never-fetched.mp4` });
    expect(imported.data?.importVideo).toMatchObject({ __typename: 'QuotaExceededError', code: 'QUOTA_EXCEEDED' });
    expect(cluster.fake.calls.length).toBe(callsBefore);
    expect(uploadCalls()).toBe(1);

    await expect(upload('globex', b)).resolves.toMatchObject({ __typename: 'UploadVideoSuccess' });
    expect(uploadCalls()).toBe(2);
  });

  it('does not limit the one local tenant of a gateway without auth (nobody to share the account with)', async () => {
    const [a] = await startPair({ TENANT_EXTRACTIONS_PER_HOUR: '0', TENANT_UPLOADS_PER_HOUR: '0' }, false);
    const upload = await postGraphQLMultipart(`${a.url}/graphql`, {
      query: UPLOAD,
      files: [{ path: 'variables.file', data: 'not really a video', filename: 'clip.mp4', type: 'video/mp4' }],
    });
    expect(upload.body.data?.uploadVideo).toMatchObject({ __typename: 'UploadVideoSuccess' });
    const extracted = await a.graphql(EXTRACT, { assetId: cluster.fake.addAsset() });
    expect(extracted.data?.extractFrames).toMatchObject({ __typename: 'ExtractFramesSuccess', reused: false });
  });
});

describe('TENANT_MAX_QUEUED', () => {
  const THREE_ASSETS = /* GraphQL */ `
    query Three($a: ID!, $b: ID!, $c: ID!) {
      a: videoAsset(id: $a) { id }
      b: videoAsset(id: $b) { id }
      c: videoAsset(id: $c) { id }
    }
  `;
  const metadataCalls = () => cluster.fake.calls.filter((call) => call.method === 'GET' && call.path.endsWith('/metadata') && call.status !== 0);

  it("refuses a tenant's calls past its queue cap at once (UPSTREAM_RATE_LIMITED), without sending them", async () => {
    const [a] = await startPair({ TENANT_MAX_QUEUED: '1', UPSTREAM_RPS: '2' });
    const ids = (await ownedAssets('acme', a, 3)) as [string, string, string];
    const before = metadataCalls().length;
    // Three metadata misses at once: at most one may start in the free slot, one may wait, the rest are refused.
    const result = await as('acme', a, THREE_ASSETS, { a: ids[0], b: ids[1], c: ids[2] });
    const refused = (result.errors ?? []).filter((error) => error.extensions?.code === 'UPSTREAM_RATE_LIMITED');
    expect(refused.length).toBeGreaterThanOrEqual(1);
    expect(result.errors ?? []).toHaveLength(refused.length);
    expect(metadataCalls().length - before).toBe(3 - refused.length);
    expect(cluster.fake.calls.filter((call) => call.status === 429)).toHaveLength(0);
  });

  it('does not cap the local tenant of a gateway without auth', async () => {
    const [a] = await startPair({ TENANT_MAX_QUEUED: '1', UPSTREAM_RPS: '2' }, false);
    const result = await a.graphql(THREE_ASSETS, { a: cluster.fake.addAsset(), b: cluster.fake.addAsset(), c: cluster.fake.addAsset() });
    expect(result.errors).toBeUndefined();
    expect(metadataCalls()).toHaveLength(3);
  });
});
