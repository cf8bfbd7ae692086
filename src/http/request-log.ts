/**
 * One log line per HTTP request (`msg: "request"`): method, route (webhook secret masked; media signatures, tokens
 * and GraphQL documents dropped from the query), status, duration, and the GraphQL operation name and type (plus its
 * span's trace_id/span_id when tracing is on) when the request ran one. `x-request-id` is honoured when sane, else replaced by a generated one; it is echoed on the
 * response and carried on every line logged while the request is handled (AsyncLocalStorage, see logger.ts).
 *
 * Hand-written rather than pino-http: services take the small `Logger` interface (tests hand in plain objects), but
 * pino-http needs the pino instance itself and logs whole req/res objects whose URLs carry the webhook secret and
 * media signatures; the serializers and id options needed to prevent that would be as long as this file.
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { SpanContext } from '@opentelemetry/api';
import { getOperationAST, type DocumentNode } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import { maskSecret } from '../config.js';
import { currentRequestContext, runWithRequestContext, type Logger, type RequestLogContext } from '../logger.js';
import { truncate } from '../upstream/envelope.js';
import { WEBHOOK_PREFIX } from './webhook-route.js';

export const REQUEST_ID_HEADER = 'x-request-id';

/** UUIDs, ULIDs, hex and base64 ids, `Root=1-…` style ids; anything else (spaces, quotes, control bytes) is replaced. */
const SANE_REQUEST_ID = /^[\w.:@/+=-]{1,128}$/;
/** Probes and scrapes: at debug level when they succeed, so a health check every few seconds does not flood info. */
const QUIET_PATHS = new Set(['/healthz', '/readyz', '/metrics']);
/** Query parameters never logged: credentials, and GraphQL GET documents (client data; the operation is logged). */
const DROPPED_PARAMS = new Set(['sig', 'signature', 'token', 'access_token', 'apikey', 'api_key', 'key', 'query', 'variables', 'extensions']);
const MAX_ROUTE_LENGTH = 512;
const MAX_OPERATION_NAME_LENGTH = 128;

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

/**
 * The span of the operation each request ran: the request line is written once the response has ended, after that
 * span ended, so the active-span lookup of the logger's mixin finds nothing then. Weak: it goes with the request.
 */
const requestSpans = new WeakMap<RequestLogContext, SpanContext>();

/** Called when the request's operation span starts, so the request line carries its trace_id/span_id. */
export function recordRequestSpan(span: SpanContext): void {
  const context = currentRequestContext();
  if (context && !requestSpans.has(context)) requestSpans.set(context, span);
}

/** Wraps the node:http request handler: request id in, request id out, one line when the response ends. */
export function withRequestLog(handler: Handler, logger: Logger): Handler {
  return (req, res) => {
    const context: RequestLogContext = { requestId: acceptedRequestId(req.headers[REQUEST_ID_HEADER]) };
    res.setHeader(REQUEST_ID_HEADER, context.requestId);
    const started = performance.now();
    let logged = false;
    const done = (): void => {
      if (logged) return;
      logged = true;
      // 'finish'/'close' fire outside the request's async context: re-enter it so the line carries its request id.
      runWithRequestContext(context, () => writeRequestLine(logger, req, res, context, performance.now() - started));
    };
    res.once('finish', done);
    res.once('close', done);
    runWithRequestContext(context, () => handler(req, res));
  };
}

/** Records the operation for the request line (HTTP and SSE; graphql-ws operations run outside any request). */
export function useRequestLogOperation(): Plugin {
  const record = (args: { document: DocumentNode; operationName?: string | null | undefined }): void => {
    const context = currentRequestContext();
    if (!context) return;
    const operation = getOperationAST(args.document, args.operationName ?? undefined);
    if (!operation) return;
    context.operation = { name: operationName(operation.name?.value ?? args.operationName), type: operation.operation };
  };
  return {
    // Before parsing, so an operation that fails to parse or validate still shows the name the client sent.
    onParams({ params }) {
      const context = currentRequestContext();
      if (context && !context.operation) context.operation = { name: operationName(params.operationName) };
    },
    onExecute: ({ args }) => record(args),
    onSubscribe: ({ args }) => record(args),
  };
}

/** The route as logged: path (webhook secret masked) plus the query without credentials or documents. */
export function loggedRoute(url: string | undefined): string {
  const raw = url ?? '/';
  const q = raw.indexOf('?');
  const path = q < 0 ? raw : raw.slice(0, q);
  const shown = path.startsWith(WEBHOOK_PREFIX) ? `${WEBHOOK_PREFIX}${maskSecret(path.slice(WEBHOOK_PREFIX.length))}` : path;
  return truncate(shown + (q < 0 ? '' : keptQuery(raw.slice(q + 1))), MAX_ROUTE_LENGTH);
}

function acceptedRequestId(header: string | string[] | undefined): string {
  return typeof header === 'string' && SANE_REQUEST_ID.test(header) ? header : randomUUID();
}

function keptQuery(query: string): string {
  const kept = query.split('&').filter((pair) => pair !== '' && !DROPPED_PARAMS.has(paramName(pair)));
  return kept.length > 0 ? `?${kept.join('&')}` : '';
}

function paramName(pair: string): string {
  const name = pair.split('=', 1)[0] ?? '';
  try {
    return decodeURIComponent(name.replace(/\+/g, ' ')).toLowerCase();
  } catch {
    return name.toLowerCase();
  }
}

function operationName(name: string | null | undefined): string | undefined {
  return typeof name === 'string' && name !== '' ? truncate(name, MAX_OPERATION_NAME_LENGTH) : undefined;
}

function writeRequestLine(logger: Logger, req: IncomingMessage, res: ServerResponse, context: RequestLogContext, ms: number): void {
  const route = loggedRoute(req.url);
  // A response cut before its headers has no status worth reporting (the client went away, or the socket was cut).
  const status = res.headersSent ? res.statusCode : undefined;
  const fields: Record<string, unknown> = { method: req.method, route, status, durationMs: Math.round(ms * 10) / 10 };
  if (context.operation?.type) fields.operationType = context.operation.type;
  if (context.operation?.name) fields.operationName = context.operation.name;
  const span = requestSpans.get(context);
  if (span) Object.assign(fields, { trace_id: span.traceId, span_id: span.spanId });
  if (!res.writableFinished) fields.aborted = true;
  const quiet = QUIET_PATHS.has(route.split('?', 1)[0] ?? route);
  if (status !== undefined && status >= 500) logger.error('request', fields);
  else if (status !== undefined && status >= 400) logger.warn('request', fields);
  else if (quiet && status !== undefined) logger.debug('request', fields);
  else logger.info('request', fields);
}
