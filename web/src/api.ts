/**
 * The page's link to the gateway: typed operations (GraphQL Code Generator, string documents) over `fetch` to
 * /graphql, subscriptions over graphql-ws on the same path, and the bearer token when the gateway has auth on
 * (kept in sessionStorage only: it is gone when the tab closes, and no cookie is ever set).
 */
import { createClient, type Client } from 'graphql-ws';
import { DemoError } from './errors.js';
import type { TypedDocumentString } from './gql/graphql.js';

const TOKEN_KEY = 'frames-demo-token';
const ENDPOINT = '/graphql';

/** What `/demo/config.json` tells the page. */
export interface DemoConfig {
  auth: boolean;
  graphiql: boolean;
}

export async function loadDemoConfig(): Promise<DemoConfig> {
  const res = await fetch('/demo/config.json', { cache: 'no-store' });
  if (!res.ok) throw new DemoError('NETWORK', `GET /demo/config.json: HTTP ${res.status}`);
  return (await res.json()) as DemoConfig;
}

export const getToken = (): string | null => sessionStorage.getItem(TOKEN_KEY);

export function setToken(token: string | null): void {
  if (token) sessionStorage.setItem(TOKEN_KEY, token);
  else sessionStorage.removeItem(TOKEN_KEY);
  // The socket authenticated with the old token (connection_init): open a new one on the next subscription.
  void ws?.dispose();
  ws = undefined;
}

const authorization = (): Record<string, string> => {
  const token = getToken();
  return token ? { authorization: `Bearer ${token}` } : {};
};

interface GraphQLReply<T> {
  data?: T | null;
  errors?: readonly { message: string; extensions?: { code?: string } }[];
}

function replyError(reply: GraphQLReply<unknown>): DemoError | undefined {
  const first = reply.errors?.[0];
  return first ? new DemoError(first.extensions?.code ?? 'INTERNAL', first.message) : undefined;
}

/** Runs a query or mutation; a top-level error (or HTTP 401) becomes a {@link DemoError} with its code. */
export async function request<R, V>(document: TypedDocumentString<R, V>, variables: V): Promise<R> {
  let res: Response;
  try {
    res = await fetch(ENDPOINT, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json, application/json', ...authorization() },
      body: JSON.stringify({ query: document.toString(), variables }),
    });
  } catch (error) {
    throw new DemoError('NETWORK', String(error));
  }
  const reply = (await res.json().catch(() => ({}))) as GraphQLReply<R>;
  const error = replyError(reply) ?? (res.status === 401 ? new DemoError('UNAUTHENTICATED', 'HTTP 401') : undefined);
  if (error) throw error;
  if (!reply.data) throw new DemoError('INTERNAL', `HTTP ${res.status} without data`);
  return reply.data;
}

let ws: Client | undefined;

function wsClient(): Client {
  ws ??= createClient({
    url: `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}${ENDPOINT}`,
    connectionParams: () => authorization(),
    retryAttempts: 2,
    // 4401: the token was refused or expired. Retrying with the same token would only be refused again.
    shouldRetry: (event) => !(event instanceof CloseEvent && event.code === 4401),
  });
  return ws;
}

export interface Sink<R> {
  next(value: R): void;
  error(error: DemoError): void;
  complete(): void;
}

/** Subscribes over graphql-ws; returns the unsubscribe function. */
export function subscribe<R, V extends Record<string, unknown>>(document: TypedDocumentString<R, V>, variables: V, sink: Sink<R>): () => void {
  return wsClient().subscribe<R>(
    { query: document.toString(), variables },
    {
      next: (reply) => {
        const error = replyError(reply);
        if (error) sink.error(error);
        else if (reply.data) sink.next(reply.data);
      },
      error: (error) => {
        if (error instanceof CloseEvent) {
          sink.error(new DemoError(error.code === 4401 ? 'UNAUTHENTICATED' : 'NETWORK', `socket closed: ${error.code} ${error.reason}`));
        } else if (Array.isArray(error)) {
          const first = error[0] as { message?: string; extensions?: { code?: string } } | undefined;
          sink.error(new DemoError(first?.extensions?.code ?? 'INTERNAL', first?.message ?? 'subscription error'));
        } else {
          sink.error(new DemoError('NETWORK', String(error)));
        }
      },
      complete: () => sink.complete(),
    },
  );
}

/**
 * The direct upload: POSTs the file to the signed URL as multipart/form-data (no API key, no gateway in between).
 * XMLHttpRequest rather than fetch for its upload progress events.
 */
export function uploadFile(ticket: { uploadUrl: string; method: string; fieldName: string }, file: File, onProgress: (fraction: number) => void): Promise<void> {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open(ticket.method, ticket.uploadUrl);
    xhr.upload.onprogress = (event) => {
      if (event.lengthComputable) onProgress(event.loaded / event.total);
    };
    xhr.onload = () =>
      xhr.status >= 200 && xhr.status < 300
        ? resolve()
        : reject(new DemoError('DIRECT_UPLOAD_FAILED', `HTTP ${xhr.status} ${xhr.responseText.slice(0, 200)}`));
    xhr.onerror = () => reject(new DemoError('DIRECT_UPLOAD_FAILED', 'network error'));
    const form = new FormData();
    form.append(ticket.fieldName, file, file.name);
    xhr.send(form);
  });
}
