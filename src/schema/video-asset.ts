import type { Context } from '../context.js';
import type { AssetData } from '../loaders/index.js';
import { ImportError, importVideoFromUrl } from '../ingest/import-video.js';
import { uploadVideoFile } from '../ingest/upload-video.js';
import { ASSET_ID_PATTERN } from '../upstream/types.js';
import { builder } from './builder.js';
import { isCallersTask, lookupById, ownedMediaUrl, resolveEntity } from './lookup.js';
import {
  ImportFailedError,
  QuotaExceededError,
  UploadRejectedError,
  UpstreamRateLimitedError,
  UpstreamUnavailableError,
  toDomainError,
} from './errors.js';
import { FrameExtractionTask } from './frame-extraction-task.js';

export const UploadStatus = builder.enumType('UploadStatus', {
  description: 'Upload state of an asset upstream. Only SUCCESS assets can be used by other operations.',
  values: {
    WAITING: { description: 'Accepted, not yet processed.' },
    UPLOADING: { description: 'Being stored and checked.' },
    SUCCESS: { description: 'Ready to use.' },
    FAILED: { description: 'Unusable (for example a corrupt or unsupported file).' },
  } as const,
});

export const VideoAsset = builder.objectRef<AssetData>('VideoAsset');

VideoAsset.implement({
  description: 'An uploaded asset (re_…), normally a video, frames can be extracted from.',
  fields: (t) => ({
    id: t.exposeID('id', { description: 'Asset id, re_<digits>.' }),
    filename: t.exposeString('filename', { nullable: true, description: 'Original file name as uploaded.' }),
    extension: t.exposeString('extension', { nullable: true, description: 'File extension (e.g. "mp4").' }),
    fileSize: t.float({
      nullable: true,
      description: 'Size in bytes.',
      resolve: (a) => (a.fileSize === null ? null : Number(a.fileSize)),
    }),
    uploadStatus: t.field({
      type: UploadStatus,
      nullable: true,
      description: 'Upload state; poll or re-query until SUCCESS before extracting.',
      resolve: (a) => a.uploadStatus,
    }),
    createdAt: t.field({ type: 'DateTime', nullable: true, description: 'When it was uploaded.', resolve: (a) => a.createdAt }),
    url: t.string({
      description: 'Signed, expiring gateway URL of the original file.',
      resolve: (a, _args, ctx) => ownedMediaUrl(ctx, 'asset', a.id),
    }),
    frameExtractionTasks: t.field({
      type: [FrameExtractionTask],
      description: 'Extraction tasks this gateway started for the asset on behalf of the caller, newest first.',
      resolve: async (a, _args, ctx) => (await ctx.tasks.listByAsset(a.id)).filter((task) => isCallersTask(ctx, task)),
    }),
  }),
});

builder.asEntity(VideoAsset, {
  key: builder.selection<{ id: string }>('id'),
  resolveReference: (ref, ctx) => resolveEntity(ctx, 'asset', ASSET_ID_PATTERN, ref.id, (id) => ctx.loaders.asset.load(id)),
});

builder.queryField('videoAsset', (t) =>
  t.field({
    type: VideoAsset,
    nullable: true,
    description: 'An asset by id (re_<digits>), or null if it does not exist (or was not uploaded or imported by the caller\'s tenant).',
    args: { id: t.arg.id({ required: true, description: 'Asset id.' }) },
    resolve: (_root, { id }, ctx) => lookupById(ctx, 'asset', ASSET_ID_PATTERN, String(id), (i) => ctx.loaders.asset.load(i)),
  }),
);

const assetResult = (name: string, description: string) =>
  builder.objectRef<{ asset: AssetData }>(name).implement({
    description,
    fields: (t) => ({
      asset: t.field({ type: VideoAsset, description: 'The new asset; its uploadStatus may still be in progress.', resolve: (r) => r.asset }),
    }),
  });
const UploadVideoSuccess = assetResult('UploadVideoSuccess', 'The file was uploaded.');
const ImportVideoSuccess = assetResult('ImportVideoSuccess', 'The file at the URL was fetched and uploaded.');

const uploadErrors = [UploadRejectedError, UpstreamRateLimitedError, UpstreamUnavailableError, QuotaExceededError];

/**
 * After an upload the asset is new: record it as the caller's tenant's first (even the local tenant's, so its list
 * has it), then read it fresh (not from a cache that may hold an older miss).
 */
const loadNewAsset = async (assetId: string, ctx: Context) => {
  const owner = await ctx.ownership.claim('asset', assetId, ctx.caller.tenant, ctx.now());
  // Upstream ids are new on every upload, so this is a broken invariant, not a client error: masked.
  if (owner !== ctx.caller.tenant) throw new Error(`Uploaded asset ${assetId} is already recorded for another tenant`);
  ctx.metadata.invalidate(assetId);
  const asset = await ctx.loaders.asset.load(assetId);
  // The upstream probes a new upload after replying, so this read is almost always UPLOADING: don't keep it.
  ctx.metadata.invalidate(assetId);
  return { asset: asset ?? { id: assetId, extension: null, filename: null, fileSize: null, uploadStatus: 'WAITING' as const, createdAt: null } };
};

builder.mutationField('uploadVideo', (t) =>
  t.field({
    type: UploadVideoSuccess,
    description: 'Uploads a video (GraphQL multipart request). Extract frames once its uploadStatus is SUCCESS.',
    errors: { types: uploadErrors, directResult: true, union: { name: 'UploadVideoResult', description: 'The asset, or why the upload failed.' } },
    args: { file: t.arg({ type: 'File', required: true, description: 'The video file.' }) },
    resolve: async (_root, { file }, ctx) => {
      if (file.size === 0) throw new UploadRejectedError('The file is empty');
      try {
        // Refused before the file is spooled or waits for a slot; the client charges the budget at the upload itself.
        await ctx.quotas.uploads.ensureAvailable(ctx.caller.tenant);
        const assetId = await uploadVideoFile(file, ctx.client, ctx.uploads);
        return await loadNewAsset(assetId, ctx);
      } catch (error) {
        throw toDomainError(error);
      }
    },
  }),
);

builder.mutationField('importVideo', (t) =>
  t.field({
    type: ImportVideoSuccess,
    description: 'Fetches a video from an http(s) URL (size cap, timeout, content-type check) and uploads it.',
    errors: {
      types: [ImportFailedError, ...uploadErrors],
      directResult: true,
      union: { name: 'ImportVideoResult', description: 'The asset, or why the import failed.' },
    },
    args: { url: t.arg.string({ required: true, description: 'An http(s) URL serving a video.' }) },
    resolve: async (_root, { url }, ctx) => {
      try {
        // Refused before anything is downloaded; the client charges the budget at the upload itself.
        await ctx.quotas.uploads.ensureAvailable(ctx.caller.tenant);
        const assetId = await importVideoFromUrl(url, ctx.client, ctx.importLimits, ctx.uploads);
        return await loadNewAsset(assetId, ctx);
      } catch (error) {
        if (error instanceof ImportError) throw new ImportFailedError(url, error.message);
        throw toDomainError(error);
      }
    },
  }),
);
