/**
 * Relay cursor connections over the ownership registry, the only list there is (the upstream has no list endpoint):
 * the `PageInfo` type, the `first` / `after` checks, and the paging loop the connection fields share.
 *
 * The store's cursor marks the end of one of its pages, but an edge needs a cursor of its own. The gateway's cursor
 * is therefore the store's cursor of a page start plus how many ids of that page come before the position
 * (`skip`); the last id of a store page gets the store's own cursor (skip 0), so following `endCursor` costs nothing
 * extra. Resuming from a mid-page edge first reads the skipped ids once to get back onto a store cursor, so `skip`
 * never grows past one page however a client chains cursors.
 */
import { GraphQLError } from 'graphql';
import { InvalidCursorError, type OwnedKind, type OwnedPage, type OwnershipStore } from '../jobs/ownership.js';
import { builder } from './builder.js';
import { ErrorCode } from './error-codes.js';

export const DEFAULT_PAGE_SIZE = 20;
export const MAX_PAGE_SIZE = 100;
/** Owned ids one filtered page examines at most; past it the page is returned short, with `hasNextPage`. */
export const MAX_SCANNED_IDS = 1_000;
const MAX_CURSOR_LENGTH = 512;
const CURSOR_VERSION = 1;

export interface PageInfoData {
  hasNextPage: boolean;
  endCursor: string | null;
}

export interface Edge<T> {
  cursor: string;
  node: T;
}

export interface ConnectionData<T> {
  edges: Edge<T>[];
  pageInfo: PageInfoData;
}

export const PageInfo = builder.objectRef<PageInfoData>('PageInfo').implement({
  description: 'Where a page of a connection ends (Relay cursor connections, forward paging only).',
  // Every Relay subgraph defines PageInfo: without @shareable a router cannot compose this subgraph beside one.
  shareable: true,
  fields: (t) => ({
    hasNextPage: t.exposeBoolean('hasNextPage', {
      description: 'True when more items may follow: pass `endCursor` as `after` to get them.',
    }),
    endCursor: t.exposeString('endCursor', {
      nullable: true,
      description: 'Opaque cursor to pass as `after` for the next page; null when the page is empty and nothing follows.',
    }),
  }),
});

/** A position in one tenant's list of one kind: `skip` ids after the store cursor `after` (null: the start). */
interface Position {
  after: string | null;
  skip: number;
}

const invalidArgument = (message: string) => new GraphQLError(message, { extensions: { code: ErrorCode.INVALID_ARGUMENT } });
const badCursor = () => invalidArgument('`after` is not a cursor this list returned');

/** `first` as given (default 20), or an INVALID_ARGUMENT error outside 1–100. */
export function checkFirst(first: number | null | undefined): number {
  const value = first ?? DEFAULT_PAGE_SIZE;
  if (!Number.isInteger(value) || value < 1 || value > MAX_PAGE_SIZE) {
    throw invalidArgument(`first must be between 1 and ${MAX_PAGE_SIZE}`);
  }
  return value;
}

function encodePosition(kind: OwnedKind, position: Position): string {
  return Buffer.from(JSON.stringify([CURSOR_VERSION, kind, position.after, position.skip])).toString('base64url');
}

/** The position of a cursor this list handed out; a cursor of another kind of list is refused like a forged one. */
function decodePosition(kind: OwnedKind, cursor: string | null | undefined): Position {
  if (cursor === null || cursor === undefined) return { after: null, skip: 0 };
  if (cursor.length > MAX_CURSOR_LENGTH || !/^[A-Za-z0-9_-]+$/.test(cursor)) throw badCursor();
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    throw badCursor();
  }
  if (!Array.isArray(value) || value.length !== 4) throw badCursor();
  const [version, cursorKind, after, skip] = value as unknown[];
  const validAfter = after === null || (typeof after === 'string' && after !== '');
  const validSkip = Number.isInteger(skip) && (skip as number) >= 0 && (skip as number) <= MAX_PAGE_SIZE;
  if (version !== CURSOR_VERSION || cursorKind !== kind || !validAfter || !validSkip) throw badCursor();
  return { after: after as string | null, skip: skip as number };
}

export interface OwnedPageRequest<T> {
  ownership: OwnershipStore;
  kind: OwnedKind;
  tenant: string;
  first: number | null | undefined;
  after: string | null | undefined;
  /** The nodes of `ids`, in order; null for an id whose record is gone (it is skipped). */
  load: (ids: string[]) => Promise<(T | null)[]>;
  /** A filter (e.g. a task status); the scan is bounded by {@link MAX_SCANNED_IDS}. */
  keep?: (node: T) => boolean;
}

type ListScope = Pick<OwnedPageRequest<unknown>, 'ownership' | 'kind' | 'tenant'>;

/** Back onto a store cursor: reads the `skip` ids of a mid-page position once. Null when the list ends first. */
async function settle(request: ListScope, position: Position): Promise<Position | null> {
  if (position.skip === 0) return position;
  const page = await listPage(request, position.after, position.skip);
  if (page.ids.length < position.skip || page.endCursor === null) return null;
  return { after: page.endCursor, skip: 0 };
}

async function listPage(request: ListScope, after: string | null, first: number) {
  try {
    return await request.ownership.list(request.kind, request.tenant, { first, after });
  } catch (error) {
    if (error instanceof InvalidCursorError) throw badCursor();
    throw error;
  }
}

/** Examines a store page read at `from` until `edges` holds `first`; returns how many of its ids it examined. */
async function examine<T>(
  request: OwnedPageRequest<T>,
  page: OwnedPage,
  from: Position,
  edges: Edge<T>[],
  first: number,
): Promise<number> {
  const nodes = await request.load(page.ids);
  let examined = 0;
  for (const [i, node] of nodes.entries()) {
    if (edges.length === first) break;
    examined = i + 1;
    if (node === null || node === undefined || (request.keep && !request.keep(node))) continue;
    const last = i === page.ids.length - 1 && page.endCursor !== null;
    const at: Position = last ? { after: page.endCursor, skip: 0 } : { after: from.after, skip: i + 1 };
    edges.push({ cursor: encodePosition(request.kind, at), node });
  }
  return examined;
}

/** One page of the caller's owned ids of `kind`, newest first, as a connection. */
export async function pageOwned<T>(request: OwnedPageRequest<T>): Promise<ConnectionData<T>> {
  const first = checkFirst(request.first);
  const start = await settle(request, decodePosition(request.kind, request.after));
  const edges: Edge<T>[] = [];
  if (!start) return { edges, pageInfo: { hasNextPage: false, endCursor: null } };
  let position = start;
  let hasNextPage = true;
  let scanned = 0;
  while (hasNextPage && edges.length < first && scanned < MAX_SCANNED_IDS) {
    // Unfiltered, exactly the ids still wanted; filtered, a whole store page at a time (a round trip per 100 ids
    // examined, not per match), possibly stopping inside it.
    const page = await listPage(request, position.after, request.keep ? MAX_PAGE_SIZE : first - edges.length);
    const examined = await examine(request, page, position, edges, first);
    scanned += examined;
    if (examined < page.ids.length) {
      position = { after: position.after, skip: examined };
      break;
    }
    // An empty page ends the scan whatever it claims, so a store bug cannot loop here.
    hasNextPage = page.hasNextPage && page.endCursor !== null && page.ids.length > 0;
    if (page.endCursor !== null) position = { after: page.endCursor, skip: 0 };
  }
  // With a filter the scan may have passed ids after the last edge: resume after them, not after the edge.
  const endCursor = hasNextPage ? encodePosition(request.kind, position) : (edges.at(-1)?.cursor ?? null);
  return { edges, pageInfo: { hasNextPage, endCursor } };
}
