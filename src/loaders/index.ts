/**
 * Per-operation DataLoaders (new for every GraphQL operation, see context.ts) over the shared metadata cache.
 * A frame is loaded through its collection: N frames of one collection cost one `im_` metadata call.
 */
import DataLoader from 'dataloader';
import { isUpstreamError } from '../upstream/errors.js';
import { FRAME_ID_PATTERN, type AssetResource, type UploadStatus } from '../upstream/types.js';
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
  /** Frames sorted by index (parsed from the id, never trusted from the reply order). */
  frames: FrameData[];
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

export function createLoaders(metadata: MetadataCache): Loaders {
  const frame = new DataLoader<string, FrameData | null>(async (ids) => {
    const byCollection = new Map<string, Promise<CollectionData | null>>();
    return settle(
      ids.map(async (id) => {
        const parsed = parseFrameId(id);
        if (!parsed) return null;
        let collection = byCollection.get(parsed.collectionId);
        if (!collection) {
          collection = collectionLoader.load(parsed.collectionId);
          byCollection.set(parsed.collectionId, collection);
        }
        return (await collection)?.frames.find((f) => f.id === id) ?? null;
      }),
    );
  });

  const collectionLoader = new DataLoader<string, CollectionData | null>(async (ids) =>
    settle(
      ids.map(async (id) => {
        const reply = await metadata.get(id).catch(nullIfNotFound);
        if (!reply) return null;
        const frames = reply.resources
          .map((r) => toFrameData(r, id))
          .filter((f): f is FrameData => f !== null)
          .sort((a, b) => a.index - b.index);
        for (const f of frames) frame.prime(f.id, f);
        return { id, frames, total: reply.total };
      }),
    ),
  );

  const asset = new DataLoader<string, AssetData | null>(async (ids) =>
    settle(
      ids.map(async (id) => {
        const reply = await metadata.get(id).catch(nullIfNotFound);
        const resource = reply?.resources.find((r) => r.assetId === id) ?? reply?.resources[0];
        return resource ? toAssetData(resource) : null;
      }),
    ),
  );

  return { collection: collectionLoader, frame, asset };
}
