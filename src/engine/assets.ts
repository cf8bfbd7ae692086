/** `GET /{id}/metadata`, `GET /{id}/download` and `DELETE /{id}` for `re_`, `im_` and `imc_` ids. */
import { open, rm } from 'node:fs/promises';
import type { ServerResponse } from 'node:http';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { EngineContext } from './context.js';
import { assetNotFound, contentDisposition, sendOk } from './http-util.js';
import { frameId, parseId } from './ids.js';
import { mimeForExtension } from './mime.js';
import type { AssetRecord, CollectionRecord, FrameRecord } from './types.js';
import { createZipStream } from './zip.js';

/** One `resource[]` entry: the seven documented fields, numbers as strings. */
export interface ResourceDto {
  extension: string;
  asset_id: string;
  original_filename: string;
  file_size: string;
  upload_status: string;
  create_time: string;
  modify_time: string;
}

function assetResource(a: AssetRecord): ResourceDto {
  return {
    extension: a.extension,
    asset_id: a.id,
    original_filename: a.originalFilename,
    file_size: String(a.fileSize),
    upload_status: a.status,
    create_time: String(a.createTime),
    modify_time: String(a.modifyTime),
  };
}

function frameResource(c: CollectionRecord, f: FrameRecord): ResourceDto {
  const id = frameId(c.id, f.index);
  return {
    extension: 'jpg',
    asset_id: id,
    original_filename: `${id}.jpg`,
    file_size: String(f.size),
    upload_status: 'SUCCESS',
    create_time: String(c.createTime),
    modify_time: String(c.modifyTime),
  };
}

type Resolved =
  | { kind: 'asset'; asset: AssetRecord }
  | { kind: 'collection'; collection: CollectionRecord }
  | { kind: 'frame'; collection: CollectionRecord; frame: FrameRecord };

function resolveId(ctx: EngineContext, id: string): Resolved {
  const parsed = parseId(id);
  if (parsed.kind === 'asset') {
    const asset = ctx.store.getAsset(id);
    if (asset) return { kind: 'asset', asset };
  } else if (parsed.kind === 'collection') {
    const collection = ctx.store.getCollection(id);
    if (collection) return { kind: 'collection', collection };
  } else if (parsed.kind === 'frame') {
    const collection = ctx.store.getCollection(parsed.collectionId);
    const frame = collection?.frames.find((f) => f.index === parsed.index);
    if (collection && frame) return { kind: 'frame', collection, frame };
  }
  throw assetNotFound();
}

/** Handles `GET /{id}/metadata`. */
export async function handleMetadata(ctx: EngineContext, res: ServerResponse, id: string): Promise<void> {
  const r = resolveId(ctx, id);
  const resource =
    r.kind === 'asset'
      ? [assetResource(r.asset)]
      : r.kind === 'frame'
        ? [frameResource(r.collection, r.frame)]
        : [...r.collection.frames].sort((a, b) => a.index - b.index).map((f) => frameResource(r.collection, f));
  sendOk(res, { total: resource.length, resource });
}

/** Handles `GET /{id}/download`: the original file, one JPEG, or a streamed zip of a collection. */
export async function handleDownload(ctx: EngineContext, res: ServerResponse, id: string): Promise<void> {
  const r = resolveId(ctx, id);
  if (r.kind === 'asset') {
    const byExtension = mimeForExtension(r.asset.extension);
    const contentType = byExtension === 'application/octet-stream' ? r.asset.contentType : byExtension;
    await sendFile(res, ctx.store.resolve(r.asset.file), contentType, r.asset.originalFilename);
  } else if (r.kind === 'frame') {
    await sendFile(res, ctx.store.resolve(r.frame.file), 'image/jpeg', `${frameId(r.collection.id, r.frame.index)}.jpg`);
  } else {
    await sendZip(ctx, res, r.collection);
  }
}

async function sendFile(res: ServerResponse, file: string, contentType: string, filename: string): Promise<void> {
  let handle;
  try {
    handle = await open(file, 'r');
  } catch {
    throw assetNotFound(); // deleted between lookup and open
  }
  try {
    const { size } = await handle.stat();
    res.writeHead(200, { 'Content-Type': contentType, 'Content-Length': size, 'Content-Disposition': contentDisposition(filename) });
    await pipeline(handle.createReadStream({ autoClose: false }), res);
  } finally {
    await handle.close();
  }
}

async function sendZip(ctx: EngineContext, res: ServerResponse, collection: CollectionRecord): Promise<void> {
  const mtime = new Date(collection.createTime);
  const entries = [...collection.frames]
    .sort((a, b) => a.index - b.index)
    .map((f) => ({ name: `${frameId(collection.id, f.index)}.jpg`, path: ctx.store.resolve(f.file), size: f.size, mtime }));
  const zip = createZipStream(entries);
  const size = await zip.size;
  res.writeHead(200, {
    'Content-Type': 'application/zip',
    'Content-Disposition': contentDisposition(`${collection.id}.zip`),
    ...(size >= 0 ? { 'Content-Length': size } : {}),
  });
  await pipeline(zip.stream, res);
}

/** Handles `DELETE /{id}`: removes the record first (so it 404s at once), then its files. */
export async function handleDelete(ctx: EngineContext, res: ServerResponse, id: string): Promise<void> {
  const r = resolveId(ctx, id);
  if (r.kind === 'asset') {
    await ctx.store.removeAsset(r.asset.id);
    await rm(ctx.store.resolve(r.asset.file), { force: true });
  } else if (r.kind === 'collection') {
    await ctx.store.removeCollection(r.collection.id);
    await rm(ctx.store.resolve(path.join('collections', r.collection.id)), { recursive: true, force: true });
  } else {
    const frames = r.collection.frames.filter((f) => f !== r.frame);
    if (frames.length > 0) {
      await ctx.store.putCollection({ ...r.collection, frames, modifyTime: Date.now() });
      await rm(ctx.store.resolve(r.frame.file), { force: true });
    } else {
      await ctx.store.removeCollection(r.collection.id);
      await rm(ctx.store.resolve(path.join('collections', r.collection.id)), { recursive: true, force: true });
    }
  }
  ctx.logger.info('asset deleted', { id });
  sendOk(res, null);
}
