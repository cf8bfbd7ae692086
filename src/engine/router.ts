/**
 * Request routing: 404/405 for unknown paths/methods, then the raw-key auth check (401), then the
 * per-account rate limit (429), then the handler. Every error becomes the JSON envelope. The one exception is the
 * signed upload target (`/upload/signed/<id>`): a browser sends no key there, the URL's signature stands for it
 * (signed-upload.ts checks it before the rate limit).
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { handleDelete, handleDownload, handleMetadata } from './assets.js';
import type { EngineContext } from './context.js';
import { handleExtract } from './extraction.js';
import { EngineHttpError, sendError } from './http-util.js';
import type { RateLimiter } from './rate-limit.js';
import { handleSignedTarget, handleSignedUrl } from './signed-upload.js';
import { handleUpload } from './upload.js';

type Handler = (ctx: EngineContext, req: IncomingMessage, res: ServerResponse, param: string) => Promise<void>;

interface Route {
  method: string;
  /** Returns the path parameter ('' when none) or null when the path does not match. */
  match(segments: string[]): string | null;
  handler: Handler;
}

const exact = (...path: string[]) => (s: string[]) => (s.length === path.length && s.every((x, i) => x === path[i]) ? '' : null);
const idThen = (suffix?: string) => (s: string[]) =>
  suffix ? (s.length === 2 && s[1] === suffix ? (s[0] ?? null) : null) : s.length === 1 ? (s[0] ?? null) : null;

const ROUTES: Route[] = [
  { method: 'POST', match: exact('upload'), handler: (ctx, req, res) => handleUpload(ctx, req, res) },
  { method: 'POST', match: exact('upload', 'signed-url'), handler: (ctx, req, res) => handleSignedUrl(ctx, req, res) },
  { method: 'POST', match: exact('video', 'extract-frames'), handler: (ctx, req, res) => handleExtract(ctx, req, res) },
  { method: 'GET', match: idThen('metadata'), handler: (ctx, _req, res, id) => handleMetadata(ctx, res, id) },
  { method: 'GET', match: idThen('download'), handler: (ctx, _req, res, id) => handleDownload(ctx, res, id) },
  { method: 'DELETE', match: idThen(), handler: (ctx, _req, res, id) => handleDelete(ctx, res, id) },
];

/** Options of {@link createRequestHandler}. */
export interface RouterOptions {
  apiKey: string;
  limiter: RateLimiter;
}

/** The node:http request listener; `track` receives each request's settlement promise (for stop()). */
export function createRequestHandler(ctx: EngineContext, options: RouterOptions, track: (p: Promise<void>) => void) {
  const keyDigest = digest(options.apiKey);
  return (req: IncomingMessage, res: ServerResponse): void => {
    track(
      dispatch(ctx, options.limiter, keyDigest, req, res).catch((err: unknown) => {
        if (err instanceof EngineHttpError) return sendError(res, err.status, err.message, err.headers);
        if (req.destroyed || res.destroyed) return; // client went away mid-request
        ctx.logger.error('request failed', { method: req.method, url: req.url, error: String(err) });
        sendError(res, 500, 'Internal server error');
      }),
    );
  };
}

async function dispatch(
  ctx: EngineContext,
  limiter: RateLimiter,
  keyDigest: Buffer,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  const pathname = new URL(req.url ?? '/', 'http://engine').pathname;
  const segments = pathname.split('/').filter(Boolean).map(safeDecode);
  if (segments.length === 3 && segments[0] === 'upload' && segments[1] === 'signed') {
    return handleSignedTarget(ctx, req, res, segments[2]!, limiter);
  }
  const matching = ROUTES.map((route) => ({ route, param: route.match(segments) })).filter((m) => m.param !== null);
  if (matching.length === 0) throw new EngineHttpError(404, 'Not found');
  const hit = matching.find((m) => m.route.method === req.method);
  if (!hit) throw new EngineHttpError(405, 'Method not allowed', { Allow: [...new Set(matching.map((m) => m.route.method))].join(', ') });
  const key = req.headers.authorization;
  if (!key || !timingSafeEqual(digest(key), keyDigest)) throw new EngineHttpError(401, 'Unauthorized');
  if (!limiter.tryTake()) throw new EngineHttpError(429, 'Too many requests');
  await hit.route.handler(ctx, req, res, hit.param ?? '');
}

function digest(value: string): Buffer {
  return createHash('sha256').update(value).digest();
}

function safeDecode(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}
