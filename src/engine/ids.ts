/** Id formats of the v2 contract: `re_`/`im_` + 18 digits, `imc_<digits>_<n>`, 32-hex task ids. */
import { randomBytes } from 'node:crypto';

export const ASSET_ID_RE = /^re_(\d{18})$/;
export const COLLECTION_ID_RE = /^im_(\d{18})$/;
export const FRAME_ID_RE = /^imc_(\d{18})_(\d{1,9})$/;

/** A random 18-digit decimal string (no leading zero); kept as a string, it exceeds 2^53. */
export function randomDigits18(): string {
  const n = randomBytes(8).readBigUInt64BE() % 900_000_000_000_000_000n;
  return (n + 100_000_000_000_000_000n).toString();
}

/** A new id with `prefix` (`re_` or `im_`) that `taken` does not know yet. */
export function newAssetLikeId(prefix: 're_' | 'im_', taken: (id: string) => boolean): string {
  for (;;) {
    const id = prefix + randomDigits18();
    if (!taken(id)) return id;
  }
}

/** A v2 task id: 32 lowercase hex characters. */
export function newTaskId(): string {
  return randomBytes(16).toString('hex');
}

/** `imc_<digits of collectionId>_<index>`. */
export function frameId(collectionId: string, index: number): string {
  return `imc_${collectionId.slice(3)}_${index}`;
}

/** Which kind of id this is, with its parts. */
export type ParsedId =
  | { kind: 'asset'; id: string }
  | { kind: 'collection'; id: string }
  | { kind: 'frame'; id: string; collectionId: string; index: number }
  | { kind: 'unknown'; id: string };

/** Classifies an id from a URL path segment. */
export function parseId(id: string): ParsedId {
  if (ASSET_ID_RE.test(id)) return { kind: 'asset', id };
  if (COLLECTION_ID_RE.test(id)) return { kind: 'collection', id };
  const m = FRAME_ID_RE.exec(id);
  if (m) return { kind: 'frame', id, collectionId: `im_${m[1]}`, index: Number(m[2]) };
  return { kind: 'unknown', id };
}
