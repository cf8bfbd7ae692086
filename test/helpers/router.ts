/**
 * A federation router for the tests: a real Hive Gateway runtime (`@graphql-hive/gateway-runtime`) with the real
 * `@graphql-mesh/transport-http` and `@graphql-mesh/transport-ws` (the transports the `hive-gateway` CLI ships), on a
 * real HTTP port. `ROUTER_CONFIG` is exactly the configuration docs/federation.md prescribes: subscriptions to the
 * frames subgraph over graphql-ws with the client's token in `connection_init`, and `Authorization` forwarded on
 * every HTTP request to a subgraph.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createGatewayRuntime, type GatewayConfigSupergraph, type GatewayPlugin } from '@graphql-hive/gateway-runtime';
import httpTransport from '@graphql-mesh/transport-http';
import wsTransport from '@graphql-mesh/transport-ws';
import { print } from 'graphql';
import { createEventQueue, type EventQueue } from './deferred.js';
import type { GraphQLResponse } from './gateway.js';

/** The router settings of docs/federation.md ("Authentication" and "Run it behind Hive Gateway"). */
export const ROUTER_CONFIG = {
  // uploadVideo through the router: GraphQL multipart requests are off by default in Hive Gateway.
  multipart: true,
  propagateHeaders: {
    fromClientToSubgraphs: ({ request }: { request: Request }) => ({ authorization: request.headers.get('authorization') ?? undefined }),
  },
  transportEntries: {
    frames: {
      options: {
        subscriptions: {
          kind: 'ws',
          location: '/graphql',
          options: { connectionParams: { authorization: '{context.headers.authorization}' } },
        },
      },
    },
  },
} satisfies Pick<GatewayConfigSupergraph, 'multipart' | 'propagateHeaders' | 'transportEntries'>;

/** One request the router sent to a subgraph: HTTP (queries, mutations, `_entities`) or a WS subscription. */
export interface SubgraphRequest {
  subgraph: string;
  kind: 'http' | 'ws';
  query: string;
  /** The Authorization header the router sent (HTTP only; WS carries it in connection_init). */
  authorization: string | null;
}

export interface RouterSubscription {
  events: EventQueue<GraphQLResponse>;
  /** Resolves on the router's `complete` event. */
  completed: Promise<void>;
  /** Leaves: aborts the SSE request. */
  close(): void;
}

export interface TestRouter extends AsyncDisposable {
  url: string;
  /** What the router sent to the subgraphs, in order. */
  requests: SubgraphRequest[];
  query<T = Record<string, any>>(query: string, variables?: Record<string, unknown>, token?: string): Promise<GraphQLResponse<T>>;
  /** An SSE subscription to the router (`accept: text/event-stream`). */
  subscribe(query: string, variables: Record<string, unknown>, token?: string): RouterSubscription;
  close(): Promise<void>;
}

const bearer = (token?: string): Record<string, string> => (token ? { authorization: `Bearer ${token}` } : {});

/** Records every subgraph request: HTTP ones at the fetch (after header propagation), subscriptions at execution. */
function recorder(requests: SubgraphRequest[]): GatewayPlugin {
  return {
    onFetch({ executionRequest, options }) {
      const headers = new Headers(options.headers as HeadersInit | undefined);
      const body = typeof options.body === 'string' ? (JSON.parse(options.body) as { query?: string }) : {};
      requests.push({
        subgraph: executionRequest?.subgraphName ?? '?',
        kind: 'http',
        query: body.query ?? '',
        authorization: headers.get('authorization'),
      });
    },
    onSubgraphExecute({ subgraphName, executionRequest }) {
      if (executionRequest.operationType !== 'subscription') return;
      requests.push({ subgraph: subgraphName, kind: 'ws', query: print(executionRequest.document), authorization: null });
    },
  };
}

export async function startRouter(supergraphSdl: string): Promise<TestRouter> {
  const requests: SubgraphRequest[] = [];
  const runtime = createGatewayRuntime({
    supergraph: supergraphSdl,
    transports: { http: httpTransport, ws: wsTransport },
    ...ROUTER_CONFIG,
    plugins: () => [recorder(requests)],
    logging: false,
    landingPage: false,
  });
  const server = createServer(runtime);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/graphql`;
  const streams = new Set<AbortController>();

  const close = async () => {
    for (const controller of streams) controller.abort();
    await runtime.dispose();
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  };

  return {
    url,
    requests,
    async query(query, variables, token) {
      const res = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json, application/json', ...bearer(token) },
        body: JSON.stringify({ query, variables }),
      });
      return (await res.json()) as GraphQLResponse<any>;
    },
    subscribe(query, variables, token) {
      const controller = new AbortController();
      streams.add(controller);
      const events = createEventQueue<GraphQLResponse>();
      const completed = readSse(url, { query, variables }, bearer(token), controller.signal, events).finally(() => {
        events.close('complete');
        streams.delete(controller);
      });
      completed.catch(() => {});
      return { events, completed, close: () => controller.abort() };
    },
    close,
    [Symbol.asyncDispose]: close,
  };
}

/** Reads an SSE response into `events` until the `complete` event. */
async function readSse(
  url: string,
  body: Record<string, unknown>,
  headers: Record<string, string>,
  signal: AbortSignal,
  events: EventQueue<GraphQLResponse>,
): Promise<void> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'text/event-stream', ...headers },
    body: JSON.stringify(body),
    signal,
  });
  if (!res.ok || !res.body) throw new Error(`SSE request failed: HTTP ${res.status}`);
  const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) throw new Error('SSE stream ended without a complete event');
    buffer += value;
    let end: number;
    while ((end = buffer.indexOf('\n\n')) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      if (/^event: complete$/m.test(block)) {
        await reader.cancel();
        return;
      }
      const data = block
        .split('\n')
        .filter((line) => line.startsWith('data:'))
        .map((line) => line.slice(5).trimStart())
        .join('\n');
      if (data) events.push(JSON.parse(data) as GraphQLResponse);
    }
  }
}
