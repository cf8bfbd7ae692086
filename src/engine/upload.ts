/**
 * `POST /upload`: streams the `file` part of a multipart body to a temp file with a byte counter, renames it
 * into place on success (nothing half-written is ever visible), indexes it as WAITING, then probes it (UPLOADING) in
 * the background (SUCCESS or FAILED).
 */
import { randomBytes } from 'node:crypto';
import { open, rename, rm, type FileHandle } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import path from 'node:path';
import type { EngineContext } from './context.js';
import { EngineHttpError, sendOk } from './http-util.js';
import { newAssetLikeId } from './ids.js';
import { extensionForFormat, extensionOf, mimeForExtension } from './mime.js';
import { MultipartError, multipartBoundary, parseMultipart } from './multipart.js';
import { probeMedia } from './probe.js';
import type { AssetRecord } from './types.js';

/** Allowance for multipart framing and small fields on top of the file-size limit. */
const MULTIPART_SLACK = 64 * 1024;
/** How much of an over-limit body is read and thrown away so the client can read the 413 cleanly. */
const DRAIN_LIMIT = 32 * 1024 * 1024;

interface ReceivedFile {
  tmpPath: string;
  size: number;
  filename: string;
  contentType: string | null;
}

/** Handles `POST /upload`. */
export async function handleUpload(ctx: EngineContext, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const boundary = multipartBoundary(req.headers['content-type']);
  if (!boundary) throw new EngineHttpError(415, 'Content-Type must be multipart/form-data with a "file" part');
  const limit = ctx.settings.maxUploadBytes;
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > limit + MULTIPART_SLACK) throw await tooLarge(req, limit);

  const received = await receiveFile(ctx, req, boundary);
  if (received === 'too-large') throw await tooLarge(req, limit);
  if (received === null) throw new EngineHttpError(400, 'Missing "file" part in multipart body');
  if (received.size === 0) {
    await rm(received.tmpPath, { force: true });
    throw new EngineHttpError(400, 'File is empty');
  }
  const record = await storeUpload(ctx, received);
  sendOk(res, { asset_id: record.id });
  scheduleProbe(ctx, record.id);
}

async function tooLarge(req: IncomingMessage, limit: number): Promise<EngineHttpError> {
  // Reading the rest first lets the client finish sending and see the 413 instead of a reset; past
  // DRAIN_LIMIT we answer anyway and `Connection: close` ends the socket.
  await drain(req, DRAIN_LIMIT);
  return new EngineHttpError(413, `File exceeds the upload limit of ${limit} bytes`, { Connection: 'close' });
}

/** Reads the body; returns the stored temp file, null when there was no file part, or 'too-large'. */
async function receiveFile(ctx: EngineContext, req: IncomingMessage, boundary: string): Promise<ReceivedFile | null | 'too-large'> {
  const tmpPath = path.join(ctx.store.tmpDir, `upload-${randomBytes(8).toString('hex')}.part`);
  let handle: FileHandle | null = null;
  let file: ReceivedFile | null = null;
  let writing = false;
  let otherBytes = 0;
  try {
    // destroyOnReturn: false keeps the socket usable for the error reply when we stop reading early.
    for await (const event of parseMultipart(req.iterator({ destroyOnReturn: false }), boundary)) {
      if (event.type === 'part') {
        writing = file === null && event.name === 'file';
        if (writing) {
          file = { tmpPath, size: 0, filename: event.filename || 'file', contentType: event.contentType };
          handle = await open(tmpPath, 'wx');
        }
      } else if (event.type === 'data') {
        if (writing && file && handle) {
          file.size += event.chunk.length;
          if (file.size > ctx.settings.maxUploadBytes) return 'too-large';
          await writeAll(handle, event.chunk);
        } else if ((otherBytes += event.chunk.length) > MULTIPART_SLACK) {
          return 'too-large';
        }
      } else if (writing && handle) {
        writing = false;
        await handle.close();
        handle = null;
      }
    }
    if (file && handle) throw new MultipartError('Unterminated file part');
    const result = file;
    file = null; // success: the caller owns the temp file now
    return result;
  } catch (err) {
    if (err instanceof MultipartError) throw new EngineHttpError(400, `Malformed multipart body: ${err.message}`);
    throw err;
  } finally {
    await handle?.close().catch(() => undefined);
    if (file) await rm(tmpPath, { force: true });
  }
}

async function writeAll(handle: FileHandle, chunk: Buffer): Promise<void> {
  for (let offset = 0; offset < chunk.length; ) {
    offset += (await handle.write(chunk, offset)).bytesWritten;
  }
}

/** Reads and discards up to `limit` bytes; true when the request ended within it. */
async function drain(req: IncomingMessage, limit: number): Promise<boolean> {
  if (req.readableEnded) return true;
  let seen = 0;
  for await (const chunk of req.iterator({ destroyOnReturn: false }) as AsyncIterable<Buffer>) {
    seen += chunk.length;
    if (seen > limit) return false;
  }
  return true;
}

async function storeUpload(ctx: EngineContext, received: ReceivedFile): Promise<AssetRecord> {
  const id = newAssetLikeId('re_', ctx.store.has);
  const extension = extensionOf(received.filename);
  const file = path.join('assets', extension ? `${id}.${extension}` : id);
  const now = Date.now();
  const record: AssetRecord = {
    id,
    originalFilename: received.filename,
    extension,
    contentType: pickContentType(received.contentType, extension),
    fileSize: received.size,
    // WAITING until a probe slot takes it (UPLOADING while probed), then SUCCESS or FAILED, as the real API.
    status: 'WAITING',
    kind: null,
    durationSeconds: null,
    file,
    createTime: now,
    modifyTime: now,
  };
  try {
    await rename(received.tmpPath, ctx.store.resolve(file));
    await ctx.store.putAsset(record);
  } catch (err) {
    await Promise.all([rm(received.tmpPath, { force: true }), rm(ctx.store.resolve(file), { force: true })]);
    throw err;
  }
  ctx.logger.info('upload stored', { assetId: id, bytes: received.size });
  return record;
}

function pickContentType(declared: string | null, extension: string): string {
  const generic = !declared || /^application\/octet-stream\b/i.test(declared);
  return generic ? mimeForExtension(extension) : declared;
}

/** Probes a WAITING asset in the background (UPLOADING meanwhile) and records SUCCESS or FAILED. */
export function scheduleProbe(ctx: EngineContext, assetId: string): void {
  ctx.probes.push(async () => {
    let asset = ctx.store.getAsset(assetId);
    if (!asset) return;
    if (asset.status === 'WAITING') {
      asset = { ...asset, status: 'UPLOADING', modifyTime: Date.now() };
      await ctx.store.putAsset(asset);
    }
    const result = await probeMedia(ctx.runner, ctx.tools.ffprobe, ctx.store.resolve(asset.file), ctx.settings.probeTimeoutMs);
    // Interrupted by stop(): stays UPLOADING and is probed again at the next start.
    if (!result.ok && result.interrupted) return;
    const current = ctx.store.getAsset(assetId);
    if (!current) return; // deleted meanwhile
    const next: AssetRecord = result.ok
      ? {
          ...current,
          status: 'SUCCESS',
          kind: result.kind,
          durationSeconds: result.durationSeconds,
          extension: current.extension || extensionForFormat(result.formatName),
          modifyTime: Date.now(),
        }
      : { ...current, status: 'FAILED', failureReason: result.reason, modifyTime: Date.now() };
    if (!current.extension && next.extension) next.contentType = pickContentType(current.contentType, next.extension);
    await ctx.store.putAsset(next);
    ctx.logger.info('upload probed', { assetId, status: next.status, kind: next.kind, reason: next.failureReason });
  });
}
