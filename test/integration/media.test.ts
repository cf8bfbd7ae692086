import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createDiskCache, type DiskCache } from '../../src/media/disk-cache.js';
import { createMediaHandler } from '../../src/media/handler.js';
import { createMediaService, type MediaService } from '../../src/media/media-service.js';
import { createMediaSigner, type MediaSigner } from '../../src/media/signing.js';
import { UpstreamError } from '../../src/upstream/errors.js';
import { createDeferred, type Deferred } from '../helpers/deferred.js';
import { addCollection, createFakeUpstream, makeTempDir, type FakeUpstream } from '../unit/media/fixtures.js';

const DIGITS = '666914042514116608';
const COLLECTION = `im_${DIGITS}`;
/** A 12-frame collection for the tests that are not about volume (each split costs disk round trips). */
const SMALL = '100000000000000001';
const SMALL_COLLECTION = `im_${SMALL}`;
const SECRET = 'integration-secret';

let tmp: { dir: string; remove: () => Promise<void> };
let upstream: FakeUpstream;
let cache: DiskCache;
let service: MediaService;
let server: Server;
let signer: MediaSigner;
let base: string;
let zip: Buffer;
let frames: { id: string; data: Buffer }[];
let small: { zip: Buffer; frames: { id: string; data: Buffer }[] };
/** Resolves once `arrivals.target` requests have reached the server. */
let arrivals: { count: number; target: number; all: Deferred<void> };

/** Signed absolute URL on the test server for `id`. */
const urlOf = (id: string) => signer.url(id).replace('https://public.example', base);

beforeEach(async () => {
  tmp = await makeTempDir('media-int-');
  upstream = createFakeUpstream();
  ({ zip, frames } = await addCollection(upstream, DIGITS, 500));
  small = await addCollection(upstream, SMALL, 12);
  cache = createDiskCache({ dir: join(tmp.dir, 'cache'), maxBytes: 256 * 1024 * 1024 });
  service = createMediaService({ client: upstream, cache, videoCacheMaxBytes: 1024 * 1024 });
  signer = createMediaSigner({ secret: SECRET, ttlSeconds: 3600, publicUrl: 'https://public.example' });
  const handler = createMediaHandler({ signer, service });
  arrivals = { count: 0, target: Number.POSITIVE_INFINITY, all: createDeferred() };
  server = createServer((req, res) => {
    arrivals.count += 1;
    if (arrivals.count === arrivals.target) arrivals.all.resolve();
    void handler(req, res);
  });
  server.listen(0, '127.0.0.1');
  await new Promise<void>((resolve) => server.once('listening', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterEach(async () => {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  await service.dispose();
  await cache.dispose();
  await tmp.remove();
});

async function get(url: string, init?: RequestInit): Promise<{ res: Response; body: Buffer }> {
  const res = await fetch(url, init);
  return { res, body: Buffer.from(await res.arrayBuffer()) };
}

describe('GET /media/<id>', () => {
  it('serves 500 concurrent frame requests from ONE upstream zip download, each with its own bytes', async () => {
    arrivals.target = frames.length;
    // Hold the upstream download until every request is in flight, so all 500 really overlap.
    upstream.gate = arrivals.all.promise;
    const results = await Promise.all(frames.map((f) => get(urlOf(f.id))));
    expect(upstream.downloads).toEqual([COLLECTION]);
    for (const [i, { res, body }] of results.entries()) {
      const frame = frames[i] as { id: string; data: Buffer };
      expect(res.status).toBe(200);
      expect(body.equals(frame.data)).toBe(true);
      expect(res.headers.get('content-type')).toBe('image/jpeg');
      expect(res.headers.get('content-length')).toBe(String(frame.data.length));
      expect(res.headers.get('content-disposition')).toBe(`inline; filename="${frame.id}.jpg"`);
      expect(res.headers.get('cache-control')).toBe('private, max-age=31536000, immutable');
      expect(res.headers.get('etag')).toMatch(/^"[A-Za-z0-9_-]{43}"$/);
      expect(res.headers.get('accept-ranges')).toBe('bytes');
    }
  });

  it('serves the 500-frame collection zip as a download, from the same single upstream call', async () => {
    await get(urlOf(frames[0]!.id));
    const { res, body } = await get(urlOf(COLLECTION));
    expect(res.status).toBe(200);
    expect(body.equals(zip)).toBe(true);
    expect(res.headers.get('content-type')).toBe('application/zip');
    expect(res.headers.get('content-disposition')).toBe(`attachment; filename="${COLLECTION}.zip"`);
    expect(upstream.downloads).toEqual([COLLECTION]);
  });

  it('answers 403 for a bad or missing signature without any upstream call', async () => {
    const good = new URL(urlOf(small.frames[0]!.id));
    const tampered = new URL(good);
    tampered.searchParams.set('sig', `${good.searchParams.get('sig')!.slice(0, -2)}AA`);
    const otherId = new URL(good);
    otherId.pathname = `/media/${small.frames[1]!.id}`;
    for (const url of [tampered, otherId, new URL(`${base}/media/${small.frames[0]!.id}`)]) {
      const { res, body } = await get(url.href);
      expect(res.status).toBe(403);
      expect(JSON.parse(body.toString())).toMatchObject({ error: 'forbidden' });
    }
    expect(upstream.downloads).toEqual([]);
  });

  it('answers 403 "expired" for an expired URL', async () => {
    const past = createMediaSigner({
      secret: SECRET,
      ttlSeconds: 60,
      publicUrl: base,
      now: () => Date.now() - 3600_000,
    });
    const { res, body } = await get(past.url(small.frames[0]!.id));
    expect(res.status).toBe(403);
    expect(JSON.parse(body.toString())).toEqual({
      error: 'expired',
      message: 'This media URL has expired; request a fresh one.',
    });
    expect(upstream.downloads).toEqual([]);
  });

  it('answers HEAD with the headers and no body', async () => {
    const { res, body } = await get(urlOf(small.frames[7]!.id), { method: 'HEAD' });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-length')).toBe(String(small.frames[7]!.data.length));
    expect(res.headers.get('content-type')).toBe('image/jpeg');
    expect(res.headers.get('etag')).toBeTruthy();
    expect(body.length).toBe(0);
  });

  it('answers 304 to a matching If-None-Match', async () => {
    const first = await get(urlOf(small.frames[3]!.id));
    const etag = first.res.headers.get('etag')!;
    const { res, body } = await get(urlOf(small.frames[3]!.id), { headers: { 'If-None-Match': etag } });
    expect(res.status).toBe(304);
    expect(res.headers.get('etag')).toBe(etag);
    expect(body.length).toBe(0);
  });

  it('answers a single Range with 206 and an unsatisfiable one with 416', async () => {
    const data = small.frames[5]!.data;
    const { res, body } = await get(urlOf(small.frames[5]!.id), { headers: { Range: 'bytes=2-6' } });
    expect(res.status).toBe(206);
    expect(res.headers.get('content-range')).toBe(`bytes 2-6/${data.length}`);
    expect(res.headers.get('content-length')).toBe('5');
    expect(body.equals(data.subarray(2, 7))).toBe(true);
    const tail = await get(urlOf(SMALL_COLLECTION), { headers: { Range: 'bytes=-10' } });
    expect(tail.res.status).toBe(206);
    expect(tail.body.equals(small.zip.subarray(small.zip.length - 10))).toBe(true);
    const beyond = await get(urlOf(small.frames[5]!.id), { headers: { Range: `bytes=${data.length}-` } });
    expect(beyond.res.status).toBe(416);
    expect(beyond.res.headers.get('content-range')).toBe(`bytes */${data.length}`);
  });

  it('recovers when a cached file vanished from disk, re-splitting the cached zip without a new download', async () => {
    const frame = small.frames[9]!;
    await get(urlOf(frame.id));
    await rm((await cache.get(frame.id))!.path);
    const { res, body } = await get(urlOf(frame.id));
    expect(res.status).toBe(200);
    expect(body.equals(frame.data)).toBe(true);
    expect(upstream.downloads).toEqual([SMALL_COLLECTION]);
  });

  it('maps upstream NOT_FOUND to 404', async () => {
    const { res, body } = await get(urlOf('imc_123_0'));
    expect(res.status).toBe(404);
    expect(JSON.parse(body.toString())).toEqual({ error: 'not_found' });
    expect(upstream.downloads).toEqual(['im_123']);
  });

  it('falls back to per-frame downloads when the zip names are not certain, serving the right bytes', async () => {
    await addCollection(upstream, '77', 5, (id) => `frame_${id.slice(-1)}.jpg`);
    const wanted = ['imc_77_3', 'imc_77_1'];
    const results = await Promise.all(wanted.map((id) => get(urlOf(id))));
    for (const [i, { res, body }] of results.entries()) {
      expect(res.status).toBe(200);
      expect(body.equals(upstream.assets.get(wanted[i]!)!.data)).toBe(true);
    }
    expect([...upstream.downloads].sort()).toEqual(['im_77', 'imc_77_1', 'imc_77_3']);
  });

  it('answers 502 JSON (never file bytes) when the upstream download is a JSON error', async () => {
    upstream.failures.set(
      SMALL_COLLECTION,
      new UpstreamError('UPSTREAM_ERROR', 'download returned a JSON error envelope: internal error', {
        status: 500,
        code: '500',
      }),
    );
    const { res, body } = await get(urlOf(small.frames[0]!.id));
    expect(res.status).toBe(502);
    expect(res.headers.get('content-type')).toBe('application/json; charset=utf-8');
    expect(JSON.parse(body.toString())).toEqual({ error: 'upstream_error', kind: 'UPSTREAM_ERROR' });
    upstream.failures.set(SMALL_COLLECTION, new UpstreamError('PAYMENT_REQUIRED', 'Insufficient balance', { status: 402 }));
    const zipRes = await get(urlOf(SMALL_COLLECTION));
    expect(zipRes.res.status).toBe(502);
    expect(JSON.parse(zipRes.body.toString())).toEqual({ error: 'upstream_error', kind: 'PAYMENT_REQUIRED' });
  });

  it('maps upstream RATE_LIMITED to 503 with Retry-After', async () => {
    upstream.failures.set(SMALL_COLLECTION, new UpstreamError('RATE_LIMITED', 'slow down', { retryAfterSeconds: 2.5 }));
    const { res } = await get(urlOf(small.frames[0]!.id));
    expect(res.status).toBe(503);
    expect(res.headers.get('retry-after')).toBe('3');
  });

  it('lets pages on other origins fetch a signed URL and read its errors (CORS, no credentials), preflight included', async () => {
    const ok = await get(urlOf(small.frames[0]!.id), { headers: { Origin: 'https://app.example' } });
    expect(ok.res.status).toBe(200);
    expect(ok.res.headers.get('access-control-allow-origin')).toBe('*');
    expect(ok.res.headers.get('access-control-allow-credentials')).toBeNull();
    expect(ok.res.headers.get('access-control-expose-headers')).toContain('ETag');
    const forged = await get(`${urlOf(small.frames[0]!.id)}x`, { headers: { Origin: 'https://app.example' } });
    expect(forged.res.status).toBe(403);
    expect(forged.res.headers.get('access-control-allow-origin')).toBe('*');
    const preflight = await get(urlOf(small.frames[0]!.id), {
      method: 'OPTIONS',
      headers: { Origin: 'https://app.example', 'Access-Control-Request-Method': 'GET', 'Access-Control-Request-Headers': 'range' },
    });
    expect(preflight.res.status).toBe(204);
    expect(preflight.res.headers.get('access-control-allow-headers')).toMatch(/\bRange\b/);
    expect(preflight.res.headers.get('access-control-allow-methods')).toBe('GET, HEAD');
  });

  it('answers 405 with Allow for other methods and 404 for unknown ids or paths', async () => {
    const post = await get(urlOf(small.frames[0]!.id), { method: 'POST' });
    expect(post.res.status).toBe(405);
    expect(post.res.headers.get('allow')).toBe('GET, HEAD');
    expect((await get(urlOf('task_123'))).res.status).toBe(404);
    expect((await get(`${base}/elsewhere`)).res.status).toBe(404);
    expect(upstream.downloads).toEqual([]);
  });

  it('streams a large video through with the upstream headers, and serves small ones from the cache', async () => {
    const big = Buffer.alloc(2 * 1024 * 1024, 9);
    upstream.assets.set('re_1', {
      data: big,
      contentType: 'video/mp4',
      contentDisposition: 'attachment; filename="holiday.mp4"',
    });
    const { res, body } = await get(urlOf('re_1'));
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('video/mp4');
    expect(res.headers.get('content-length')).toBe(String(big.length));
    expect(res.headers.get('content-disposition')).toBe('attachment; filename="holiday.mp4"');
    expect(body.equals(big)).toBe(true);
    expect(cache.has('re_1')).toBe(false);
    const head = await get(urlOf('re_1'), { method: 'HEAD' });
    expect(head.res.headers.get('content-length')).toBe(String(big.length));
    expect(head.body.length).toBe(0);
    expect(upstream.metadataCalls).toEqual(['re_1']);

    const small = Buffer.from('tiny mp4 bytes');
    upstream.assets.set('re_2', { data: small, contentType: 'video/mp4' });
    const ranged = await get(urlOf('re_2'), { headers: { Range: 'bytes=5-7' } });
    expect(ranged.res.status).toBe(206);
    expect(ranged.body.toString()).toBe('mp4');
    expect((await get(urlOf('re_2'))).body.equals(small)).toBe(true);
    // The HEAD was answered from metadata: no second billed download of the big video.
    expect(upstream.downloads).toEqual(['re_1', 're_2']);
  });

  it('answers HEAD of an uncached video from metadata, with the headers its GET sends and no download', async () => {
    const contentDisposition = 'attachment; filename="holiday.mp4"';
    const video = { contentType: 'video/mp4', contentDisposition };
    upstream.assets.set('re_1', { data: Buffer.alloc(2 * 1024 * 1024, 9), ...video });
    upstream.assets.set('re_2', { data: Buffer.from('tiny mp4 bytes'), ...video });
    const shared = ['content-type', 'content-length', 'content-disposition', 'cache-control', 'accept-ranges'];
    for (const id of ['re_1', 're_2']) {
      const head = await get(urlOf(id), { method: 'HEAD' });
      expect(head.res.status).toBe(200);
      expect(head.body.length).toBe(0);
      expect(head.res.headers.get('etag')).toBeNull();
      expect(upstream.downloads).toEqual([]);
      const full = await get(urlOf(id));
      for (const name of shared) {
        expect([id, name, head.res.headers.get(name)]).toEqual([id, name, full.res.headers.get(name)]);
      }
      upstream.downloads.length = 0;
    }
    // Cached now: HEAD is served from the cache, ETag included.
    const cached = await get(urlOf('re_2'), { method: 'HEAD' });
    expect(cached.res.headers.get('etag')).toMatch(/^"[A-Za-z0-9_-]{43}"$/);
    expect(upstream.downloads).toEqual([]);
    expect(upstream.metadataCalls).toEqual(['re_1', 're_2']);
  });

  it('answers HEAD of an unknown or not yet uploaded video with 404, without a download', async () => {
    upstream.assets.set('re_3', { data: Buffer.from('x'), contentType: 'video/mp4', uploadStatus: 'UPLOADING' });
    for (const id of ['re_3', 're_404']) {
      const head = await get(urlOf(id), { method: 'HEAD' });
      expect(head.res.status).toBe(404);
    }
    expect(upstream.downloads).toEqual([]);
  });
});
