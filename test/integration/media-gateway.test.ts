/**
 * Media delivery through the REAL gateway: URLs come from GraphQL responses, bytes from the fake upstream, which
 * enforces the real account limit (1 request per sliding second, 429 beyond) while the gateway runs UPSTREAM_RPS=1.
 * Every response a test receives goes through `get`, which fails the test if a secret shows up in it.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import yauzl from 'yauzl';
import { createMediaSigner } from '../../src/media/signing.js';
import { errorEnvelope } from '../fixtures/upstream/envelopes.js';
import { tinyJpeg } from '../fixtures/upstream/jpeg.js';
import { startFakeUpstream, type FakeUpstream } from '../helpers/fake-upstream.js';
import { startTestGateway, type GraphQLResponse, type TestGateway } from '../helpers/gateway.js';

const API_KEY = 'sk-mavi-media-gateway-test-key-4f9d2c';
const SIGNING_SECRET = 'media-gateway-test-signing-secret-0123456789abcdef';
const INSUFFICIENT_BALANCE = 'Insufficient balance to download the resource. Please recharge and try again.';

const COLLECTION_MEDIA = /* GraphQL */ `
  query Media($id: ID!) { frameCollection(id: $id) { frames(limit: 1000) { id url } zipUrl } }
`;

let fake: FakeUpstream;
let gw: TestGateway;
/** Every response received in the current test (checked for secrets as it arrives). */
let received: number;

beforeEach(async () => {
  fake = await startFakeUpstream({ rps: 1, apiKey: API_KEY });
  gw = await startTestGateway({
    upstreamUrl: fake.url,
    env: {
      UPSTREAM_RPS: '1',
      // The gateway spaces the STARTS of its calls; the fake counts ARRIVALS. A test's first call opens a new
      // connection, and under CPU starvation it was seen arriving 113 ms after its start while the next call, on the
      // warm connection, arrived at once: 965 ms apart, a 429 and a retried zip download with the 50 ms default.
      UPSTREAM_RATE_MARGIN_MS: '500',
      MAVI_API_KEY: API_KEY,
      MEDIA_SIGNING_SECRET: SIGNING_SECRET,
    },
  });
  received = 0;
});
afterEach(async () => {
  await gw.close();
  await fake.close();
});

/** Fetches through the gateway and fails if the API key or the signing secret is in any header or the body. */
async function get(url: string, init?: RequestInit): Promise<{ res: Response; body: Buffer }> {
  const res = await fetch(url, init);
  const body = Buffer.from(await res.arrayBuffer());
  received += 1;
  for (const secret of [API_KEY, SIGNING_SECRET]) {
    for (const [name, value] of res.headers) expect(`${name}: ${value}`).not.toContain(secret);
    expect(body.includes(secret)).toBe(false);
  }
  return { res, body };
}

async function graphql<T = Record<string, any>>(query: string, variables: Record<string, unknown>): Promise<GraphQLResponse<T>> {
  const { res, body } = await get(`${gw.url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json, application/json' },
    body: JSON.stringify({ query, variables }),
  });
  expect(res.status).toBe(200);
  return JSON.parse(body.toString('utf8')) as GraphQLResponse<T>;
}

interface CollectionMedia {
  frames: { id: string; url: string }[];
  zipUrl: string;
}

async function collectionMedia(id: string): Promise<CollectionMedia> {
  const res = await graphql<{ frameCollection: CollectionMedia }>(COLLECTION_MEDIA, { id });
  expect(res.errors).toBeUndefined();
  return res.data!.frameCollection;
}

/** Every download call the fake saw (refused ones included: the account limit must never be hit). */
const downloads = () => fake.callsTo('GET', /\/download$/).map((c) => c.path);

/** Never over the account rate: no 429 and consecutive upstream arrivals at least 1 s apart on the fake's clock. */
function expectPaced(): void {
  expect(fake.calls.filter((c) => c.status === 429)).toHaveLength(0);
  const at = fake.calls.map((c) => c.at).sort((a, b) => a - b);
  for (let i = 1; i < at.length; i++) expect(at[i]! - at[i - 1]!).toBeGreaterThanOrEqual(1000);
}

/** Text of the first COM (FF FE) segment of a JPEG: the fake puts the frame id there. */
function jpegComment(bytes: Buffer): string | null {
  if (bytes[0] !== 0xff || bytes[1] !== 0xd8 || bytes[2] !== 0xff || bytes[3] !== 0xfe) return null;
  const length = bytes.readUInt16BE(4);
  return bytes.subarray(6, 4 + length).toString('latin1');
}

function zipEntryNames(zip: Buffer): Promise<string[]> {
  return new Promise((resolve, reject) => {
    yauzl.fromBuffer(zip, (error, file) => {
      if (error) return reject(error);
      const names: string[] = [];
      file.on('entry', (entry: yauzl.Entry) => names.push(entry.fileName));
      file.on('end', () => resolve(names));
      file.on('error', reject);
    });
  });
}

/** A signed URL minted an hour ago with the gateway's own secret: authentic but expired. */
function expiredUrl(id: string): string {
  const past = createMediaSigner({ secret: SIGNING_SECRET, ttlSeconds: 60, publicUrl: gw.url, now: () => Date.now() - 3_600_000 });
  return past.url(id);
}

describe('frame and zip delivery through signed gateway URLs', () => {
  it('serves all 500 frames of a collection from ONE upstream zip download, then the zip from the cache', async () => {
    const { collectionId, frameIds } = fake.addCollection(500);
    const media = await collectionMedia(collectionId);
    expect(fake.calls.map((c) => `${c.method} ${c.path}`)).toEqual([`GET /${collectionId}/metadata`]);
    expect(media.frames.map((f) => f.id)).toEqual(frameIds);
    for (const frame of media.frames) {
      expect(new URL(frame.url).pathname).toBe(`/media/${frame.id}`);
      expect(new URL(frame.url).searchParams.get('sig')).toMatch(/^[A-Za-z0-9_-]{43}$/);
    }

    const results = await Promise.all(media.frames.map((f) => get(f.url)));
    for (const [i, { res, body }] of results.entries()) {
      const id = frameIds[i]!;
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toBe('image/jpeg');
      expect(jpegComment(body)).toBe(id);
      // The exact bytes the fake serves for GET /<imc_ id>/download (it builds them with the same function).
      expect(body.equals(tinyJpeg(id))).toBe(true);
    }
    expect(downloads()).toEqual([`/${collectionId}/download`]);
    expect(downloads().filter((p) => p.startsWith('/imc_'))).toHaveLength(0);

    const calls = fake.calls.length;
    const zip = await get(media.zipUrl);
    expect(zip.res.status).toBe(200);
    expect(zip.res.headers.get('content-type')).toBe('application/zip');
    expect(zip.res.headers.get('content-disposition')).toBe(`attachment; filename="${collectionId}.zip"`);
    expect(Number(zip.res.headers.get('content-length'))).toBe(zip.body.length);
    expect((await zipEntryNames(zip.body)).sort()).toEqual(frameIds.map((id) => `${id}.jpg`).sort());
    expect(fake.calls).toHaveLength(calls);
    expectPaced();
    expect(received).toBe(502);
  });

  it('answers HEAD with headers only and a matching If-None-Match with 304, without more upstream calls', async () => {
    const { collectionId, frameIds } = fake.addCollection(3);
    const { frames } = await collectionMedia(collectionId);
    const first = await get(frames[1]!.url);
    expect(first.res.status).toBe(200);
    const etag = first.res.headers.get('etag');
    expect(etag).toMatch(/^"[A-Za-z0-9_-]{43}"$/);
    const calls = fake.calls.length;

    const head = await get(frames[1]!.url, { method: 'HEAD' });
    expect(head.res.status).toBe(200);
    expect(head.body.length).toBe(0);
    expect(head.res.headers.get('content-length')).toBe(String(tinyJpeg(frameIds[1]!).length));
    expect(head.res.headers.get('content-type')).toBe('image/jpeg');
    expect(head.res.headers.get('etag')).toBe(etag);
    expect(head.res.headers.get('cache-control')).toContain('immutable');

    const conditional = await get(frames[1]!.url, { headers: { 'if-none-match': etag! } });
    expect(conditional.res.status).toBe(304);
    expect(conditional.body.length).toBe(0);
    expect(conditional.res.headers.get('etag')).toBe(etag);
    // Another frame of the same collection is already on disk too.
    expect((await get(frames[2]!.url, { headers: { 'if-none-match': etag! } })).res.status).toBe(200);
    expect(fake.calls).toHaveLength(calls);
    expect(downloads()).toEqual([`/${collectionId}/download`]);
  });

  it('answers 403 to a tampered, swapped, missing or expired signature without any upstream call', async () => {
    const { collectionId, frameIds } = fake.addCollection(2);
    const { frames, zipUrl } = await collectionMedia(collectionId);
    const calls = fake.calls.length;

    const good = new URL(frames[0]!.url);
    const sig = good.searchParams.get('sig')!;
    const tampered = new URL(good);
    tampered.searchParams.set('sig', `${sig.slice(0, 10)}${sig[10] === 'A' ? 'B' : 'A'}${sig.slice(11)}`);
    const swapped = new URL(good);
    swapped.pathname = `/media/${frameIds[1]}`;
    const unsigned = new URL(good.pathname, good);
    const zipWithFrameSig = new URL(zipUrl);
    zipWithFrameSig.searchParams.set('sig', sig);
    for (const url of [tampered.href, swapped.href, unsigned.href, zipWithFrameSig.href]) {
      const { res, body } = await get(url);
      expect(res.status).toBe(403);
      expect(res.headers.get('content-type')).toMatch(/^application\/json/);
      expect(JSON.parse(body.toString('utf8'))).toMatchObject({ error: 'forbidden' });
    }
    for (const id of [frameIds[0]!, collectionId]) {
      const { res, body } = await get(expiredUrl(id));
      expect(res.status).toBe(403);
      expect(JSON.parse(body.toString('utf8'))).toMatchObject({ error: 'expired' });
    }
    expect(fake.calls).toHaveLength(calls);
    expect(downloads()).toEqual([]);

    // The genuine URL still works (so the 403s above came from the signature check alone).
    const ok = await get(frames[0]!.url);
    expect(ok.res.status).toBe(200);
    expect(ok.body.equals(tinyJpeg(frameIds[0]!))).toBe(true);
  });

  it('answers a JSON error, never the JSON as image bytes, when the upstream download fails with 402, and retries later', async () => {
    const { collectionId, frameIds } = fake.addCollection(2);
    const { frames } = await collectionMedia(collectionId);
    const envelope = errorEnvelope(402, INSUFFICIENT_BALANCE);
    fake.setFailure({ status: 402, body: envelope });

    const failed = await get(frames[0]!.url);
    expect(failed.res.status).toBe(502);
    expect(failed.res.headers.get('content-type')).toBe('application/json; charset=utf-8');
    expect(failed.res.headers.get('cache-control')).toBe('no-store');
    expect(JSON.parse(failed.body.toString('utf8'))).toEqual({ error: 'upstream_error', kind: 'PAYMENT_REQUIRED' });
    expect(failed.body.includes(INSUFFICIENT_BALANCE)).toBe(false);
    expect(failed.body.equals(Buffer.from(JSON.stringify(envelope)))).toBe(false);
    // 402 is final: one download attempt, no retry burning the rate.
    expect(downloads()).toEqual([`/${collectionId}/download`]);

    // The failure is not cached: the next request downloads again and gets the real image.
    const retried = await get(frames[0]!.url);
    expect(retried.res.status).toBe(200);
    expect(retried.res.headers.get('content-type')).toBe('image/jpeg');
    expect(retried.body.equals(tinyJpeg(frameIds[0]!))).toBe(true);
    expect(downloads()).toEqual([`/${collectionId}/download`, `/${collectionId}/download`]);
    expectPaced();
  });

  it('serves the original video through VideoAsset.url with the upstream type, once cached', async () => {
    const bytes = Buffer.from('0000001866747970697369736f6d0000020069736f6d6d703431', 'hex');
    const assetId = fake.addAsset({ filename: 'holiday.mp4', bytes });
    const res = await graphql<{ videoAsset: { url: string } }>(`query($id: ID!) { videoAsset(id: $id) { url } }`, { id: assetId });
    const url = res.data!.videoAsset.url;
    expect(new URL(url).pathname).toBe(`/media/${assetId}`);
    for (let i = 0; i < 2; i++) {
      const video = await get(url);
      expect(video.res.status).toBe(200);
      expect(video.res.headers.get('content-type')).toBe('video/mp4');
      expect(video.res.headers.get('content-disposition')).toBe('attachment; filename="holiday.mp4"');
      expect(video.body.equals(bytes)).toBe(true);
    }
    expect(downloads()).toEqual([`/${assetId}/download`]);
  });
});
