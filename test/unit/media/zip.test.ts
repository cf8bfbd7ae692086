import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createDiskCache, type DiskCache } from '../../../src/media/disk-cache.js';
import { planFrameEntries, splitCollectionZip } from '../../../src/media/zip.js';
import { buildZip, collectionFrames, fakeJpeg, makeTempDir } from './fixtures.js';

describe('planFrameEntries', () => {
  it('maps entries whose base name is exactly the frame id, in any folder and with any extension', () => {
    const plan = planFrameEntries(
      ['frames/', 'frames/imc_7_0.jpg', 'imc_7_1.PNG', 'nested\\dir\\imc_7_2.webp', 'manifest.json'],
      'im_7',
      ['imc_7_0', 'imc_7_1', 'imc_7_2'],
    );
    expect(plan).toEqual({
      matched: true,
      frames: new Map([
        ['imc_7_0', { index: 1, extension: 'jpg' }],
        ['imc_7_1', { index: 2, extension: 'PNG' }],
        ['imc_7_2', { index: 3, extension: 'webp' }],
      ]),
      ignored: ['manifest.json'],
    });
  });

  it('is unmatched when an expected frame has no entry', () => {
    const plan = planFrameEntries(['frame_000.jpg', 'frame_001.jpg'], 'im_7', ['imc_7_0']);
    expect(plan).toEqual({ matched: false, reason: 'no entry for expected frame imc_7_0' });
  });

  it('is unmatched when two entries claim the same frame', () => {
    expect(planFrameEntries(['imc_7_0.jpg', 'imc_7_0.png'], 'im_7', []).matched).toBe(false);
    expect(planFrameEntries(['a/imc_7_0.jpg', 'b/imc_7_0.jpg'], 'im_7', []).matched).toBe(false);
  });

  it('is unmatched on look-alike names of the same collection', () => {
    expect(planFrameEntries(['imc_7_0.jpg', 'imc_7_01.jpg'], 'im_7', ['imc_7_0']).matched).toBe(false);
    expect(planFrameEntries(['IMC_7_1.jpg'], 'im_7', []).matched).toBe(false);
    expect(planFrameEntries(['imc_007_1.jpg'], 'im_7', []).matched).toBe(false);
  });

  it('ignores frames of another collection and never maps them', () => {
    const plan = planFrameEntries(['imc_7_0.jpg', 'imc_8_1.jpg'], 'im_7', ['imc_7_0']);
    expect(plan).toMatchObject({ matched: true, ignored: ['imc_8_1.jpg'] });
    expect(plan.matched && [...plan.frames.keys()]).toEqual(['imc_7_0']);
    expect(planFrameEntries(['imc_8_1.jpg'], 'im_7', ['imc_8_1']).matched).toBe(false);
  });

  it('never treats a path-traversal name as anything but a name', () => {
    const plan = planFrameEntries(['../../etc/imc_7_0.jpg'], 'im_7', ['imc_7_0']);
    expect(plan.matched && plan.frames.get('imc_7_0')).toEqual({ index: 0, extension: 'jpg' });
  });
});

describe('splitCollectionZip', () => {
  let tmp: { dir: string; remove: () => Promise<void> };
  let cache: DiskCache;

  beforeEach(async () => {
    tmp = await makeTempDir('zip-');
    cache = createDiskCache({ dir: join(tmp.dir, 'cache'), maxBytes: 10 * 1024 * 1024 });
  });

  afterEach(async () => {
    await cache.dispose();
    await tmp.remove();
  });

  async function zipFile(entries: { name: string; data: Buffer }[]): Promise<string> {
    const path = join(tmp.dir, 'collection.zip');
    await writeFile(path, await buildZip(entries));
    return path;
  }

  it('caches every certainly-named frame with its own bytes and content type', async () => {
    const frames = collectionFrames('42', 20);
    const zipPath = await zipFile([
      ...frames.map((f, i) => ({ name: `${f.id}.${i === 3 ? 'png' : i === 4 ? 'webp' : 'jpg'}`, data: f.data })),
      { name: 'README.txt', data: Buffer.from('hi') },
    ]);
    const result = await splitCollectionZip({
      zipPath,
      collectionId: 'im_42',
      expectedFrameIds: frames.map((f) => f.id),
      cache,
    });
    expect(result.matched).toBe(true);
    if (!result.matched) return;
    expect(result.ignored).toEqual(['README.txt']);
    for (const [i, f] of frames.entries()) {
      const entry = await cache.get(f.id);
      expect(entry).toEqual(result.frames.get(f.id));
      expect(await readFile(entry!.path)).toEqual(f.data);
    }
    expect(result.frames.get('imc_42_0')).toMatchObject({ contentType: 'image/jpeg', filename: 'imc_42_0.jpg' });
    expect(result.frames.get('imc_42_3')).toMatchObject({ contentType: 'image/png', filename: 'imc_42_3.png' });
    expect(result.frames.get('imc_42_4')).toMatchObject({ contentType: 'image/webp', filename: 'imc_42_4.webp' });
  });

  it('returns matched:false and caches nothing when names cannot be mapped', async () => {
    const zipPath = await zipFile([
      { name: 'frame_0000.jpg', data: fakeJpeg(0) },
      { name: 'frame_0001.jpg', data: fakeJpeg(1) },
    ]);
    const result = await splitCollectionZip({
      zipPath,
      collectionId: 'im_42',
      expectedFrameIds: ['imc_42_0', 'imc_42_1'],
      cache,
    });
    expect(result).toEqual({ matched: false, reason: 'no entry for expected frame imc_42_0' });
    expect(cache.stats().entries).toBe(0);
  });

  it('returns matched:false on duplicate entries for one frame', async () => {
    const zipPath = await zipFile([
      { name: 'imc_42_0.jpg', data: fakeJpeg('a') },
      { name: 'imc_42_0.jpg', data: fakeJpeg('b') },
    ]);
    const result = await splitCollectionZip({ zipPath, collectionId: 'im_42', expectedFrameIds: [], cache });
    expect(result).toEqual({ matched: false, reason: 'duplicate entries for imc_42_0' });
    expect(cache.stats().entries).toBe(0);
  });

  it('skips an entry of a different collection', async () => {
    const zipPath = await zipFile([
      { name: 'imc_42_0.jpg', data: fakeJpeg('mine') },
      { name: 'imc_43_1.jpg', data: fakeJpeg('theirs') },
    ]);
    const result = await splitCollectionZip({ zipPath, collectionId: 'im_42', expectedFrameIds: ['imc_42_0'], cache });
    expect(result).toMatchObject({ matched: true, ignored: ['imc_43_1.jpg'] });
    expect(cache.has('imc_43_1')).toBe(false);
    expect(await readFile((await cache.get('imc_42_0'))!.path)).toEqual(fakeJpeg('mine'));
  });

  it('refuses archives beyond the size and entry-count caps', async () => {
    const frames = collectionFrames('42', 3);
    const zipPath = await zipFile(frames.map((f) => ({ name: `${f.id}.jpg`, data: f.data })));
    const total = frames.reduce((sum, f) => sum + f.data.length, 0);
    const tooBig = await splitCollectionZip({
      zipPath,
      collectionId: 'im_42',
      expectedFrameIds: [],
      cache,
      limits: { maxTotalBytes: total - 1 },
    });
    expect(tooBig).toEqual({ matched: false, reason: `frames exceed ${total - 1} bytes in total` });
    const entryTooBig = await splitCollectionZip({
      zipPath,
      collectionId: 'im_42',
      expectedFrameIds: [],
      cache,
      limits: { maxEntryBytes: 4 },
    });
    expect(entryTooBig.matched).toBe(false);
    const tooMany = await splitCollectionZip({
      zipPath,
      collectionId: 'im_42',
      expectedFrameIds: [],
      cache,
      limits: { maxEntries: 2 },
    });
    expect(tooMany).toEqual({ matched: false, reason: 'zip has 3 entries (limit 2)' });
    expect(cache.stats().entries).toBe(0);
  });

  it('stops at an entry that inflates past its declared size (zip bomb) and drops what it cached', async () => {
    const zip = await buildZip([
      { name: 'imc_42_0.jpg', data: fakeJpeg(0) },
      { name: 'imc_42_1.jpg', data: Buffer.alloc(100_000) },
    ]);
    // Lie in the central directory: declare 10 uncompressed bytes for the second entry.
    const central = zip.lastIndexOf(Buffer.from([0x50, 0x4b, 0x01, 0x02]));
    zip.writeUInt32LE(10, central + 24);
    const zipPath = join(tmp.dir, 'bomb.zip');
    await writeFile(zipPath, zip);
    const result = await splitCollectionZip({ zipPath, collectionId: 'im_42', expectedFrameIds: [], cache });
    expect(result.matched).toBe(false);
    expect(!result.matched && result.reason).toMatch(/^extraction failed/);
    expect(cache.stats().entries).toBe(0);
  });

  it('returns matched:false for a file that is not a zip', async () => {
    const zipPath = join(tmp.dir, 'not.zip');
    await writeFile(zipPath, '{"code":500,"msg":"internal error"}');
    const result = await splitCollectionZip({ zipPath, collectionId: 'im_42', expectedFrameIds: [], cache });
    expect(result.matched).toBe(false);
  });

  it('rethrows ENOENT so the caller can tell a vanished cache file from a bad zip', async () => {
    await expect(
      splitCollectionZip({ zipPath: join(tmp.dir, 'gone.zip'), collectionId: 'im_42', expectedFrameIds: [], cache }),
    ).rejects.toMatchObject({ code: 'ENOENT' });
  });
});
