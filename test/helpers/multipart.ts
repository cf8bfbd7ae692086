/**
 * Posts a GraphQL multipart request (https://github.com/jaydenseric/graphql-multipart-request-spec) with fetch,
 * FormData and Blob: an `operations` field (the JSON request with each file variable set to null), a `map` field
 * (file field name -> object paths), then one part per file, in that order as the spec requires.
 */
import type { GraphQLResponse } from './gateway.js';

/** One file of the request, placed at `path` in the operation (e.g. `variables.file`). */
export interface MultipartFile {
  path: string;
  data: Uint8Array | string;
  filename: string;
  /** The part's Content-Type; default `application/octet-stream`. */
  type?: string;
}

export interface MultipartRequest {
  query: string;
  variables?: Record<string, unknown>;
  operationName?: string;
  files: MultipartFile[];
  /** Extra request headers (e.g. `authorization`). */
  headers?: Record<string, string>;
}

export interface MultipartResponse<T> {
  status: number;
  body: GraphQLResponse<T>;
}

/** Sends `request` to `endpoint` (the full `/graphql` URL) and parses the JSON reply. */
export async function postGraphQLMultipart<T = Record<string, any>>(
  endpoint: string,
  request: MultipartRequest,
): Promise<MultipartResponse<T>> {
  const variables: Record<string, unknown> = structuredClone(request.variables ?? {});
  const operations = { query: request.query, variables, ...(request.operationName ? { operationName: request.operationName } : {}) };
  for (const file of request.files) setPath(operations, file.path, null);

  const form = new FormData();
  form.append('operations', JSON.stringify(operations));
  form.append('map', JSON.stringify(Object.fromEntries(request.files.map((file, i) => [String(i), [file.path]]))));
  request.files.forEach((file, i) => {
    const bytes = typeof file.data === 'string' ? new TextEncoder().encode(file.data) : new Uint8Array(file.data);
    form.append(String(i), new Blob([bytes], { type: file.type ?? 'application/octet-stream' }), file.filename);
  });

  const res = await fetch(endpoint, {
    method: 'POST',
    body: form,
    headers: { accept: 'application/graphql-response+json, application/json', ...request.headers },
  });
  return { status: res.status, body: (await res.json()) as GraphQLResponse<T> };
}

function setPath(target: Record<string, unknown>, path: string, value: unknown): void {
  const keys = path.split('.');
  let node: Record<string, unknown> = target;
  for (const key of keys.slice(0, -1)) {
    const next = node[key];
    if (typeof next !== 'object' || next === null) node[key] = {};
    node = node[key] as Record<string, unknown>;
  }
  node[keys.at(-1)!] = value;
}
