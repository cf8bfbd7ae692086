/** Invalidation after a delete: a collection takes its frames along, and a read in flight is not cached when it lands. */
import { describe, expect, it } from 'vitest';
import { createMetadataCache } from '../../../src/loaders/metadata-cache.js';
import type { UpstreamClient } from '../../../src/upstream/client.js';
import type { AssetMetadata } from '../../../src/upstream/types.js';
import { createDeferred, type Deferred } from '../../helpers/deferred.js';

const DIGITS = '666914042514116608';
const COLLECTION = `im_${DIGITS}`;
const FRAME = `imc_${DIGITS}_0`;
const OTHER_FRAME = `imc_${DIGITS}1_0`; // a collection whose digits merely start the same

const reply = (id: string): AssetMetadata => ({
  total: 1,
  resources: [{ assetId: id, extension: 'jpg', originalFilename: null, fileSize: '10', uploadStatus: null, createTime: '1', modifyTime: '1' }],
});

/** getMetadata answers at once, or (ids in `hold`) when the test resolves the deferred it left in `held`, in call order. */
function setup(hold: Set<string> = new Set()) {
  const calls: string[] = [];
  const held: Deferred<AssetMetadata>[] = [];
  const unexpected = () => Promise.reject(new Error('unexpected call'));
  const client: UpstreamClient = {
    getMetadata: (id) => {
      calls.push(id);
      if (!hold.has(id)) return Promise.resolve(reply(id));
      const deferred = createDeferred<AssetMetadata>();
      held.push(deferred);
      return deferred.promise;
    },
    extractFrames: unexpected,
    upload: unexpected,
    createSignedUpload: unexpected,
    download: unexpected,
    deleteAsset: unexpected,
  };
  return { cache: createMetadataCache({ client }), calls, held };
}

describe('MetadataCache.invalidate', () => {
  it("drops a collection's frames with it, and nothing of another collection", async () => {
    const { cache, calls } = setup();
    for (const id of [COLLECTION, FRAME, OTHER_FRAME]) await cache.get(id);
    cache.invalidate(COLLECTION);
    for (const id of [COLLECTION, FRAME, OTHER_FRAME]) await cache.get(id);
    expect(calls).toEqual([COLLECTION, FRAME, OTHER_FRAME, COLLECTION, FRAME]);
  });

  it('does not cache a read that was in flight when the id was invalidated', async () => {
    const { cache, calls, held } = setup(new Set([COLLECTION]));
    const early = cache.get(COLLECTION);
    cache.invalidate(COLLECTION);
    const late = cache.get(COLLECTION); // a new read, not the stale one
    held[0]!.resolve(reply(COLLECTION));
    await expect(early).resolves.toEqual(reply(COLLECTION));
    expect(calls).toEqual([COLLECTION, COLLECTION]);
    expect(cache.size).toBe(0);
    held[1]!.resolve(reply(COLLECTION));
    await late;
    expect(cache.size).toBe(1);
  });
});
