/**
 * Streaming a byte source to a file while measuring and hashing it, and moving finished files into place. Used by the
 * disk cache and for temporary zips.
 */
import { createHash, randomUUID } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { copyFile, rename, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable, Transform, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';

/** Anything the cache accepts as file content. Web streams and Node readables are both consumed incrementally. */
export type ByteSource = AsyncIterable<Uint8Array> | ReadableStream<Uint8Array> | Uint8Array;

/** Size in bytes and strong ETag (`"<sha256 base64url>"`) of written content. */
export interface ContentDigest {
  size: number;
  etag: string;
}

/** Thrown when content exceeds the allowed size; nothing is left on disk. */
export class ContentTooLargeError extends Error {
  override readonly name = 'ContentTooLargeError';
  constructor(
    readonly limit: number,
    message = `content exceeds ${limit} bytes`,
  ) {
    super(message);
  }
}

/** Converts any {@link ByteSource} to a Node readable. */
export function toReadable(source: ByteSource): Readable {
  if (source instanceof Uint8Array) return Readable.from([source], { objectMode: false });
  if (source instanceof Readable) return source;
  if (isWebStream(source)) return Readable.fromWeb(source as import('node:stream/web').ReadableStream<Uint8Array>);
  return Readable.from(source, { objectMode: false });
}

function isWebStream(source: ByteSource): source is ReadableStream<Uint8Array> {
  return typeof (source as { getReader?: unknown }).getReader === 'function';
}

/** A pass-through that hashes and counts bytes, failing with {@link ContentTooLargeError} past `maxBytes`. */
function createDigestStream(maxBytes: number): Transform & { result(): ContentDigest } {
  const hash = createHash('sha256');
  let size = 0;
  const stream = new Transform({
    transform(chunk: Buffer, _encoding, callback: TransformCallback) {
      size += chunk.length;
      if (size > maxBytes) return callback(new ContentTooLargeError(maxBytes));
      hash.update(chunk);
      callback(null, chunk);
    },
  });
  return Object.assign(stream, { result: () => ({ size, etag: `"${hash.digest('base64url')}"` }) });
}

/**
 * Writes `source` to a NEW file at `path` (fails if it exists). On any error (source error, size limit) the partial
 * file is removed and the error rethrown, so callers only ever see complete files.
 */
export async function spoolToFile(
  source: ByteSource,
  path: string,
  maxBytes = Number.POSITIVE_INFINITY,
): Promise<ContentDigest> {
  if (source instanceof Uint8Array) return writeBuffer(source, path, maxBytes);
  const digest = createDigestStream(maxBytes);
  try {
    await pipeline(toReadable(source), digest, createWriteStream(path, { flags: 'wx' }));
  } catch (error) {
    await unlink(path).catch(() => undefined);
    throw error;
  }
  return digest.result();
}

async function writeBuffer(data: Uint8Array, path: string, maxBytes: number): Promise<ContentDigest> {
  if (data.length > maxBytes) throw new ContentTooLargeError(maxBytes);
  try {
    await writeFile(path, data, { flag: 'wx' });
  } catch (error) {
    await unlink(path).catch(() => undefined);
    throw error;
  }
  return { size: data.length, etag: `"${createHash('sha256').update(data).digest('base64url')}"` };
}

/** Size and ETag of an existing file (reads it once). */
export async function digestFile(path: string): Promise<ContentDigest> {
  const digest = createDigestStream(Number.POSITIVE_INFINITY);
  await pipeline(createReadStream(path), digest, async (chunks: AsyncIterable<unknown>) => {
    for await (const _ of chunks) {
      // drain
    }
  });
  return digest.result();
}

/** Renames `from` to `to`; across filesystems, copies into `tmpDir` (on `to`'s filesystem) first, then renames. */
export async function moveFile(from: string, to: string, tmpDir: string): Promise<void> {
  try {
    await rename(from, to);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EXDEV') throw error;
    // Different filesystem: copy into our temp dir (same filesystem as `to`), then rename: `to` is never half-written.
    const sibling = join(tmpDir, `${randomUUID()}.partial`);
    try {
      await copyFile(from, sibling);
      await rename(sibling, to);
    } finally {
      await unlink(sibling).catch(() => undefined);
    }
    await unlink(from).catch(() => undefined);
  }
}
