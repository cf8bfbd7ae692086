/**
 * `POST /video/extract-frames`: validates the asset, answers `{task_id}` at once and queues the work.
 * The job runs one ffmpeg, moves the frames into place, indexes the `im_` collection and hands the result
 * to the webhook sender (outside the extraction slot, so slow webhooks don't hold up the queue).
 */
import { mkdir, rename, rm } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import path from 'node:path';
import type { ExtractFramesCallbackBody } from './callbacks.js';
import type { EngineContext } from './context.js';
import { ExtractionError, extractFrames } from './frames.js';
import { EngineHttpError, assetNotFound, readJsonBody, sendOk } from './http-util.js';
import { frameId, newAssetLikeId, newTaskId } from './ids.js';
import type { AssetRecord, CollectionRecord } from './types.js';

/** Handles `POST /video/extract-frames` with JSON `{asset_id}`. */
export async function handleExtract(ctx: EngineContext, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const body = await readJsonBody(req);
  const assetId = body && typeof body === 'object' ? (body as { asset_id?: unknown }).asset_id : undefined;
  if (typeof assetId !== 'string' || assetId.trim() === '') throw new EngineHttpError(400, 'asset_id is required');
  const asset = ctx.store.getAsset(assetId.trim());
  if (!asset) throw assetNotFound();
  assertExtractable(asset);
  const taskId = newTaskId();
  sendOk(res, { task_id: taskId });
  ctx.logger.info('extraction queued', { taskId, assetId: asset.id, waiting: ctx.extractions.pending });
  ctx.extractions.push(() => runExtraction(ctx, taskId, asset.id));
}

function assertExtractable(asset: AssetRecord): void {
  if (asset.status === 'FAILED') {
    throw new EngineHttpError(400, `Asset upload failed (upload_status FAILED): ${asset.failureReason ?? 'unreadable media'}`);
  }
  if (asset.status !== 'SUCCESS') {
    throw new EngineHttpError(400, `Asset is not ready (upload_status ${asset.status}); wait until it is SUCCESS`);
  }
  if (asset.kind !== 'video') throw new EngineHttpError(400, `Asset is not a video (it is ${asset.kind ?? 'unknown'} media)`);
}

async function runExtraction(ctx: EngineContext, taskId: string, assetId: string): Promise<void> {
  const started = performance.now();
  ctx.logger.info('extraction started', { taskId, assetId });
  let body: ExtractFramesCallbackBody;
  try {
    const collection = await produceCollection(ctx, taskId, assetId);
    body = {
      code: 200,
      message: 'SUCCESS',
      data: { asset_id: collection.id, asset_ch_ids: collection.frames.map((f) => frameId(collection.id, f.index)) },
      task_id: taskId,
    };
  } catch (err) {
    if (!(err instanceof ExtractionError)) ctx.logger.error('extraction crashed', { taskId, error: String(err) });
    const message = err instanceof ExtractionError ? err.message : 'Internal error during frame extraction';
    body = { code: 500, message, data: null, task_id: taskId };
  }
  const ms = Math.round(performance.now() - started);
  const outcome = body.code === 200 ? { frames: body.data.asset_ch_ids.length } : { message: body.message };
  ctx.logger.info('extraction finished', { taskId, ok: body.code === 200, ms, ...outcome });
  if (ctx.isStopping()) return; // the engine is going away: nothing more is delivered
  ctx.deliveries.push(async () => {
    await ctx.callbacks.deliver(body);
  });
}

async function produceCollection(ctx: EngineContext, taskId: string, assetId: string): Promise<CollectionRecord> {
  const asset = ctx.store.getAsset(assetId);
  if (!asset) throw new ExtractionError('Asset not found (it was deleted before the extraction started)');
  const { frameIntervalSeconds, maxFrames, extractionTimeoutMs } = ctx.settings;
  const workDir = path.join(ctx.store.tmpDir, `extract-${taskId}`);
  await mkdir(workDir, { recursive: true });
  try {
    const frames = await extractFrames({
      runner: ctx.runner,
      ffmpeg: ctx.tools.ffmpeg,
      input: ctx.store.resolve(asset.file),
      outputDir: workDir,
      intervalSeconds: frameIntervalSeconds,
      maxFrames,
      timeoutMs: extractionTimeoutMs,
      durationSeconds: asset.durationSeconds,
      onSpawn: (pid) => ctx.logger.info('ffmpeg started', { taskId, pid }),
    });
    const id = newAssetLikeId('im_', ctx.store.has);
    const dir = path.join('collections', id);
    await rename(workDir, ctx.store.resolve(dir));
    const now = Date.now();
    const collection: CollectionRecord = {
      id,
      sourceAssetId: assetId,
      taskId,
      frames: frames.map((f) => ({ index: f.index, file: path.join(dir, `${f.index}.jpg`), size: f.size })),
      createTime: now,
      modifyTime: now,
    };
    await ctx.store.putCollection(collection);
    return collection;
  } finally {
    await rm(workDir, { recursive: true, force: true });
  }
}
