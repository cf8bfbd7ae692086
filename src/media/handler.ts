/**
 * HTTP handler for `GET|HEAD /media/<id>?exp=&sig=`: checks the signature before any cache or upstream work, then
 * serves frames / collection zips / videos from the disk cache (ETag, 304, single Range, HEAD) or streams an
 * uncacheable upstream body through. A HEAD never opens a download it would cancel: an uncached video is described
 * from metadata. Errors are small JSON bodies; upstream bytes are only sent on success; a stalled or timed-out
 * upstream download is a 504.
 *
 * Variants (`?w=…&fmt=…`, `?as=sprite…`, `?as=preview…`, see variants.ts) are signed with their parameters and served
 * from the disk cache like frames, made on a miss by the image service from the cached originals. Parameters that
 * are not canonical (the gateway never signs them) answer 403 like a bad signature; an original sharp cannot decode
 * (or over the pixel limit) answers 422.
 *
 * Hot path (cached frame): one HMAC, one Map lookup, one `open` (no `stat`: the cache entry knows the size); with auth
 * also one ownership read (a Map lookup, or one Redis GET with REDIS_URL).
 */
import { createReadStream, type ReadStream } from 'node:fs';
import { once } from 'node:events';
import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as NodeWebReadableStream } from 'node:stream/web';
import { sendJson as writeJson } from '../http/read-body.js';
import { isUpstreamError } from '../upstream/errors.js';
import type { CacheEntry } from './disk-cache.js';
import { etagMatches, ifRangeAllows, parseRange } from './http-conditional.js';
import { classifyMediaId, collectionIdOfFrame, extensionForContentType, MEDIA_PATH_PREFIX, type MediaKind } from './ids.js';
import type { MediaService } from './media-service.js';
import { ImageProcessingError, type ImageService } from './rendition.js';
import type { MediaSigner } from './signing.js';
import type { MediaBody, MediaHeaders, MediaLogger } from './types.js';
import { parseVariant, type MediaVariant } from './variants.js';

/** Dependencies of {@link createMediaHandler}. */
export interface MediaHandlerOptions {
  signer: MediaSigner;
  service: MediaService;
  /** Makes renditions, sprites and previews; without it variant URLs answer 404. */
  images?: ImageService;
  logger?: MediaLogger;
  /**
   * Metrics, once per request whose signature checked out: `hit` served from the disk cache, `miss` through an
   * upstream download (or from metadata, for a HEAD), `error` when it failed before the response began.
   */
  onResult?: (result: 'hit' | 'miss' | 'error') => void;
  /**
   * Whether the id is still someone's (set with auth on, where every URL is minted for an owned id). False once it
   * was deleted through any instance: the URL answers 404 and this instance's cached copy is evicted, since only the
   * deleting instance evicted at once. A failed check serves anyway (the URL was signed for its owner).
   */
  stillOwned?: (id: string, kind: MediaKind) => Promise<boolean>;
}

/** A node:http request listener; never rejects (failures become HTTP errors or a destroyed response). */
export type MediaRequestHandler = (req: IncomingMessage, res: ServerResponse) => Promise<void>;

const IMMUTABLE = 'private, max-age=31536000, immutable';
const ALLOW = 'GET, HEAD';
const CORS_EXPOSED = 'Content-Length, Content-Range, Accept-Ranges, ETag, Content-Disposition';

/** Creates the `/media/<id>` request handler. */
export function createMediaHandler(options: MediaHandlerOptions): MediaRequestHandler {
  const { signer, service, logger } = options;

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const path = q === -1 ? url : url.slice(0, q);
    if (!path.startsWith(MEDIA_PATH_PREFIX)) return sendJson(res, 404, { error: 'not_found' });
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      return sendJson(res, 405, { error: 'method_not_allowed' }, { Allow: ALLOW });
    }
    const id = path.slice(MEDIA_PATH_PREFIX.length);
    const kind = classifyMediaId(id);
    if (kind === null) return sendJson(res, 404, { error: 'not_found' });
    const params = readParams(q === -1 ? '' : url.slice(q + 1));
    const variant = parseVariant(kind, params);
    if (variant === 'invalid') {
      return sendJson(res, 403, { error: 'forbidden', message: 'Missing or invalid media URL signature.' });
    }
    const check = signer.verify(id, params.get('exp') ?? null, params.get('sig') ?? null, variant);
    if (check === 'expired') {
      return sendJson(res, 403, { error: 'expired', message: 'This media URL has expired; request a fresh one.' });
    }
    if (check !== 'ok') {
      return sendJson(res, 403, { error: 'forbidden', message: 'Missing or invalid media URL signature.' });
    }
    if (!(await isLive(id, kind))) {
      // A frame is owned through its collection: the whole collection went.
      const gone = kind === 'frame' ? (collectionIdOfFrame(id) ?? id) : id;
      await (options.images ?? service).evict(gone);
      return sendJson(res, 404, { error: 'not_found' });
    }
    if (variant === null) return serve(req, res, id, kind);
    if (!options.images) return sendJson(res, 404, { error: 'not_found' });
    await serveVariant(req, res, id, variant, options.images);
  }

  async function serveVariant(
    req: IncomingMessage,
    res: ServerResponse,
    id: string,
    variant: MediaVariant,
    images: ImageService,
  ): Promise<void> {
    const cached = images.isCached(id, variant);
    try {
      for (let attempt = 0; attempt < 2; attempt += 1) {
        const entry = await images.get(id, variant);
        if ((await sendFile(req, res, entry, 'inline')) === 'sent') {
          options.onResult?.(cached ? 'hit' : 'miss');
          return;
        }
        await service.forget(entry.key);
      }
    } catch (error) {
      options.onResult?.(res.headersSent ? (cached ? 'hit' : 'miss') : 'error');
      throw error;
    }
    throw new Error(`cached variant of ${id} vanished twice`);
  }

  async function isLive(id: string, kind: MediaKind): Promise<boolean> {
    if (!options.stillOwned) return true;
    try {
      return await options.stillOwned(id, kind);
    } catch (error) {
      logger?.warn?.('media: ownership check failed; serving the signed URL', { id, error });
      return true;
    }
  }

  async function serve(req: IncomingMessage, res: ServerResponse, id: string, kind: MediaKind): Promise<void> {
    const cached = service.isCached(id);
    try {
      await serveOnce(req, res, id, kind);
    } catch (error) {
      // A response already under way had its hit or miss: only a request that got no media at all is an error.
      options.onResult?.(res.headersSent ? (cached ? 'hit' : 'miss') : 'error');
      throw error;
    }
    options.onResult?.(cached ? 'hit' : 'miss');
  }

  /** Serves a cached file, retrying once when its file vanished (evicted between lookup and open). */
  async function serveOnce(req: IncomingMessage, res: ServerResponse, id: string, kind: MediaKind): Promise<void> {
    for (let attempt = 0; attempt < 2; attempt += 1) {
      const body = await load(id, kind, req.method === 'HEAD');
      if (body.kind === 'headers') return sendHeaders(res, body);
      if (body.kind === 'stream') return sendStream(req, res, id, body);
      if ((await sendFile(req, res, body.entry, kind === 'frame' ? 'inline' : 'attachment')) === 'sent') return;
      await service.forget(body.entry.key);
    }
    throw new Error(`cached file for ${id} vanished twice`);
  }

  async function load(id: string, kind: MediaKind, head: boolean): Promise<MediaBody> {
    if (kind === 'frame') return { kind: 'file', entry: await service.getFrame(id) };
    if (kind === 'collection') return service.getCollectionZip(id, { headersOnly: head });
    return head ? service.headVideo(id) : service.openVideo(id);
  }

  return async (req, res) => {
    // CORS without credentials: the signed URL is the whole authority (anyone holding it can already load it in an
    // <img>), so a page on another origin may also fetch() it, read a 403 `expired` and fetch a fresh URL.
    res.setHeader('Access-Control-Allow-Origin', '*');
    res.setHeader('Access-Control-Expose-Headers', CORS_EXPOSED);
    if (req.method === 'OPTIONS') {
      res.writeHead(204, {
        'Access-Control-Allow-Methods': ALLOW,
        'Access-Control-Allow-Headers': 'Range, If-None-Match, If-Range',
        'Access-Control-Max-Age': '600',
      });
      res.end();
      return;
    }
    try {
      await handle(req, res);
    } catch (error) {
      fail(res, error, logger);
    }
  };
}

async function sendFile(
  req: IncomingMessage,
  res: ServerResponse,
  entry: CacheEntry,
  disposition: 'inline' | 'attachment',
): Promise<'sent' | 'gone'> {
  if (etagMatches(req.headers['if-none-match'], entry.etag)) {
    res.writeHead(304, { ETag: entry.etag, 'Cache-Control': IMMUTABLE });
    res.end();
    return 'sent';
  }
  const ifRange = req.headers['if-range'];
  const rangeAllowed = ifRangeAllows(Array.isArray(ifRange) ? ifRange[0] : ifRange, entry.etag);
  const range = rangeAllowed ? parseRange(req.headers.range, entry.size) : null;
  if (range === 'unsatisfiable') {
    sendJson(res, 416, { error: 'range_not_satisfiable' }, { 'Content-Range': `bytes */${entry.size}` });
    return 'sent';
  }
  const start = range ? range.start : 0;
  const end = range ? range.end : entry.size - 1;
  const headers: OutgoingHttpHeaders = {
    'Content-Type': entry.contentType,
    'Content-Length': end - start + 1,
    'Content-Disposition': `${disposition}; filename="${entry.filename ?? entry.key}"`,
    ETag: entry.etag,
    'Cache-Control': IMMUTABLE,
    'Accept-Ranges': 'bytes',
    'X-Content-Type-Options': 'nosniff',
  };
  if (range) headers['Content-Range'] = `bytes ${start}-${end}/${entry.size}`;
  const status = range ? 206 : 200;
  if (req.method === 'HEAD' || entry.size === 0) {
    res.writeHead(status, headers);
    res.end();
    return 'sent';
  }
  let stream: ReadStream;
  try {
    stream = createReadStream(entry.path, { start, end });
    await once(stream, 'open'); // headers only once the file is known to exist
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return 'gone';
    throw error;
  }
  res.writeHead(status, headers);
  await pipeFile(stream, res);
  return 'sent';
}

/**
 * `stream.pipe(res)` with explicit teardown. Hot path: `stream/promises.pipeline` allocates and aborts an
 * AbortController per call (a DOMException with a stack trace), which cost ~25% of cached-frame throughput.
 */
function pipeFile(stream: ReadStream, res: ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      stream.off('error', onError);
      res.off('close', onClose);
      resolve();
    };
    const onError = (error: Error) => {
      res.destroy(error);
      done();
    };
    const onClose = () => {
      stream.destroy();
      done();
    };
    stream.once('error', onError);
    res.once('close', onClose);
    stream.pipe(res);
  });
}

/** The headers of a 200 whose bytes are not in the cache (streamed through, or described for a HEAD). */
function uncachedHeaders(head: MediaHeaders): OutgoingHttpHeaders {
  const headers: OutgoingHttpHeaders = {
    'Content-Type': head.contentType,
    'Content-Disposition': head.contentDisposition,
    'Cache-Control': IMMUTABLE,
    'Accept-Ranges': head.acceptRanges ? 'bytes' : 'none',
    'X-Content-Type-Options': 'nosniff',
  };
  if (head.contentLength !== null) headers['Content-Length'] = head.contentLength;
  return headers;
}

function sendHeaders(res: ServerResponse, head: MediaHeaders): void {
  res.writeHead(200, uncachedHeaders(head));
  res.end();
}

async function sendStream(
  req: IncomingMessage,
  res: ServerResponse,
  id: string,
  body: Extract<MediaBody, { kind: 'stream' }>,
): Promise<void> {
  const fallbackName = `${id}.${extensionForContentType(body.contentType)}`;
  const contentDisposition = safeDisposition(body.contentDisposition) ?? `attachment; filename="${fallbackName}"`;
  res.writeHead(200, uncachedHeaders({ ...body, contentDisposition, acceptRanges: false }));
  if (req.method === 'HEAD') {
    res.end();
    await body.body.cancel().catch(() => undefined);
    return;
  }
  await pipeline(Readable.fromWeb(body.body as NodeWebReadableStream<Uint8Array>), res);
}

/** Upstream Content-Disposition if it is plain printable ASCII (no header injection), else `null`. */
function safeDisposition(value: string | null): string | null {
  return value !== null && value.length <= 1024 && /^[\x20-\x7e]+$/.test(value) ? value : null;
}

/** Query parameters, first occurrence wins, values as sent (every value the gateway signs is URL-safe). */
function readParams(query: string): Map<string, string> {
  const params = new Map<string, string>();
  if (query === '') return params;
  for (const pair of query.split('&')) {
    const eq = pair.indexOf('=');
    const name = eq === -1 ? pair : pair.slice(0, eq);
    if (!params.has(name)) params.set(name, eq === -1 ? '' : pair.slice(eq + 1));
  }
  return params;
}

/** Media errors must never be cached in place of the file (a CDN or browser would keep serving the error). */
function sendJson(res: ServerResponse, status: number, body: object, extra: Record<string, string> = {}): void {
  writeJson(res, status, body, { ...extra, 'Cache-Control': 'no-store' });
}

function fail(res: ServerResponse, error: unknown, logger: MediaLogger | undefined): void {
  if (res.headersSent) {
    // Mid-body failure (client went away, upstream stream broke): a truncated body must not look complete.
    if (!isClientAbort(error)) logger?.warn?.('media: response aborted', { error: String(error) });
    res.destroy();
    return;
  }
  if (isUpstreamError(error)) {
    if (error.kind === 'NOT_FOUND') return sendJson(res, 404, { error: 'not_found' });
    if (error.kind === 'RATE_LIMITED') {
      const retryAfter = String(Math.max(1, Math.ceil(error.retryAfterSeconds ?? 1)));
      return sendJson(res, 503, { error: 'rate_limited' }, { 'Retry-After': retryAfter });
    }
    if (error.kind === 'TIMEOUT') {
      logger?.warn?.('media: upstream timeout', { message: error.message });
      return sendJson(res, 504, { error: 'upstream_timeout', kind: 'TIMEOUT' });
    }
    logger?.warn?.('media: upstream failure', { kind: error.kind, status: error.status, message: error.message });
    return sendJson(res, 502, { error: 'upstream_error', kind: error.kind });
  }
  if (error instanceof ImageProcessingError) {
    logger?.warn?.('media: image could not be processed', { message: error.message });
    return sendJson(res, 422, { error: 'unprocessable_image' });
  }
  logger?.error?.('media: internal error', { error: String(error) });
  sendJson(res, 500, { error: 'internal_error' });
}

function isClientAbort(error: unknown): boolean {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  return code === 'ERR_STREAM_PREMATURE_CLOSE' || code === 'ECONNRESET' || code === 'EPIPE';
}
