/**
 * `createVideoUpload`: direct uploads from the browser. The gateway asks the upstream for a signed URL
 * (`POST /upload/signed-url`, through the shared scheduler, charged to the tenant's upload budget) and hands it out
 * as a `VideoUploadTicket`; the browser then POSTs the file to that URL itself, so a large video never passes through
 * the gateway's memory and the API key never leaves the server (the signed URL carries no key).
 */
import type { Context } from '../context.js';
import { VIDEO_EXTENSIONS } from '../jobs/submission.js';
import type { AssetData } from '../loaders/index.js';
import { builder } from './builder.js';
import {
  InvalidArgumentError,
  QuotaExceededError,
  UploadRejectedError,
  UpstreamRateLimitedError,
  UpstreamUnavailableError,
  toDomainError,
} from './errors.js';
import { VideoAsset } from './video-asset.js';

/** Longest accepted file name, in characters (a common file-system limit; the upstream states none). */
export const MAX_UPLOAD_FILENAME_LENGTH = 255;
const ACCEPTED_CONTENT_TYPE = /^(video\/[\w.+-]+|application\/octet-stream)$/i;

interface VideoUploadTicketShape {
  asset: AssetData;
  uploadUrl: string;
  expiresAt: Date;
}

export const VideoUploadTicket = builder.objectRef<VideoUploadTicketShape>('VideoUploadTicket').implement({
  description:
    'Where to send the file of a direct upload: a multipart/form-data `method` request to `uploadUrl` with the file in the ' +
    'part named `fieldName` (e.g. `fetch(uploadUrl, { method, body: formData })`), no Authorization header. Then ' +
    "re-query the asset until its uploadStatus is SUCCESS. The URL is for this one asset and file, and expires at `expiresAt`.",
  fields: (t) => ({
    asset: t.field({
      type: VideoAsset,
      description: "The new asset, owned by the caller's tenant; WAITING until its file has been uploaded and checked.",
      resolve: (r) => r.asset,
    }),
    uploadUrl: t.exposeString('uploadUrl', { description: 'Signed URL to send the file to (no API key, no token needed).' }),
    method: t.string({ description: 'HTTP method of the upload: always POST.', resolve: () => 'POST' }),
    fieldName: t.string({ description: 'Name of the multipart part that carries the file: always "file".', resolve: () => 'file' }),
    expiresAt: t.field({ type: 'DateTime', description: 'When uploadUrl stops accepting the file.', resolve: (r) => r.expiresAt }),
  }),
});

/** Why `filename` cannot name a video upload, or null when it can. */
export function filenameProblem(filename: string): string | null {
  if (filename.trim() === '') return 'filename is empty';
  if (filename.length > MAX_UPLOAD_FILENAME_LENGTH) return `filename is longer than ${MAX_UPLOAD_FILENAME_LENGTH} characters`;
  // eslint-disable-next-line no-control-regex
  if (/[\x00-\x1f\x7f/\\]/.test(filename)) return 'filename must be a plain file name (no path separators or control characters)';
  const dot = filename.lastIndexOf('.');
  const extension = dot > 0 ? filename.slice(dot + 1).toLowerCase() : '';
  if (extension === '') return 'filename has no extension (expected a video, e.g. "clip.mp4")';
  if (!VIDEO_EXTENSIONS.has(extension)) {
    return `".${extension.slice(0, 16)}" is not a video extension the gateway accepts (${[...VIDEO_EXTENSIONS].join(', ')})`;
  }
  return null;
}

/** The ticket's asset: nothing is uploaded yet, so it is built from what we know instead of a (1 QPS) metadata read. */
const waitingAsset = (id: string, filename: string): AssetData => ({
  id,
  filename,
  extension: filename.slice(filename.lastIndexOf('.') + 1).toLowerCase(),
  fileSize: null,
  uploadStatus: 'WAITING',
  createdAt: null,
});

async function createTicket(ctx: Context, filename: string): Promise<VideoUploadTicketShape> {
  // Refused before the upstream call; the metered client charges the budget at the call itself, refunded when refused.
  await ctx.quotas.uploads.ensureAvailable(ctx.caller.tenant);
  const signed = await ctx.client.createSignedUpload(filename);
  const owner = await ctx.ownership.claim('asset', signed.assetId, ctx.caller.tenant, ctx.now());
  // Upstream ids are new on every call, so this is a broken invariant, not a client error: masked.
  if (owner !== ctx.caller.tenant) throw new Error(`Signed upload asset ${signed.assetId} is already recorded for another tenant`);
  // Nothing may answer for this id from before (a cached miss); later reads see the upload's progress.
  ctx.metadata.invalidate(signed.assetId);
  return {
    asset: waitingAsset(signed.assetId, filename),
    uploadUrl: signed.signedUrl,
    expiresAt: new Date(ctx.now() + signed.expiresInSeconds * 1000),
  };
}

builder.mutationField('createVideoUpload', (t) =>
  t.field({
    type: VideoUploadTicket,
    description:
      'Starts a direct upload from the browser: returns a signed URL the file is POSTed to (multipart, part `file`), so it ' +
      "never passes through the gateway. Counts against the tenant's upload budget like uploadVideo. Extract frames once " +
      "the asset's uploadStatus is SUCCESS.",
    errors: {
      types: [InvalidArgumentError, UploadRejectedError, UpstreamRateLimitedError, UpstreamUnavailableError, QuotaExceededError],
      directResult: true,
      union: { name: 'CreateVideoUploadResult', description: 'Where to upload the file, or why no upload could be started.' },
    },
    args: {
      filename: t.arg.string({
        required: true,
        description: `The file's name with a video extension (e.g. "clip.mp4"), at most ${MAX_UPLOAD_FILENAME_LENGTH} characters.`,
      }),
      contentType: t.arg.string({
        required: false,
        description: 'The file\'s MIME type if known (File.type); only checked: it must be video/* or application/octet-stream.',
      }),
    },
    resolve: async (_root, { filename, contentType }, ctx) => {
      const problem = filenameProblem(filename);
      if (problem) throw new InvalidArgumentError('filename', problem);
      if (contentType && !ACCEPTED_CONTENT_TYPE.test(contentType)) {
        throw new InvalidArgumentError('contentType', `contentType "${contentType.slice(0, 80)}" is not a video type`);
      }
      try {
        return await createTicket(ctx, filename);
      } catch (error) {
        throw toDomainError(error);
      }
    },
  }),
);
