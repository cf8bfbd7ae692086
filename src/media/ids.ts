/**
 * Media id helpers: which ids `/media/<id>` serves, and how file names / MIME types are derived.
 * Pure functions, no I/O.
 */
import { ASSET_ID_PATTERN, COLLECTION_ID_PATTERN, FRAME_ID_PATTERN } from '../upstream/types.js';

/** Path prefix under which media are served. */
export const MEDIA_PATH_PREFIX = '/media/';

/** What an id served at `/media/<id>` is. */
export type MediaKind = 'frame' | 'collection' | 'video';

/** Classifies an id (`imc_` frame, `im_` collection zip, `re_` original video); `null` when it matches no pattern. */
export function classifyMediaId(id: string): MediaKind | null {
  if (FRAME_ID_PATTERN.test(id)) return 'frame';
  if (COLLECTION_ID_PATTERN.test(id)) return 'collection';
  if (ASSET_ID_PATTERN.test(id)) return 'video';
  return null;
}

/** The unsigned path of a media id: `/media/<id>`. */
export function mediaPath(id: string): string {
  return `${MEDIA_PATH_PREFIX}${id}`;
}

/** `im_<digits>` of a frame id `imc_<digits>_<n>`, or `null` when `frameId` is not a frame id. */
export function collectionIdOfFrame(frameId: string): string | null {
  const match = FRAME_ID_PATTERN.exec(frameId);
  return match ? `im_${match[1]}` : null;
}

const TYPE_BY_EXTENSION: Readonly<Record<string, string>> = {
  jpg: 'image/jpeg',
  jpeg: 'image/jpeg',
  png: 'image/png',
  webp: 'image/webp',
};

const EXTENSION_BY_TYPE: Readonly<Record<string, string>> = {
  'image/jpeg': 'jpg',
  'image/png': 'png',
  'image/webp': 'webp',
  'application/zip': 'zip',
  'video/mp4': 'mp4',
  'video/quicktime': 'mov',
  'video/webm': 'webm',
};

// The type a download of each extension is expected to carry (the upstream documents `video/mp4`), so that a HEAD
// answered from metadata says what the GET would.
const VIDEO_TYPE_BY_EXTENSION: Readonly<Record<string, string>> = {
  mp4: 'video/mp4',
  mov: 'video/quicktime',
  webm: 'video/webm',
  mkv: 'video/x-matroska',
  avi: 'video/x-msvideo',
  flv: 'video/x-flv',
  wmv: 'video/x-ms-wmv',
  mpeg: 'video/mpeg',
};

/** MIME type for a video file extension (case-insensitive, no dot); `application/octet-stream` when unknown. */
export function videoContentTypeForExtension(extension: string): string {
  return VIDEO_TYPE_BY_EXTENSION[extension.toLowerCase()] ?? 'application/octet-stream';
}

/** MIME type for a frame file extension (case-insensitive, no dot); `application/octet-stream` when unknown. */
export function contentTypeForExtension(extension: string): string {
  return TYPE_BY_EXTENSION[extension.toLowerCase()] ?? 'application/octet-stream';
}

/** File extension (no dot) for a MIME type, ignoring parameters; `bin` when unknown. */
export function extensionForContentType(contentType: string): string {
  const bare = contentType.split(';', 1)[0]?.trim().toLowerCase() ?? '';
  return EXTENSION_BY_TYPE[bare] ?? 'bin';
}

/**
 * A file name safe to put inside `filename="..."`: printable ASCII without quotes, backslashes or path separators
 * (everything else becomes `_`), at most 200 characters. Returns `null` when nothing usable is left.
 */
export function safeFilename(name: string): string | null {
  const cleaned = name
    .replace(/[^A-Za-z0-9._ ()+-]/g, '_')
    .replace(/^[.\s]+/, '')
    .slice(0, 200)
    .trim();
  return cleaned.length > 0 ? cleaned : null;
}
