/**
 * Media service: resolves frame, collection-zip and video ids to bytes while spending as few upstream downloads as
 * possible (the upstream allows 1 request/s per account and bills per GB).
 *
 * - A frame miss downloads its collection zip ONCE, splits every certainly-named frame into the cache and serves
 *   from there; concurrent misses of any frame of the collection join the same in-flight load (Map of promises).
 * - When the zip cannot be mapped with certainty (see zip.ts) or lacks the frame, the frame is downloaded on its own
 *   (also coalesced per frame id). Collections found unmatched are remembered so later frames go straight there.
 * - While a frame request's zip is split, that collection's frames cannot be evicted (a zip larger than half the
 *   cache used to evict the very frames it had just written); frames that cannot fit make the split fail, and the
 *   frames are downloaded one by one. The zip is then cached only if it fits beside them.
 * - A zip download that stalls (no bytes for UPSTREAM_STALL_MS, see upstream/download.ts) also falls back to
 *   per-frame downloads; the stall is not remembered (it may be transient).
 * - The zip itself is cached too (immutable) and served by {@link MediaService.getCollectionZip}.
 * - {@link MediaService.getCollectionFrames} (sprites, previews) takes every frame from the same one zip load, and
 *   afterwards from the cached frames while they are all still there.
 * - Original videos (`re_`) are cached only when upstream announces a Content-Length ≤ `videoCacheMaxBytes`
 *   (default 64 MiB, and at most a quarter of the cache, so one video cannot flush the frames). Larger or
 *   unknown-length videos are streamed through without touching the disk: no Range support, and every request is a
 *   new upstream download; concurrent requests for them are not coalesced (each browser needs its own stream).
 *   A HEAD of an uncached video is answered from metadata ({@link MediaService.headVideo}), never by a download.
 */
import { randomUUID } from 'node:crypto';
import { mkdir, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { LRUCache } from 'lru-cache';
import type { UpstreamClient } from '../upstream/client.js';
import { isUpstreamError, UpstreamError } from '../upstream/errors.js';
import { frameIndexOf } from '../upstream/types.js';
import type { AssetMetadata, DownloadedFile } from '../upstream/types.js';
import { ContentTooLargeError, type CacheEntry, type DiskCache } from './disk-cache.js';
import { classifyMediaId, collectionIdOfFrame, extensionForContentType, safeFilename } from './ids.js';
import { videoHeadersFromMetadata, zipHeaders } from './media-head.js';
import { spoolToFile } from './spool.js';
import { sourceIdOfCacheKey } from './variants.js';
import type { MediaBody, MediaLogger } from './types.js';
import { DEFAULT_ZIP_LIMITS, splitCollectionZip, type SplitResult, type ZipLimits } from './zip.js';

/** Default largest video that is cached on disk instead of streamed through. */
export const DEFAULT_VIDEO_CACHE_MAX_BYTES = 64 * 1024 ** 2;

/** Dependencies and knobs of {@link createMediaService}. */
export interface MediaServiceOptions {
  client: UpstreamClient;
  cache: DiskCache;
  /** Where collection zips are spooled before being split; default `cache.tmpDir` (same filesystem: renamed in). */
  tmpDir?: string;
  logger?: MediaLogger;
  /** Metadata of an id (for HEAD of an uncached video); default `client.getMetadata`. Pass a shared cache. */
  metadata?: (id: string) => Promise<AssetMetadata>;
  /** Videos up to this announced size are cached; larger ones are streamed through. */
  videoCacheMaxBytes?: number;
  zipLimits?: Partial<ZipLimits>;
}

/** Resolves media ids to cached files or upstream streams; every method throws `UpstreamError` on upstream failure. */
export interface MediaService {
  /** A cached frame (`imc_<digits>_<n>`), fetched through its collection zip on a miss. Throws `UpstreamError`. */
  getFrame(frameId: string): Promise<CacheEntry>;
  /**
   * The collection zip (`im_<digits>`): cached file, or streamed through when it cannot be cached. With
   * `headersOnly` (HEAD) an uncacheable zip is described instead of being downloaded a second time.
   */
  getCollectionZip(collectionId: string, options?: { headersOnly?: boolean }): Promise<MediaBody>;
  /**
   * Every frame of a collection in index order, from one zip download (or the cached zip / frames). Protect the
   * collection's frames in the cache ({@link DiskCache.protect}) while using the files. Throws `UpstreamError`
   * (`UPSTREAM_ERROR` when the zip could not be mapped to frames with certainty: no per-frame fallback here).
   */
  getCollectionFrames(collectionId: string): Promise<CacheEntry[]>;
  /** An original video (`re_<digits>`): cached file when small, otherwise streamed through. */
  openVideo(assetId: string): Promise<MediaBody>;
  /** For HEAD: the cached video, else its headers derived from metadata (no download). */
  headVideo(assetId: string): Promise<MediaBody>;
  /** Whether `id` is in the disk cache now (no LRU touch, no hit counted): the handler's hit/miss metric. */
  isCached(id: string): boolean;
  /** Drops a cache entry whose file turned out to be gone (evicted between lookup and open). */
  forget(key: string): Promise<void>;
  /**
   * Drops everything cached for an id deleted upstream: a collection's zip and all its frames, a frame, or a video,
   * with their variants (cache keys `<id>-…`).
   * Waits for a load of it already under way first, so that load cannot write the bytes back afterwards.
   */
  evict(id: string): Promise<void>;
  /** Aborts in-flight upstream downloads. */
  dispose(): Promise<void>;
}

interface CollectionLoad {
  zip: CacheEntry | null;
  frames: ReadonlyMap<string, CacheEntry>;
}

/** Creates the media service. */
export function createMediaService(options: MediaServiceOptions): MediaService {
  const { client, cache, logger } = options;
  const zipLimits = { ...DEFAULT_ZIP_LIMITS, ...options.zipLimits };
  const videoCacheMaxBytes = Math.min(
    options.videoCacheMaxBytes ?? DEFAULT_VIDEO_CACHE_MAX_BYTES,
    Math.floor(cache.maxBytes / 4),
  );
  const collectionLoads = new Map<string, Promise<CollectionLoad>>();
  const frameLoads = new Map<string, Promise<CacheEntry>>();
  const videoLoads = new Map<string, Promise<CacheEntry | null>>();
  const unmatched = new LRUCache<string, true>({ max: 10_000 });
  /** Frame ids (index order) of collections split before, so their cached frames serve without the zip. */
  const frameLists = new LRUCache<string, readonly string[]>({ max: 10_000 });
  const aborter = new AbortController();

  let spoolDirReady: Promise<string> | null = null;
  const spoolDir = (): Promise<string> =>
    (spoolDirReady ??= options.tmpDir
      ? mkdir(options.tmpDir, { recursive: true }).then(() => options.tmpDir as string)
      : cache.ready().then(() => cache.tmpDir));

  const download = (id: string) => client.download(id, { signal: aborter.signal });
  const metadataOf = options.metadata ?? ((id: string) => client.getMetadata(id, { signal: aborter.signal }));

  async function split(collectionId: string, zipPath: string, expected: string[]): Promise<SplitResult> {
    const result = await splitCollectionZip({
      zipPath,
      collectionId,
      expectedFrameIds: expected,
      cache,
      limits: zipLimits,
    });
    if (result.matched) {
      frameLists.set(collectionId, sortedByIndex([...result.frames.values()]).map((entry) => entry.key));
    } else {
      unmatched.set(collectionId, true);
      logger?.warn?.('media: collection zip not mapped with certainty; per-frame downloads', {
        collectionId,
        reason: result.reason,
      });
    }
    return result;
  }

  const framesOf = (result: SplitResult) => (result.matched ? result.frames : new Map<string, CacheEntry>());

  /** The cached entries of `frameIds`, or null as soon as one is missing. */
  async function cachedFrames(frameIds: readonly string[]): Promise<CacheEntry[] | null> {
    const entries: CacheEntry[] = [];
    for (const frameId of frameIds) {
      const entry = cache.has(frameId) ? await cache.get(frameId) : null;
      if (!entry) return null;
      entries.push(entry);
    }
    return entries;
  }

  async function collectionFrames(collectionId: string): Promise<CacheEntry[]> {
    const known = frameLists.get(collectionId);
    const hit = known ? await cachedFrames(known) : null;
    if (hit) return hit;
    // A load started by a frame or zip request splits every frame too: join it.
    const load = unmatched.has(collectionId)
      ? null
      : await coalesce(collectionLoads, collectionId, () => loadCollection(collectionId, ''));
    if (!load || load.frames.size === 0) {
      // Per-frame downloads (the frame path's fallback) would cost one upstream request per frame at 1 req/s.
      throw new UpstreamError('UPSTREAM_ERROR', `the zip of ${collectionId} could not be mapped to its frames`);
    }
    return sortedByIndex([...load.frames.values()]);
  }

  /**
   * For a frame (or all-frames) request, the collection's frames are protected from eviction while they are
   * written. `requested`: the frame that must be in the zip; `''` any frames; `null` only the zip.
   */
  async function loadCollection(collectionId: string, requested: string | null): Promise<CollectionLoad> {
    // A zip request needs only the zip: its frames may still be evicted to make room for it.
    const release =
      requested === null ? () => undefined : cache.protect((key) => collectionIdOfFrame(key) === collectionId);
    try {
      return await writeCollection(collectionId, requested);
    } finally {
      release();
    }
  }

  async function writeCollection(collectionId: string, requested: string | null): Promise<CollectionLoad> {
    // The requested frame must be in the zip for the zip to be trusted as this collection's.
    const expected = requested ? [requested] : [];
    const cached = await cache.get(collectionId);
    if (cached) {
      try {
        return { zip: cached, frames: framesOf(await split(collectionId, cached.path, expected)) };
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
        await cache.delete(collectionId); // evicted between lookup and open: download again
      }
    }
    const file = await download(collectionId);
    const tmpPath = join(await spoolDir(), `${collectionId}.${randomUUID()}.zip`);
    const digest = await spoolToFile(file.body, tmpPath, zipLimits.maxTotalBytes).catch((error: unknown) => {
      if (!(error instanceof ContentTooLargeError)) throw error;
      return null;
    });
    if (digest === null) {
      logger?.warn?.('media: collection zip too large to spool', { collectionId, limit: zipLimits.maxTotalBytes });
      unmatched.set(collectionId, true);
      return { zip: null, frames: new Map() };
    }
    try {
      const result = await split(collectionId, tmpPath, expected);
      const contentType = file.contentType || 'application/zip';
      const zip = await cache.putFile(collectionId, tmpPath, { contentType, filename: `${collectionId}.zip` }, digest);
      return { zip, frames: framesOf(result) };
    } finally {
      await unlink(tmpPath).catch(() => undefined); // no-op once putFile moved it
    }
  }

  async function downloadFrame(frameId: string): Promise<CacheEntry> {
    const file = await download(frameId);
    const contentType = file.contentType || 'application/octet-stream';
    const filename = `${frameId}.${extensionForContentType(contentType)}`;
    return cache.put(frameId, file.body, { contentType, filename });
  }

  async function loadFrame(frameId: string): Promise<CacheEntry> {
    const collectionId = collectionIdOfFrame(frameId) as string;
    // A load of this collection may have finished between our cache miss and now.
    if (cache.has(frameId)) {
      const entry = await cache.get(frameId);
      if (entry) return entry;
    }
    if (!unmatched.has(collectionId)) {
      const load = await coalesce(collectionLoads, collectionId, () => loadCollection(collectionId, frameId)).catch(
        (error: unknown) => {
          if (!isUpstreamError(error, 'TIMEOUT')) throw error;
          logger?.warn?.('media: collection zip download timed out; per-frame download', { frameId });
          return null;
        },
      );
      const entry = load?.frames.get(frameId);
      if (entry) return entry;
      if (load && !unmatched.has(collectionId)) logger?.warn?.('media: frame missing from its zip', { frameId });
    }
    return downloadFrame(frameId);
  }

  async function loadVideo(assetId: string, holder: { passthrough?: DownloadedFile }): Promise<CacheEntry | null> {
    const file = await download(assetId);
    if (file.contentLength === null || file.contentLength > videoCacheMaxBytes) {
      holder.passthrough = file;
      return null;
    }
    const contentType = file.contentType || 'application/octet-stream';
    const filename =
      safeFilename(filenameFromDisposition(file.contentDisposition) ?? '') ??
      `${assetId}.${extensionForContentType(contentType)}`;
    return cache.put(assetId, file.body, { contentType, filename });
  }

  function expectKind(id: string, kind: ReturnType<typeof classifyMediaId>): void {
    if (classifyMediaId(id) !== kind) throw new RangeError(`not a ${kind} id: ${id.slice(0, 80)}`);
  }

  return {
    async getFrame(frameId) {
      expectKind(frameId, 'frame');
      return (await cache.get(frameId)) ?? coalesce(frameLoads, frameId, () => loadFrame(frameId));
    },
    async getCollectionZip(collectionId, zipOptions = {}) {
      expectKind(collectionId, 'collection');
      const hit = await cache.get(collectionId);
      if (hit) return { kind: 'file', entry: hit };
      const load = await coalesce(collectionLoads, collectionId, () => loadCollection(collectionId, null));
      if (load.zip) return { kind: 'file', entry: load.zip };
      if (zipOptions.headersOnly) return { kind: 'headers', ...zipHeaders(collectionId) };
      // Could not be cached (larger than the cache, or than the room beside a frame request's frames): stream it
      // through, one more billed download, only in this corner case.
      const file = await download(collectionId);
      return passthrough(file, 'application/zip');
    },
    async getCollectionFrames(collectionId) {
      expectKind(collectionId, 'collection');
      return collectionFrames(collectionId);
    },
    async openVideo(assetId) {
      expectKind(assetId, 'video');
      const hit = await cache.get(assetId);
      if (hit) return { kind: 'file', entry: hit };
      const pending = videoLoads.get(assetId);
      if (pending) {
        const entry = await pending;
        if (entry) return { kind: 'file', entry };
      } else {
        const holder: { passthrough?: DownloadedFile } = {};
        const entry = await coalesce(videoLoads, assetId, () => loadVideo(assetId, holder));
        if (entry) return { kind: 'file', entry };
        if (holder.passthrough) return passthrough(holder.passthrough, 'application/octet-stream');
      }
      // Not cacheable and the first download belongs to another request: fetch our own stream.
      return passthrough(await download(assetId), 'application/octet-stream');
    },
    async headVideo(assetId) {
      expectKind(assetId, 'video');
      const hit = await cache.get(assetId);
      if (hit) return { kind: 'file', entry: hit };
      return { kind: 'headers', ...videoHeadersFromMetadata(assetId, await metadataOf(assetId), videoCacheMaxBytes) };
    },
    isCached: (id) => cache.has(id),
    async forget(key) {
      await cache.delete(key);
    },
    async evict(id) {
      const collectionId = classifyMediaId(id) === 'collection' ? id : null;
      const loads = [collectionLoads.get(id), frameLoads.get(id), videoLoads.get(id)];
      if (collectionId) {
        for (const [frameId, load] of frameLoads) if (collectionIdOfFrame(frameId) === collectionId) loads.push(load);
      }
      await Promise.all(loads.map((load) => load?.catch(() => undefined)));
      if (!collectionId) {
        await cache.deleteWhere((key) => sourceIdOfCacheKey(key) === id);
        return;
      }
      unmatched.delete(collectionId);
      frameLists.delete(collectionId);
      await cache.deleteWhere((key) => {
        const source = sourceIdOfCacheKey(key);
        return source === collectionId || collectionIdOfFrame(source) === collectionId;
      });
    },
    async dispose() {
      aborter.abort();
    },
  };
}

function sortedByIndex(entries: CacheEntry[]): CacheEntry[] {
  return entries.sort((a, b) => (frameIndexOf(a.key) ?? 0) - (frameIndexOf(b.key) ?? 0));
}

function passthrough(file: DownloadedFile, defaultType: string): MediaBody {
  return {
    kind: 'stream',
    body: file.body,
    contentType: file.contentType || defaultType,
    contentLength: file.contentLength,
    contentDisposition: file.contentDisposition,
  };
}

/** Joins an in-flight load of `key` or starts one; the map entry is removed when it settles (errors aren't cached). */
export function coalesce<T>(map: Map<string, Promise<T>>, key: string, start: () => Promise<T>): Promise<T> {
  const existing = map.get(key);
  if (existing) return existing;
  const promise = start().finally(() => {
    if (map.get(key) === promise) map.delete(key);
  });
  map.set(key, promise);
  return promise;
}

/** `filename="x"` or `filename=x` of a Content-Disposition value. */
function filenameFromDisposition(value: string | null): string | null {
  const match = value ? /filename\s*=\s*(?:"([^"]*)"|([^;\s]+))/i.exec(value) : null;
  return match ? (match[1] ?? match[2] ?? null) : null;
}
