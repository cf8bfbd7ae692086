/** Streams a collection as a stored (uncompressed) zip; JPEGs do not deflate, and sizes stay known. */
import { createReadStream } from 'node:fs';
import type { Readable } from 'node:stream';
import yazl from 'yazl';

/** One zip entry backed by a file on disk. */
export interface ZipEntry {
  /** Name inside the archive, e.g. `imc_<digits>_0.jpg`. */
  name: string;
  path: string;
  size: number;
  mtime: Date;
}

/** A zip being produced: its byte stream and, as soon as yazl knows it, its exact length. */
export interface ZipStream {
  stream: Readable;
  size: Promise<number>;
}

/** Builds a zip of `entries` in order, reading each file only when yazl reaches it. */
export function createZipStream(entries: ZipEntry[]): ZipStream {
  const zip = new yazl.ZipFile();
  for (const entry of entries) {
    const options = { compress: false, size: entry.size, mtime: entry.mtime };
    zip.addReadStreamLazy(entry.name, options, (cb) => cb(null, createReadStream(entry.path)));
  }
  const stream = zip.outputStream as Readable;
  // A frame file that vanished mid-stream: fail the response instead of hanging it.
  zip.on('error', (err: Error) => stream.destroy(err));
  const size = new Promise<number>((resolve) => {
    // yazl passes the total (or -1 when unknown) although its typings declare no argument.
    const end = zip.end as (this: yazl.ZipFile, options: undefined, cb: (total: number) => void) => void;
    end.call(zip, undefined, resolve);
  });
  return { stream, size };
}
