/**
 * Who owns what: every asset uploaded or imported through the gateway, every task it submitted and every collection a
 * task produced is recorded with its tenant. The upstream has no notion of tenants (one account, sequential ids), so
 * this registry is the only thing that keeps one frontend's videos from another's, and the only list there is (the
 * upstream has no list endpoint). Memory (`ownership-memory.ts`) and Redis (`ownership-redis.ts`) implementations
 * pass one shared test suite (test/integration/ownership-store.test.ts).
 *
 * Retention: assets and collections are kept until forgotten (an upstream delete): they are upstream objects that
 * stay billed and usable for as long as the account keeps them, and a tenant that paid for frames must not lose them
 * when the task that made them expires. Tasks follow TASK_RETENTION_SECONDS like their registry records: a task's
 * record expires `retentionMs.task` after its LAST claim, and the task service claims a task again whenever it
 * finishes (so it expires with the task record, which gets the same TTL at completion).
 */

/** What can be owned. A frame (`imc_<n>_<i>`) is owned through its collection (`im_<n>`). */
export type OwnedKind = 'asset' | 'task' | 'collection';

export interface OwnedPage {
  /** Newest first. */
  ids: string[];
  /** Opaque cursor of the last id, to pass as `after`; null on an empty page. */
  endCursor: string | null;
  hasNextPage: boolean;
}

/** How long records of each kind live after their last claim, in ms; absent or 0 = until forgotten. */
export type OwnershipRetention = Partial<Record<OwnedKind, number>>;

export interface OwnershipStore {
  /**
   * Records that `tenant` owns `id` (recorded at `at`, epoch ms, which orders `list`). The first owner wins: a claim
   * by another tenant changes nothing and returns the owner. A claim by the owner again keeps `at` (the list order)
   * and restarts the record's retention.
   */
  claim(kind: OwnedKind, id: string, tenant: string, at: number): Promise<string>;
  /** The owning tenant, or null when the gateway never handed `id` to anyone (or forgot it, or it expired). */
  ownerOf(kind: OwnedKind, id: string): Promise<string | null>;
  /**
   * The tenant's ids of one kind, newest first (`at` descending, ties by id descending), `first` at most, after the
   * opaque cursor `after`. Rejects with {@link InvalidCursorError} for a cursor no list produced.
   */
  list(kind: OwnedKind, tenant: string, page: { first: number; after?: string | null }): Promise<OwnedPage>;
  /** Forgets `id` (after an upstream delete): it is then nobody's, and gone from its owner's list. */
  forget(kind: OwnedKind, id: string): Promise<void>;
  dispose(): Promise<void>;
}

/** An `after` cursor that no `list` produced (or that was tampered with). */
export class InvalidCursorError extends Error {
  override readonly name = 'InvalidCursorError';
  constructor(readonly cursor: string) {
    super('The cursor is not one a list returned');
  }
}

/** A position in a list: the `at` and id of the last entry seen. */
export interface ListPosition {
  at: number;
  id: string;
}

/** Encodes a position as the opaque cursor both stores hand out (base64url JSON, so ids never need escaping). */
export function encodeCursor(position: ListPosition): string {
  return Buffer.from(JSON.stringify([position.at, position.id])).toString('base64url');
}

/** Decodes a cursor from {@link encodeCursor}; null/undefined means "from the start". */
export function decodeCursor(cursor: string | null | undefined): ListPosition | null {
  if (cursor === null || cursor === undefined) return null;
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    throw new InvalidCursorError(cursor);
  }
  if (!Array.isArray(value) || value.length !== 2 || !Number.isSafeInteger(value[0]) || typeof value[1] !== 'string' || value[1] === '') {
    throw new InvalidCursorError(cursor);
  }
  return { at: value[0] as number, id: value[1] };
}

/** `first` is a count: a non-negative integer (callers cap it; a bad one is a bug, not an empty page). */
export function checkFirst(first: number): void {
  if (!Number.isSafeInteger(first) || first < 0) throw new RangeError(`first must be a non-negative integer, got ${first}`);
}

/** Whether `a` comes before `b` in list order (newest first, ties by id descending, byte-wise as Redis sorts). */
export function listsBefore(a: ListPosition, b: ListPosition): boolean {
  return a.at !== b.at ? a.at > b.at : a.id > b.id;
}
