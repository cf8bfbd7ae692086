import { randomBytes } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createDiskCache, type DiskCache } from '../../../src/media/disk-cache.js';
import { createMediaService, type MediaService, type MediaServiceOptions } from '../../../src/media/media-service.js';
import type { MediaBody } from '../../../src/media/types.js';
import { UpstreamError } from '../../../src/upstream/errors.js';
import { createDeferred } from '../../helpers/deferred.js';
import { addCollection, buildZip, createFakeUpstream, fakeJpeg, makeTempDir, type FakeUpstream } from './fixtures.js';

let tmp: { dir: string; remove: () => Promise<void> };
let upstream: FakeUpstream;
let cache: DiskCache;
let service: MediaService;

function start(options: Partial<MediaServiceOptions> = {}, maxBytes = 64 * 1024 * 1024): void {
  cache = createDiskCache({ dir: join(tmp.dir, 'cache'), maxBytes });
  service = createMediaService({ client: upstream, cache, ...options });
}

async function bytesOf(body: MediaBody): Promise<Buffer> {
  if (body.kind === 'file') return readFile(body.entry.path);
  if (body.kind === 'headers') throw new Error('no bytes in a headers-only body');
  return Buffer.from(await new Response(body.body).arrayBuffer());
}

beforeEach(async () => {
  tmp = await makeTempDir('media-service-');
  upstream = createFakeUpstream();
});

afterEach(async () => {
  await service.dispose();
  await cache.dispose();
  await tmp.remove();
});

describe('createMediaService', () => {
  it('downloads the collection zip once for concurrent misses of different frames', async () => {
    start();
    const { frames } = await addCollection(upstream, '9', 50);
    const gate = createDeferred();
    upstream.gate = gate.promise;
    const pending = frames.map((f) => service.getFrame(f.id));
    gate.resolve();
    const entries = await Promise.all(pending);
    expect(upstream.downloads).toEqual(['im_9']);
    for (const [i, entry] of entries.entries()) {
      expect(await readFile(entry.path)).toEqual(frames[i]?.data);
      expect(entry).toMatchObject({ contentType: 'image/jpeg', filename: `${frames[i]?.id}.jpg` });
    }
    const zip = await service.getCollectionZip('im_9');
    expect(zip.kind).toBe('file');
    expect(upstream.downloads).toEqual(['im_9']);
  });

  it('splits a cached zip again without downloading when its frames were dropped', async () => {
    start();
    const { frames } = await addCollection(upstream, '9', 3);
    await service.getCollectionZip('im_9');
    await cache.delete('imc_9_1');
    const entry = await service.getFrame('imc_9_1');
    expect(await readFile(entry.path)).toEqual(frames[1]?.data);
    expect(upstream.downloads).toEqual(['im_9']);
  });

  it('falls back to coalesced per-frame downloads when the zip names are unmatched', async () => {
    start();
    const { frames } = await addCollection(upstream, '9', 4, (id) => `frame-${id.slice(-1)}.jpg`);
    const [a, b, c] = await Promise.all([
      service.getFrame('imc_9_2'),
      service.getFrame('imc_9_2'),
      service.getFrame('imc_9_3'),
    ]);
    expect(a).toBe(b);
    expect(await readFile(a.path)).toEqual(frames[2]?.data);
    expect(await readFile(c.path)).toEqual(frames[3]?.data);
    expect(upstream.downloads.sort()).toEqual(['im_9', 'imc_9_2', 'imc_9_3']);
    // The collection is remembered as unmatched: the next frame goes straight to its own download.
    await service.getFrame('imc_9_0');
    expect(upstream.downloads.filter((id) => id === 'im_9')).toHaveLength(1);
  });

  it('propagates upstream errors and does not remember them', async () => {
    start();
    upstream.failures.set('im_9', new UpstreamError('RATE_LIMITED', 'slow down', { retryAfterSeconds: 2 }));
    await expect(service.getFrame('imc_9_0')).rejects.toMatchObject({ kind: 'RATE_LIMITED' });
    upstream.failures.clear();
    const { frames } = await addCollection(upstream, '9', 1);
    expect(await readFile((await service.getFrame('imc_9_0')).path)).toEqual(frames[0]?.data);
    expect(upstream.downloads).toEqual(['im_9', 'im_9']);
  });

  it('caches small videos and coalesces concurrent requests for them', async () => {
    start({ videoCacheMaxBytes: 1024 });
    const data = Buffer.alloc(1000, 7);
    const contentDisposition = 'attachment; filename="My clip.mp4"';
    upstream.assets.set('re_1', { data, contentType: 'video/mp4', contentDisposition });
    const [a, b] = await Promise.all([service.openVideo('re_1'), service.openVideo('re_1')]);
    expect(a).toEqual(b);
    expect(a).toMatchObject({ kind: 'file', entry: { contentType: 'video/mp4', filename: 'My clip.mp4', size: 1000 } });
    expect(await service.openVideo('re_1')).toEqual(a);
    expect(upstream.downloads).toEqual(['re_1']);
  });

  it('streams large or unknown-length videos through without caching them', async () => {
    start({ videoCacheMaxBytes: 1024 });
    const big = Buffer.alloc(5000, 1);
    upstream.assets.set('re_2', { data: big, contentType: 'video/mp4' });
    upstream.assets.set('re_3', { data: Buffer.from('small'), contentType: 'video/webm', contentLength: null });
    const [x, y] = await Promise.all([service.openVideo('re_2'), service.openVideo('re_2')]);
    expect(x).toMatchObject({ kind: 'stream', contentType: 'video/mp4', contentLength: 5000 });
    expect(await bytesOf(x)).toEqual(big);
    expect(await bytesOf(y)).toEqual(big);
    const z = await service.openVideo('re_3');
    expect(z).toMatchObject({ kind: 'stream', contentLength: null });
    expect(await bytesOf(z)).toEqual(Buffer.from('small'));
    expect(cache.stats().entries).toBe(0);
    expect(upstream.downloads).toEqual(['re_2', 're_2', 're_3']);
  });

  it('streams a collection zip through when it is larger than the whole cache', async () => {
    const { zip, frames } = await addCollection(upstream, '9', 3);
    start({}, zip.length - 1);
    const body = await service.getCollectionZip('im_9');
    expect(body.kind).toBe('stream');
    expect(await bytesOf(body)).toEqual(zip);
    // The frames were split out during the first download, so they are cached even though the zip is not.
    expect(await readFile((await service.getFrame('imc_9_2')).path)).toEqual(frames[2]?.data);
    expect(cache.has('im_9')).toBe(false);
    expect(upstream.downloads).toEqual(['im_9', 'im_9']);
  });

  it('keeps the frames of a zip larger than half the cache, leaving out the zip that cannot fit', async () => {
    const { zip, frames } = await addCollection(upstream, '9', 3);
    // Room for the zip alone or its frames alone: putting the zip used to evict the frames it had just written.
    start({}, zip.length);
    const entry = await service.getFrame('imc_9_1');
    for (const frame of frames) expect(await readFile((await cache.get(frame.id))!.path)).toEqual(frame.data);
    expect(await readFile(entry.path)).toEqual(frames[1]?.data);
    expect(cache.has('im_9')).toBe(false);
    expect(upstream.downloads).toEqual(['im_9']);
  });

  it('falls back to per-frame downloads when the frames of a zip cannot all fit in the cache', async () => {
    const big = (n: number) => Buffer.concat([fakeJpeg(n), randomBytes(4000)]);
    const frames = [0, 1, 2].map((n) => ({ id: `imc_9_${n}`, data: big(n) }));
    const zip = await buildZip(frames.map((f) => ({ name: `${f.id}.jpg`, data: f.data })));
    upstream.assets.set('im_9', { data: zip, contentType: 'application/zip' });
    for (const f of frames) upstream.assets.set(f.id, { data: f.data, contentType: 'image/jpeg' });
    start({}, 6000);
    for (const frame of frames) {
      const entry = await service.getFrame(frame.id);
      expect(await readFile(entry.path)).toEqual(frame.data);
    }
    expect(upstream.downloads).toEqual(['im_9', 'imc_9_0', 'imc_9_1', 'imc_9_2']);
    expect(await readdir(cache.tmpDir)).toEqual([]);
  });

  it('rejects ids of the wrong kind before any upstream call', async () => {
    start();
    await expect(service.getFrame('im_9')).rejects.toBeInstanceOf(RangeError);
    await expect(service.getCollectionZip('imc_9_0')).rejects.toBeInstanceOf(RangeError);
    await expect(service.openVideo('../etc')).rejects.toBeInstanceOf(RangeError);
    expect(upstream.downloads).toEqual([]);
  });
});
