/**
 * Id-checked lookups shared by root query fields and federation entity references: a malformed id is a coded
 * error before any upstream call, and upstream failures become coded GraphQL errors.
 *
 * Ownership: for an authenticated caller an id exists only when the gateway recorded it as the caller's tenant's
 * (jobs/ownership.ts). Anything else is answered exactly like an unknown id, without an upstream call, so another
 * tenant's ids (sequential upstream, so guessable) reveal nothing. Without auth (the local tenant) every well-formed
 * id works as before.
 */
import type { Context } from '../context.js';
import type { OwnedKind } from '../jobs/ownership.js';
import { taskTenant, type TaskRecord } from '../jobs/store.js';
import type { Loaders } from '../loaders/index.js';
import { parseFrameId } from '../loaders/index.js';
import type { MediaVariant } from '../media/variants.js';
import { AssetNotFoundError, invalidIdError, toQueryError } from './errors.js';

type IdKind = Parameters<typeof invalidIdError>[0];

// Per operation (and per subscription event: the schema renews ctx.loaders then), like the loaders it hangs off,
// so a frame list asks about its collection once and a forgotten id is not trusted into the next operation.
const verdicts = new WeakMap<Loaders, Map<string, Promise<boolean>>>();
const verdictsOf = (ctx: Context) => {
  let map = verdicts.get(ctx.loaders);
  if (!map) verdicts.set(ctx.loaders, (map = new Map()));
  return map;
};

/** What the ownership of an id of `kind` is recorded under: a frame belongs to its collection. */
function ownedAs(kind: IdKind, id: string): [OwnedKind, string] {
  if (kind === 'frame') return ['collection', parseFrameId(id)?.collectionId ?? id];
  return [kind, id];
}

/** Whether the caller may see `id` (always without auth; with auth only the tenant's recorded ids). */
export function mayAccess(ctx: Context, kind: IdKind, id: string): Promise<boolean> {
  if (!ctx.caller.authenticated) return Promise.resolve(true);
  const [owned, ownedId] = ownedAs(kind, id);
  const map = verdictsOf(ctx);
  let verdict = map.get(`${owned} ${ownedId}`);
  if (!verdict) {
    verdict = ctx.ownership.ownerOf(owned, ownedId).then((owner) => owner === ctx.caller.tenant);
    map.set(`${owned} ${ownedId}`, verdict);
  }
  return verdict;
}

/** The ownership checks this operation made (`"<kind> <id>"` → verdict), for http/response-cache.ts to repeat. */
export function ownershipChecksOf(ctx: Context): ReadonlyMap<string, Promise<boolean>> {
  return verdicts.get(ctx.loaders) ?? new Map();
}

/**
 * Repeats recorded ownership checks for this caller, now, against the ownership store (never a cached verdict):
 * true when every one gives the verdict recorded. A cached answer is served only then, so ownership is still checked
 * on every request that reaches it.
 */
export async function sameOwnershipVerdicts(ctx: Context, checks: readonly (readonly [string, boolean])[]): Promise<boolean> {
  if (!ctx.caller.authenticated) return true;
  const answers = await Promise.all(
    checks.map(async ([key, verdict]) => {
      const space = key.indexOf(' ');
      const owner = await ctx.ownership.ownerOf(key.slice(0, space) as OwnedKind, key.slice(space + 1));
      return (owner === ctx.caller.tenant) === verdict;
    }),
  );
  return answers.every(Boolean);
}

/** Notes that the caller owns `id` because it reached it through something it owns (its task's collection). */
export function vouchFor(ctx: Context, kind: OwnedKind, id: string): void {
  if (ctx.caller.authenticated) verdictsOf(ctx).set(`${kind} ${id}`, Promise.resolve(true));
}

/** Whether a registry task is the caller's (tasks carry their tenant; without auth every task is). */
export function isCallersTask(ctx: Context, task: TaskRecord | null): task is TaskRecord {
  return task !== null && (!ctx.caller.authenticated || taskTenant(task) === ctx.caller.tenant);
}

/** `load(id)` when the caller may see `id`, else null without calling it; upstream failures as coded errors. */
export async function loadOwned<T>(ctx: Context, kind: IdKind, id: string, load: (id: string) => Promise<T | null>): Promise<T | null> {
  try {
    return (await mayAccess(ctx, kind, id)) ? await load(id) : null;
  } catch (error) {
    throw toQueryError(error);
  }
}

/**
 * A signed media URL, minted only for an id the caller may see. Every path to a media-bearing object already checked
 * this (cached), so the throw is a safety net: it nulls the object rather than sign another tenant's media.
 */
export async function ownedMediaUrl(ctx: Context, kind: IdKind, id: string, variant?: MediaVariant | null): Promise<string> {
  if (await mayAccess(ctx, kind, id)) return ctx.mediaUrl(id, variant);
  throw toQueryError(new AssetNotFoundError(id));
}

/** Root query fields: `null` for an unknown id, or one the caller does not own. */
export async function lookupById<T>(
  ctx: Context,
  kind: IdKind,
  pattern: RegExp,
  id: string,
  load: (id: string) => Promise<T | null>,
): Promise<T | null> {
  if (!pattern.test(id)) throw invalidIdError(kind, id);
  return loadOwned(ctx, kind, id, load);
}

/**
 * Entity references: async on purpose (@apollo/subgraph maps representations synchronously, so a synchronous throw
 * would fail the whole `_entities` batch; a rejection nulls only this entry, with its error at `_entities.N`).
 * Unknown (or not owned) ids reject too: a bare null makes a router fail the entity's non-null fields with a masked
 * error.
 */
export async function resolveEntity<T>(
  ctx: Context,
  kind: IdKind,
  pattern: RegExp,
  id: string,
  load: (id: string) => Promise<T | null>,
): Promise<T> {
  const found = await lookupById(ctx, kind, pattern, id, load);
  if (found) return found;
  throw toQueryError(new AssetNotFoundError(id));
}
