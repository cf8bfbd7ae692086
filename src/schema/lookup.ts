/**
 * Id-checked lookups shared by root query fields and federation entity references: a malformed id is a coded
 * error before any upstream call, and upstream failures become coded GraphQL errors.
 */
import { AssetNotFoundError, invalidIdError, toQueryError } from './errors.js';

type IdKind = Parameters<typeof invalidIdError>[0];

/** Root query fields: `null` for an unknown id. */
export async function lookupById<T>(kind: IdKind, pattern: RegExp, id: string, load: (id: string) => Promise<T | null>): Promise<T | null> {
  if (!pattern.test(id)) throw invalidIdError(kind, id);
  try {
    return await load(id);
  } catch (error) {
    throw toQueryError(error);
  }
}

/**
 * Entity references: async on purpose (@apollo/subgraph maps representations synchronously, so a synchronous throw
 * would fail the whole `_entities` batch; a rejection nulls only this entry, with its error at `_entities.N`).
 * Unknown ids reject too: a bare null makes a router fail the entity's non-null fields with a masked error.
 */
export async function resolveEntity<T>(kind: IdKind, pattern: RegExp, id: string, load: (id: string) => Promise<T | null>): Promise<T> {
  const found = await lookupById(kind, pattern, id, load);
  if (found) return found;
  throw toQueryError(new AssetNotFoundError(id));
}
