/**
 * `GET /metrics` (Prometheus text format) and the two yoga plugins that feed the registry from GraphQL:
 * `@graphql-yoga/plugin-prometheus` for the phases (parse, validate, context, execute, subscribe) and a small one
 * counting open subscriptions by transport. Both run over HTTP, SSE and graphql-ws (which executes through
 * `yoga.getEnveloped`, see graphql-ws.ts).
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { usePrometheus, type FillLabelsFnParams } from '@graphql-yoga/plugin-prometheus';
import type { ExecutionResult } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import type { GraphQLOperationSeries, Metrics, SubscriptionTransport } from '../observability/metrics.js';
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
 *
 * The plugin measures queries and mutations only. Its subscribe hooks would wrap every subscription stream in three
 * more iterators (map for errors, final for the end, error for failures), each holding a promise chain and the
 * labels for as long as an idle subscriber stays connected (~2.3 KB heap per subscriber); useSubscriptionMetrics
 * feeds the same series from the one wrapper the subscription gauge needs anyway.
 */
export function useGraphQLMetrics(metrics: Metrics): Plugin {
  const { graphql } = metrics;
  // A document that failed to parse has no operation type: its error is counted without the label.
  const operationType = (params: FillLabelsFnParams): Record<string, string> => (params.operationType ? { operationType: params.operationType } : {});
  return usePrometheus({
    registry: metrics.registry,
    endpoint: false,
    skipIntrospection: true,
    labels: { operationName: false, url: false, path: false },
    metrics: {
      // A summary cannot be aggregated across instances; the duration histogram gives the same figures.
      graphql_envelop_request_time_summary: false,
      graphql_envelop_phase_subscribe: false,
      graphql_envelop_request: { counter: graphql.requests, fillLabelsFn: operationType, phases: ['execute'] },
      graphql_envelop_request_duration: { histogram: graphql.requestDuration, fillLabelsFn: operationType, phases: ['execute'] },
      graphql_envelop_error_result: {
        counter: graphql.errors,
        fillLabelsFn: (params) => ({ ...operationType(params), phase: params.errorPhase }),
        phases: ['parse', 'validate', 'context', 'execute'],
      },
    },
  });
}

/**
 * Per subscription stream: `frames_subscriptions_active{transport}` from the subscribe to its end (done, error, or
 * `return()` when the client goes away), and the subscription side of the `graphql_envelop_*` series, as
 * @envelop/prometheus measured them: at the end, the stream's life as the subscribe phase and request duration, one
 * request; errors in pushed results per error (phase `execute`, as the plugin labels them), a failed stream as phase
 * `subscribe`. An iterator wrapper of our own rather than envelop's `onEnd`, which is not called when the stream
 * fails.
 */
export function useSubscriptionMetrics(metrics: Metrics): Plugin {
  return {
    onSubscribe({ context }) {
      const started = performance.now();
      const transport = transportOf(context as { request?: Request });
      return {
        onSubscribeResult({ result, setResult }) {
          if (isAsyncIterable(result)) {
            setResult(new MeasuredStream(result, metrics, transport, started));
            return;
          }
          // Refused before any stream began (the subscribe resolver failed): a result of errors, ended at once.
          countErrors(metrics.graphql, result);
          subscriptionEnded(metrics.graphql, started, false);
        },
      };
    },
  };
}

const SUBSCRIPTION = { operationType: 'subscription' } as const;

function countErrors(series: GraphQLOperationSeries, result: unknown): void {
  const errors = (result as ExecutionResult | null)?.errors?.length;
  if (errors) series.errors.inc({ ...SUBSCRIPTION, phase: 'execute' }, errors);
}

function subscriptionEnded(series: GraphQLOperationSeries, started: number, failed: boolean): void {
  const seconds = (performance.now() - started) / 1000;
  series.requests.inc(SUBSCRIPTION);
  series.requestDuration.observe(SUBSCRIPTION, seconds);
  series.subscribePhase.observe(SUBSCRIPTION, seconds);
  if (failed) series.errors.inc({ ...SUBSCRIPTION, phase: 'subscribe' });
}

/** graphql-ws contexts carry no fetch `Request`; over HTTP, yoga streams subscriptions only as SSE. */
function transportOf(context: { request?: Request }): SubscriptionTransport {
  return context.request ? 'sse' : 'ws';
}

function isAsyncIterable(value: unknown): value is AsyncIterable<unknown> {
  return typeof value === 'object' && value !== null && Symbol.asyncIterator in value;
}

/**
 * The source stream, counted as open until it finishes, fails or is closed early (its end is reported once).
 *
 * A class, not the closures the code base prefers, because an idle subscriber holds one for hours: here a stream
 * costs one object (methods on the prototype) and, while a `next()` waits, one promise and its two callbacks; the
 * closure version held seven functions and an async frame (under tsx, whose keepNames gives every named function
 * its own property dictionary, ~300 B more each).
 */
class MeasuredStream<T> implements AsyncIterableIterator<T> {
  readonly #source: AsyncIterator<T>;
  readonly #metrics: Metrics;
  readonly #started: number;
  readonly #close: () => void;
  #open = true;

  constructor(source: AsyncIterable<T>, metrics: Metrics, transport: SubscriptionTransport, started: number) {
    this.#source = source[Symbol.asyncIterator]();
    this.#metrics = metrics;
    this.#started = started;
    this.#close = metrics.subscriptions.opened(transport);
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  next(): Promise<IteratorResult<T>> {
    return this.#source.next().then(
      (result) => {
        if (result.done) this.#end(false);
        else countErrors(this.#metrics.graphql, result.value);
        return result;
      },
      (error: unknown) => {
        this.#end(true);
        throw error;
      },
    );
  }

  return(value?: unknown): Promise<IteratorResult<T>> {
    this.#end(false);
    return this.#source.return ? this.#source.return(value) : Promise.resolve({ done: true, value: value as T });
  }

  throw(error?: unknown): Promise<IteratorResult<T>> {
    this.#end(true);
    return this.#source.throw ? this.#source.throw(error) : Promise.reject(error);
  }

  #end(failed: boolean): void {
    if (!this.#open) return;
    this.#open = false;
    this.#close();
    subscriptionEnded(this.#metrics.graphql, this.#started, failed);
  }
}
