/**
 * The single-instance {@link OwnershipStore}: maps in this process (the embedded default, or no REDIS_URL). Same
 * contract as the Redis store (one shared suite): first owner wins, newest-first lists with opaque cursors, tasks
 * expiring `retentionMs.task` after their last claim.
 */
import {
  checkFirst,
  decodeCursor,
  encodeCursor,
  listsBefore,
  type ListPosition,
  type OwnedKind,
  type OwnedPage,
  type OwnershipRetention,
  type OwnershipStore,
} from './ownership.js';

export interface MemoryOwnershipStoreOptions {
  /** Retention per kind after the last claim, in ms (absent or 0: until forgotten). */
  retentionMs?: OwnershipRetention;
  /** The clock expiry is measured on (epoch ms). Default `Date.now`. */
  now?: () => number;
}

interface Entry extends ListPosition {
  tenant: string;
  expiresAt: number | null;
}

/** Creates the in-process {@link OwnershipStore}. */
export function createMemoryOwnershipStore(options: MemoryOwnershipStoreOptions = {}): OwnershipStore {
  const now = options.now ?? Date.now;
  const records = new Map<string, Entry>();
  // Per kind and tenant, kept in list order (newest first), so a page is a slice.
  const indexes = new Map<string, Entry[]>();
  // Per kind, in expiry order: retention is constant per kind and a refresh re-inserts at the end, so the expired
  // entries are always at the front and pruning costs only what it removes.
  const expiries = new Map<OwnedKind, Map<string, Entry>>();
  const recordKey = (kind: OwnedKind, id: string) => `${kind} ${id}`;
  const indexKey = (kind: OwnedKind, tenant: string) => `${kind} ${tenant}`;
  const live = (entry: Entry | undefined) => (entry && (entry.expiresAt === null || entry.expiresAt > now()) ? entry : undefined);

  const drop = (kind: OwnedKind, entry: Entry) => {
    records.delete(recordKey(kind, entry.id));
    expiries.get(kind)?.delete(entry.id);
    const index = indexes.get(indexKey(kind, entry.tenant));
    const at = index?.indexOf(entry) ?? -1;
    if (index && at >= 0) index.splice(at, 1);
    if (index?.length === 0) indexes.delete(indexKey(kind, entry.tenant));
  };
  const prune = (kind: OwnedKind) => {
    for (const entry of expiries.get(kind)?.values() ?? []) {
      if (live(entry)) break;
      drop(kind, entry);
    }
  };
  const insertSorted = (index: Entry[], entry: Entry) => {
    let lo = 0;
    let hi = index.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (listsBefore(index[mid]!, entry)) lo = mid + 1;
      else hi = mid;
    }
    index.splice(lo, 0, entry);
  };
  const refresh = (kind: OwnedKind, entry: Entry) => {
    const ttl = options.retentionMs?.[kind] ?? 0;
    if (ttl <= 0) return;
    entry.expiresAt = now() + ttl;
    let queue = expiries.get(kind);
    if (!queue) expiries.set(kind, (queue = new Map()));
    queue.delete(entry.id);
    queue.set(entry.id, entry);
  };

  return {
    async claim(kind, id, tenant, at) {
      prune(kind);
      const existing = live(records.get(recordKey(kind, id)));
      if (existing && existing.tenant !== tenant) return existing.tenant;
      if (existing) {
        refresh(kind, existing);
        return tenant;
      }
      const entry: Entry = { id, at, tenant, expiresAt: null };
      records.set(recordKey(kind, id), entry);
      let index = indexes.get(indexKey(kind, tenant));
      if (!index) indexes.set(indexKey(kind, tenant), (index = []));
      insertSorted(index, entry);
      refresh(kind, entry);
      return tenant;
    },
    async ownerOf(kind, id) {
      return live(records.get(recordKey(kind, id)))?.tenant ?? null;
    },
    async list(kind, tenant, page): Promise<OwnedPage> {
      checkFirst(page.first);
      const after = decodeCursor(page.after);
      prune(kind);
      const index = indexes.get(indexKey(kind, tenant)) ?? [];
      const start = after ? index.findIndex((entry) => listsBefore(after, entry)) : 0;
      const rest = start < 0 ? [] : index.slice(start);
      const taken = rest.slice(0, page.first);
      const last = taken.at(-1);
      return { ids: taken.map((e) => e.id), endCursor: last ? encodeCursor(last) : null, hasNextPage: rest.length > taken.length };
    },
    async forget(kind, id) {
      const entry = records.get(recordKey(kind, id));
      if (entry) drop(kind, entry);
    },
    async dispose() {
      records.clear();
      indexes.clear();
      expiries.clear();
    },
  };
}
