/** The `POST /upload` request body: `multipart/form-data` with one part named `file`. */
import { UpstreamError } from './errors.js';

/** Structurally the client's UploadInput. */
export interface UploadSource {
  body: Blob;
  filename: string;
  contentType?: string;
}

/** Local checks of an upload request (BAD_REQUEST, nothing sent). */
export function validateUpload(input: UploadSource): void {
  if (!(input.body instanceof Blob)) throw new UpstreamError('BAD_REQUEST', 'upload: body must be a Blob');
  if (typeof input.filename !== 'string' || input.filename.trim() === '') {
    throw new UpstreamError('BAD_REQUEST', 'upload: filename is required');
  }
}

/**
 * A fresh form for each attempt. `slice` re-types the Blob without copying it (a file-backed Blob stays on disk),
 * and fetch streams a Blob part as it sends.
 */
export function uploadForm(input: UploadSource): FormData {
  const type = input.contentType ?? (input.body.type || 'application/octet-stream');
  const form = new FormData();
  form.append('file', input.body.slice(0, input.body.size, type), input.filename);
  return form;
}
