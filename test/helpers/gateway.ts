/**
 * Starts the real gateway on port 0 in front of a fake upstream (or any base URL), with helpers for HTTP GraphQL,
 * graphql-ws subscriptions and SSE. Everything it starts is disposed by `close()` / `await using`.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createClient, type Client } from 'graphql-ws';
import WebSocket from 'ws';
import { loadConfig } from '../../src/config.js';
import { silentLogger, type Logger } from '../../src/logger.js';
import { createGateway, type Gateway, type GatewayDeps } from '../../src/server.js';
import { createEventQueue, type EventQueue } from './deferred.js';

export const TEST_API_KEY = 'sk-mavi-test';
export const TEST_WEBHOOK_SECRET = 'test-webhook-secret-0123456789';

export interface GraphQLResponse<T = Record<string, any>> {
  data?: T | null;
  errors?: { message: string; path?: (string | number)[]; extensions?: Record<string, unknown> }[];
}

export interface TestGateway extends AsyncDisposable {
  gateway: Gateway;
  url: string;
  graphql<T = Record<string, any>>(query: string, variables?: Record<string, unknown>): Promise<GraphQLResponse<T>>;
  /** A graphql-ws subscription whose results land in a queue; closed on completion or error. */
  subscribeWs<T = Record<string, any>>(query: string, variables?: Record<string, unknown>): Subscription<T>;
  /** The same over SSE (yoga's built-in `text/event-stream`). */
  subscribeSse<T = Record<string, any>>(query: string, variables?: Record<string, unknown>): Subscription<T>;
  close(): Promise<void>;
}

export interface Subscription<T> {
  events: EventQueue<GraphQLResponse<T>>;
  /** Resolves when the server completes the stream (rejects on a transport error). */
  completed: Promise<void>;
  dispose(): Promise<void>;
}

export interface StartTestGatewayOptions {
  upstreamUrl: string;
  env?: Record<string, string>;
  deps?: GatewayDeps;
  logger?: Logger;
}

export async function startTestGateway(options: StartTestGatewayOptions): Promise<TestGateway> {
  const mediaDir = await mkdtemp(join(tmpdir(), 'frames-gw-media-'));
  const config = loadConfig({
    PORT: '0',
    HOST: '127.0.0.1',
    MAVI_BASE_URL: options.upstreamUrl,
    MAVI_API_KEY: TEST_API_KEY,
    MAVI_WEBHOOK_SECRET: TEST_WEBHOOK_SECRET,
    UPSTREAM_RPS: '50',
    UPSTREAM_TIMEOUT_MS: '5000',
    MEDIA_CACHE_DIR: mediaDir,
    LOG_LEVEL: 'silent',
    ...options.env,
  });
  const gateway = createGateway(config, { logger: options.logger ?? silentLogger, ...options.deps });
  await gateway.start();
  const url = gateway.url;
  const wsClients = new Set<Client>();
  const subscriptions = new Set<Subscription<unknown>>();

  const track = <T>(sub: Subscription<T>) => {
    subscriptions.add(sub as Subscription<unknown>);
    return sub;
  };

  const close = async () => {
    await Promise.all([...subscriptions].map((s) => s.dispose()));
    await Promise.all([...wsClients].map((c) => c.dispose()));
    await gateway.stop();
    await rm(mediaDir, { recursive: true, force: true });
  };

  return {
    gateway,
    url,
    async graphql(query, variables) {
      const res = await fetch(`${url}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json, application/json' },
        body: JSON.stringify({ query, variables }),
      });
      return (await res.json()) as GraphQLResponse<any>;
    },
    subscribeWs(query, variables) {
      const client = createClient({ url: url.replace(/^http/, 'ws') + '/graphql', webSocketImpl: WebSocket, retryAttempts: 0, lazy: true });
      wsClients.add(client);
      const events = createEventQueue<GraphQLResponse<any>>();
      let settle!: { resolve: () => void; reject: (e: unknown) => void };
      const completed = new Promise<void>((resolve, reject) => (settle = { resolve, reject }));
      completed.catch(() => {});
      const unsubscribe = client.subscribe(
        { query, variables },
        {
          next: (value) => events.push(value as GraphQLResponse<any>),
          error: (error) => {
            events.close(error);
            settle.reject(error);
          },
          complete: () => {
            events.close('complete');
            settle.resolve();
          },
        },
      );
      return track({
        events,
        completed,
        async dispose() {
          unsubscribe();
          events.close('disposed');
          await client.dispose();
          wsClients.delete(client);
        },
      });
    },
    subscribeSse(query, variables) {
      const controller = new AbortController();
      const events = createEventQueue<GraphQLResponse<any>>();
      const completed = (async () => {
        const res = await fetch(`${url}/graphql`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', accept: 'text/event-stream' },
          body: JSON.stringify({ query, variables }),
          signal: controller.signal,
        });
        if (!res.body) throw new Error(`SSE request failed: HTTP ${res.status}`);
        const decoder = new TextDecoder();
        let buffer = '';
        const reader = res.body.getReader();
        for (;;) {
          const { value: chunk, done } = await reader.read();
          if (done) break;
          buffer += decoder.decode(chunk, { stream: true });
          let end: number;
          while ((end = buffer.indexOf('\n\n')) >= 0) {
            const block = buffer.slice(0, end);
            buffer = buffer.slice(end + 2);
            const event = /^event: (.*)$/m.exec(block)?.[1];
            const data = block
              .split('\n')
              .filter((l) => l.startsWith('data:'))
              .map((l) => l.slice(5).trimStart())
              .join('\n');
            if (event === 'complete') {
              await reader.cancel();
              return;
            }
            if (data) events.push(JSON.parse(data) as GraphQLResponse<any>);
          }
        }
      })().finally(() => events.close('complete'));
      completed.catch(() => {});
      return track({
        events,
        completed,
        async dispose() {
          controller.abort();
          events.close('disposed');
          await completed.catch(() => {});
        },
      });
    },
    close,
    [Symbol.asyncDispose]: close,
  };
}
