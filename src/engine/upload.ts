/**
 * `POST /upload`: streams the `file` part of a multipart body to a temp file (receive-file.ts, busboy), renames it
 * into place on success (nothing half-written is ever visible), indexes it as WAITING, then probes it (UPLOADING) in
 * the background (SUCCESS or FAILED). The signed upload target (signed-upload.ts) ends the same way.
 */
import { rename, rm } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import path from 'node:path';
import type { EngineContext } from './context.js';
import { EngineHttpError, sendOk } from './http-util.js';
import { newAssetLikeId } from './ids.js';
import { extensionForFormat, extensionOf, mimeForExtension } from './mime.js';
import { probeMedia } from './probe.js';
import { receiveFile, type ReceivedFile } from './receive-file.js';
import type { AssetRecord } from './types.js';

/** Handles `POST /upload`. */
export async function handleUpload(ctx: EngineContext, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const received = await receiveFile(req, { tmpDir: ctx.store.tmpDir, maxFileBytes: ctx.settings.maxUploadBytes });
  await refuseEmpty(received);
  const record = await storeUpload(ctx, received);
  sendOk(res, { asset_id: record.id });
  scheduleProbe(ctx, record.id);
}

/** 400 "File is empty" (and the temp file removed) for a zero-byte file part. */
export async function refuseEmpty(received: ReceivedFile): Promise<void> {
  if (received.size > 0) return;
  await rm(received.tmpPath, { force: true });
  throw new EngineHttpError(400, 'File is empty');
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

export function pickContentType(declared: string | null, extension: string): string {
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
