/**
 * Reading the reply of `GET /{id}/download`: a file on success, a JSON error envelope on the same URL otherwise.
 */
import { classifyFailure, isSuccessReply } from './envelope.js';
import { UpstreamError } from './errors.js';
import { abortable, type HttpSender } from './http.js';
import { meterBody, type UpstreamObserver, type UpstreamOutcome } from './observer.js';
import { COLLECTION_ID_PATTERN, FRAME_ID_PATTERN, type DownloadedFile } from './types.js';

/**
 * A file only for HTTP 2xx with a body whose Content-Type is not JSON. Anything else (a JSON body even with 200, an
 * error page) is read and thrown as a classified {@link UpstreamError}, never handed out as a file. With `stallMs`,
 * the body is wrapped by {@link watchForStall}. With `meter`, the body's bytes and its end are reported (see
 * {@link meterBody}); the exchange's outcome is then known only when the body ends.
 */
export async function readDownload(
  res: Response,
  signal: AbortSignal,
  id: string,
  operation: string,
  http: Pick<HttpSender, 'replyInput'>,
  stallMs?: number,
  meter?: { observer: UpstreamObserver; report: (outcome: UpstreamOutcome) => void },
): Promise<DownloadedFile> {
  const contentType = res.headers.get('content-type')?.trim() || null;
  if (res.ok && !isJsonType(contentType) && res.body !== null) {
    const body = stallMs === undefined ? res.body : watchForStall(res.body, stallMs, operation);
    return {
      body: meter ? meterBody(body, meter.observer, meter.report) : body,
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

/**
 * The download body as a stream that fails with `UpstreamError('TIMEOUT')` when a read waits more than `stallMs` for
 * the next chunk, cancelling the upstream body (which closes its connection). A read that fails for another reason
 * (connection reset mid-body) becomes `UpstreamError('UPSTREAM_ERROR')`, so consumers only ever see classified errors.
 *
 * The clock runs only while a consumer waits for bytes (`pull` with a zero high-water mark), so a slow consumer
 * (backpressure from a slow browser) is never taken for a stalled upstream.
 * Hand-written rather than undici's `bodyTimeout`: that works only through an undici dispatcher, while this client
 * takes any injected `fetch`, and its failure surfaces as an unclassified `TypeError: terminated`.
 */
export function watchForStall(
  body: ReadableStream<Uint8Array>,
  stallMs: number,
  operation: string,
): ReadableStream<Uint8Array> {
  const reader = body.getReader();
  const fail = (error: unknown): UpstreamError => {
    if (error instanceof UpstreamError) return error;
    return new UpstreamError('UPSTREAM_ERROR', `${operation} failed: the connection broke while reading the body`);
  };
  return new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        let timer: ReturnType<typeof setTimeout> | undefined;
        const stalled = new Promise<never>((_, reject) => {
          timer = setTimeout(() => {
            reject(new UpstreamError('TIMEOUT', `${operation} stalled: no bytes for ${stallMs} ms`));
          }, stallMs);
        });
        try {
          const chunk = await Promise.race([reader.read(), stalled]);
          if (chunk.done) controller.close();
          else controller.enqueue(chunk.value);
        } catch (error) {
          const failure = fail(error);
          reader.cancel(failure).catch(() => undefined);
          controller.error(failure);
        } finally {
          clearTimeout(timer);
        }
      },
      cancel: (reason) => reader.cancel(reason),
    },
    { highWaterMark: 0 },
  );
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
