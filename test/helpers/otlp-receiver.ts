/**
 * A real OTLP/HTTP JSON trace receiver on port 0: accepts `POST /v1/traces` (what the SDK's exporter sends with
 * OTEL_EXPORTER_OTLP_PROTOCOL=http/json), flattens the spans, and lets a test await the spans it expects.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createDeferred, type Deferred } from './deferred.js';

export type AttributeValue = string | number | boolean | null;

export interface ReceivedSpan {
  traceId: string;
  spanId: string;
  /** '' for a root span. */
  parentSpanId: string;
  name: string;
  /** OTLP enum: 1 INTERNAL, 2 SERVER, 3 CLIENT, 4 PRODUCER, 5 CONSUMER. */
  kind: number;
  attributes: Record<string, AttributeValue>;
  events: { name: string; attributes: Record<string, AttributeValue> }[];
  links: { traceId: string; spanId: string }[];
  /** OTLP enum: 0 UNSET, 1 OK, 2 ERROR. */
  statusCode: number;
  resource: Record<string, AttributeValue>;
}

export interface OtlpReceiver {
  /** Base URL for OTEL_EXPORTER_OTLP_ENDPOINT (the exporter appends `/v1/traces`). */
  url: string;
  spans: ReceivedSpan[];
  /** Every request received, including ones to other paths (answered 404). */
  requests: { method: string; path: string; contentType: string | undefined }[];
  /** Resolves once `done(spans)` holds for the spans received so far (checked on every export). */
  waitFor(done: (spans: ReceivedSpan[]) => boolean): Promise<ReceivedSpan[]>;
  close(): Promise<void>;
}

export const SPAN_KIND = { INTERNAL: 1, SERVER: 2, CLIENT: 3, PRODUCER: 4 } as const;
export const STATUS_ERROR = 2;

interface WireKeyValue {
  key: string;
  value: Record<string, unknown>;
}

export async function startOtlpReceiver(): Promise<OtlpReceiver> {
  const spans: ReceivedSpan[] = [];
  const requests: OtlpReceiver['requests'] = [];
  const waiters: { done: (spans: ReceivedSpan[]) => boolean; deferred: Deferred<ReceivedSpan[]> }[] = [];
  const check = () => {
    for (const waiter of [...waiters]) {
      if (!waiter.done(spans)) continue;
      waiters.splice(waiters.indexOf(waiter), 1);
      waiter.deferred.resolve(spans);
    }
  };
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      requests.push({ method: req.method ?? '', path: req.url ?? '', contentType: req.headers['content-type'] });
      if (req.method !== 'POST' || req.url !== '/v1/traces') {
        res.writeHead(404).end();
        return;
      }
      try {
        spans.push(...flatten(JSON.parse(Buffer.concat(chunks).toString('utf8'))));
      } catch (error) {
        res.writeHead(400, { 'content-type': 'application/json' }).end(JSON.stringify({ message: String(error) }));
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      check();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    spans,
    requests,
    waitFor(done) {
      const deferred = createDeferred<ReceivedSpan[]>();
      waiters.push({ done, deferred });
      check();
      return deferred.promise;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

function flatten(body: {
  resourceSpans?: { resource?: { attributes?: WireKeyValue[] }; scopeSpans?: { spans?: Record<string, any>[] }[] }[];
}): ReceivedSpan[] {
  const out: ReceivedSpan[] = [];
  for (const resourceSpans of body.resourceSpans ?? []) {
    const resource = attributesOf(resourceSpans.resource?.attributes);
    for (const scope of resourceSpans.scopeSpans ?? []) {
      for (const span of scope.spans ?? []) {
        out.push({
          traceId: span.traceId,
          spanId: span.spanId,
          parentSpanId: span.parentSpanId ?? '',
          name: span.name,
          kind: span.kind,
          attributes: attributesOf(span.attributes),
          events: (span.events ?? []).map((e: { name: string; attributes?: WireKeyValue[] }) => ({
            name: e.name,
            attributes: attributesOf(e.attributes),
          })),
          links: (span.links ?? []).map((l: { traceId: string; spanId: string }) => ({ traceId: l.traceId, spanId: l.spanId })),
          statusCode: span.status?.code ?? 0,
          resource,
        });
      }
    }
  }
  return out;
}

function attributesOf(list: WireKeyValue[] | undefined): Record<string, AttributeValue> {
  const out: Record<string, AttributeValue> = {};
  for (const { key, value } of list ?? []) {
    const [kind, raw] = Object.entries(value)[0] ?? [];
    out[key] = kind === 'intValue' ? Number(raw) : ((raw ?? null) as AttributeValue);
  }
  return out;
}
