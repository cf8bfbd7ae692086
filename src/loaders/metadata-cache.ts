/**
 * Shared (cross-request) metadata cache with in-flight coalescing. Collections (`im_`) and frames (`imc_`) never
 * change once they exist, so they are kept until evicted; `re_` assets are cached briefly (longer once their
 * upload reached a final state), because an upload in progress changes status. Failures are never cached.
 */
import { LRUCache } from 'lru-cache';
import type { UpstreamClient } from '../upstream/client.js';
import type { AssetMetadata } from '../upstream/types.js';

export interface MetadataCacheOptions {
  client: UpstreamClient;
  /** Max cached entries (each holds one metadata reply). */
  max?: number;
  /** TTL for `re_` assets still WAITING/UPLOADING. */
  pendingAssetTtlMs?: number;
  /** TTL for `re_` assets in SUCCESS/FAILED (they can still be deleted upstream). */
  settledAssetTtlMs?: number;
  /** Metrics: how each lookup was answered (cache, a new upstream call, or one already in flight). */
  onLookup?: (result: 'hit' | 'miss' | 'coalesced') => void;
}

export interface MetadataCache {
  get(id: string): Promise<AssetMetadata>;
  /**
   * Drops an id (after an upload or delete through this gateway); a collection (`im_<n>`) takes its frames
   * (`imc_<n>_*`) with it. A read of the id already in flight is not cached when it lands.
   */
  invalidate(id: string): void;
  /**
   * The reply cached for `id` right now, without any upstream call (undefined when none, or it expired). The
   * response cache (http/response-cache.ts) serves an answer only while the replies it was computed from are still
   * these very objects.
   */
  cached(id: string): AssetMetadata | undefined;
  readonly size: number;
}

export function createMetadataCache(options: MetadataCacheOptions): MetadataCache {
  const pendingTtl = options.pendingAssetTtlMs ?? 2_000;
  const settledTtl = options.settledAssetTtlMs ?? 60_000;
  const cache = new LRUCache<string, AssetMetadata>({ max: options.max ?? 5_000 });
  const inFlight = new Map<string, Promise<AssetMetadata>>();

  const ttlFor = (id: string, metadata: AssetMetadata): number | undefined => {
    if (!id.startsWith('re_')) return undefined; // immutable
    const status = metadata.resources[0]?.uploadStatus;
    return status === 'SUCCESS' || status === 'FAILED' ? settledTtl : pendingTtl;
  };

  return {
    get(id) {
      const hit = cache.get(id);
      if (hit) {
        options.onLookup?.('hit');
        return Promise.resolve(hit);
      }
      const pending = inFlight.get(id);
      options.onLookup?.(pending ? 'coalesced' : 'miss');
      if (pending) return pending;
      const promise = options.client
        .getMetadata(id)
        .then((metadata) => {
          // A collection whose listing is still partial is not final yet: cache it briefly only.
          const partial = metadata.total > metadata.resources.length;
          // Invalidated while in flight (deleted meanwhile): answer this caller, keep nothing.
          if (inFlight.get(id) === promise) cache.set(id, metadata, { ttl: partial ? pendingTtl : ttlFor(id, metadata) });
          return metadata;
        })
        .finally(() => {
          if (inFlight.get(id) === promise) inFlight.delete(id);
        });
      inFlight.set(id, promise);
      return promise;
    },
    invalidate(id) {
      cache.delete(id);
      inFlight.delete(id);
      if (!id.startsWith('im_')) return;
      const framePrefix = `imc_${id.slice(3)}_`;
      for (const key of [...cache.keys(), ...inFlight.keys()]) {
        if (key.startsWith(framePrefix)) {
          cache.delete(key);
          inFlight.delete(key);
        }
      }
    },
    cached(id) {
      // A get, not a peek: answers served from the response cache keep their replies recent in this LRU too, and
      // count as the hits they are (frames_metadata_cache_requests_total reads the same with the response cache on).
      const hit = cache.get(id);
      if (hit) options.onLookup?.('hit');
      return hit;
    },
    get size() {
      return cache.size;
    },
  };
}
