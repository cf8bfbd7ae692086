/**
 * The image service over a real disk cache and the real media service, in front of the in-memory fake upstream
 * client (tests/unit/media/fixtures.ts) whose collection zip holds real solid-colour JPEGs.
 */
import { join } from 'node:path';
import { readFile } from 'node:fs/promises';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createDiskCache, type DiskCache } from '../../../src/media/disk-cache.js';
import { createMediaService, type MediaService } from '../../../src/media/media-service.js';
import { createImageService, ImageProcessingError, type ImageService } from '../../../src/media/rendition.js';
import { previewVariant, renditionVariant, spriteVariant, variantCacheKey } from '../../../src/media/variants.js';
import { createDeferred } from '../../helpers/deferred.js';
import { colourOf, decode, meanColour, near, solidJpegs } from '../../helpers/images.js';
import { buildZip, createFakeUpstream, makeTempDir, type FakeUpstream } from './fixtures.js';

const DIGITS = '666914042514116608';
const COLLECTION = `im_${DIGITS}`;
const frameId = (n: number) => `imc_${DIGITS}_${n}`;

let tmp: { dir: string; remove: () => Promise<void> };
let upstream: FakeUpstream;
let cache: DiskCache;
let media: MediaService;
let images: ImageService;
/** Originals the image service asked the media service for (each render of a rendition asks once). */
let frameRequests: string[];

async function start(count: number, options: { limitInputPixels?: number; name?: (n: number) => string } = {}): Promise<void> {
  const jpegs = await solidJpegs(count, 64, 36);
  const zip = await buildZip(jpegs.map((data, n) => ({ name: options.name?.(n) ?? `${frameId(n)}.jpg`, data })));
  upstream.assets.set(COLLECTION, { data: zip, contentType: 'application/zip' });
  cache = createDiskCache({ dir: join(tmp.dir, 'cache'), maxBytes: 64 * 1024 * 1024 });
  media = createMediaService({ client: upstream, cache });
  frameRequests = [];
  const counted: MediaService = {
    ...media,
    getFrame: (id) => {
      frameRequests.push(id);
      return media.getFrame(id);
    },
  };
  images = createImageService({ media: counted, cache, concurrency: 2, limitInputPixels: options.limitInputPixels });
}

beforeEach(async () => {
  tmp = await makeTempDir('rendition-service-');
  upstream = createFakeUpstream();
});
afterEach(async () => {
  await media.dispose();
  await cache.dispose();
  await tmp.remove();
});

describe('createImageService', () => {
  it('makes a rendition once for concurrent requests, then serves it from the cache', async () => {
    await start(3);
    const variant = renditionVariant({ width: 120, format: 'webp' })!;
    const gate = createDeferred<void>();
    upstream.gate = gate.promise;
    const gets = Array.from({ length: 6 }, () => images.get(frameId(1), variant));
    gate.resolve();
    const entries = await Promise.all(gets);
    expect(new Set(entries.map((e) => e.etag)).size).toBe(1);
    expect(entries[0]!.key).toBe(variantCacheKey(frameId(1), variant));
    expect(frameRequests).toEqual([frameId(1)]);
    expect(upstream.downloads).toEqual([COLLECTION]);
    const again = await images.get(frameId(1), variant);
    expect(again.etag).toBe(entries[0]!.etag);
    expect(images.isCached(frameId(1), variant)).toBe(true);
    expect(frameRequests).toEqual([frameId(1)]);
    expect(await decode(await readFile(again.path))).toMatchObject({ format: 'webp', width: 120, height: 68 });
  });

  it('reads the frame size once per collection', async () => {
    await start(2);
    expect(await images.frameSize(frameId(0))).toEqual({ width: 64, height: 36 });
    expect(await images.frameSize(frameId(1))).toEqual({ width: 64, height: 36 });
    expect(upstream.downloads).toEqual([COLLECTION]);
  });

  it('fails an original over limitInputPixels with ImageProcessingError and caches nothing', async () => {
    await start(1, { limitInputPixels: 1000 });
    const variant = renditionVariant({ width: 10 })!;
    await expect(images.get(frameId(0), variant)).rejects.toBeInstanceOf(ImageProcessingError);
    expect(images.isCached(frameId(0), variant)).toBe(false);
  });

  it('makes sprites and previews from the collection frames in index order', async () => {
    await start(5);
    const sprite = await images.get(COLLECTION, spriteVariant({ columns: 2, tileWidth: 20, format: 'png' }, 5));
    const bytes = await readFile(sprite.path);
    expect(await decode(bytes)).toMatchObject({ format: 'png', width: 40, height: 3 * 11 });
    expect(near(await meanColour(bytes, { left: 25, top: 13, width: 10, height: 6 }), colourOf(3))).toBe(true);
    expect(near(await meanColour(bytes, { left: 5, top: 24, width: 10, height: 6 }), colourOf(4))).toBe(true);
    expect(near(await meanColour(bytes, { left: 25, top: 24, width: 10, height: 6 }), { r: 0, g: 0, b: 0 })).toBe(true);

    const preview = await images.get(COLLECTION, previewVariant({ fps: 10, width: 32, format: 'webp' }, 5));
    const animation = await readFile(preview.path);
    expect(await decode(animation)).toMatchObject({ format: 'webp', width: 32, pages: 5, pageHeight: 18 });
    expect(near(await meanColour(animation, { left: 8, top: 4, width: 16, height: 10 }, 4), colourOf(4))).toBe(true);
    expect(upstream.downloads).toEqual([COLLECTION]);
  });

  it('evicts a collection with its variants, after a render under way has landed', async () => {
    await start(3);
    const thumb = renditionVariant({ width: 16 })!;
    const sprite = spriteVariant({ columns: 3, tileWidth: 16, format: 'jpeg' }, 3);
    await images.get(frameId(0), thumb);
    const gate = createDeferred<void>();
    upstream.gate = gate.promise;
    await media.evict(COLLECTION); // the sprite below must download again, and wait at the gate
    const rendering = images.get(COLLECTION, sprite);
    const evicted = images.evict(COLLECTION);
    gate.resolve();
    await rendering;
    await evicted;
    expect(images.isCached(COLLECTION, sprite)).toBe(false);
    expect(images.isCached(frameId(0), thumb)).toBe(false);
    expect(cache.stats().entries).toBe(0);
  });

  it('refuses a sprite of a zip whose entries cannot be mapped to frames, without per-frame downloads', async () => {
    await start(3, { name: (n) => `frame-${n}.jpg` });
    const sprite = images.get(COLLECTION, spriteVariant({ columns: 3, tileWidth: 16, format: 'jpeg' }, 3));
    await expect(sprite).rejects.toMatchObject({ name: 'UpstreamError', kind: 'UPSTREAM_ERROR' });
    expect(upstream.downloads).toEqual([COLLECTION]);
  });
});
