/**
 * A small streaming multipart/form-data parser (RFC 7578): yields part headers and body chunks as they
 * arrive, so a file part can be written to disk without buffering the request.
 */

/** Events of {@link parseMultipart}, in order: part, data*, part-end, part, ... */
export type MultipartEvent =
  | { type: 'part'; name: string | null; filename: string | null; contentType: string | null }
  | { type: 'data'; chunk: Buffer }
  | { type: 'part-end' };

/** A malformed body. */
export class MultipartError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MultipartError';
  }
}

const CRLF = Buffer.from('\r\n');
const HEADER_END = Buffer.from('\r\n\r\n');
const MAX_HEADER_BYTES = 16 * 1024;

/** The boundary of a `multipart/form-data` Content-Type, or null when it is not one. */
export function multipartBoundary(contentType: string | undefined): string | null {
  if (!contentType || !/^multipart\/form-data\s*(;|$)/i.test(contentType.trim())) return null;
  const params = parseParams(contentType);
  const boundary = params.get('boundary');
  return boundary && boundary.length <= 200 ? boundary : null;
}

type State = 'preamble' | 'after-delimiter' | 'headers' | 'body' | 'done';

/** Parses `source` as multipart with `boundary`; throws {@link MultipartError} on malformed input. */
export async function* parseMultipart(source: AsyncIterable<Buffer>, boundary: string): AsyncGenerator<MultipartEvent> {
  // A leading CRLF lets the first boundary match the same "\r\n--boundary" delimiter as the others.
  const parser = createParser(Buffer.from(`\r\n--${boundary}`));
  parser.push(CRLF);
  for await (const chunk of source) {
    parser.push(chunk);
    yield* parser.drain();
    if (parser.state() === 'done') return;
  }
  yield* parser.drain();
  if (parser.state() !== 'done') throw new MultipartError('Unexpected end of multipart body');
}

function createParser(delimiter: Buffer) {
  let buf: Buffer = Buffer.alloc(0);
  let state: State = 'preamble';
  return {
    state: () => state,
    push(chunk: Buffer) {
      buf = buf.length === 0 ? chunk : Buffer.concat([buf, chunk]);
    },
    *drain(): Generator<MultipartEvent> {
      for (;;) {
        if (state === 'preamble') {
          const idx = buf.indexOf(delimiter);
          if (idx === -1) {
            buf = buf.subarray(Math.max(0, buf.length - delimiter.length + 1));
            return;
          }
          buf = buf.subarray(idx + delimiter.length);
          state = 'after-delimiter';
        } else if (state === 'after-delimiter') {
          if (buf.length < 2) return;
          if (buf[0] === 0x2d && buf[1] === 0x2d) {
            state = 'done';
            return;
          }
          const idx = buf.indexOf(CRLF);
          if (idx === -1) {
            if (buf.length > 1024) throw new MultipartError('Malformed multipart boundary line');
            return;
          }
          // Only transport padding (linear whitespace) may follow a boundary on its line.
          if (!/^[ \t]*$/.test(buf.subarray(0, idx).toString('latin1'))) throw new MultipartError('Malformed multipart boundary line');
          buf = buf.subarray(idx + 2);
          state = 'headers';
        } else if (state === 'headers') {
          const empty = buf.length >= 2 && buf[0] === 0x0d && buf[1] === 0x0a;
          const idx = empty ? -2 : buf.indexOf(HEADER_END);
          if (idx === -1) {
            if (buf.length > MAX_HEADER_BYTES) throw new MultipartError('Multipart part headers too large');
            return;
          }
          const headerText = idx < 0 ? '' : buf.subarray(0, idx).toString('utf8');
          buf = buf.subarray(idx + 4);
          state = 'body';
          yield partEvent(headerText);
        } else if (state === 'body') {
          const idx = buf.indexOf(delimiter);
          if (idx === -1) {
            const safe = buf.length - delimiter.length + 1;
            if (safe > 0) {
              yield { type: 'data', chunk: buf.subarray(0, safe) };
              buf = buf.subarray(safe);
            }
            return;
          }
          if (idx > 0) yield { type: 'data', chunk: buf.subarray(0, idx) };
          buf = buf.subarray(idx + delimiter.length);
          state = 'after-delimiter';
          yield { type: 'part-end' };
        } else {
          return;
        }
      }
    },
  };
}

function partEvent(headerText: string): MultipartEvent {
  const headers = new Map<string, string>();
  for (const line of headerText.split('\r\n')) {
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    headers.set(line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim());
  }
  const disposition = headers.get('content-disposition') ?? '';
  const params = parseParams(disposition);
  return {
    type: 'part',
    name: params.get('name') ?? null,
    filename: decodeFilename(params),
    contentType: headers.get('content-type') ?? null,
  };
}

function decodeFilename(params: Map<string, string>): string | null {
  const extended = params.get('filename*');
  if (extended) {
    const m = /^([\w-]+)'[^']*'(.*)$/.exec(extended);
    if (m) {
      try {
        return baseName(decodeURIComponent(m[2] ?? ''));
      } catch {
        // fall back to the plain parameter
      }
    }
  }
  const plain = params.get('filename');
  return plain === undefined ? null : baseName(plain);
}

/** Old browsers send a full client path; keep only its last segment. */
function baseName(name: string): string {
  return name.slice(Math.max(name.lastIndexOf('/'), name.lastIndexOf('\\')) + 1);
}

/** `type; a=b; c="d e"` -> Map (keys lowercased). */
function parseParams(header: string): Map<string, string> {
  const params = new Map<string, string>();
  const re = /;\s*([^=;\s]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^;]*))/g;
  for (const m of header.matchAll(re)) {
    const key = (m[1] ?? '').toLowerCase();
    const value = m[2] !== undefined ? m[2].replace(/\\(.)/g, '$1') : (m[3] ?? '').trim();
    if (!params.has(key)) params.set(key, value);
  }
  return params;
}
