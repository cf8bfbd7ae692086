import { createHash } from 'node:crypto';
import { readdir, readFile, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ContentTooLargeError, createDiskCache, type DiskCache } from '../../../src/media/disk-cache.js';
import { makeTempDir } from './fixtures.js';

let tmp: { dir: string; remove: () => Promise<void> };
const caches: DiskCache[] = [];

function open(maxBytes = 1024 * 1024): DiskCache {
  const cache = createDiskCache({ dir: tmp.dir, maxBytes });
  caches.push(cache);
  return cache;
}

const bytes = (text: string) => Buffer.from(text);
const quotedSha256 = (data: Buffer) => `"${createHash('sha256').update(data).digest('base64url')}"`;

beforeEach(async () => {
  tmp = await makeTempDir('disk-cache-');
});

afterEach(async () => {
  await Promise.all(caches.splice(0).map((c) => c.dispose()));
  await tmp.remove();
});

describe('createDiskCache', () => {
  it('stores a buffer and returns its entry with size, strong ETag and metadata', async () => {
    const cache = open();
    const data = bytes('hello frame');
    const put = await cache.put('imc_1_0', data, { contentType: 'image/jpeg', filename: 'imc_1_0.jpg' });
    expect(put).toEqual({
      key: 'imc_1_0',
      path: join(tmp.dir, 'imc_1_0.data'),
      size: data.length,
      etag: quotedSha256(data),
      contentType: 'image/jpeg',
      filename: 'imc_1_0.jpg',
    });
    expect(await readFile(put.path)).toEqual(data);
    expect(await cache.get('imc_1_0')).toEqual(put);
    expect(await cache.get('imc_1_1')).toBeNull();
    expect(cache.stats()).toEqual({ entries: 1, bytes: data.length, hits: 1, misses: 1 });
  });

  it('streams web ReadableStreams and async iterables', async () => {
    const cache = open();
    const web = new ReadableStream<Uint8Array>({
      start(c) {
        c.enqueue(bytes('ab'));
        c.enqueue(bytes('cd'));
        c.close();
      },
    });
    async function* chunks() {
      yield bytes('12');
      yield bytes('34');
    }
    const a = await cache.put('a', web, { contentType: 'text/plain' });
    const b = await cache.put('b', chunks(), { contentType: 'text/plain' });
    expect(await readFile(a.path, 'utf8')).toBe('abcd');
    expect(await readFile(b.path, 'utf8')).toBe('1234');
    expect(a.filename).toBeNull();
  });

  it('evicts the least recently used entries to stay under maxBytes', async () => {
    const cache = open(30);
    const meta = { contentType: 'application/octet-stream' };
    await cache.put('a', Buffer.alloc(10, 1), meta);
    await cache.put('b', Buffer.alloc(10, 2), meta);
    await cache.put('c', Buffer.alloc(10, 3), meta);
    await cache.get('a'); // a is now the most recently used
    await cache.put('d', Buffer.alloc(10, 4), meta);
    expect(cache.has('b')).toBe(false);
    expect(['a', 'c', 'd'].every((k) => cache.has(k))).toBe(true);
    expect(cache.stats()).toMatchObject({ entries: 3, bytes: 30 });
    const files = await readdir(tmp.dir);
    expect(files.filter((f) => f.startsWith('b.'))).toEqual([]);
  });

  it('does not cache entries larger than maxBytes and leaves no file', async () => {
    const cache = open(8);
    const put = cache.put('big', Buffer.alloc(9), { contentType: 'x/y' });
    await expect(put).rejects.toBeInstanceOf(ContentTooLargeError);
    expect(cache.has('big')).toBe(false);
    expect((await readdir(tmp.dir)).filter((f) => f !== '.tmp')).toEqual([]);
    expect(await readdir(join(tmp.dir, '.tmp'))).toEqual([]);
  });

  it('leaves no half-written file when the source stream errors', async () => {
    const cache = open();
    async function* broken() {
      yield bytes('partial bytes');
      throw new Error('connection reset');
    }
    await expect(cache.put('imc_1_0', broken(), { contentType: 'image/jpeg' })).rejects.toThrow('connection reset');
    expect(await cache.get('imc_1_0')).toBeNull();
    expect((await readdir(tmp.dir)).filter((f) => f !== '.tmp')).toEqual([]);
    expect(await readdir(join(tmp.dir, '.tmp'))).toEqual([]);
  });

  it('rebuilds its index from disk after a restart, oldest first', async () => {
    const first = open();
    const a = await first.put('a', bytes('aaaa'), { contentType: 'image/png', filename: 'a.png' });
    const b = await first.put('b', bytes('bbbb'), { contentType: 'image/jpeg' });
    await first.dispose();
    // Make "b" older than "a" on disk: it must be evicted first after the restart.
    await utimes(b.path, new Date(1_000_000), new Date(1_000_000));

    const second = open(1024);
    expect(await second.get('a')).toEqual(a);
    expect(await second.get('b')).toEqual(b);
    expect(second.stats()).toMatchObject({ entries: 2, bytes: 8 });

    await second.dispose();
    await utimes(b.path, new Date(1_000_000), new Date(1_000_000));
    const third = open(4);
    await third.ready();
    expect(third.has('a')).toBe(true);
    expect(third.has('b')).toBe(false);
  });

  it('drops orphans, corrupt sidecars and leftover temp files on start', async () => {
    const first = open();
    await first.put('good', bytes('good'), { contentType: 'image/jpeg' });
    await first.dispose();
    await writeFile(join(tmp.dir, 'orphan.data'), 'no sidecar');
    await writeFile(join(tmp.dir, 'corrupt.data'), 'x');
    await writeFile(join(tmp.dir, 'corrupt.meta.json'), '{not json');
    await writeFile(join(tmp.dir, 'short.data'), 'x');
    await writeFile(
      join(tmp.dir, 'short.meta.json'),
      JSON.stringify({ key: 'short', size: 99, etag: '"x"', contentType: 'a/b', filename: null }),
    );
    await writeFile(join(tmp.dir, '.tmp', 'half-written'), 'partial');

    const second = open();
    await second.ready();
    expect(second.stats()).toMatchObject({ entries: 1 });
    expect((await readdir(tmp.dir)).sort()).toEqual(['.tmp', 'good.data', 'good.meta.json']);
    expect(await readdir(join(tmp.dir, '.tmp'))).toEqual([]);
  });

  it('moves complete files in with putFile, or deletes them when too large', async () => {
    const cache = open(10);
    await cache.ready();
    const small = join(cache.tmpDir, 'small');
    const large = join(cache.tmpDir, 'large');
    await writeFile(small, 'zipbytes');
    await writeFile(large, 'x'.repeat(11));
    const entry = await cache.putFile('im_1', small, { contentType: 'application/zip', filename: 'im_1.zip' });
    expect(entry).toMatchObject({ key: 'im_1', size: 8, etag: quotedSha256(bytes('zipbytes')) });
    expect(await readFile(join(tmp.dir, 'im_1.data'), 'utf8')).toBe('zipbytes');
    expect(await cache.putFile('im_2', large, { contentType: 'application/zip' })).toBeNull();
    expect(await readdir(cache.tmpDir)).toEqual([]);
  });

  it('replaces an entry written twice without double-counting its bytes', async () => {
    const cache = open();
    await Promise.all([
      cache.put('imc_1_0', bytes('same'), { contentType: 'image/jpeg' }),
      cache.put('imc_1_0', bytes('same'), { contentType: 'image/jpeg' }),
    ]);
    expect(cache.stats()).toMatchObject({ entries: 1, bytes: 4 });
  });

  it('deletes entries and rejects keys that are not plain ids', async () => {
    const cache = open();
    await cache.put('k', bytes('v'), { contentType: 'text/plain' });
    expect(await cache.delete('k')).toBe(true);
    expect(await cache.get('k')).toBeNull();
    for (const key of ['../escape', 'a/b', '', 'x.json', '.tmp']) {
      await expect(cache.get(key)).rejects.toBeInstanceOf(RangeError);
      await expect(cache.put(key, bytes('v'), { contentType: 'text/plain' })).rejects.toBeInstanceOf(RangeError);
    }
  });
  it('never evicts protected entries and refuses a write that cannot fit beside them', async () => {
    const cache = open(10);
    const meta = { contentType: 'image/jpeg' };
    await cache.put('imc_1_0', bytes('aaaa'), meta);
    await cache.put('imc_2_0', bytes('bbbb'), meta);
    const release = cache.protect((key) => key.startsWith('imc_1_'));
    // Over budget: the unprotected entry goes, although the protected one is older.
    await cache.put('imc_1_1', bytes('cccc'), meta);
    expect([cache.has('imc_1_0'), cache.has('imc_2_0'), cache.has('imc_1_1')]).toEqual([true, false, true]);
    // 8 protected bytes: 4 more would exceed 10, and nothing may be evicted to make room.
    await expect(cache.put('imc_1_2', bytes('dddd'), meta)).rejects.toBeInstanceOf(ContentTooLargeError);
    const file = join(tmp.dir, 'zip.tmp');
    await writeFile(file, 'zzzz');
    expect(await cache.putFile('im_1', file, meta)).toBeNull();
    expect(await readdir(tmp.dir).then((names) => names.filter((n) => !n.startsWith('.')).sort())).toEqual([
      'imc_1_0.data',
      'imc_1_0.meta.json',
      'imc_1_1.data',
      'imc_1_1.meta.json',
    ]);
    expect(await readdir(join(tmp.dir, '.tmp'))).toEqual([]);
    release();
    await cache.put('imc_1_2', bytes('dddd'), meta);
    expect([cache.has('imc_1_0'), cache.has('imc_1_1'), cache.has('imc_1_2')]).toEqual([false, true, true]);
  });
});
