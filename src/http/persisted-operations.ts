/**
 * Persisted operations: the `{ "<sha256>": "<document>" }` map GraphQL Code Generator's client preset writes with
 * `persistedDocuments` (PERSISTED_OPERATIONS_FILE). Clients send `extensions.persistedQuery.sha256Hash` instead of
 * the document; with PERSISTED_OPERATIONS_ONLY=true any other document is refused. HTTP and SSE go through
 * @graphql-yoga/plugin-persisted-operations (yoga's `onParams`), which graphql-ws never reaches, so
 * `resolveWsOperation` applies the same rules and errors in graphql-ws.ts's `onSubscribe`.
 */
import { readFileSync } from 'node:fs';
import { defaultExtractPersistedOperationId, usePersistedOperations } from '@graphql-yoga/plugin-persisted-operations';
import { parse, type GraphQLError } from 'graphql';
import { createGraphQLError, type Plugin } from 'graphql-yoga';
import { ConfigError, type Config } from '../config.js';
import { ErrorCode } from '../schema/error-codes.js';

export interface PersistedOperations {
  /** Documents by hash, as the file spells them (the client preset writes `sha256:<hex>`). */
  readonly documents: ReadonlyMap<string, string>;
  /** Refuse every document that is not in `documents`. */
  readonly only: boolean;
}

const REFUSALS = {
  notFound: [ErrorCode.PERSISTED_QUERY_NOT_IN_LIST, 'Unknown persisted operation: its hash is not in the persisted operations list'],
  keyNotFound: [
    ErrorCode.PERSISTED_QUERY_ID_REQUIRED,
    'Send a document in `query` or a persisted operation hash in extensions.persistedQuery.sha256Hash',
  ],
  persistedQueryOnly: [
    ErrorCode.PERSISTED_QUERY_ONLY,
    'Only persisted operations are accepted: send extensions.persistedQuery.sha256Hash instead of the document',
  ],
} as const;
type Refusal = keyof typeof REFUSALS;

// Over HTTP yoga turns `http.status` into the response status and strips it; a websocket error keeps just the code.
const refusal = (kind: Refusal, transport: 'http' | 'ws') => {
  const [code, message] = REFUSALS[kind];
  return { message, extensions: transport === 'http' ? { code, http: { status: 400 } } : { code } };
};
const wsRefusal = (kind: Refusal) => {
  const { message, ...options } = refusal(kind, 'ws');
  return createGraphQLError(message, options);
};

/**
 * Reads and checks PERSISTED_OPERATIONS_FILE once, at start-up; undefined when none is configured. Every entry must
 * be a string that parses, so a broken list stops the start instead of failing clients one by one.
 */
export function loadPersistedOperations(config: Pick<Config, 'persistedOperations'>): PersistedOperations | undefined {
  const { file, only } = config.persistedOperations;
  if (file === undefined) return undefined;
  const problem = (detail: string) => new ConfigError([`PERSISTED_OPERATIONS_FILE: ${file}: ${detail}`]);
  let map: unknown;
  try {
    map = JSON.parse(readFileSync(file, 'utf8'));
  } catch (error) {
    throw problem(error instanceof SyntaxError ? `not JSON (${error.message})` : `cannot be read (${(error as Error).message})`);
  }
  if (typeof map !== 'object' || map === null || Array.isArray(map)) throw problem('must be a JSON object { "<hash>": "<document>" }');
  const documents = new Map<string, string>();
  for (const [hash, document] of Object.entries(map)) {
    if (typeof document !== 'string') throw problem(`entry ${hash} is not a string`);
    try {
      parse(document);
    } catch (error) {
      throw problem(`entry ${hash} is not a GraphQL document (${(error as Error).message})`);
    }
    documents.set(hash, document);
  }
  return { documents, only };
}

// The client preset's keys (and the `__meta__.hash` its documents carry) are `sha256:<hex>`; Apollo's persisted
// query link sends the bare hex of the same digest. Both name the same document.
const lookup = (operations: PersistedOperations, hash: string) =>
  operations.documents.get(hash) ?? operations.documents.get(`sha256:${hash}`) ?? null;

/** The yoga plugin for HTTP and SSE. */
export function usePersistedOperationList(operations: PersistedOperations): Plugin {
  return usePersistedOperations({
    getPersistedOperation: (hash) => lookup(operations, hash),
    allowArbitraryOperations: !operations.only,
    customErrors: { notFound: refusal('notFound', 'http'), keyNotFound: refusal('keyNotFound', 'http'), persistedQueryOnly: refusal('persistedQueryOnly', 'http') },
  }) as Plugin;
}

/**
 * The document a graphql-ws `subscribe` message runs, or the error the HTTP plugin would give. graphql-ws requires
 * `query` to be a string, so a persisted operation arrives with `query: ""` and the hash in `extensions`.
 */
export function resolveWsOperation(
  operations: PersistedOperations | undefined,
  params: { query: string; extensions?: Record<string, unknown> | null },
): string | GraphQLError {
  if (operations === undefined) return params.query;
  if (params.query !== '') return operations.only ? wsRefusal('persistedQueryOnly') : params.query;
  const hash = defaultExtractPersistedOperationId({ extensions: params.extensions ?? undefined }, undefined as never, {});
  if (hash === null) return wsRefusal('keyNotFound');
  return lookup(operations, hash) ?? wsRefusal('notFound');
}
