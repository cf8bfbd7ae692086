/**
 * Headers for a HEAD that must not open a billed download: an uncached video (large ones are never cached, so the
 * download would be opened and cancelled on every HEAD) is described from its upstream metadata, and a zip that
 * could not be cached is not downloaded a second time. Pure functions, no I/O.
 */
import { UpstreamError } from '../upstream/errors.js';
import type { AssetMetadata } from '../upstream/types.js';
import { extensionForContentType, safeFilename, videoContentTypeForExtension } from './ids.js';
import type { MediaHeaders } from './types.js';

const SAFE_SIZE = /^\d{1,15}$/;

/**
 * The headers a GET of video `assetId` would send, from its metadata: type from the extension, length from
 * `file_size`, the original file name, and Range support when the GET would cache it (`videoCacheMaxBytes`). There
 * is no ETag: it is a hash of bytes not read yet. Throws `UpstreamError('NOT_FOUND')` when the metadata has no such
 * asset or its upload has not succeeded (there is nothing to download).
 */
export function videoHeadersFromMetadata(
  assetId: string,
  metadata: AssetMetadata,
  videoCacheMaxBytes: number,
): MediaHeaders {
  const resource = metadata.resources.find((r) => r.assetId === assetId);
  if (!resource) throw new UpstreamError('NOT_FOUND', `Asset ${assetId} not found`);
  if (resource.uploadStatus !== null && resource.uploadStatus !== 'SUCCESS') {
    throw new UpstreamError('NOT_FOUND', `Asset ${assetId} has no file yet (upload ${resource.uploadStatus})`);
  }
  const name = resource.originalFilename;
  const extension = resource.extension ?? (name?.includes('.') ? name.slice(name.lastIndexOf('.') + 1) : '');
  const contentType = videoContentTypeForExtension(extension);
  const size = resource.fileSize;
  const contentLength = size !== null && SAFE_SIZE.test(size) ? Number(size) : null;
  const filename = safeFilename(name ?? '') ?? `${assetId}.${extensionForContentType(contentType)}`;
  return {
    contentType,
    contentLength,
    contentDisposition: `attachment; filename="${filename}"`,
    acceptRanges: contentLength !== null && contentLength <= videoCacheMaxBytes,
  };
}

/** What a streamed-through zip GET would send (its length is unknown: upstream zips come chunked). */
export function zipHeaders(collectionId: string): MediaHeaders {
  return {
    contentType: 'application/zip',
    contentLength: null,
    contentDisposition: `attachment; filename="${collectionId}.zip"`,
    acceptRanges: false,
  };
}
