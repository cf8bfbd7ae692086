/**
 * Who owns what: every asset uploaded or imported through the gateway, every task it submitted and every collection a
 * task produced is recorded with its tenant. The upstream has no notion of tenants (one account, sequential ids), so
 * this registry is the only thing that keeps one frontend's videos from another's, and the only list there is (the
 * upstream has no list endpoint). Memory and Redis implementations pass one shared test suite.
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

export interface OwnershipStore {
  /** Records that `tenant` owns `id` (recorded at `at`, epoch ms). The first owner wins; returns the owner. */
  claim(kind: OwnedKind, id: string, tenant: string, at: number): Promise<string>;
  /** The owning tenant, or null when the gateway never handed `id` to anyone. */
  ownerOf(kind: OwnedKind, id: string): Promise<string | null>;
  /** The tenant's ids of one kind, newest first, `first` at most, after the opaque cursor `after`. */
  list(kind: OwnedKind, tenant: string, page: { first: number; after?: string | null }): Promise<OwnedPage>;
  /** Forgets `id` (after an upstream delete, or retention). */
  forget(kind: OwnedKind, id: string): Promise<void>;
  dispose(): Promise<void>;
}
