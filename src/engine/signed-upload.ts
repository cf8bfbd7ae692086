/**
 * Uploads through a signed URL (upstream-api.md §6b). `POST /upload/signed-url` (key, rate limit, envelope like every
 * endpoint) creates a WAITING `re_` asset without a file and answers `{asset_id, signed_url, expires_in}`. The signed
 * URL, `<publicUrl>/upload/signed/<asset_id>?expires=<epoch s>&signature=<HMAC>`, takes one multipart POST with the
 * file in part `file` and no key, from any origin (CORS, no credentials): it is what a browser is handed. It is HMAC-
 * signed with the engine's secret over the asset id and expiry, so it cannot be altered or made up; it expires; and it
 * accepts one file for its one asset (a second or concurrent upload is 409, nothing stored). The file is streamed to
 * disk and probed like `POST /upload`.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { rename, rm } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import path from 'node:path';
import type { EngineContext } from './context.js';
import { EngineHttpError, assetNotFound, readJsonBody, sendOk } from './http-util.js';
import { newAssetLikeId } from './ids.js';
import { extensionOf, mimeForExtension } from './mime.js';
import type { RateLimiter } from './rate-limit.js';
import { receiveFile, refuseBody } from './receive-file.js';
import type { AssetRecord } from './types.js';
import { pickContentType, refuseEmpty, scheduleProbe } from './upload.js';

/** Path prefix of signed upload URLs (a gateway in front of the engine proxies exactly this). */
export const SIGNED_UPLOAD_PREFIX = '/upload/signed/';
/** The documented `expires_in` (26 h). */
export const DEFAULT_SIGNED_UPLOAD_TTL_SECONDS = 93_600;
const MAX_FILENAME_LENGTH = 1024;

/** The HMAC key of signed URLs when none is configured: derived from the API key, so URLs survive restarts. */
export function deriveUploadSigningKey(apiKey: string): Buffer {
  return createHmac('sha256', apiKey).update('engine signed uploads v1').digest();
}

function signature(key: Buffer, assetId: string, expires: number): string {
  return createHmac('sha256', key).update(`${assetId}\n${expires}`).digest('base64url');
}

/** Handles `POST /upload/signed-url`. */
export async function handleSignedUrl(ctx: EngineContext, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const body = await readJsonBody(req);
  const name = typeof body === 'object' && body !== null ? (body as Record<string, unknown>).original_filename : undefined;
  if (typeof name !== 'string' || name.trim() === '') throw new EngineHttpError(400, 'original_filename is required');
  if (name.length > MAX_FILENAME_LENGTH) {
    throw new EngineHttpError(400, `original_filename is longer than ${MAX_FILENAME_LENGTH} characters`);
  }
  const extension = extensionOf(name);
  if (!extension) throw new EngineHttpError(400, 'original_filename must have an extension');

  const { ttlSeconds, key } = ctx.signedUploads;
  const id = newAssetLikeId('re_', ctx.store.has);
  const now = Date.now();
  const expires = Math.floor(now / 1000) + ttlSeconds;
  const record: AssetRecord = {
    id,
    originalFilename: name,
    extension,
    contentType: mimeForExtension(extension),
    fileSize: 0,
    status: 'WAITING',
    kind: null,
    durationSeconds: null,
    file: path.join('assets', `${id}.${extension}`),
    createTime: now,
    modifyTime: now,
    awaitingUpload: { expiresAt: expires * 1000 },
  };
  await ctx.store.putAsset(record);
  const url = `${ctx.signedUploads.publicUrl()}${SIGNED_UPLOAD_PREFIX}${id}?expires=${expires}&signature=${signature(key, id, expires)}`;
  ctx.logger.info('signed upload created', { assetId: id, expiresInSeconds: ttlSeconds });
  sendOk(res, { asset_id: id, signed_url: url, expires_in: ttlSeconds });
}

/**
 * The signed URL itself: OPTIONS (CORS preflight) and POST, without the key. Checks, in order: signature (403),
 * expiry (403), the asset (400 not found), single use (409), the account's rate limit (429); then receives the file.
 */
export async function handleSignedTarget(
  ctx: EngineContext,
  req: IncomingMessage,
  res: ServerResponse,
  assetId: string,
  limiter: RateLimiter,
): Promise<void> {
  // Every answer, errors included, is readable by the page that sent it (no credentials are involved).
  res.setHeader('Access-Control-Allow-Origin', '*');
  if (req.method === 'OPTIONS') {
    res.writeHead(204, {
      'Access-Control-Allow-Methods': 'POST, OPTIONS',
      'Access-Control-Allow-Headers': req.headers['access-control-request-headers'] ?? 'content-type',
      'Access-Control-Max-Age': '600',
      'Content-Length': '0',
    });
    res.end();
    return;
  }
  try {
    if (req.method !== 'POST') throw new EngineHttpError(405, 'Method not allowed', { Allow: 'POST, OPTIONS' });
    checkTarget(ctx, req, assetId, limiter);
  } catch (error) {
    throw error instanceof EngineHttpError ? await refuseBody(req, error) : error;
  }
  ctx.signedUploads.receiving.add(assetId);
  try {
    await receiveInto(ctx, req, res, assetId);
  } finally {
    ctx.signedUploads.receiving.delete(assetId);
  }
}

/** Throws the refusal of a signed upload request, if any (nothing is read yet). */
function checkTarget(ctx: EngineContext, req: IncomingMessage, assetId: string, limiter: RateLimiter): void {
  const query = new URL(req.url ?? '/', 'http://engine').searchParams;
  const expires = Number(query.get('expires'));
  const given = Buffer.from(query.get('signature') ?? '');
  const expected = Buffer.from(signature(ctx.signedUploads.key, assetId, expires));
  if (!Number.isInteger(expires) || given.length !== expected.length || !timingSafeEqual(given, expected)) {
    throw new EngineHttpError(403, 'Invalid signature: this is not an upload URL the engine handed out');
  }
  if (Date.now() >= expires * 1000) throw new EngineHttpError(403, 'This upload URL has expired; request a new one');
  const asset = ctx.store.getAsset(assetId);
  if (!asset) throw assetNotFound();
  if (!asset.awaitingUpload || ctx.signedUploads.receiving.has(assetId)) {
    throw new EngineHttpError(409, 'A file was already uploaded to this URL (each signed URL takes one file)');
  }
  if (!limiter.tryTake()) throw new EngineHttpError(429, 'Too many requests');
}

/** Streams the file to disk, moves it into the asset's place and starts the probe (WAITING → UPLOADING → …). */
async function receiveInto(ctx: EngineContext, req: IncomingMessage, res: ServerResponse, assetId: string): Promise<void> {
  const received = await receiveFile(req, { tmpDir: ctx.store.tmpDir, maxFileBytes: ctx.settings.maxUploadBytes });
  await refuseEmpty(received);
  const current = ctx.store.getAsset(assetId);
  if (!current?.awaitingUpload) {
    await rm(received.tmpPath, { force: true });
    throw assetNotFound(); // deleted while the file arrived
  }
  const { awaitingUpload: _done, ...rest } = current;
  const record: AssetRecord = {
    ...rest,
    fileSize: received.size,
    contentType: pickContentType(received.contentType, current.extension),
    modifyTime: Date.now(),
  };
  try {
    await rename(received.tmpPath, ctx.store.resolve(record.file));
    await ctx.store.putAsset(record);
  } catch (err) {
    await Promise.all([rm(received.tmpPath, { force: true }), rm(ctx.store.resolve(record.file), { force: true })]);
    throw err;
  }
  ctx.logger.info('signed upload stored', { assetId, bytes: received.size });
  sendOk(res, { asset_id: assetId });
  scheduleProbe(ctx, assetId);
}
