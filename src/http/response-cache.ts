/**
 * A response cache for the gateway's immutable reads: queries whose root fields are all `frameCollection` / `frame`
 * (plus `__typename`). Collections and frames never change once they exist (the upstream has no edit), so such an
 * answer can be reused until something it was computed from changes. Everything else (tasks, assets, lists,
 * mutations, subscriptions, federation `_entities`) always executes: task state is never served from here. A test
 * (integration/response-cache.test.ts) lists the object types reachable from those two fields, so a field that
 * would bring mutable data under them fails it first.
 *
 * An entry is served only when all of these still hold, checked on every hit:
 * - same tenant (the key starts with it; an authenticated tenant and the unauthenticated local one never share);
 * - same signed-URL window: the key holds a probe URL minted now, and a signer's URLs change all together when its
 *   expiry rounds to the next window (or its public URL changes), so a cached `url` is byte-identical to a fresh one
 *   and has exactly the lifetime left that an uncached answer would have;
 * - same metadata: every reply the execution read is still the object the metadata cache holds (a delete or upload
 *   invalidates it, a partial listing expires, an eviction drops it: then the entry is dead);
 * - same ownership: with auth, every ownership check the execution made is asked of the ownership store again and
 *   must give the same verdict (lookup.ts `sameOwnershipVerdicts`), so a deleted or foreign id is not served.
 * Answers with errors, or whose execution read a metadata id that failed (unknown ids may appear later), are not kept.
 *
 * Hand-written rather than @graphql-yoga/plugin-response-cache: that plugin decides per entry from the result's
 * types and TTLs only, with no hook between lookup and serve, so it cannot re-ask the ownership store on a hit, nor
 * tell that a metadata reply was invalidated; its per-type TTLs would also let a mutable type that was forgotten in
 * the list be cached. Measured with bench:graphql (same run, 100 frames): see README "Performance".
 */
import { getOperationAST, Kind, type DocumentNode, type ExecutionResult } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import { LRUCache } from 'lru-cache';
import type { Context } from '../context.js';
import { metadataReadsOf } from '../loaders/index.js';
import type { AssetMetadata } from '../upstream/types.js';
import { ownershipChecksOf, sameOwnershipVerdicts } from '../schema/lookup.js';

/** Root fields whose whole answer derives from immutable data (and the signer's current window). */
const IMMUTABLE_ROOT_FIELDS = new Set(['frameCollection', 'frame', '__typename']);
/** Any media id: only its URL's window matters (memoized by the signer, so this costs a map lookup). */
const WINDOW_PROBE_ID = 'im_0';

interface Entry {
  result: ExecutionResult;
  reads: [string, AssetMetadata][];
  ownership: [string, boolean][];
  size: number;
}

export interface ResponseCacheOptions {
  /** Total size of kept answers (JSON length); least recently used ones go first. */
  maxBytes: number;
}

export interface ResponseCache {
  plugin: Plugin;
  /** Entries kept now, answers served from them, and cacheable operations that executed (tests, benches). */
  stats(): { size: number; hits: number; misses: number };
}

/** Per parsed document (yoga's parser cache hands out the same object for the same text): cacheable, and its id. */
const documents = new WeakMap<DocumentNode, string | null>();
let nextDocumentId = 0;

function documentKey(document: DocumentNode, operationName: string | null | undefined): string | null {
  let known = documents.get(document);
  if (known === undefined) {
    known = immutableOnly(document, operationName) ? String(nextDocumentId++) : null;
    documents.set(document, known);
  }
  return known === null ? null : `${known}:${operationName ?? ''}`;
}

function immutableOnly(document: DocumentNode, operationName: string | null | undefined): boolean {
  const operation = getOperationAST(document, operationName);
  if (!operation || operation.operation !== 'query') return false;
  return operation.selectionSet.selections.every((s) => s.kind === Kind.FIELD && IMMUTABLE_ROOT_FIELDS.has(s.name.value));
}

export function createResponseCache(options: ResponseCacheOptions): ResponseCache {
  const entries = new LRUCache<string, Entry>({ maxSize: options.maxBytes, sizeCalculation: (e) => e.size });
  let hits = 0;
  let misses = 0;

  const stillValid = async (entry: Entry, ctx: Context): Promise<boolean> => {
    for (const [id, reply] of entry.reads) if (ctx.metadata.cached(id) !== reply) return false;
    // The store is asked anew; if it cannot answer, the execution path reports that as it always did.
    return sameOwnershipVerdicts(ctx, entry.ownership).catch(() => false);
  };

  const plugin: Plugin = {
    async onExecute({ args, setResultAndStopExecution }) {
      const ctx = args.contextValue as unknown as Context;
      const doc = documentKey(args.document, args.operationName);
      if (doc === null || !ctx.loaders) return;
      const tenant = ctx.caller.authenticated ? `tenant ${ctx.caller.tenant}` : 'local';
      const key = `${tenant}\n${ctx.mediaUrl(WINDOW_PROBE_ID)}\n${doc}\n${JSON.stringify(args.variableValues ?? {})}`;
      const hit = entries.get(key);
      if (hit && (await stillValid(hit, ctx))) {
        hits++;
        setResultAndStopExecution(hit.result);
        return;
      }
      misses++;
      return {
        onExecuteDone: ({ result }) => {
          if (!isPlainResult(result) || result.errors?.length) return;
          const reads: [string, AssetMetadata][] = [];
          for (const [id, reply] of metadataReadsOf(ctx.loaders)) {
            if (reply === null) return;
            reads.push([id, reply]);
          }
          // Settled by now (the execution awaited them); a failed one means the answer had errors and is not kept.
          const checks = [...ownershipChecksOf(ctx)];
          void Promise.all(checks.map(async ([check, verdict]) => [check, await verdict] as [string, boolean])).then(
            (ownership) => {
              const json = JSON.stringify(result);
              entries.set(key, { result: withSerialized(result, json), reads, ownership, size: json.length + key.length });
            },
            () => undefined,
          );
        },
      };
    },
  };
  return { plugin, stats: () => ({ size: entries.size, hits, misses }) };
}

/**
 * The result with its JSON attached: yoga's result processors serialize through `result.stringify` when there is
 * one, so a hit does not re-serialize the answer (JSON.stringify of a 100-frame answer was ~3% of the gateway's CPU
 * under bench:graphql). Non-enumerable, so nothing that walks the result sees it.
 */
function withSerialized(result: ExecutionResult, json: string): ExecutionResult {
  Object.defineProperty(result, 'stringify', {
    value: (value: unknown) => (value === result ? json : JSON.stringify(value)),
    enumerable: false,
  });
  return result;
}

function isPlainResult(result: unknown): result is ExecutionResult {
  return typeof result === 'object' && result !== null && !(Symbol.asyncIterator in result);
}
