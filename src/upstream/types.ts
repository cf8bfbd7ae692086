/**
 * Wire DTOs of the v2 API, already normalised: ids and 18-digit numbers stay strings, numbers that arrive as
 * strings are parsed, `msg ?? message` is read everywhere. Parsers live here so bad upstream data stops at the edge.
 */
import { isRecord as isObject, isSuccessCode, normalizeCode } from './envelope.js';
import { UpstreamError } from './errors.js';

export type UploadStatus = 'WAITING' | 'UPLOADING' | 'SUCCESS' | 'FAILED';

/** One `resource[]` entry of `GET /{id}/metadata`. Every documented field may be missing. */
export interface AssetResource {
  assetId: string;
  extension: string | null;
  originalFilename: string | null;
  /** Bytes, kept as a decimal string (the upstream sends a string). */
  fileSize: string | null;
  uploadStatus: UploadStatus | null;
  /** Epoch milliseconds as a decimal string. */
  createTime: string | null;
  modifyTime: string | null;
}

export interface AssetMetadata {
  /** `data.total` (number of entries the upstream says exist); may exceed `resources.length`. */
  total: number;
  resources: AssetResource[];
}

/** A parsed extract-frames callback (account webhook body). */
export interface ExtractFramesCallback {
  taskId: string;
  /** True when the code is a success code AND `asset_id` and a non-empty `asset_ch_ids` are present. */
  succeeded: boolean;
  /** `message ?? msg` of the callback. */
  message: string | null;
  /** The raw code, stringified. */
  code: string | null;
  collectionId: string | null;
  frameIds: string[];
}

export interface DownloadedFile {
  body: ReadableStream<Uint8Array>;
  contentType: string;
  contentLength: number | null;
  contentDisposition: string | null;
}

export const ASSET_ID_PATTERN = /^re_\d{1,30}$/;
export const COLLECTION_ID_PATTERN = /^im_\d{1,30}$/;
export const FRAME_ID_PATTERN = /^imc_(\d{1,30})_(\d{1,9})$/;
export const TASK_ID_PATTERN = /^[A-Za-z0-9_-]{1,128}$/;

// ---------------------------------------------------------------------------------------------------------------
// Parsers. They take the envelope's `data` (see envelope.ts) or, for the callback, the whole webhook body, as
// produced by parseJsonPreservingBigIds, and never route an 18-digit number through `Number`.
// ---------------------------------------------------------------------------------------------------------------

export { parseJsonPreservingBigIds } from './json.js';

const UPLOAD_STATUSES: ReadonlySet<string> = new Set<UploadStatus>(['WAITING', 'UPLOADING', 'SUCCESS', 'FAILED']);
const DECIMAL = /^\d+$/;
/** Text used when a failed callback carries neither `message` nor `msg`. */
export const CALLBACK_FAILURE_FALLBACK_MESSAGE = 'upstream reported failure without a message';

/**
 * `data` of `GET /{id}/metadata`. Tolerant: numbers may arrive as strings and vice versa, every field but
 * `asset_id` may be missing (entries without a string `asset_id` are dropped), an unknown `upload_status` is `null`,
 * `total` (number or decimal string) defaults to the number of entries kept.
 *
 * @throws UpstreamError('UPSTREAM_ERROR') when `data` is not an object.
 */
export function parseMetadata(data: unknown): AssetMetadata {
  if (!isObject(data)) throw malformed('metadata reply has no data object');
  const rawResources = Array.isArray(data.resource) ? data.resource : [];
  const resources: AssetResource[] = [];
  for (const entry of rawResources) {
    const resource = parseResource(entry);
    if (resource !== null) resources.push(resource);
  }
  const total = toCount(data.total) ?? resources.length;
  return { total, resources };
}

/**
 * `data` of `POST /video/extract-frames`: `{ task_id }`.
 *
 * @throws UpstreamError('UPSTREAM_ERROR') when there is no usable task id.
 */
export function parseExtractReply(data: unknown): { taskId: string } {
  const taskId = isObject(data) ? toText(data.task_id) : null;
  if (taskId === null || !TASK_ID_PATTERN.test(taskId)) throw malformed('extract-frames reply has no valid task_id');
  return { taskId };
}

/**
 * `data` of `POST /upload`: `{ asset_id: "re_..." }`.
 *
 * @throws UpstreamError('UPSTREAM_ERROR') when there is no `re_` asset id.
 */
export function parseUploadReply(data: unknown): { assetId: string } {
  const assetId = isObject(data) ? toText(data.asset_id) : null;
  if (assetId === null || !ASSET_ID_PATTERN.test(assetId)) throw malformed('upload reply has no valid re_ asset_id');
  return { assetId };
}

/** `data` of `POST /upload/signed-url`, normalised. */
export interface SignedUpload {
  assetId: string;
  /** Where the file goes: a multipart POST, part `file`, no API key. */
  signedUrl: string;
  /** Seconds the URL stays valid (the upstream documents 93600, i.e. 26 h). */
  expiresInSeconds: number;
}

/**
 * `data` of `POST /upload/signed-url`: `{ asset_id, signed_url, expires_in }` (`expires_in` may be a number or a
 * decimal string, like every upstream number).
 *
 * @throws UpstreamError('UPSTREAM_ERROR') when the id is not `re_`, the URL is not absolute http(s), or expires_in is
 * not a positive number.
 */
export function parseSignedUploadReply(data: unknown): SignedUpload {
  if (!isObject(data)) throw malformed('signed-url reply has no data object');
  const assetId = toText(data.asset_id);
  if (assetId === null || !ASSET_ID_PATTERN.test(assetId)) throw malformed('signed-url reply has no valid re_ asset_id');
  const signedUrl = typeof data.signed_url === 'string' ? data.signed_url : '';
  let protocol = '';
  try {
    protocol = new URL(signedUrl).protocol;
  } catch {
    // not a URL: refused below
  }
  if (protocol !== 'https:' && protocol !== 'http:') throw malformed('signed-url reply has no http(s) signed_url');
  const expires = typeof data.expires_in === 'string' && DECIMAL.test(data.expires_in) ? Number(data.expires_in) : data.expires_in;
  if (typeof expires !== 'number' || !Number.isFinite(expires) || expires <= 0) {
    throw malformed('signed-url reply has no positive expires_in');
  }
  return { assetId, signedUrl, expiresInSeconds: expires };
}

/**
 * The extract-frames webhook body. `ok: false` only when it is not an object or has no non-empty string `task_id`
 * (a malformed webhook: answer 400). Anything else parses, with `succeeded: false` when the code is not a success
 * code, `success` is present and not `true`, `data.asset_id` is not an `im_` id, or no valid frame id remains.
 * Frame ids that don't match {@link FRAME_ID_PATTERN} or belong to another collection are dropped; the rest are
 * deduplicated and sorted by frame index (the upstream does not promise an order).
 */
export function parseExtractFramesCallback(
  body: unknown,
): { ok: true; value: ExtractFramesCallback } | { ok: false; error: string } {
  if (!isObject(body)) return { ok: false, error: 'callback body is not a JSON object' };
  const taskId = typeof body.task_id === 'string' ? body.task_id.trim() : '';
  if (taskId === '') return { ok: false, error: 'callback body has no string task_id' };

  const code = normalizeCode(body.code);
  const upstreamMessage = toText(body.message) ?? toText(body.msg);
  const data = isObject(body.data) ? body.data : null;
  const assetId = data === null ? null : toText(data.asset_id);
  const collectionId = assetId !== null && COLLECTION_ID_PATTERN.test(assetId) ? assetId : null;
  const frameIds = collectionId === null ? [] : validFrameIds(collectionId, data?.asset_ch_ids);

  const successFlagOk = body.success === undefined || body.success === null || body.success === true;
  const codeOk = isSuccessCode(code) && successFlagOk;
  let failure: string | null = null;
  if (!codeOk) failure = upstreamMessage ?? CALLBACK_FAILURE_FALLBACK_MESSAGE;
  else if (assetId === null) failure = 'upstream reported success but the callback has no data.asset_id';
  else if (collectionId === null) failure = 'upstream reported success but data.asset_id is not an im_ collection id';
  else if (frameIds.length === 0) failure = 'upstream reported success but the callback has no valid frame ids';
  // Surface the upstream's own words when it gave any (other than a bare "SUCCESS" on a result-less callback).
  if (failure !== null && codeOk && upstreamMessage !== null && !/^success$/i.test(upstreamMessage)) failure = upstreamMessage;

  return {
    ok: true,
    value: {
      taskId,
      succeeded: failure === null,
      message: failure ?? upstreamMessage,
      code,
      collectionId,
      frameIds,
    },
  };
}

/** Frame index of an `imc_<digits>_<n>` id whose digits match `collectionId`; `null` otherwise. */
export function frameIndexOf(frameId: string, collectionId?: string): number | null {
  const match = FRAME_ID_PATTERN.exec(frameId);
  if (match === null) return null;
  if (collectionId !== undefined && `im_${match[1] ?? ''}` !== collectionId) return null;
  return Number(match[2]);
}

function validFrameIds(collectionId: string, raw: unknown): string[] {
  if (!Array.isArray(raw)) return [];
  const byIndex = new Map<number, string>();
  for (const item of raw) {
    if (typeof item !== 'string') continue;
    const index = frameIndexOf(item, collectionId);
    if (index !== null && !byIndex.has(index)) byIndex.set(index, item);
  }
  return [...byIndex.entries()].sort(([a], [b]) => a - b).map(([, id]) => id);
}

function parseResource(entry: unknown): AssetResource | null {
  if (!isObject(entry) || typeof entry.asset_id !== 'string' || entry.asset_id.trim() === '') return null;
  const status = toText(entry.upload_status)?.toUpperCase() ?? null;
  return {
    assetId: entry.asset_id.trim(),
    extension: toText(entry.extension),
    originalFilename: toText(entry.original_filename),
    fileSize: toDecimalString(entry.file_size),
    uploadStatus: status !== null && UPLOAD_STATUSES.has(status) ? (status as UploadStatus) : null,
    createTime: toDecimalString(entry.create_time),
    modifyTime: toDecimalString(entry.modify_time),
  };
}

/** A non-negative integer as a decimal string. Numbers go through BigInt (exact), never through arithmetic. */
function toDecimalString(value: unknown): string | null {
  if (typeof value === 'string') return DECIMAL.test(value.trim()) ? value.trim() : null;
  if (typeof value === 'number' && Number.isInteger(value) && value >= 0) return BigInt(value).toString();
  if (typeof value === 'bigint' && value >= 0n) return value.toString();
  return null;
}

function toCount(value: unknown): number | null {
  if (typeof value === 'number') return Number.isSafeInteger(value) && value >= 0 ? value : null;
  if (typeof value === 'string' && DECIMAL.test(value.trim())) {
    const n = Number(value.trim());
    return Number.isSafeInteger(n) ? n : null;
  }
  return null;
}

/** A non-empty string (numbers are stringified: `original_filename` "3" may arrive as 3). */
function toText(value: unknown): string | null {
  if (typeof value === 'string') return value.trim() === '' ? null : value;
  if (typeof value === 'number' && Number.isFinite(value)) return String(value);
  return null;
}

function malformed(message: string): UpstreamError {
  return new UpstreamError('UPSTREAM_ERROR', message);
}
