/**
 * The shared metadata cache: immutable ids (im_, imc_) kept until evicted, re_ assets kept briefly (2 s while the
 * upload is in progress, 60 s once settled), failures never kept, concurrent lookups coalesced.
 *
 * Clock: lru-cache reads the `performance` object it captured at import, which vitest's fake timers replace rather
 * than patch. So only timers and Date are faked, and that original `performance.now` is driven from the fake Date.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createMetadataCache, type MetadataCacheOptions } from '../../../src/loaders/metadata-cache.js';
import type { UpstreamClient } from '../../../src/upstream/client.js';
import { UpstreamError } from '../../../src/upstream/errors.js';
import type { AssetMetadata, UploadStatus } from '../../../src/upstream/types.js';
import { createDeferred } from '../../helpers/deferred.js';

const ASSET = 're_657739295220518912';
const COLLECTION = 'im_666914042514116608';
const FRAME = 'imc_666914042514116608_0';

interface FakeClient {
  client: UpstreamClient;
  /** Ids of every getMetadata call, in order. */
  calls: { id: string }[];
}

/** A fake client whose getMetadata answers with `answer(id, callNumber)`; every other method fails the test. */
function fakeClient(answer: (id: string, call: number) => AssetMetadata | Promise<AssetMetadata>): FakeClient {
  const calls: FakeClient['calls'] = [];
  const unexpected = (name: string) => () => Promise.reject(new Error(`unexpected ${name} call`));
  const client: UpstreamClient = {
    getMetadata: async (id) => {
      calls.push({ id });
      return answer(id, calls.length);
    },
    extractFrames: unexpected('extractFrames'),
    upload: unexpected('upload'),
    createSignedUpload: unexpected('createSignedUpload'),
    download: unexpected('download'),
    deleteAsset: unexpected('deleteAsset'),
  };
  return { client, calls };
}

function asset(status: UploadStatus, id = ASSET): AssetMetadata {
  return {
    total: 1,
    resources: [
      {
        assetId: id,
        extension: 'mp4',
        originalFilename: 'clip.mp4',
        fileSize: '1024',
        uploadStatus: status,
        createTime: '1766989317192',
        modifyTime: '1766989317192',
      },
    ],
  };
}

function collection(listed: number, total = listed): AssetMetadata {
  const digits = COLLECTION.slice(3);
  return {
    total,
    resources: Array.from({ length: listed }, (_, n) => ({
      assetId: `imc_${digits}_${n}`,
      extension: 'jpg',
      originalFilename: null,
      fileSize: '600',
      uploadStatus: 'SUCCESS' as const,
      createTime: null,
      modifyTime: null,
    })),
  };
}

const statusOf = (metadata: AssetMetadata) => metadata.resources[0]?.uploadStatus;

function cacheWith(fake: FakeClient, options: Omit<MetadataCacheOptions, 'client'> = {}) {
  return createMetadataCache({ client: fake.client, ...options });
}

beforeEach(() => {
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'Date'] });
  vi.spyOn(performance, 'now').mockImplementation(() => Date.now());
});
afterEach(() => {
  vi.restoreAllMocks();
  vi.useRealTimers();
});

describe('createMetadataCache: time to live', () => {
  it('keeps im_ collections and imc_ frames until evicted, however long', async () => {
    const fake = fakeClient((id) => (id === COLLECTION ? collection(3) : { total: 1, resources: collection(1).resources }));
    const cache = cacheWith(fake);
    await cache.get(COLLECTION);
    await cache.get(FRAME);
    vi.advanceTimersByTime(30 * 24 * 3600 * 1000);
    expect((await cache.get(COLLECTION)).total).toBe(3);
    await cache.get(FRAME);
    expect(fake.calls.map((c) => c.id)).toEqual([COLLECTION, FRAME]);
  });

  it('keeps a re_ asset still WAITING for 2 s only (default pendingAssetTtlMs), so a re-query sees the new status', async () => {
    const fake = fakeClient((_id, call) => asset(call === 1 ? 'WAITING' : 'SUCCESS'));
    const cache = cacheWith(fake);
    expect(statusOf(await cache.get(ASSET))).toBe('WAITING');
    vi.advanceTimersByTime(1_999);
    expect(statusOf(await cache.get(ASSET))).toBe('WAITING');
    expect(fake.calls).toHaveLength(1);
    vi.advanceTimersByTime(2);
    expect(statusOf(await cache.get(ASSET))).toBe('SUCCESS');
    expect(fake.calls).toHaveLength(2);
  });

  it('treats UPLOADING like WAITING (pending TTL)', async () => {
    const fake = fakeClient((_id, call) => asset(call === 1 ? 'UPLOADING' : 'FAILED'));
    const cache = cacheWith(fake);
    await cache.get(ASSET);
    vi.advanceTimersByTime(2_001);
    expect(statusOf(await cache.get(ASSET))).toBe('FAILED');
    expect(fake.calls).toHaveLength(2);
  });

  it.each<UploadStatus>(['SUCCESS', 'FAILED'])('keeps a settled (%s) re_ asset for 60 s (default settledAssetTtlMs)', async (status) => {
    const fake = fakeClient(() => asset(status));
    const cache = cacheWith(fake);
    await cache.get(ASSET);
    vi.advanceTimersByTime(59_999);
    await cache.get(ASSET);
    expect(fake.calls).toHaveLength(1);
    vi.advanceTimersByTime(2);
    await cache.get(ASSET);
    expect(fake.calls).toHaveLength(2);
  });

  it('honours explicit pendingAssetTtlMs / settledAssetTtlMs', async () => {
    const fake = fakeClient((_id, call) => asset(call === 1 ? 'WAITING' : 'SUCCESS'));
    const cache = cacheWith(fake, { pendingAssetTtlMs: 100, settledAssetTtlMs: 500 });
    await cache.get(ASSET);
    vi.advanceTimersByTime(101);
    expect(statusOf(await cache.get(ASSET))).toBe('SUCCESS');
    vi.advanceTimersByTime(499);
    await cache.get(ASSET);
    expect(fake.calls).toHaveLength(2);
    vi.advanceTimersByTime(2);
    await cache.get(ASSET);
    expect(fake.calls).toHaveLength(3);
  });

  it('keeps a partial im_ listing (total > listed) only for the pending TTL, then gets the full one', async () => {
    const fake = fakeClient((_id, call) => (call === 1 ? collection(2, 5) : collection(5)));
    const cache = cacheWith(fake);
    expect((await cache.get(COLLECTION)).resources).toHaveLength(2);
    vi.advanceTimersByTime(2_001);
    expect((await cache.get(COLLECTION)).resources).toHaveLength(5);
    vi.advanceTimersByTime(24 * 3600 * 1000);
    await cache.get(COLLECTION);
    expect(fake.calls).toHaveLength(2);
  });
});

describe('createMetadataCache: failures, coalescing, eviction', () => {
  it('never caches a failure: the next get() asks the upstream again', async () => {
    const fake = fakeClient((_id, call) => {
      if (call === 1) throw new UpstreamError('UPSTREAM_ERROR', 'boom', { status: 500 });
      return collection(1);
    });
    const cache = cacheWith(fake);
    await expect(cache.get(COLLECTION)).rejects.toMatchObject({ kind: 'UPSTREAM_ERROR' });
    expect(cache.size).toBe(0);
    expect((await cache.get(COLLECTION)).total).toBe(1);
    expect(fake.calls).toHaveLength(2);
  });

  it('never caches a NOT_FOUND either (the id may appear later)', async () => {
    const fake = fakeClient((_id, call) => {
      if (call === 1) throw new UpstreamError('NOT_FOUND', 'Asset not found', { status: 400 });
      return asset('SUCCESS');
    });
    const cache = cacheWith(fake);
    await expect(cache.get(ASSET)).rejects.toMatchObject({ kind: 'NOT_FOUND' });
    expect(statusOf(await cache.get(ASSET))).toBe('SUCCESS');
    expect(fake.calls).toHaveLength(2);
  });

  it('answers 100 concurrent get() of one id with ONE client call', async () => {
    const reply = createDeferred<AssetMetadata>();
    const fake = fakeClient(() => reply.promise);
    const cache = cacheWith(fake);
    const pending = Array.from({ length: 100 }, () => cache.get(COLLECTION));
    reply.resolve(collection(500));
    const results = await Promise.all(pending);
    expect(fake.calls).toHaveLength(1);
    expect(new Set(results).size).toBe(1);
    expect(results[0]!.resources).toHaveLength(500);
  });

  it('shares one failing call between concurrent callers, then tries again', async () => {
    const reply = createDeferred<AssetMetadata>();
    const fake = fakeClient((_id, call) => (call === 1 ? reply.promise : collection(1)));
    const cache = cacheWith(fake);
    const pending = Array.from({ length: 10 }, () => cache.get(COLLECTION).then(() => 'ok', (e: unknown) => e));
    reply.reject(new UpstreamError('RATE_LIMITED', 'queue full', { retryAfterSeconds: 2 }));
    const outcomes = await Promise.all(pending);
    expect(outcomes.every((e) => e instanceof UpstreamError && e.kind === 'RATE_LIMITED')).toBe(true);
    expect(fake.calls).toHaveLength(1);
    await cache.get(COLLECTION);
    expect(fake.calls).toHaveLength(2);
  });

  it('drops an id on invalidate() and evicts the least recently used beyond `max`', async () => {
    const fake = fakeClient((id) => asset('SUCCESS', id));
    const cache = cacheWith(fake, { max: 2 });
    await cache.get('re_1');
    await cache.get('re_2');
    await cache.get('re_1'); // re_1 is now the most recently used
    await cache.get('re_3'); // evicts re_2
    expect(cache.size).toBe(2);
    await cache.get('re_1');
    await cache.get('re_2');
    cache.invalidate('re_2');
    await cache.get('re_2');
    expect(fake.calls.map((c) => c.id)).toEqual(['re_1', 're_2', 're_3', 're_2', 're_2']);
  });
});
