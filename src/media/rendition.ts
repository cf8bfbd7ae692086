/**
 * Image variants made with sharp from the cached originals: frame renditions (size, fit, format, quality), and
 * collection sprites and previews (sprite.ts). Each variant is made once and then kept in the media disk cache
 * under `<id>-<parameters>` (variants.ts), so it is served like any cached file (ETag, 304, Range, HEAD).
 *
 * - No upstream call of its own: the originals come from the media service (one zip per collection).
 * - Concurrent requests for one uncached variant join one render (Map of promises, as the media service does).
 * - Every sharp call goes through one p-queue (`concurrency`, default 2): sharp runs on libuv's thread pool (4
 *   threads by default), so an unbounded burst of renders would queue behind itself there and starve the file reads
 *   of cached media; sprites and previews put their per-frame resizes through the same queue a few at a time, so
 *   a 500-frame sprite does not hold the queue while a single rendition waits.
 * - Sprites and previews run one at a time (their own p-queue of 1): each holds a raw canvas of up to ~120 MB (sprite)
 *   or frames × width × height × 3 bytes (preview: 108 MB for 500 frames of 16:9 at 320 px, at most 384 MB for
 *   portrait frames at the bounds of variants.ts), so concurrent ones must not add up.
 * - `limitInputPixels` bounds what one decode may allocate (a hostile or absurd original fails, 422).
 */
import PQueue from 'p-queue';
import { LRUCache } from 'lru-cache';
import type { CacheEntry, DiskCache } from './disk-cache.js';
import { classifyMediaId, collectionIdOfFrame } from './ids.js';
import { describeFormat, encode, formatOfSource, loadSharp, sharp, type Rendered, type RunImageJob, type SharpInput } from './image-ops.js';
import { coalesce, type MediaService } from './media-service.js';
import { renderPreview, renderSprite } from './sprite.js';
import type { MediaLogger } from './types.js';
import { sourceIdOfCacheKey, variantCacheKey, type ImageSize, type MediaVariant, type RenditionVariant } from './variants.js';

/** Default largest decoded original, in pixels (an 8K frame is 33 MP). */
export const DEFAULT_LIMIT_INPUT_PIXELS = 50_000_000;

/** Knobs of {@link createImageService}. */
export interface ImageServiceOptions {
  media: MediaService;
  cache: DiskCache;
  /** sharp jobs at once (MEDIA_IMAGE_CONCURRENCY); default 2. */
  concurrency?: number;
  /** Largest decoded input, in pixels; default {@link DEFAULT_LIMIT_INPUT_PIXELS}. */
  limitInputPixels?: number;
  logger?: MediaLogger;
}

/** Makes and caches variants; methods throw `UpstreamError` when an original cannot be had. */
export interface ImageService {
  /** The cached variant of `id` (a rendition of a frame, a sprite or preview of a collection), made on a miss. */
  get(id: string, variant: MediaVariant): Promise<CacheEntry>;
  /** Whether the variant is cached now (the handler's hit/miss metric). */
  isCached(id: string, variant: MediaVariant): boolean;
  /** Pixel size of a frame, read from its cached original (fetched through its collection's zip on a miss). */
  frameSize(frameId: string): Promise<ImageSize>;
  /** Like {@link MediaService.evict}, after renders of the id (or of its collection) under way have finished. */
  evict(id: string): Promise<void>;
  /** sharp jobs running and waiting. */
  stats(): { running: number; waiting: number };
}

/** A variant could not be made from the original (undecodable, over the pixel limit); the handler answers 422. */
export class ImageProcessingError extends Error {
  override readonly name = 'ImageProcessingError';
}

/** Creates the service. */
export function createImageService(options: ImageServiceOptions): ImageService {
  const { media, cache, logger } = options;
  const limitInputPixels = options.limitInputPixels ?? DEFAULT_LIMIT_INPUT_PIXELS;
  const queue = new PQueue({ concurrency: options.concurrency ?? 2 });
  const sheets = new PQueue({ concurrency: 1 });
  const renders = new Map<string, Promise<CacheEntry>>();
  const sizes = new LRUCache<string, ImageSize>({ max: 10_000 });
  const sizeLoads = new Map<string, Promise<ImageSize>>();
  const input: SharpInput = (path) => sharp(path, { limitInputPixels, failOn: 'error' }).autoOrient();
  const run: RunImageJob = (job) =>
    queue.add(async () => {
      await loadSharp();
      try {
        return await job();
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== undefined) throw error; // a file-system error, not the image's
        throw new ImageProcessingError(error instanceof Error ? error.message : String(error), { cause: error });
      }
    });

  async function store(key: string, rendered: Rendered): Promise<CacheEntry> {
    const { contentType, extension } = describeFormat(rendered.format);
    return cache.put(key, rendered.data, { contentType, filename: `${key}.${extension}` });
  }

  async function renderRendition(frameId: string, variant: RenditionVariant): Promise<Rendered> {
    const source = await media.getFrame(frameId);
    const format = variant.format === 'original' ? formatOfSource(source.contentType) : variant.format;
    return run(async () => {
      let image = input(source.path);
      if (variant.width !== null || variant.height !== null) {
        image = image.resize({
          ...(variant.width !== null ? { width: variant.width } : {}),
          ...(variant.height !== null ? { height: variant.height } : {}),
          fit: variant.fit,
          background: { r: 0, g: 0, b: 0, alpha: 0 },
        });
      }
      const { data, info } = await encode(image, format, variant.quality).toBuffer({ resolveWithObject: true });
      return { data, format: info.format };
    });
  }

  async function render(id: string, variant: MediaVariant, key: string): Promise<CacheEntry> {
    // The originals must not be evicted between being looked up and being read.
    const collectionId = classifyMediaId(id) === 'collection' ? id : null;
    const release = cache.protect((k) => (collectionId ? collectionIdOfFrame(k) === collectionId : k === id));
    try {
      if (variant.kind === 'rendition') return await store(key, await renderRendition(id, variant));
      const frames = await media.getCollectionFrames(id);
      const size = await sizeOf(frames[0] as CacheEntry);
      const deps = { input, run, concurrency: options.concurrency ?? 2 };
      const rendered = await sheets.add(() =>
        variant.kind === 'sprite' ? renderSprite(frames, size, variant, deps) : renderPreview(frames, size, variant, deps),
      );
      return await store(key, rendered);
    } finally {
      release();
    }
  }

  async function sizeOf(entry: CacheEntry): Promise<ImageSize> {
    const collectionId = collectionIdOfFrame(entry.key) ?? entry.key;
    const known = sizes.get(collectionId);
    if (known) return known;
    const meta = await run(() => input(entry.path).metadata());
    if (!meta.width || !meta.height) throw new ImageProcessingError(`${entry.key} has no pixel size`);
    // EXIF orientations 5-8 are rotated by a quarter turn: autoOrient swaps the sides.
    const turned = (meta.orientation ?? 1) >= 5;
    const size = turned ? { width: meta.height, height: meta.width } : { width: meta.width, height: meta.height };
    sizes.set(collectionId, size);
    return size;
  }

  return {
    get(id, variant) {
      const key = variantCacheKey(id, variant);
      // In the map from the first call on (the cache lookup included), so an evict issued after this call waits.
      return coalesce(renders, key, async () => (await cache.get(key)) ?? render(id, variant, key));
    },
    isCached: (id, variant) => cache.has(variantCacheKey(id, variant)),
    frameSize(frameId) {
      const collectionId = collectionIdOfFrame(frameId) ?? frameId;
      const known = sizes.get(collectionId);
      if (known) return Promise.resolve(known);
      return coalesce(sizeLoads, collectionId, async () => {
        const release = cache.protect((k) => k === frameId);
        try {
          return await sizeOf(await media.getFrame(frameId));
        } finally {
          release();
        }
      });
    },
    async evict(id) {
      const collectionId = classifyMediaId(id) === 'collection' ? id : null;
      const pending = [...renders].filter(([key]) => {
        const source = sourceIdOfCacheKey(key);
        return source === id || (collectionId !== null && collectionIdOfFrame(source) === collectionId);
      });
      await Promise.all(pending.map(([, load]) => load.catch(() => undefined)));
      sizes.delete(collectionId ?? collectionIdOfFrame(id) ?? id);
      logger?.debug?.('media: evicting variants with their source', { id });
      await media.evict(id);
    },
    stats: () => ({ running: queue.pending, waiting: queue.size + sheets.size }),
  };
}
