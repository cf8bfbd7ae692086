/**
 * The engine's persistent index: assets and collections in memory, saved as one JSON file that is replaced
 * atomically (temp file + rename) on every change. Files live under dataDir/assets, dataDir/collections;
 * dataDir/tmp holds in-flight uploads and extractions and is emptied at start.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, open, readdir, readFile, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import type { AssetRecord, CollectionRecord, EngineLogger } from './types.js';

/** The engine's asset/collection index. */
export interface EngineStore {
  readonly dataDir: string;
  readonly tmpDir: string;
  getAsset(id: string): AssetRecord | undefined;
  getCollection(id: string): CollectionRecord | undefined;
  /** Ids in use (assets and collections), for collision checks. */
  has(id: string): boolean;
  assets(): AssetRecord[];
  /** Inserts or replaces, then persists. */
  putAsset(record: AssetRecord): Promise<void>;
  putCollection(record: CollectionRecord): Promise<void>;
  /** Removes the record and persists; returns the removed record. */
  removeAsset(id: string): Promise<AssetRecord | undefined>;
  removeCollection(id: string): Promise<CollectionRecord | undefined>;
  /** Absolute path of a dataDir-relative file. */
  resolve(relative: string): string;
  /** Resolves once every change so far is on disk. */
  flush(): Promise<void>;
}

const INDEX_FILE = 'index.json';

const assetSchema = z.object({
  id: z.string(),
  originalFilename: z.string(),
  extension: z.string(),
  contentType: z.string(),
  fileSize: z.number(),
  status: z.enum(['WAITING', 'UPLOADING', 'SUCCESS', 'FAILED']),
  kind: z.enum(['video', 'audio', 'image']).nullable(),
  durationSeconds: z.number().nullable(),
  file: z.string(),
  createTime: z.number(),
  modifyTime: z.number(),
  failureReason: z.string().optional(),
  awaitingUpload: z.object({ expiresAt: z.number() }).optional(),
});

const collectionSchema = z.object({
  id: z.string(),
  sourceAssetId: z.string(),
  taskId: z.string(),
  frames: z.array(z.object({ index: z.number(), file: z.string(), size: z.number() })),
  createTime: z.number(),
  modifyTime: z.number(),
});

const indexSchema = z.object({
  version: z.literal(1),
  assets: z.array(z.unknown()),
  collections: z.array(z.unknown()),
});

/** Opens (or creates) the index under `dataDir`, dropping records whose files are gone. */
export async function openStore(dataDir: string, logger: EngineLogger): Promise<EngineStore> {
  const root = path.resolve(dataDir);
  const tmpDir = path.join(root, 'tmp');
  // Leftovers in tmp are uploads/extractions that were mid-flight when the process died: never indexed.
  await rm(tmpDir, { recursive: true, force: true });
  await Promise.all(['assets', 'collections', 'tmp'].map((d) => mkdir(path.join(root, d), { recursive: true })));

  const assets = new Map<string, AssetRecord>();
  const collections = new Map<string, CollectionRecord>();
  await loadIndex(root, assets, collections, logger);
  await sweepUnindexed(root, assets, collections, logger);

  const persist = createPersister(root, () => ({
    version: 1,
    assets: [...assets.values()],
    collections: [...collections.values()],
  }));

  return {
    dataDir: root,
    tmpDir,
    getAsset: (id) => assets.get(id),
    getCollection: (id) => collections.get(id),
    has: (id) => assets.has(id) || collections.has(id),
    assets: () => [...assets.values()],
    putAsset: (record) => {
      assets.set(record.id, record);
      return persist();
    },
    putCollection: (record) => {
      collections.set(record.id, record);
      return persist();
    },
    removeAsset: async (id) => {
      const record = assets.get(id);
      if (record) {
        assets.delete(id);
        await persist();
      }
      return record;
    },
    removeCollection: async (id) => {
      const record = collections.get(id);
      if (record) {
        collections.delete(id);
        await persist();
      }
      return record;
    },
    resolve: (relative) => path.join(root, relative),
    flush: () => persist.settled(),
  };
}

async function loadIndex(
  root: string,
  assets: Map<string, AssetRecord>,
  collections: Map<string, CollectionRecord>,
  logger: EngineLogger,
): Promise<void> {
  let raw: string;
  try {
    raw = await readFile(path.join(root, INDEX_FILE), 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw err;
  }
  const parsed = indexSchema.safeParse(JSON.parse(raw));
  if (!parsed.success) throw new Error(`Engine index ${path.join(root, INDEX_FILE)} is not a valid index`);
  for (const item of parsed.data.assets) {
    const rec = assetSchema.safeParse(item);
    // A signed-url asset has no file until its upload arrives.
    if (rec.success && (rec.data.awaitingUpload || (await exists(path.join(root, rec.data.file))))) assets.set(rec.data.id, rec.data);
    else logger.warn('engine index: dropping an asset whose record or file is broken', { item });
  }
  for (const item of parsed.data.collections) {
    const rec = collectionSchema.safeParse(item);
    if (rec.success) collections.set(rec.data.id, rec.data);
    else logger.warn('engine index: dropping a broken collection record', { item });
  }
}

/** Files renamed into place just before a crash but never indexed, and half-written index temps, are removed. */
async function sweepUnindexed(
  root: string,
  assets: Map<string, AssetRecord>,
  collections: Map<string, CollectionRecord>,
  logger: EngineLogger,
): Promise<void> {
  for (const name of await readdir(root)) {
    if (name.startsWith(`${INDEX_FILE}.`) && name.endsWith('.tmp')) await rm(path.join(root, name), { force: true });
  }
  const assetFiles = new Set([...assets.values()].map((a) => path.basename(a.file)));
  for (const name of await readdir(path.join(root, 'assets'))) {
    if (assetFiles.has(name)) continue;
    logger.warn('engine index: removing an unindexed asset file', { name });
    await rm(path.join(root, 'assets', name), { recursive: true, force: true });
  }
  for (const name of await readdir(path.join(root, 'collections'))) {
    if (collections.has(name)) continue;
    logger.warn('engine index: removing an unindexed collection directory', { name });
    await rm(path.join(root, 'collections', name), { recursive: true, force: true });
  }
}

async function exists(file: string): Promise<boolean> {
  try {
    await stat(file);
    return true;
  } catch {
    return false;
  }
}

/**
 * Serialised, coalescing writer: a call made while a write runs schedules exactly one more write, which
 * snapshots the state when it starts, so every caller's change is on disk when its promise resolves.
 */
function createPersister(root: string, snapshot: () => unknown) {
  let chain: Promise<void> = Promise.resolve();
  let queued: Promise<void> | null = null;
  const persist = () => {
    if (queued) return queued;
    const next = chain.then(() => {
      queued = null;
      return writeAtomically(path.join(root, INDEX_FILE), JSON.stringify(snapshot()));
    });
    queued = next;
    chain = next.catch(() => undefined);
    return next;
  };
  persist.settled = () => chain;
  return persist;
}

async function writeAtomically(file: string, text: string): Promise<void> {
  const tmp = `${file}.${randomBytes(6).toString('hex')}.tmp`;
  const handle = await open(tmp, 'w');
  try {
    await handle.writeFile(text);
    await handle.datasync();
  } finally {
    await handle.close();
  }
  try {
    await rename(tmp, file);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
}
