/**
 * Per-operation DataLoaders (new for every GraphQL operation, see context.ts) over the shared metadata cache.
 * A frame is loaded through its collection: N frames of one collection cost one `im_` metadata call.
 *
 * What a collection's metadata reply derives to (frames parsed, sorted, indexed by id and index) is immutable, so it
 * is computed once per cached reply and shared by every operation (`collectionOf`); the per-operation loaders only
 * batch and dedupe. A reply the metadata cache replaces (a partial listing re-read, an eviction) is a new object and
 * derives anew, so the shared data never outlives the reply it came from. Profiled under bench:graphql before this:
 * re-deriving, sorting and priming all 500 frames for every request was ~10% of the gateway's CPU.
 */
import DataLoader from 'dataloader';
import { isUpstreamError } from '../upstream/errors.js';
import { FRAME_ID_PATTERN, type AssetResource, type UploadStatus } from '../upstream/types.js';
import type { AssetMetadata } from '../upstream/types.js';
import type { MetadataCache } from './metadata-cache.js';

export interface FrameData {
  id: string;
  index: number;
  collectionId: string;
  extension: string | null;
  /** Epoch ms as a string. */
  createdAt: string | null;
  fileSize: string | null;
}

export interface CollectionData {
  id: string;
  /** Frames sorted by index (parsed from the id, never trusted from the reply order). Shared: never mutate. */
  frames: readonly FrameData[];
  /** The upstream's `total`; larger than `frames.length` when its listing was partial. */
  total: number;
}

export interface AssetData {
  id: string;
  extension: string | null;
  filename: string | null;
  fileSize: string | null;
  uploadStatus: UploadStatus | null;
  createdAt: string | null;
}

export interface Loaders {
  /** `im_` id → collection, or null when the upstream does not know it. */
  collection: DataLoader<string, CollectionData | null>;
  /** `imc_` id → frame, or null. */
  frame: DataLoader<string, FrameData | null>;
  /** `re_` id → asset, or null. */
  asset: DataLoader<string, AssetData | null>;
}

/** `imc_<digits>_<n>` → its collection id and index; null for anything else. */
export function parseFrameId(id: string): { collectionId: string; index: number } | null {
  const match = FRAME_ID_PATTERN.exec(id);
  if (!match) return null;
  return { collectionId: `im_${match[1]}`, index: Number(match[2]) };
}

export function toFrameData(resource: AssetResource, collectionId: string): FrameData | null {
  const parsed = parseFrameId(resource.assetId);
  if (!parsed || parsed.collectionId !== collectionId) return null;
  return {
    id: resource.assetId,
    index: parsed.index,
    collectionId,
    extension: resource.extension,
    createdAt: resource.createTime,
    fileSize: resource.fileSize,
  };
}

export function toAssetData(resource: AssetResource): AssetData {
  return {
    id: resource.assetId,
    extension: resource.extension,
    filename: resource.originalFilename,
    fileSize: resource.fileSize,
    uploadStatus: resource.uploadStatus,
    createdAt: resource.createTime,
  };
}

/** Not-found becomes null (a missing entity); every other failure stays an error for that key only. */
const nullIfNotFound = (error: unknown): null => {
  if (isUpstreamError(error, 'NOT_FOUND')) return null;
  throw error;
};

const settle = <T>(promises: Promise<T>[]) =>
  Promise.all(promises.map((p) => p.catch((error: unknown) => (error instanceof Error ? error : new Error(String(error))))));

interface CollectionIndex {
  byId: Map<string, FrameData>;
  byIndex: Map<number, FrameData>;
}

/** Derived data per metadata reply (weak: it goes when the cache drops the reply). */
const derived = new WeakMap<AssetMetadata, CollectionData>();
/** Lookups per collection object, built on first use (collections built elsewhere, e.g. a lone frame's, get one too). */
const indexes = new WeakMap<CollectionData, CollectionIndex>();

/** The collection a metadata reply of `id` describes: frames of that collection only, sorted by index. Shared. */
export function collectionOf(id: string, reply: AssetMetadata): CollectionData {
  const known = derived.get(reply);
  if (known?.id === id) return known;
  const frames = reply.resources
    .map((r) => toFrameData(r, id))
    .filter((f): f is FrameData => f !== null)
    .sort((a, b) => a.index - b.index);
  // Not frozen: @apollo/subgraph defines `__typename` on what resolveReference returns (the same value every time).
  const collection: CollectionData = { id, frames, total: reply.total };
  derived.set(reply, collection);
  return collection;
}

function indexOf(collection: CollectionData): CollectionIndex {
  let index = indexes.get(collection);
  if (!index) {
    index = { byId: new Map(), byIndex: new Map() };
    for (const f of collection.frames) {
      index.byId.set(f.id, f);
      index.byIndex.set(f.index, f);
    }
    indexes.set(collection, index);
  }
  return index;
}

/** The collection's frame with this id, or null (O(1) after the collection's first lookup). */
export function frameById(collection: CollectionData, id: string): FrameData | null {
  return indexOf(collection).byId.get(id) ?? null;
}

/** The collection's frame at `index`, or null (O(1) after the collection's first lookup). */
export function frameAtIndex(collection: CollectionData, index: number): FrameData | null {
  return indexOf(collection).byIndex.get(index) ?? null;
}

const newCollectionLoader = (metadata: MetadataCache) =>
  new DataLoader<string, CollectionData | null>(async (ids) =>
    settle(
      ids.map(async (id) => {
        const reply = await metadata.get(id).catch(nullIfNotFound);
        return reply ? collectionOf(id, reply) : null;
      }),
    ),
  );

// Through the collection loader (cached per operation), so N frames of one collection share one lookup.
const newFrameLoader = (collections: () => Loaders['collection']) =>
  new DataLoader<string, FrameData | null>(async (ids) =>
    settle(
      ids.map(async (id) => {
        const parsed = parseFrameId(id);
        if (!parsed) return null;
        const collection = await collections().load(parsed.collectionId);
        return collection ? frameById(collection, id) : null;
      }),
    ),
  );

const newAssetLoader = (metadata: MetadataCache) =>
  new DataLoader<string, AssetData | null>(async (ids) =>
    settle(
      ids.map(async (id) => {
        const reply = await metadata.get(id).catch(nullIfNotFound);
        const resource = reply?.resources.find((r) => r.assetId === id) ?? reply?.resources[0];
        return resource ? toAssetData(resource) : null;
      }),
    ),
  );

/**
 * A fresh set of loaders, each built on first use: most operations touch one or none of them (a task query, a
 * mutation), and the context is built for every operation.
 */
/** What each operation's loaders read from the metadata cache: id → reply, or null when the read failed. */
const reads = new WeakMap<Loaders, Map<string, AssetMetadata | null>>();

/** The metadata replies an operation's loaders read (null: that read failed or found nothing). */
export function metadataReadsOf(loaders: Loaders): ReadonlyMap<string, AssetMetadata | null> {
  return reads.get(loaders) ?? new Map();
}

export function createLoaders(cache: MetadataCache): Loaders {
  const read = new Map<string, AssetMetadata | null>();
  const metadata: MetadataCache = {
    get: (id) =>
      cache.get(id).then(
        (reply) => {
          read.set(id, reply);
          return reply;
        },
        (error: unknown) => {
          read.set(id, null);
          throw error;
        },
      ),
    invalidate: (id) => cache.invalidate(id),
    cached: (id) => cache.cached(id),
    get size() {
      return cache.size;
    },
  };
  let collection: Loaders['collection'] | undefined;
  let frame: Loaders['frame'] | undefined;
  let asset: Loaders['asset'] | undefined;
  const loaders: Loaders = {
    get collection() {
      return (collection ??= newCollectionLoader(metadata));
    },
    get frame() {
      return (frame ??= newFrameLoader(() => loaders.collection));
    },
    get asset() {
      return (asset ??= newAssetLoader(metadata));
    },
  };
  reads.set(loaders, read);
  return loaders;
}
