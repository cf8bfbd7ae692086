/**
 * Per-operation abuse limits and schema exposure, as envelop plugins: they run on HTTP, SSE and (through
 * `yoga.getEnveloped` in graphql-ws.ts) websocket operations alike. Plus the cap on non-multipart request bodies.
 */
import { useDisableIntrospection } from '@envelop/disable-introspection';
import { EnvelopArmorPlugin } from '@escape.tech/graphql-armor';
import { createGraphQLError, type Plugin } from 'graphql-yoga';
import type { Config } from '../config.js';
import { ErrorCode } from '../schema/error-codes.js';

/**
 * graphql-armor's depth, cost, alias, directive and token limits, field suggestions masked (armor's default), and,
 * when introspection is not exposed, graphql-js's NoSchemaIntrospectionCustomRule. The envelop plugin is used rather
 * than @graphql-yoga/plugin-disable-introspection: yoga's marks the HTTP request in `onRequestParse`, which a
 * graphql-ws operation never passes through, so introspection stayed open over websockets. `_service { sdl }` is a
 * plain field, so federation routers still read the subgraph SDL.
 */
export function operationLimitPlugins(config: Pick<Config, 'limits' | 'exposure'>): Plugin[] {
  const { limits } = config;
  const armor = EnvelopArmorPlugin({
    maxDepth: { n: limits.maxDepth },
    // Generous because federation routers batch entity fetches under aliases (`_0__entities`, `_1__entities`, ...).
    maxAliases: { n: limits.maxAliases },
    costLimit: { maxCost: limits.maxCost },
    maxDirectives: { n: limits.maxDirectives },
    maxTokens: { n: limits.maxTokens },
  });
  return config.exposure.introspection ? [armor as Plugin] : [armor as Plugin, useDisableIntrospection() as Plugin];
}

const DECIMAL = /^\d+$/;

const bodyTooLarge = (maxBytes: number) =>
  createGraphQLError(`Request body too large (limit ${maxBytes} bytes)`, {
    extensions: { http: { status: 413 }, code: ErrorCode.REQUEST_ENTITY_TOO_LARGE },
  });

/**
 * Caps every GraphQL request body: JSON (and other non-multipart) bodies at `jsonMaxBytes`, multipart uploads at
 * `multipartMaxBytes` (sized for UPLOAD_MAX_BYTES; busboy's per-part limits still apply) when given, which lets
 * server.ts turn yoga's own `maxRequestBodySize` off: yoga pipes every body through a counting stream, ~2.5% of
 * the CPU in bench:graphql (an AbortController and a DOMException per request when the pipe ends). Yoga applies one limit to every content type and does not export
 * its stream limiter, so this is the same check: Content-Length first, then a byte count on the stream for chunked
 * bodies that declare none (or lie).
 */
export function useJsonBodyLimit(jsonMaxBytes: number, options: { multipartMaxBytes?: number } = {}): Plugin {
  return {
    onRequestParse({ request, requestParser, setRequestParser, fetchAPI }) {
      if (request.body == null || requestParser == null) return;
      const multipart = (request.headers.get('content-type') ?? '').toLowerCase().startsWith('multipart/');
      if (multipart && options.multipartMaxBytes === undefined) return;
      const maxBytes = multipart ? options.multipartMaxBytes! : jsonMaxBytes;
      const declared = request.headers.get('content-length');
      if (declared !== null && Number(declared) > maxBytes) throw bodyTooLarge(maxBytes);
      // node:http delivers exactly the declared length (llhttp refuses a body that also claims chunked encoding, and
      // conflicting lengths), so a valid Content-Length within the cap needs no counting stream: skipping it saves
      // a web-stream pipe per request (with its AbortController and DOMException), ~1% of the CPU in bench:graphql.
      if (declared !== null && DECIMAL.test(declared)) return;
      setRequestParser((req) => requestParser(limitBody(req, maxBytes, fetchAPI)));
    },
  };
}

function limitBody(request: Request, maxBytes: number, fetchAPI: { Request: typeof Request; TransformStream: typeof TransformStream }) {
  const body = request.body;
  if (body == null) return request;
  // A native stream piped into the ponyfill's TransformStream fails (graphql-yoga#4583): pick the matching one.
  const Transform = body instanceof ReadableStream ? globalThis.TransformStream : fetchAPI.TransformStream;
  let bytes = 0;
  const limited = body.pipeThrough(
    new Transform<Uint8Array, Uint8Array>({
      transform(chunk, controller) {
        bytes += chunk.byteLength;
        if (bytes > maxBytes) controller.error(bodyTooLarge(maxBytes));
        else controller.enqueue(chunk);
      },
    }),
  );
  return new fetchAPI.Request(request.url, {
    method: request.method,
    headers: request.headers,
    signal: request.signal,
    body: limited,
    duplex: 'half',
  } as RequestInit);
}
