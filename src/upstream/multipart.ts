/**
 * A streaming `multipart/form-data` body with a single file part, for uploads whose bytes come from a web
 * ReadableStream (FormData would need the whole file as a Blob first).
 */
import { UpstreamError } from './errors.js';

export interface MultipartFilePart {
  /** Form field name (the upstream wants `file`). */
  name: string;
  filename: string;
  contentType: string;
  body: ReadableStream<Uint8Array>;
  /** Exact byte count of `body`, when known: enables Content-Length and is enforced while streaming. */
  size?: number;
}

export interface MultipartBody {
  body: ReadableStream<Uint8Array>;
  /** The `Content-Type` request header (with the boundary). */
  contentType: string;
  /** Total body length when `size` was given, else `null` (sent chunked). */
  contentLength: number | null;
}

/** Structurally the client's UploadInput. */
export interface UploadSource {
  body: Blob | ReadableStream<Uint8Array>;
  filename: string;
  contentType?: string;
  size?: number;
}

const encoder = new TextEncoder();

/**
 * Builds the body lazily: the file bytes are pulled from `part.body` only as the HTTP client reads, so a large upload
 * is never buffered. When `size` is given and the stream yields a different number of bytes, the body errors with
 * UpstreamError('BAD_REQUEST').
 */
export function createMultipartStream(part: MultipartFilePart): MultipartBody {
  const boundary = `----frames-gateway-${globalThis.crypto.randomUUID().replace(/-/g, '')}`;
  const head = encoder.encode(
    `--${boundary}\r\n` +
      `Content-Disposition: form-data; name="${escapeQuoted(part.name)}"; ` +
      `filename="${escapeQuoted(part.filename)}"\r\n` +
      `Content-Type: ${part.contentType.replace(/[\r\n]/g, '')}\r\n\r\n`,
  );
  const tail = encoder.encode(`\r\n--${boundary}--\r\n`);
  const reader = part.body.getReader();
  let sent = 0;
  const sizeError = (): UpstreamError =>
    new UpstreamError('BAD_REQUEST', `upload body does not match the declared size of ${part.size ?? 0} bytes`);

  const body = new ReadableStream<Uint8Array>({
    start(controller) {
      controller.enqueue(head);
    },
    async pull(controller) {
      const { done, value } = await reader.read();
      if (done) {
        if (part.size !== undefined && sent !== part.size) controller.error(sizeError());
        else {
          controller.enqueue(tail);
          controller.close();
        }
        return;
      }
      sent += value.byteLength;
      if (part.size !== undefined && sent > part.size) {
        controller.error(sizeError());
        await reader.cancel();
        return;
      }
      controller.enqueue(value);
    },
    cancel(reason) {
      return reader.cancel(reason);
    },
  });
  const contentLength = part.size === undefined ? null : head.byteLength + part.size + tail.byteLength;
  return { body, contentType: `multipart/form-data; boundary=${boundary}`, contentLength };
}

/** The WHATWG form-data encoding of names in quoted header parameters: `"` and line breaks are percent-encoded. */
function escapeQuoted(value: string): string {
  return value.replace(/"/g, '%22').replace(/\r/g, '%0D').replace(/\n/g, '%0A');
}

/** Local checks of an upload request (BAD_REQUEST, nothing sent). */
export function validateUpload(input: UploadSource): void {
  const isBody = input.body instanceof Blob || input.body instanceof ReadableStream;
  if (!isBody) throw new UpstreamError('BAD_REQUEST', 'upload: body must be a Blob or a ReadableStream');
  if (typeof input.filename !== 'string' || input.filename.trim() === '') {
    throw new UpstreamError('BAD_REQUEST', 'upload: filename is required');
  }
  if (input.size !== undefined && !(Number.isSafeInteger(input.size) && input.size >= 0)) {
    throw new UpstreamError('BAD_REQUEST', 'upload: size must be a non-negative integer');
  }
}

/** The request body of one `POST /upload` attempt: FormData for a Blob, a streamed multipart body for a stream. */
export function uploadBody(input: UploadSource): {
  body: BodyInit;
  headers: Record<string, string>;
  streamingBody: boolean;
} {
  if (input.body instanceof Blob) {
    const type = input.contentType ?? (input.body.type || 'application/octet-stream');
    const form = new FormData();
    form.append('file', input.body.slice(0, input.body.size, type), input.filename);
    return { body: form, headers: {}, streamingBody: false };
  }
  const multipart = createMultipartStream({
    name: 'file',
    filename: input.filename,
    contentType: input.contentType ?? 'application/octet-stream',
    body: input.body,
    ...(input.size === undefined ? {} : { size: input.size }),
  });
  const headers: Record<string, string> = { 'Content-Type': multipart.contentType };
  if (multipart.contentLength !== null) headers['Content-Length'] = String(multipart.contentLength);
  return { body: multipart.body, headers, streamingBody: true };
}
