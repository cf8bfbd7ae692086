/**
 * Span helpers on the OpenTelemetry API (never the SDK) for upstream/, jobs/ and http/. They are inert until
 * `startTracing` (tracing.ts) has registered an SDK: every helper then calls straight through, so a gateway without
 * an OTLP endpoint pays for a boolean check and the API's no-op objects, nothing else.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import {
  context,
  createContextKey,
  defaultTextMapGetter,
  defaultTextMapSetter,
  isSpanContextValid,
  propagation,
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  trace,
  type Attributes,
  type Context,
  type Span,
  type TextMapGetter,
  type TextMapPropagator,
  type Tracer,
} from '@opentelemetry/api';

let enabled = false;
// Stored span contexts are W3C whatever OTEL_PROPAGATORS says: they are our own data, read back by our own code.
// Handed in by startTracing, so @opentelemetry/core is loaded only when tracing is on.
let w3c: TextMapPropagator | undefined;

/**
 * Called by `startTracing` with a W3C trace-context propagator (the helpers below go live), and by its `shutdown`
 * with null (they call straight through again).
 */
export function setTracingEnabled(storagePropagator: TextMapPropagator | null): void {
  w3c = storagePropagator ?? undefined;
  enabled = storagePropagator !== null;
}

/** Whether an SDK is exporting spans (OTEL_EXPORTER_OTLP_ENDPOINT or …_TRACES_ENDPOINT was set). */
export function tracingEnabled(): boolean {
  return enabled;
}

/**
 * Looked up per use rather than kept: a tracer taken before the SDK registered (or from an SDK since shut down, as in
 * tests that start tracing twice) would keep answering with the old provider.
 */
export function tracer(): Tracer {
  return trace.getTracer('frames-gateway');
}

/** The active span's context as a W3C `traceparent`, to keep with something that outlives the span; else null. */
export function activeTraceparent(): string | null {
  if (!w3c) return null;
  const carrier: Record<string, string> = {};
  w3c.inject(context.active(), carrier, defaultTextMapSetter);
  return carrier.traceparent ?? null;
}

/** Links the active span to the span a stored `traceparent` names (nothing when either is missing or malformed). */
export function linkActiveSpanTo(traceparent: string | null | undefined, attributes?: Attributes): void {
  if (!w3c || !traceparent) return;
  const span = trace.getActiveSpan();
  const linked = trace.getSpanContext(w3c.extract(ROOT_CONTEXT, { traceparent }, defaultTextMapGetter));
  if (span && linked && isSpanContextValid(linked)) span.addLink({ context: linked, ...(attributes ? { attributes } : {}) });
}

const headersGetter: TextMapGetter<Headers> = {
  get: (headers, key) => headers.get(key) ?? undefined,
  keys: (headers) => [...headers.keys()],
};

/**
 * The trace context a client or router sent (W3C `traceparent` by default; OTEL_PROPAGATORS decides), from fetch
 * `Headers` or node's `IncomingHttpHeaders`. ROOT_CONTEXT when there is none.
 */
export function remoteContext(headers: Headers | IncomingMessage['headers'] | undefined): Context {
  if (!enabled || !headers) return ROOT_CONTEXT;
  // Duck-typed: yoga's fetch ponyfill has its own Headers class.
  return typeof headers.get === 'function'
    ? propagation.extract(ROOT_CONTEXT, headers as Headers, headersGetter)
    : propagation.extract(ROOT_CONTEXT, headers, defaultTextMapGetter);
}

/** Marks a span failed: `error.type` (an UpstreamError's `kind`, else the error's name) and ERROR status. */
export function markFailed(span: Span, error: unknown): void {
  const kind = (error as { kind?: unknown } | null)?.kind;
  span.setAttribute('error.type', typeof kind === 'string' ? kind : error instanceof Error ? error.name : 'Error');
  span.setStatus({ code: SpanStatusCode.ERROR, ...(error instanceof Error ? { message: error.message } : {}) });
}

const QUEUED_AT = createContextKey('frames.upstream.queued_at');

/**
 * `task` carrying the moment it was queued (now), so the CLIENT span of the upstream call it makes can record how long
 * it waited for its start slot: the local queue and, with Redis, the shared pacer (which waits inside the task).
 */
export function markQueued<T>(task: () => T): () => T {
  if (!enabled) return task;
  const queuedAt = performance.now();
  return () => context.with(context.active().setValue(QUEUED_AT, queuedAt), task);
}

/** What {@link traceUpstreamCall} needs to know of one upstream HTTP exchange (never its headers: the key is one). */
export interface UpstreamCallInfo {
  method: string;
  /** Base URL without trailing slash. */
  baseUrl: string;
  /** Path below the base URL: ids yes (`/re_1/metadata`), never a query string or a credential. */
  path: string;
  /** Bounded label of the endpoint (`extract`, `metadata`, …). */
  endpoint?: string;
}

/** Handed to the exchange by {@link traceUpstreamCall}. */
export interface UpstreamCallSpan {
  /** Trace context headers to send along (`traceparent`, per OTEL_PROPAGATORS). */
  headers: Record<string, string>;
  /** Records the reply's status (4xx/5xx mark the span failed, per the HTTP client conventions). */
  responded(status: number): void;
}

const UNTRACED_CALL: UpstreamCallSpan = { headers: {}, responded() {} };
const ID_SEGMENT = /\/(?:re|im|imc)_[A-Za-z0-9_-]+/g;

/**
 * Runs one upstream HTTP exchange inside a CLIENT span following the HTTP client semantic conventions: name
 * `{method} {url.template}`, `http.request.method`, `url.path`, `url.template`, `server.address`/`server.port`,
 * `http.response.status_code`, `error.type`, plus `frames.upstream.queue_wait_ms` (see {@link markQueued}).
 */
export async function traceUpstreamCall<T>(info: UpstreamCallInfo, exchange: (span: UpstreamCallSpan) => Promise<T>): Promise<T> {
  if (!enabled) return exchange(UNTRACED_CALL);
  const server = new URL(info.baseUrl);
  const template = `${server.pathname.replace(/\/+$/, '')}${info.path.replace(ID_SEGMENT, '/{id}')}`;
  const queuedAt = context.active().getValue(QUEUED_AT);
  const attributes: Attributes = {
    'http.request.method': info.method,
    'url.path': `${server.pathname.replace(/\/+$/, '')}${info.path}`,
    'url.template': template,
    'server.address': server.hostname,
    'server.port': Number(server.port) || (server.protocol === 'https:' ? 443 : 80),
    ...(info.endpoint ? { 'frames.upstream.endpoint': info.endpoint } : {}),
    ...(typeof queuedAt === 'number' ? { 'frames.upstream.queue_wait_ms': Math.round(performance.now() - queuedAt) } : {}),
  };
  return tracer().startActiveSpan(`${info.method} ${template}`, { kind: SpanKind.CLIENT, attributes }, async (span) => {
    const headers: Record<string, string> = {};
    propagation.inject(context.active(), headers);
    const responded = (status: number) => {
      span.setAttribute('http.response.status_code', status);
      if (status < 400) return;
      span.setAttribute('error.type', String(status));
      span.setStatus({ code: SpanStatusCode.ERROR });
    };
    try {
      return await exchange({ headers, responded });
    } catch (error) {
      markFailed(span, error);
      throw error;
    } finally {
      span.end();
    }
  });
}

/**
 * Runs `handle` inside a SERVER span for an HTTP request that is not a GraphQL operation (the webhook), continuing the
 * caller's trace context. `route` is the low-cardinality template; the raw path may hold a secret and is never set.
 * `attributesOf` adds attributes from what `handle` returned.
 */
export async function traceIncomingRequest<T>(
  req: IncomingMessage,
  res: ServerResponse,
  route: string,
  handle: () => Promise<T>,
  attributesOf?: (result: T) => Attributes,
): Promise<T> {
  if (!enabled) return handle();
  const method = req.method ?? 'GET';
  const attributes: Attributes = { 'http.request.method': method, 'http.route': route };
  const options = { kind: SpanKind.SERVER, attributes };
  return tracer().startActiveSpan(`${method} ${route}`, options, remoteContext(req.headers), async (span) => {
    try {
      const result = await handle();
      if (attributesOf) span.setAttributes(attributesOf(result));
      return result;
    } catch (error) {
      markFailed(span, error);
      throw error;
    } finally {
      if (res.headersSent) span.setAttribute('http.response.status_code', res.statusCode);
      if (res.headersSent && res.statusCode >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
      span.end();
    }
  });
}

/** Sets attributes on the active span (no-op outside one). */
export function annotateActiveSpan(attributes: Attributes): void {
  if (enabled) trace.getActiveSpan()?.setAttributes(attributes);
}

/**
 * `publish` inside a PRODUCER span named `publish {topic}` — only when it happens inside a traced request (a webhook,
 * a mutation): the timeout sweep's publishes would otherwise each start a trace of their own.
 */
export function tracePublish(topic: string, attributes: Attributes, publish: () => void): void {
  if (!enabled || !trace.getActiveSpan()) return publish();
  tracer().startActiveSpan(`publish ${topic}`, { kind: SpanKind.PRODUCER, attributes }, (span) => {
    try {
      publish();
    } catch (error) {
      markFailed(span, error);
      throw error;
    } finally {
      span.end();
    }
  });
}
