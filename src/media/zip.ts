/**
 * Splitting a downloaded collection zip (`im_<digits>`) into cached frames (`imc_<digits>_<n>`).
 *
 * The mapping must be certain: an entry is frame n only if its base name without extension is exactly the frame
 * id. Anything doubtful (an expected frame missing, two entries for one frame, a look-alike such as `imc_1_01` or
 * `IMC_1_1`, a name yauzl rejects, limits exceeded) yields `{ matched: false }` and nothing is kept, so the caller
 * falls back to per-frame downloads. Entry names are only compared, never used as paths.
 */
import yauzl from 'yauzl';
import type { Entry, ZipFile } from 'yauzl';
import { FRAME_ID_PATTERN } from '../upstream/types.js';
import { contentTypeForExtension, extensionForContentType } from './ids.js';
import type { CacheEntry, DiskCache } from './disk-cache.js';

/** Caps against zip bombs and absurd archives. */
export interface ZipLimits {
  /** Sum of uncompressed sizes of the extracted entries. Default 2 GiB. */
  maxTotalBytes: number;
  /** Uncompressed size of one entry. Default 256 MiB. */
  maxEntryBytes: number;
  /** Number of entries in the archive. Default 100 000. */
  maxEntries: number;
}

/** 2 GiB of frames in total, 256 MiB per frame, 100 000 entries. */
export const DEFAULT_ZIP_LIMITS: Readonly<ZipLimits> = Object.freeze({
  maxTotalBytes: 2 * 1024 ** 3,
  maxEntryBytes: 256 * 1024 ** 2,
  maxEntries: 100_000,
});

/** Which entry (by position) holds which frame, decided from names alone; see {@link planFrameEntries}. */
export type FramePlan =
  | { matched: true; frames: Map<string, { index: number; extension: string }>; ignored: string[] }
  | { matched: false; reason: string };

/** Outcome of {@link splitCollectionZip}: the cached frames, or why the zip could not be mapped with certainty. */
export type SplitResult =
  | { matched: true; frames: Map<string, CacheEntry>; ignored: string[] }
  | { matched: false; reason: string };

/** Input of {@link splitCollectionZip}. */
export interface SplitCollectionZipOptions {
  zipPath: string;
  /** `im_<digits>`. */
  collectionId: string;
  /** Frame ids that must be present (the requested frame); may be empty. */
  expectedFrameIds: readonly string[];
  cache: DiskCache;
  limits?: Partial<ZipLimits>;
}

const COLLECTION_DIGITS = /^im_(\d+)$/;
/** Entries extracted in parallel (small files: the cost is in open/rename round trips, not bandwidth). */
const EXTRACT_CONCURRENCY = 8;
const LOOSE_FRAME = /^imc_(\d+)_(\d+)$/i;

/**
 * Maps entry names to frame ids of `collectionId`. Directory entries and names of other collections or non-frames
 * are ignored; duplicates, look-alikes of this collection and missing expected frames make the plan unmatched.
 */
export function planFrameEntries(
  names: readonly string[],
  collectionId: string,
  expectedFrameIds: readonly string[],
): FramePlan {
  const digits = COLLECTION_DIGITS.exec(collectionId)?.[1];
  if (digits === undefined) return { matched: false, reason: `not a collection id: ${collectionId}` };
  const frames = new Map<string, { index: number; extension: string }>();
  const ignored: string[] = [];
  for (const [index, name] of names.entries()) {
    if (name.endsWith('/')) continue;
    const base = name.slice(Math.max(name.lastIndexOf('/'), name.lastIndexOf('\\')) + 1);
    const dot = base.lastIndexOf('.');
    const stem = dot > 0 ? base.slice(0, dot) : base;
    const extension = dot > 0 ? base.slice(dot + 1) : '';
    const exact = FRAME_ID_PATTERN.exec(stem);
    if (exact && exact[1] === digits && String(Number(exact[2])) === exact[2]) {
      if (frames.has(stem)) return { matched: false, reason: `duplicate entries for ${stem}` };
      frames.set(stem, { index, extension });
      continue;
    }
    const loose = LOOSE_FRAME.exec(stem);
    if (loose && BigInt(loose[1] ?? '') === BigInt(digits)) {
      return { matched: false, reason: `ambiguous entry name ${JSON.stringify(name)}` };
    }
    ignored.push(name);
  }
  for (const id of expectedFrameIds) {
    if (!frames.has(id)) return { matched: false, reason: `no entry for expected frame ${id}` };
  }
  return { matched: true, frames, ignored };
}

/**
 * Extracts every certainly-named frame of `collectionId` from the zip at `zipPath` into `cache` (key = frame id,
 * content type from the entry extension). On `matched: false` no frame of this call is left in the cache.
 */
export async function splitCollectionZip(options: SplitCollectionZipOptions): Promise<SplitResult> {
  const limits = { ...DEFAULT_ZIP_LIMITS, ...options.limits };
  let zip: ZipFile;
  try {
    zip = await yauzl.openPromise(options.zipPath, { lazyEntries: true, autoClose: false, validateEntrySizes: true });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') throw error;
    return { matched: false, reason: `unreadable zip: ${(error as Error).message}` };
  }
  const written = new Map<string, CacheEntry>();
  try {
    const entries = await readEntries(zip, limits.maxEntries);
    if (typeof entries === 'string') return { matched: false, reason: entries };
    const plan = planFrameEntries(
      entries.map((e) => e.fileName),
      options.collectionId,
      options.expectedFrameIds,
    );
    if (!plan.matched) return plan;
    const refusal = checkSizes(plan.frames, entries, limits);
    if (refusal) return { matched: false, reason: refusal };
    await extract(zip, entries, [...plan.frames], options.cache, written);
    return { matched: true, frames: written, ignored: plan.ignored };
  } catch (error) {
    // A lying size header, a corrupt stream or a failed write: drop what this call cached and let the caller fall back.
    await Promise.all([...written.keys()].map((id) => options.cache.delete(id).catch(() => false)));
    return { matched: false, reason: `extraction failed: ${(error as Error).message}` };
  } finally {
    zip.close();
  }
}

/** Streams the planned entries into the cache, a few at a time; stops at the first failure and rethrows it. */
async function extract(
  zip: ZipFile,
  entries: readonly Entry[],
  planned: readonly [string, { index: number; extension: string }][],
  cache: DiskCache,
  written: Map<string, CacheEntry>,
): Promise<void> {
  let next = 0;
  let failure: { error: unknown } | null = null;
  const worker = async (): Promise<void> => {
    while (failure === null && next < planned.length) {
      const [frameId, { index, extension }] = planned[next++] as (typeof planned)[number];
      try {
        const stream = await zip.openReadStreamPromise(entries[index] as Entry);
        const contentType = contentTypeForExtension(extension);
        const filename = `${frameId}.${extensionForContentType(contentType)}`;
        written.set(frameId, await cache.put(frameId, stream, { contentType, filename }));
      } catch (error) {
        failure ??= { error };
      }
    }
  };
  // Wait for every worker before reporting, so no write lands after the caller's clean-up.
  await Promise.all(Array.from({ length: Math.min(EXTRACT_CONCURRENCY, planned.length) }, worker));
  if (failure !== null) throw (failure as { error: unknown }).error;
}

function checkSizes(
  frames: Map<string, { index: number }>,
  entries: readonly Entry[],
  limits: ZipLimits,
): string | null {
  let total = 0;
  for (const [frameId, { index }] of frames) {
    const entry = entries[index] as Entry;
    if (entry.isEncrypted() || !entry.canDecodeFileData()) return `cannot decode entry for ${frameId}`;
    if (entry.uncompressedSize > limits.maxEntryBytes) {
      return `entry for ${frameId} exceeds ${limits.maxEntryBytes} bytes`;
    }
    total += entry.uncompressedSize;
    if (total > limits.maxTotalBytes) return `frames exceed ${limits.maxTotalBytes} bytes in total`;
  }
  return null;
}

/** Reads the central directory; a string is a refusal reason (too many entries, invalid names). */
async function readEntries(zip: ZipFile, maxEntries: number): Promise<Entry[] | string> {
  if (zip.entryCount > maxEntries) return `zip has ${zip.entryCount} entries (limit ${maxEntries})`;
  const entries: Entry[] = [];
  try {
    for await (const entry of zip.eachEntry()) entries.push(entry);
  } catch (error) {
    return `invalid zip directory: ${(error as Error).message}`;
  }
  return entries;
}
