/**
 * Deleting an owned upstream object: the ownership check, the upstream DELETE (through the scheduler, like every
 * call), then forgetting the id and evicting what this instance cached of it. Shared by deleteVideoAsset and
 * deleteFrameCollection.
 */
import type { Context } from '../context.js';
import type { OwnedKind } from '../jobs/ownership.js';
import { isUpstreamError } from '../upstream/errors.js';
import { AssetNotFoundError, toDomainError } from './errors.js';

/**
 * The caller may delete `id` when its tenant owns it; without auth (one local tenant) every well-formed id is usable,
 * as in lookups (schema/lookup.ts). Read fresh, not from the operation's cached lookup verdicts: an earlier field of
 * the same operation may have deleted it.
 */
async function mayDelete(ctx: Context, kind: OwnedKind, id: string): Promise<boolean> {
  if (!ctx.caller.authenticated) return true;
  return (await ctx.ownership.ownerOf(kind, id)) === ctx.caller.tenant;
}

/** Drops the gateway's record and this instance's caches of an id that no longer exists upstream. */
async function forgetDeleted(ctx: Context, kind: OwnedKind, id: string): Promise<void> {
  await ctx.ownership.forget(kind, id);
  ctx.metadata.invalidate(id);
  // The upstream object is gone either way: a disk error here must not report the deletion as failed.
  await ctx.evictMedia(id).catch((error: unknown) => ctx.logger.warn('deleted media not evicted', { id, error }));
}

/**
 * Deletes `id` for the caller, or throws the domain error to report: AssetNotFoundError for an id the caller does not
 * own (no upstream call) or that the upstream no longer has (then forgotten too), upstream failures as mapped.
 */
export async function deleteOwned(ctx: Context, kind: 'asset' | 'collection', id: string): Promise<void> {
  try {
    if (!(await mayDelete(ctx, kind, id))) throw new AssetNotFoundError(id);
    try {
      await ctx.client.deleteAsset(id);
    } catch (error) {
      if (!isUpstreamError(error, 'NOT_FOUND')) throw error;
      await forgetDeleted(ctx, kind, id);
      throw new AssetNotFoundError(id);
    }
    await forgetDeleted(ctx, kind, id);
  } catch (error) {
    throw toDomainError(error, { assetId: id });
  }
}
