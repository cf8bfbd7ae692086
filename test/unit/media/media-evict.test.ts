/** MediaService.evict after an upstream delete: everything of the id goes, a load under way cannot write it back. */
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createDiskCache, type DiskCache } from '../../../src/media/disk-cache.js';
import { createMediaService, type MediaService } from '../../../src/media/media-service.js';
import { createDeferred } from '../../helpers/deferred.js';
import { addCollection, createFakeUpstream, makeTempDir, type FakeUpstream } from './fixtures.js';

let tmp: { dir: string; remove: () => Promise<void> };
let upstream: FakeUpstream;
let cache: DiskCache;
let service: MediaService;

beforeEach(async () => {
  tmp = await makeTempDir('media-evict-');
  upstream = createFakeUpstream();
  cache = createDiskCache({ dir: join(tmp.dir, 'cache'), maxBytes: 64 * 1024 * 1024 });
  service = createMediaService({ client: upstream, cache });
});
afterEach(async () => {
  await service.dispose();
  await cache.dispose();
  await tmp.remove();
});

const cachedKeys = () => {
  const keys: string[] = [];
  for (const id of ['im_9', 'imc_9_0', 'imc_9_1', 'imc_9_2', 'im_91', 'imc_91_0', 're_9']) if (cache.has(id)) keys.push(id);
  return keys;
};

describe('MediaService.evict', () => {
  it("drops a collection's zip and every frame, and nothing of another collection or a video", async () => {
    await addCollection(upstream, '9', 3);
    await addCollection(upstream, '91', 1);
    upstream.assets.set('re_9', { data: Buffer.from('video'), contentType: 'video/mp4' });
    await service.getFrame('imc_9_0');
    await service.getFrame('imc_91_0');
    await service.openVideo('re_9');
    expect(cachedKeys()).toEqual(['im_9', 'imc_9_0', 'imc_9_1', 'imc_9_2', 'im_91', 'imc_91_0', 're_9']);

    await service.evict('im_9');
    expect(cachedKeys()).toEqual(['im_91', 'imc_91_0', 're_9']);
    await service.evict('re_9');
    expect(cachedKeys()).toEqual(['im_91', 'imc_91_0']);
  });

  it('waits for a load of the collection under way, then drops what it wrote', async () => {
    await addCollection(upstream, '9', 3);
    const gate = createDeferred();
    upstream.gate = gate.promise;
    const downloading = createDeferred();
    const download = upstream.download.bind(upstream);
    upstream.download = (id, options) => {
      downloading.resolve();
      return download(id, options);
    };
    const loading = service.getFrame('imc_9_1');
    await downloading.promise; // the zip is on its way when the delete lands
    const evicted = service.evict('im_9');
    gate.resolve();
    await loading;
    await evicted;
    expect(cachedKeys()).toEqual([]);
    expect(cache.stats()).toMatchObject({ entries: 0, bytes: 0 });
  });
});
