/**
 * `GET /metrics` (Prometheus text format) and the two yoga plugins that feed the registry from GraphQL:
 * `@graphql-yoga/plugin-prometheus` for the phases (parse, validate, context, execute, subscribe) and a small one
 * counting open subscriptions by transport. Both run over HTTP, SSE and graphql-ws (which executes through
 * `yoga.getEnveloped`, see graphql-ws.ts).
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { usePrometheus } from '@graphql-yoga/plugin-prometheus';
import type { Plugin } from 'graphql-yoga';
import type { Metrics, SubscriptionTransport } from '../observability/metrics.js';
import { sendJson } from './read-body.js';

export const METRICS_PATH = '/metrics';

export interface MetricsRouteOptions {
  metrics: Metrics;
  /** When set, a scrape needs `Authorization: Bearer <token>`. */
  token: string | undefined;
}

export function createMetricsRoute(options: MetricsRouteOptions) {
  // Digests of equal length, so the comparison is timing-safe whatever length the caller sent.
  const expected = options.token === undefined ? null : digest(`Bearer ${options.token}`);
  return async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      sendJson(res, 405, { error: 'use GET' }, { allow: 'GET, HEAD' });
      return;
    }
    const given = req.headers.authorization;
    if (expected && (given === undefined || !timingSafeEqual(digest(given), expected))) {
      sendJson(res, 401, { error: 'a bearer token is required' }, { 'www-authenticate': 'Bearer realm="metrics"' });
      return;
    }
    const { contentType, body } = await options.metrics.scrape();
    res.writeHead(200, { 'content-type': contentType, 'content-length': Buffer.byteLength(body), 'cache-control': 'no-store' });
    res.end(req.method === 'HEAD' ? undefined : body);
  };
}

const digest = (text: string) => createHash('sha256').update(text).digest();

/**
 * The GraphQL phase metrics (`graphql_envelop_*`, `graphql_yoga_http_duration`) in the gateway's registry, served by
 * our own route (token check), not the plugin's. Labels that clients choose are off: operation names and URLs are
 * unbounded (they belong in traces and logs); error paths hold list indexes. Operation type, phase, and the schema's
 * own type and field names stay.
 */
export function useGraphQLMetrics(metrics: Metrics): Plugin {
  return usePrometheus({
    registry: metrics.registry,
    endpoint: false,
    skipIntrospection: true,
    labels: { operationName: false, url: false, path: false },
    // A summary cannot be aggregated across instances; the duration histogram gives the same figures.
    metrics: { graphql_envelop_request_time_summary: false },
  });
}

/**
 * Counts each subscription stream as open from its first step to its end (done, error, or `return()` when the
 * client goes away). Hand-written iterator wrapper rather than envelop's `onEnd`: that one is not called when the
 * stream ends with an error.
 */
export function useSubscriptionMetrics(metrics: Metrics): Plugin {
  return {
    onSubscribe({ context }) {
      const transport = transportOf(context as { request?: Request });
      return {
        onSubscribeResult({ result, setResult }) {
          if (!isAsyncIterable(result)) return;
          setResult(untilEnd(result, metrics.subscriptions.opened(transport)));
        },
      };
    },
  };
}

/** graphql-ws contexts carry no fetch `Request`; over HTTP, yoga streams subscriptions only as SSE. */
function transportOf(context: { request?: Request }): SubscriptionTransport {
  return context.request ? 'sse' : 'ws';
}

function isAsyncIterable(value: unknown): value is AsyncIterable<unknown> {
  return typeof value === 'object' && value !== null && Symbol.asyncIterator in value;
}

/** `source`, calling `onEnd` once when it finishes, fails, or is closed early. */
function untilEnd<T>(source: AsyncIterable<T>, onEnd: () => void): AsyncIterableIterator<T> {
  const iterator = source[Symbol.asyncIterator]();
  const step = async (next: Promise<IteratorResult<T>>): Promise<IteratorResult<T>> => {
    try {
      const result = await next;
      if (result.done) onEnd();
      return result;
    } catch (error) {
      onEnd();
      throw error;
    }
  };
  return {
    [Symbol.asyncIterator]() {
      return this;
    },
    next: () => step(iterator.next()),
    return: (value?: unknown) => {
      onEnd();
      return iterator.return ? iterator.return(value) : Promise.resolve({ done: true, value: value as T });
    },
    throw: (error?: unknown) => {
      onEnd();
      return iterator.throw ? iterator.throw(error) : Promise.reject(error);
    },
  };
}
