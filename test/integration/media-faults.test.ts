/**
 * Media delivery when the upstream misbehaves or the cache is small, through the REAL gateway and the fake upstream
 * on real sockets: downloads that stall mid-body (UPSTREAM_STALL_MS), HEAD of uncached videos, and a cache too small
 * for a collection. The stall tests use a short UPSTREAM_STALL_MS and await the gateway's answer (no sleeps).
 */
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createMediaSigner } from '../../src/media/signing.js';
import { tinyJpeg } from '../fixtures/upstream/jpeg.js';
import { startFakeUpstream, type FakeUpstream } from '../helpers/fake-upstream.js';
import { startTestGateway, TEST_API_KEY, type TestGateway } from '../helpers/gateway.js';
import { makeTempDir } from '../unit/media/fixtures.js';

const SIGNING_SECRET = 'media-faults-test-signing-secret-0123456789abcdef';
const STALL_MS = 500;

let fake: FakeUpstream | undefined;
let gw: TestGateway | undefined;
let cacheDir: { dir: string; remove: () => Promise<void> } | undefined;

async function start(env: Record<string, string> = {}): Promise<{ fake: FakeUpstream; gw: TestGateway }> {
  fake = await startFakeUpstream({ rps: 0 });
  cacheDir = await makeTempDir('media-faults-');
  gw = await startTestGateway({
    upstreamUrl: fake.url,
    env: {
      MEDIA_SIGNING_SECRET: SIGNING_SECRET,
      MEDIA_CACHE_DIR: cacheDir.dir,
      UPSTREAM_STALL_MS: String(STALL_MS),
      ...env,
    },
  });
  return { fake, gw };
}

afterEach(async () => {
  await gw?.close();
  await fake?.close();
  await cacheDir?.remove();
  gw = fake = cacheDir = undefined;
});

const urlOf = (id: string) =>
  createMediaSigner({ secret: SIGNING_SECRET, ttlSeconds: 3600, publicUrl: gw!.url }).url(id);

async function get(id: string, init?: RequestInit): Promise<{ res: Response; body: Buffer }> {
  const res = await fetch(urlOf(id), init);
  return { res, body: Buffer.from(await res.arrayBuffer()) };
}

const downloads = () => fake!.callsTo('GET', /\/download$/).map((c) => c.path);

/** Files in the media cache (data + sidecars) and what is left in its temp directory. */
async function cacheFiles(): Promise<{ files: string[]; temp: string[] }> {
  const files = (await readdir(cacheDir!.dir)).filter((name) => !name.startsWith('.')).sort();
  return { files, temp: await readdir(join(cacheDir!.dir, '.tmp')) };
}

const TIMEOUT_BODY = { error: 'upstream_timeout', kind: 'TIMEOUT' };

describe('a download that stalls mid-body', () => {
  it('answers 504 to the zip request and serves the waiting frames by per-frame downloads', async () => {
    const { fake } = await start();
    const { collectionId, frameIds } = fake.addCollection(3);
    const stall = fake.stallDownload(collectionId, 100);
    const [zip, ...frames] = await Promise.all([get(collectionId), ...frameIds.map((id) => get(id))]);
    expect(zip.res.status).toBe(504);
    expect(JSON.parse(zip.body.toString('utf8'))).toEqual(TIMEOUT_BODY);
    for (const [i, { res, body }] of frames.entries()) {
      expect(res.status).toBe(200);
      expect(body.equals(tinyJpeg(frameIds[i]!))).toBe(true);
    }
    await stall.closed; // the gateway dropped the stalled connection
    expect(downloads().sort()).toEqual([collectionId, ...frameIds].map((id) => `/${id}/download`).sort());
    const { files, temp } = await cacheFiles();
    expect(files.filter((name) => name.startsWith(`${collectionId}.`))).toEqual([]);
    expect(files).toHaveLength(2 * frameIds.length);
    expect(temp).toEqual([]);
  });

  it('answers 504 to every request waiting on a stalled video, caches nothing, then downloads it again', async () => {
    const { fake } = await start();
    const bytes = Buffer.alloc(1000, 7);
    const assetId = fake.addAsset({ filename: 'clip.mp4', bytes });
    const stall = fake.stallDownload(assetId, 10);
    const results = await Promise.all([get(assetId), get(assetId)]);
    for (const { res, body } of results) {
      expect(res.status).toBe(504);
      expect(JSON.parse(body.toString('utf8'))).toEqual(TIMEOUT_BODY);
    }
    await stall.closed;
    expect(downloads()).toEqual([`/${assetId}/download`]);
    expect(await cacheFiles()).toEqual({ files: [], temp: [] });

    const retried = await get(assetId);
    expect(retried.res.status).toBe(200);
    expect(retried.body.equals(bytes)).toBe(true);
  });

  it('cuts off a streamed-through video instead of leaving the client hanging', async () => {
    // A 4 KiB cache streams videos over 1 KiB through (a video may take at most a quarter of the cache).
    const { fake } = await start({ MEDIA_CACHE_MAX_BYTES: '4096' });
    const assetId = fake.addAsset({ filename: 'big.mp4', bytes: Buffer.alloc(64 * 1024, 3) });
    const stall = fake.stallDownload(assetId, 1000);
    const res = await fetch(urlOf(assetId));
    expect(res.status).toBe(200);
    expect(res.headers.get('content-length')).toBe(String(64 * 1024));
    await expect(res.arrayBuffer()).rejects.toThrow();
    await stall.closed;
    expect(await cacheFiles()).toEqual({ files: [], temp: [] });
  });
});

describe('HEAD of an uncached video', () => {
  it('is answered from metadata with zero download calls, with the headers the GET sends', async () => {
    // 1 MiB cache: videos up to 256 KiB are cached (Range support), larger ones streamed through.
    const { fake } = await start({ MEDIA_CACHE_MAX_BYTES: String(1024 * 1024) });
    const large = fake.addAsset({ filename: 'holiday.mp4', bytes: Buffer.alloc(512 * 1024, 1) });
    const small = fake.addAsset({ filename: 'short clip.webm', extension: 'webm', bytes: Buffer.alloc(1000, 2) });
    const heads = [await get(large, { method: 'HEAD' }), await get(small, { method: 'HEAD' })];
    expect(downloads()).toEqual([]);
    expect(fake.callsTo('GET', /\/metadata$/).map((c) => c.path)).toEqual([`/${large}/metadata`, `/${small}/metadata`]);
    const names = ['content-type', 'content-length', 'content-disposition', 'accept-ranges', 'cache-control'];
    const header = (res: Response) => Object.fromEntries(names.map((n) => [n, res.headers.get(n)]));
    expect(heads.map(({ res, body }) => [res.status, body.length, res.headers.get('etag'), header(res)])).toEqual([
      [200, 0, null, {
        'content-type': 'video/mp4',
        'content-length': String(512 * 1024),
        'content-disposition': 'attachment; filename="holiday.mp4"',
        'accept-ranges': 'none',
        'cache-control': 'private, max-age=31536000, immutable',
      }],
      [200, 0, null, {
        'content-type': 'video/webm',
        'content-length': '1000',
        'content-disposition': 'attachment; filename="short clip.webm"',
        'accept-ranges': 'bytes',
        'cache-control': 'private, max-age=31536000, immutable',
      }],
    ]);
    for (const [i, id] of [large, small].entries()) {
      const full = await get(id);
      expect(full.res.status).toBe(200);
      expect(header(full.res)).toEqual(header(heads[i]!.res));
    }
    expect(downloads()).toEqual([`/${large}/download`, `/${small}/download`]);
  });
});

describe('a cache smaller than a collection', () => {
  it('serves every frame, falling back to per-frame downloads, never a 500', async () => {
    const frameSize = tinyJpeg('imc_666914042514116608_0').length;
    // Room for one frame and a half: splitting the zip used to evict the frames it had just written.
    const { fake } = await start({ MEDIA_CACHE_MAX_BYTES: String(Math.floor(frameSize * 1.5)) });
    const { collectionId, frameIds } = fake.addCollection(3);
    for (const id of frameIds) {
      const { res, body } = await get(id);
      expect(res.status).toBe(200);
      expect(body.equals(tinyJpeg(id))).toBe(true);
    }
    expect(downloads()).toEqual([collectionId, ...frameIds].map((id) => `/${id}/download`));
  });
});
