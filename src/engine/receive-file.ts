/**
 * Receives the `file` part of a multipart/form-data request body into a temp file, streaming (nothing buffered in
 * memory), with `@fastify/busboy` doing the parsing. Used by `POST /upload` and by the signed upload target, so both
 * enforce the same limits: the file part's size (413), the bytes of every other part (413), a missing `file` part
 * (400), a malformed body (400), a non-multipart Content-Type (415).
 */
import { randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import type { IncomingMessage } from 'node:http';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { Busboy, type BusboyFileStream } from '@fastify/busboy';
import { EngineHttpError } from './http-util.js';

/** Allowance for multipart framing and small fields on top of the file-size limit. */
export const MULTIPART_SLACK = 64 * 1024;
/** How much of an over-limit body is read and thrown away so the client can read the 413 cleanly. */
const DRAIN_LIMIT = 32 * 1024 * 1024;

/** The stored temp file; the caller owns (renames or removes) it. */
export interface ReceivedFile {
  tmpPath: string;
  size: number;
  /** The part's file name (base name only), 'file' when it sent none. */
  filename: string;
  contentType: string | null;
}

/**
 * Reads `req` and returns the `file` part in `tmpDir`. Throws {@link EngineHttpError}: 415 not multipart, 413 over
 * `maxFileBytes` (or other parts over {@link MULTIPART_SLACK}; the temp file is removed), 400 malformed or no file part.
 */
export async function receiveFile(req: IncomingMessage, options: { tmpDir: string; maxFileBytes: number }): Promise<ReceivedFile> {
  const { maxFileBytes } = options;
  const contentType = req.headers['content-type'];
  if (!contentType || !/^multipart\/form-data\s*;/i.test(contentType.trim())) throw notMultipart();
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > maxFileBytes + MULTIPART_SLACK) throw await tooLarge(req, maxFileBytes);

  let parser: ReturnType<typeof Busboy>;
  try {
    parser = Busboy({
      headers: { ...req.headers, 'content-type': contentType },
      // More than one file part is allowed so that an unrelated one before `file` cannot take its slot.
      limits: { files: 5, fileSize: maxFileBytes, fields: 50, fieldSize: MULTIPART_SLACK, parts: 100, headerPairs: 100 },
    });
  } catch {
    throw notMultipart(); // no boundary
  }

  const tmpPath = path.join(options.tmpDir, `upload-${randomBytes(8).toString('hex')}.part`);
  let received: ReceivedFile | null = null;
  let writing: Promise<void> | null = null;
  let active: BusboyFileStream | null = null;
  let writeFailed: unknown;
  const outcome = await new Promise<'ok' | 'too-large' | Error>((resolve) => {
    let otherBytes = 0;
    const stop = (result: 'too-large' | Error) => {
      // Stop parsing; the rest of the body is drained (or the socket closed) by the caller's error reply.
      req.unpipe(parser);
      // A part cut off here never ends by itself: end its write (which then rejects) so the temp file can go.
      active?.destroy();
      resolve(result);
    };
    const countOther = (bytes: number) => {
      if ((otherBytes += bytes) > MULTIPART_SLACK) stop('too-large');
    };
    parser.on('file', (name: string, stream: BusboyFileStream, filename: string, _encoding: string, mime: string) => {
      if (name !== 'file' || received !== null) {
        stream.on('data', (chunk: Buffer) => countOther(chunk.length));
        stream.resume();
        return;
      }
      const file: ReceivedFile = { tmpPath, size: 0, filename: filename || 'file', contentType: mime || null };
      received = file;
      active = stream;
      stream.on('data', (chunk: Buffer) => (file.size += chunk.length));
      stream.on('limit', () => stop('too-large'));
      writing = pipeline(stream, createWriteStream(tmpPath, { flags: 'wx' }));
      writing.catch((error: unknown) => {
        // Our own disk failing is not the client's fault (500), unless the write was ended by stop() itself.
        writeFailed ??= error;
        stop(error instanceof Error ? error : new Error(String(error)));
      });
    });
    parser.on('field', (name: string, value: string) => countOther(name.length + value.length));
    parser.on('partsLimit', () => stop('too-large'));
    parser.on('fieldsLimit', () => stop('too-large'));
    parser.on('error', (error: unknown) => stop(error instanceof Error ? error : new Error(String(error))));
    parser.on('finish', () => {
      void Promise.resolve(writing).then(
        () => resolve('ok'),
        () => undefined, // reported through stop()
      );
    });
    req.on('error', (error) => stop(error));
    // A client that disconnects mid-body may close the request without an 'error'.
    req.on('close', () => {
      if (!req.readableEnded) stop(new Error('the request was closed before its end'));
    });
    req.pipe(parser);
  });

  if (outcome === 'ok' && received !== null) return received;
  await Promise.resolve(writing).catch(() => undefined);
  await rm(tmpPath, { force: true });
  if (outcome === 'too-large') throw await tooLarge(req, maxFileBytes);
  // A file-system errno (ENOSPC, EACCES, …), not a stream ended by stop() (ERR_STREAM_PREMATURE_CLOSE): ours, a 500.
  if (/^E[A-Z]+$/.test(String((writeFailed as NodeJS.ErrnoException | undefined)?.code))) throw writeFailed;
  // (When the client went away mid-body this reply goes nowhere, which is harmless.)
  if (outcome instanceof Error) throw new EngineHttpError(400, `Malformed multipart body: ${outcome.message}`);
  throw new EngineHttpError(400, 'Missing "file" part in multipart body');
}

function notMultipart(): EngineHttpError {
  return new EngineHttpError(415, 'Content-Type must be multipart/form-data with a "file" part');
}

async function tooLarge(req: IncomingMessage, limit: number): Promise<EngineHttpError> {
  return refuseBody(req, new EngineHttpError(413, `File exceeds the upload limit of ${limit} bytes`));
}

/**
 * `error`, to answer once the unread request body is drained: reading the rest first lets the client finish sending
 * and see the error instead of a reset; past DRAIN_LIMIT we answer anyway and `Connection: close` ends the socket.
 */
export async function refuseBody(req: IncomingMessage, error: EngineHttpError): Promise<EngineHttpError> {
  await drain(req, DRAIN_LIMIT);
  return new EngineHttpError(error.status, error.message, { ...error.headers, Connection: 'close' });
}

/** Reads and discards up to `limit` bytes; true when the request ended within it. */
async function drain(req: IncomingMessage, limit: number): Promise<boolean> {
  if (req.readableEnded) return true;
  let seen = 0;
  for await (const chunk of req.iterator({ destroyOnReturn: false }) as AsyncIterable<Buffer>) {
    seen += chunk.length;
    if (seen > limit) return false;
  }
  return true;
}
