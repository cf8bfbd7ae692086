/**
 * Derived collection data (loaders/index.ts): computed once per cached metadata reply and shared by every
 * operation's loaders; frame lookups by id and by index read an index, not the frame list; a reply the cache
 * replaced derives anew. The metadata cache here is a plain map, so each test decides which reply object is cached.
 */
import { describe, expect, it } from 'vitest';
import { collectionOf, createLoaders, frameAtIndex, frameById, type CollectionData } from '../../../src/loaders/index.js';
import type { MetadataCache } from '../../../src/loaders/metadata-cache.js';
import { UpstreamError } from '../../../src/upstream/errors.js';
import type { AssetMetadata } from '../../../src/upstream/types.js';

const DIGITS = '666914042514116608';
const COLLECTION = `im_${DIGITS}`;

/** A reply listing `indexes` in that order (plus, optionally, a frame of another collection). */
function reply(indexes: number[], options: { stranger?: boolean; total?: number } = {}): AssetMetadata {
  const resource = (assetId: string) => ({
    assetId,
    extension: 'jpg',
    originalFilename: null,
    fileSize: '600',
    uploadStatus: 'SUCCESS' as const,
    createTime: '1766989317192',
    modifyTime: null,
  });
  const resources = indexes.map((n) => resource(`imc_${DIGITS}_${n}`));
  if (options.stranger) resources.splice(1, 0, resource('imc_123_0'));
  return { total: options.total ?? indexes.length, resources };
}

function mapCache(entries: Record<string, AssetMetadata>): MetadataCache & { reads: string[]; entries: Record<string, AssetMetadata> } {
  const reads: string[] = [];
  return {
    reads,
    entries,
    get: async (id) => {
      reads.push(id);
      const found = entries[id];
      if (!found) throw new UpstreamError('NOT_FOUND', `${id} not found`);
      return found;
    },
    invalidate: (id) => {
      delete entries[id];
    },
    cached: (id) => entries[id],
    get size() {
      return Object.keys(entries).length;
    },
  };
}

describe('collectionOf', () => {
  it('sorts frames by the index in their ids and drops frames of other collections', () => {
    const c = collectionOf(COLLECTION, reply([3, 0, 2, 1], { stranger: true }));
    expect(c.frames.map((f) => f.index)).toEqual([0, 1, 2, 3]);
    expect(c.frames.every((f) => f.collectionId === COLLECTION)).toBe(true);
    expect(c.total).toBe(4);
  });

  it('derives a reply once: the same object for the same reply, a new one for a new reply', () => {
    const first = reply([1, 0]);
    expect(collectionOf(COLLECTION, first)).toBe(collectionOf(COLLECTION, first));
    const replaced = reply([1, 0, 2]);
    expect(collectionOf(COLLECTION, replaced)).not.toBe(collectionOf(COLLECTION, first));
    expect(collectionOf(COLLECTION, replaced).frames).toHaveLength(3);
  });
});

describe('frameById / frameAtIndex', () => {
  it('finds frames by id and by index, null for ones the collection does not have', () => {
    const c = collectionOf(COLLECTION, reply([4, 0, 7]));
    expect(frameById(c, `imc_${DIGITS}_7`)?.index).toBe(7);
    expect(frameAtIndex(c, 4)?.id).toBe(`imc_${DIGITS}_4`);
    expect(frameById(c, `imc_${DIGITS}_5`)).toBeNull();
    expect(frameAtIndex(c, 5)).toBeNull();
    expect(frameAtIndex(c, -1)).toBeNull();
  });

  it('reads the frame list once to build its index, never again per lookup', () => {
    const frames = collectionOf(COLLECTION, reply(Array.from({ length: 500 }, (_, n) => n))).frames;
    let reads = 0;
    const counted = new Proxy(frames as CollectionData['frames'][number][], {
      get(target, key, receiver) {
        if (typeof key === 'string' && /^\d+$/.test(key)) reads++;
        return Reflect.get(target, key, receiver);
      },
    });
    const c: CollectionData = { id: COLLECTION, frames: counted, total: 500 };
    frameAtIndex(c, 0);
    const afterIndex = reads;
    expect(afterIndex).toBe(500);
    for (let n = 0; n < 500; n++) {
      expect(frameAtIndex(c, n)?.index).toBe(n);
      expect(frameById(c, `imc_${DIGITS}_${n}`)?.index).toBe(n);
    }
    expect(reads).toBe(afterIndex);
  });
});

describe('createLoaders over shared derived data', () => {
  it('hands every operation the same collection and frame objects for one cached reply', async () => {
    const cache = mapCache({ [COLLECTION]: reply([2, 0, 1]) });
    const a = createLoaders(cache);
    const b = createLoaders(cache);
    const [ca, cb] = await Promise.all([a.collection.load(COLLECTION), b.collection.load(COLLECTION)]);
    expect(ca).toBe(cb);
    expect(await b.frame.load(`imc_${DIGITS}_1`)).toBe(ca!.frames[1]);
  });

  it('loads frames through their collection once per operation; unknown frames and collections are null', async () => {
    const cache = mapCache({ [COLLECTION]: reply([0, 1, 2]) });
    const loaders = createLoaders(cache);
    const frames = await Promise.all([0, 1, 2, 9].map((n) => loaders.frame.load(`imc_${DIGITS}_${n}`)));
    expect(frames.map((f) => f?.index ?? null)).toEqual([0, 1, 2, null]);
    expect(await loaders.frame.load('imc_42_0')).toBeNull();
    expect(await loaders.collection.load('im_42')).toBeNull();
    expect(cache.reads).toEqual([COLLECTION, 'im_42']);
  });

  it('follows the cache: once it holds a new reply (a partial listing re-read), the next operation sees it', async () => {
    const cache = mapCache({ [COLLECTION]: reply([0], { total: 2 }) });
    expect((await createLoaders(cache).collection.load(COLLECTION))?.frames).toHaveLength(1);
    cache.entries[COLLECTION] = reply([1, 0]);
    const later = await createLoaders(cache).collection.load(COLLECTION);
    expect(later?.frames.map((f) => f.index)).toEqual([0, 1]);
    expect(frameAtIndex(later!, 1)?.id).toBe(`imc_${DIGITS}_1`);
  });

  it('builds each loader on first use and keeps it for the operation', () => {
    const loaders = createLoaders(mapCache({}));
    expect(loaders.frame).toBe(loaders.frame);
    expect(loaders.collection).toBe(loaders.collection);
    expect(loaders.asset).toBe(loaders.asset);
  });
});
