/**
 * Disk cache of immutable media (frames, collection zips, small videos) keyed by upstream id.
 *
 * Layout in `dir`: `<key>.data` (bytes) + `<key>.meta.json` (sidecar), temp files in `dir/.tmp/` (wiped on start).
 * Content is written to a temp file and renamed into place, then the sidecar is written, so a reader never sees a
 * partial file and a crash leaves at most an orphan data file or a torn sidecar, both deleted by the start-up scan.
 * The index (LRU order = Map order) lives in memory and is rebuilt from the sidecars on start, oldest data-file mtime
 * first (reads do not touch the disk, so recency from before a restart is approximated by write time). Files are not
 * fsync'ed: after a power loss a truncated file is dropped by the size check of the rebuild.
 */
import { randomUUID } from 'node:crypto';
import { mkdir, readdir, readFile, rm, stat, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import {
  ContentTooLargeError,
  digestFile,
  moveFile,
  spoolToFile,
  type ByteSource,
  type ContentDigest,
} from './spool.js';

export { ContentTooLargeError, type ByteSource, type ContentDigest } from './spool.js';

/** A complete cached file. `path` can be opened directly; `size` and `etag` describe its bytes. */
export interface CacheEntry {
  readonly key: string;
  readonly path: string;
  readonly size: number;
  /** Strong, quoted ETag: `"<sha256 base64url>"`. */
  readonly etag: string;
  readonly contentType: string;
  readonly filename: string | null;
}

/** What {@link DiskCache.put} records next to the bytes. */
export interface CacheMeta {
  contentType: string;
  filename?: string;
}

/** Counters since creation (`hits`/`misses` count {@link DiskCache.get} calls). */
export interface CacheStats {
  entries: number;
  bytes: number;
  hits: number;
  misses: number;
}

export interface DiskCacheOptions {
  /** Created if missing; the cache owns every file in it. */
  dir: string;
  /** Total bytes of data files kept; least-recently-used entries are evicted beyond it. */
  maxBytes: number;
}

/** LRU disk cache of immutable files; see the module comment for the on-disk layout. */
export interface DiskCache {
  readonly dir: string;
  /** Temp directory on the same filesystem (for {@link DiskCache.putFile} renames). Valid after {@link ready}. */
  readonly tmpDir: string;
  readonly maxBytes: number;
  /** Resolves once the index has been rebuilt from disk (every other method waits for it too). */
  ready(): Promise<void>;
  /** The entry, marking it most recently used; `null` on a miss. Never touches the disk. */
  get(key: string): Promise<CacheEntry | null>;
  /** True when `key` is cached (does not count as a hit or touch the LRU order). */
  has(key: string): boolean;
  /**
   * Streams `source` into the cache. Throws {@link ContentTooLargeError} (and keeps nothing) when it exceeds
   * `maxBytes` or cannot fit beside the {@link protect}ed entries; a failing source leaves no file behind.
   */
  put(key: string, source: ByteSource, meta: CacheMeta): Promise<CacheEntry>;
  /**
   * Moves a complete file into the cache (rename; copy across filesystems). Returns `null` and deletes the file when it
   * is larger than `maxBytes` or cannot fit beside the {@link protect}ed entries. Pass `digest` when already known to
   * skip re-reading the file.
   */
  putFile(key: string, filePath: string, meta: CacheMeta, digest?: ContentDigest): Promise<CacheEntry | null>;
  /**
   * Keeps every entry whose key passes `test` from being evicted until the returned release function is called
   * (e.g. the frames of a collection while its zip is being split and served). Writes that cannot fit beside the
   * protected entries are refused instead.
   */
  protect(test: (key: string) => boolean): () => void;
  /** Removes an entry (e.g. its file vanished). Returns whether it existed. */
  delete(key: string): Promise<boolean>;
  /** Removes every entry whose key passes `test` (a deleted collection's zip and frames); returns how many. */
  deleteWhere(test: (key: string) => boolean): Promise<number>;
  stats(): CacheStats;
  /** Stops accepting calls. Files stay on disk for the next start. */
  dispose(): Promise<void>;
}

const KEY_PATTERN = /^[A-Za-z0-9_-]{1,128}$/;
const DATA_SUFFIX = '.data';
const META_SUFFIX = '.meta.json';
const REBUILD_CONCURRENCY = 32;

const sidecarSchema = z.object({
  key: z.string().regex(KEY_PATTERN),
  size: z.number().int().nonnegative(),
  etag: z.string().min(2),
  contentType: z.string().min(1),
  filename: z.string().nullable(),
});

/** Throws a `RangeError` unless `key` is a safe file-name stem (ids only: letters, digits, `_`, `-`). */
export function assertCacheKey(key: string): void {
  if (!KEY_PATTERN.test(key)) throw new RangeError(`invalid cache key: ${JSON.stringify(key).slice(0, 80)}`);
}

/** Creates the cache and starts rebuilding its index from `dir` in the background (see {@link DiskCache.ready}). */
export function createDiskCache(options: DiskCacheOptions): DiskCache {
  const { dir, maxBytes } = options;
  const tmpDir = join(dir, '.tmp');
  const index = new Map<string, CacheEntry>();
  let bytes = 0;
  let hits = 0;
  let misses = 0;
  let loaded = false;
  let disposed = false;
  const protections = new Set<(key: string) => boolean>();
  /** Bytes of protected writes between their size check and their indexing. */
  let reserved = 0;
  const isProtected = (key: string): boolean => {
    for (const test of protections) if (test(key)) return true;
    return false;
  };

  const dataPath = (key: string) => join(dir, key + DATA_SUFFIX);
  const metaPath = (key: string) => join(dir, key + META_SUFFIX);

  const readyPromise = rebuild().then(() => {
    loaded = true;
  });
  // Surface rebuild failures through ready()/get()/put(), not as an unhandled rejection.
  readyPromise.catch(() => undefined);

  async function rebuild(): Promise<void> {
    await rm(tmpDir, { recursive: true, force: true });
    await mkdir(tmpDir, { recursive: true });
    const names = await readdir(dir);
    const metas = new Set(names.filter((n) => n.endsWith(META_SUFFIX)).map((n) => n.slice(0, -META_SUFFIX.length)));
    const found: { entry: CacheEntry; mtimeMs: number }[] = [];
    const orphans = names.filter((n) => n.endsWith(DATA_SUFFIX) && !metas.has(n.slice(0, -DATA_SUFFIX.length)));
    await mapLimit([...metas], REBUILD_CONCURRENCY, async (key) => {
      const loadedEntry = KEY_PATTERN.test(key) ? await loadEntry(key) : null;
      if (loadedEntry) found.push(loadedEntry);
      else await removeFiles(key);
    });
    await Promise.all(orphans.map((n) => unlink(join(dir, n)).catch(() => undefined)));
    found.sort((a, b) => a.mtimeMs - b.mtimeMs);
    for (const { entry } of found) {
      index.set(entry.key, entry);
      bytes += entry.size;
    }
    await evict(null);
  }

  async function loadEntry(key: string): Promise<{ entry: CacheEntry; mtimeMs: number } | null> {
    try {
      const parsed = sidecarSchema.safeParse(JSON.parse(await readFile(metaPath(key), 'utf8')));
      if (!parsed.success || parsed.data.key !== key) return null;
      const info = await stat(dataPath(key));
      if (!info.isFile() || info.size !== parsed.data.size) return null;
      return { entry: { ...parsed.data, path: dataPath(key) }, mtimeMs: info.mtimeMs };
    } catch {
      return null;
    }
  }

  async function removeFiles(key: string): Promise<void> {
    await Promise.all([unlink(dataPath(key)).catch(() => undefined), unlink(metaPath(key)).catch(() => undefined)]);
  }

  /** Evicts LRU entries until under budget; never the entry just written (`keep`) nor protected ones. */
  async function evict(keep: string | null): Promise<void> {
    const victims: string[] = [];
    for (const [key, entry] of index) {
      if (bytes <= maxBytes) break;
      if (key === keep || isProtected(key)) continue;
      index.delete(key);
      bytes -= entry.size;
      victims.push(key);
    }
    // Open read streams keep their file descriptor, so unlinking under a reader is safe on POSIX.
    await Promise.all(victims.map(removeFiles));
  }

  /**
   * Claims room for `size` bytes under `key` beside the protected entries (which eviction cannot remove), counting
   * protected writes still in flight (frames are extracted in parallel). Returns the release, or `null` when it
   * cannot fit.
   */
  function reserve(key: string, size: number): (() => void) | null {
    if (size > maxBytes) return null;
    if (protections.size === 0) return () => undefined;
    let pinned = size + reserved;
    for (const [other, entry] of index) {
      if (other !== key && isProtected(other)) pinned += entry.size;
    }
    if (pinned > maxBytes) return null;
    const claimed = isProtected(key) ? size : 0;
    reserved += claimed;
    return () => {
      reserved -= claimed;
    };
  }

  async function usable(key: string): Promise<void> {
    assertCacheKey(key);
    if (disposed) throw new Error('disk cache disposed');
    if (!loaded) await readyPromise;
  }

  /** Renames a complete temp file into place, writes the sidecar, then indexes the entry. */
  async function commit(key: string, tempPath: string, meta: CacheMeta, digest: ContentDigest): Promise<CacheEntry> {
    const entry: CacheEntry = {
      key,
      path: dataPath(key),
      size: digest.size,
      etag: digest.etag,
      contentType: meta.contentType,
      filename: meta.filename ?? null,
    };
    const { path: _path, ...sidecar } = entry;
    try {
      await moveFile(tempPath, entry.path, tmpDir);
    } catch (error) {
      await unlink(tempPath).catch(() => undefined);
      throw error;
    }
    // Written in place: a torn sidecar fails the JSON/size check of the next rebuild and the entry is dropped.
    await writeFile(metaPath(key), JSON.stringify(sidecar));
    const previous = index.get(key);
    if (previous) {
      bytes -= previous.size;
      index.delete(key);
    }
    index.set(key, entry);
    bytes += entry.size;
    await evict(key);
    return entry;
  }

  return {
    dir,
    tmpDir,
    maxBytes,
    ready: () => readyPromise,
    async get(key) {
      await usable(key);
      const entry = index.get(key);
      if (!entry) {
        misses += 1;
        return null;
      }
      hits += 1;
      index.delete(key);
      index.set(key, entry);
      return entry;
    },
    has: (key) => index.has(key),
    protect(test) {
      const guard = (key: string) => test(key);
      protections.add(guard);
      return () => void protections.delete(guard);
    },
    async put(key, source, meta) {
      await usable(key);
      const tempPath = join(tmpDir, `${key}.${randomUUID()}${DATA_SUFFIX}`);
      const digest = await spoolToFile(source, tempPath, maxBytes);
      const release = reserve(key, digest.size);
      if (!release) {
        await unlink(tempPath).catch(() => undefined);
        throw new ContentTooLargeError(maxBytes, `${key} does not fit beside the protected cache entries`);
      }
      return commit(key, tempPath, meta, digest).finally(release);
    },
    async putFile(key, filePath, meta, digest) {
      await usable(key);
      const known = digest ?? (await digestFile(filePath));
      const release = reserve(key, known.size);
      if (!release) {
        await unlink(filePath).catch(() => undefined);
        return null;
      }
      return commit(key, filePath, meta, known).finally(release);
    },
    async delete(key) {
      await usable(key);
      const entry = index.get(key);
      if (entry) {
        index.delete(key);
        bytes -= entry.size;
      }
      await removeFiles(key);
      return entry !== undefined;
    },
    async deleteWhere(test) {
      if (disposed) throw new Error('disk cache disposed');
      if (!loaded) await readyPromise;
      const victims = [...index.values()].filter((entry) => test(entry.key));
      for (const entry of victims) {
        index.delete(entry.key);
        bytes -= entry.size;
      }
      await Promise.all(victims.map((entry) => removeFiles(entry.key)));
      return victims.length;
    },
    stats: () => ({ entries: index.size, bytes, hits, misses }),
    async dispose() {
      disposed = true;
      await readyPromise.catch(() => undefined);
      index.clear();
      bytes = 0;
    },
  };
}

async function mapLimit<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const item = items[next++] as T;
      await fn(item);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}
