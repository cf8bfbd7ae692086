/**
 * `uploadVideo`'s transfer: yoga's multipart parser already holds the file, so that stays the only in-memory copy.
 * Its stream goes to a temp file and the upstream upload reads the file (no `arrayBuffer()`, no second Blob).
 */
import type { UpstreamClient } from '../upstream/client.js';
import { withSpooledFile } from './spool.js';
import type { UploadLimiter } from './upload-limiter.js';

/** What `uploadVideo` reads of yoga's File (a ponyfill on Node, so typed by shape). */
export interface UploadedFile {
  readonly name: string;
  readonly type: string;
  readonly size: number;
  stream(): ReadableStream<Uint8Array>;
}

/**
 * Uploads `file` in one of the limiter's slots and returns the new `re_` id. Throws the limiter's RATE_LIMITED
 * when no slot frees up in time, and the client's UpstreamError when the upload fails; the temp file is gone either way.
 */
export function uploadVideoFile(file: UploadedFile, client: UpstreamClient, uploads: UploadLimiter): Promise<string> {
  const contentType = file.type || 'application/octet-stream';
  return uploads.run(() =>
    withSpooledFile(file.stream(), { type: contentType }, async (body) => {
      const input = { body, filename: file.name || 'video', contentType: file.type || undefined };
      const { assetId } = await client.upload(input);
      return assetId;
    }),
  );
}
