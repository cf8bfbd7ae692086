/**
 * Spooling for `uploadVideo` and `importVideo`: the bytes go to a temp file, and the upstream upload reads a
 * file-backed Blob of it. That Blob is replayable (the client retries an upload after a 429) and never holds the
 * whole video in memory. The temp file lives exactly as long as the callback that uses it.
 */
import { openAsBlob } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { ContentTooLargeError, spoolToFile } from '../media/spool.js';

/** Writing the temp file failed (source error, abort, disk); `cause` says why. Errors of the callback pass through. */
export class SpoolError extends Error {
  override readonly name: string = 'SpoolError';
}

/** The source yielded more than `maxBytes` (a lying or absent Content-Length cannot get past the byte count). */
export class SpoolLimitError extends SpoolError {
  override readonly name = 'SpoolLimitError';
  constructor(readonly maxBytes: number) {
    super(`the file is larger than the limit of ${maxBytes} bytes`);
  }
}

export interface SpoolOptions {
  /** Content type of the Blob handed to the callback. */
  type: string;
  /** Refuse (with {@link SpoolLimitError}) a source longer than this. No cap when absent. */
  maxBytes?: number;
  /** Aborting stops the copy (the whole-download deadline of an import). */
  signal?: AbortSignal;
}

/**
 * Streams `source` (a web ReadableStream, native or yoga's ponyfill, or any async iterable of bytes) into a new temp
 * file, then calls `use` with a Blob backed by that file. The temp directory is removed once `use` settles, and also
 * when spooling fails. Spooling failures reject with {@link SpoolError}; `use`'s own errors pass through unchanged.
 */
export async function withSpooledFile<T>(
  source: ReadableStream<Uint8Array> | AsyncIterable<Uint8Array>,
  options: SpoolOptions,
  use: (file: Blob) => Promise<T>,
): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), 'frames-spool-'));
  try {
    const path = join(dir, 'video');
    await copyTo(path, source, options);
    return await use(await openAsBlob(path, { type: options.type }));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

async function copyTo(path: string, source: ReadableStream<Uint8Array> | AsyncIterable<Uint8Array>, options: SpoolOptions): Promise<void> {
  const { maxBytes, signal } = options;
  // Readable.from, not fromWeb: yoga's File.stream() is a ponyfill stream, async-iterable but not a native one.
  const readable = Readable.from(source as AsyncIterable<Uint8Array>, { objectMode: false });
  const abort = () => readable.destroy(signal?.reason instanceof Error ? signal.reason : new Error('aborted'));
  signal?.addEventListener('abort', abort, { once: true });
  try {
    signal?.throwIfAborted();
    await spoolToFile(readable, path, maxBytes);
  } catch (error) {
    if (error instanceof ContentTooLargeError) throw new SpoolLimitError(error.limit);
    throw new SpoolError('the file could not be written to a temp file', { cause: error });
  } finally {
    signal?.removeEventListener('abort', abort);
  }
}
