/**
 * Reading the reply of `GET /{id}/download`: a file on success, a JSON error envelope on the same URL otherwise.
 */
import { classifyFailure, isSuccessReply } from './envelope.js';
import { UpstreamError } from './errors.js';
import { abortable, type HttpSender } from './http.js';
import { COLLECTION_ID_PATTERN, FRAME_ID_PATTERN, type DownloadedFile } from './types.js';

/**
 * A file only for HTTP 2xx with a body whose Content-Type is not JSON. Anything else (a JSON body even with 200, an
 * error page) is read and thrown as a classified {@link UpstreamError}, never handed out as a file.
 */
export async function readDownload(
  res: Response,
  signal: AbortSignal,
  id: string,
  operation: string,
  http: Pick<HttpSender, 'replyInput'>,
): Promise<DownloadedFile> {
  const contentType = res.headers.get('content-type')?.trim() || null;
  if (res.ok && !isJsonType(contentType) && res.body !== null) {
    return {
      body: res.body,
      contentType: contentType ?? defaultContentType(id),
      contentLength: contentLengthOf(res.headers),
      contentDisposition: res.headers.get('content-disposition'),
    };
  }
  const input = http.replyInput(res, await abortable(res.text(), signal), operation);
  if (isSuccessReply(input.status, input.body) || (res.ok && !isJsonType(contentType))) {
    throw new UpstreamError('UPSTREAM_ERROR', `${operation} failed: no file in the reply (HTTP ${res.status})`, {
      status: res.status,
    });
  }
  throw classifyFailure(input);
}

/** Default Content-Type of a download whose reply has none: zip for `im_`, JPEG for `imc_`, else octet-stream. */
export function defaultContentType(id: string): string {
  if (COLLECTION_ID_PATTERN.test(id)) return 'application/zip';
  if (FRAME_ID_PATTERN.test(id)) return 'image/jpeg';
  return 'application/octet-stream';
}

export function isJsonType(contentType: string | null): boolean {
  return contentType !== null && /^application\/(?:[\w.-]+\+)?json\s*(?:;|$)/i.test(contentType);
}

/** Content-Length, unless the body is content-encoded (fetch decodes it, so the header would not match). */
export function contentLengthOf(headers: Headers): number | null {
  const encoding = headers.get('content-encoding');
  if (encoding !== null && encoding.trim().toLowerCase() !== 'identity') return null;
  const value = headers.get('content-length')?.trim();
  return value !== undefined && /^\d{1,15}$/.test(value) ? Number(value) : null;
}
