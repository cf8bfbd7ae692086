import { describe, expect, it } from 'vitest';
import { MultipartError, multipartBoundary, parseMultipart, type MultipartEvent } from '../../../src/engine/multipart.js';

const BOUNDARY = '----form-boundary-42';

function body(parts: Array<{ headers: string; data: Buffer | string }>, preamble = '', epilogue = ''): Buffer {
  const chunks: Buffer[] = [Buffer.from(preamble)];
  for (const p of parts) chunks.push(Buffer.from(`--${BOUNDARY}\r\n${p.headers}\r\n\r\n`), Buffer.from(p.data), Buffer.from('\r\n'));
  chunks.push(Buffer.from(`--${BOUNDARY}--\r\n${epilogue}`));
  return Buffer.concat(chunks);
}

async function* chunked(buf: Buffer, size: number): AsyncGenerator<Buffer> {
  for (let i = 0; i < buf.length; i += size) yield buf.subarray(i, i + size);
}

/** Collapses events into parts with concatenated data. */
async function collect(source: AsyncIterable<Buffer>) {
  const parts: Array<{ name: string | null; filename: string | null; contentType: string | null; data: Buffer }> = [];
  let ended = 0;
  for await (const e of parseMultipart(source, BOUNDARY) as AsyncIterable<MultipartEvent>) {
    if (e.type === 'part') parts.push({ name: e.name, filename: e.filename, contentType: e.contentType, data: Buffer.alloc(0) });
    else if (e.type === 'data') parts.at(-1)!.data = Buffer.concat([parts.at(-1)!.data, e.chunk]);
    else ended++;
  }
  return { parts, ended };
}

describe('parseMultipart', () => {
  // Binary data that contains CRLFs, dashes and a near-miss of the delimiter.
  const payload = Buffer.concat([Buffer.from([0, 13, 10, 45, 45, 255]), Buffer.from(`\r\n--${BOUNDARY.slice(0, -1)}x\r\n`), Buffer.alloc(300, 7)]);
  const input = body(
    [
      { headers: 'Content-Disposition: form-data; name="note"', data: 'hello' },
      { headers: 'Content-Disposition: form-data; name="file"; filename="C:\\\\clips\\\\my \\"clip\\".mp4"\r\nContent-Type: video/mp4', data: payload },
    ],
    'preamble to ignore\r\n',
    'epilogue to ignore',
  );

  it.each([1, 2, 3, 7, 64, 100_000])('yields the same parts whatever the chunk size (%i bytes)', async (size) => {
    const { parts, ended } = await collect(chunked(input, size));
    expect(ended).toBe(2);
    expect(parts.map((p) => [p.name, p.filename, p.contentType])).toEqual([
      ['note', null, null],
      ['file', 'my "clip".mp4', 'video/mp4'],
    ]);
    expect(parts[0]!.data.toString()).toBe('hello');
    expect(parts[1]!.data.equals(payload)).toBe(true);
  });

  it('decodes RFC 5987 filename* and keeps empty parts', async () => {
    const input = body([{ headers: `Content-Disposition: form-data; name="file"; filename="fallback.mp4"; filename*=UTF-8''vid%C3%A9o.mp4`, data: '' }]);
    const { parts } = await collect(chunked(input, 5));
    expect(parts).toEqual([{ name: 'file', filename: 'vidéo.mp4', contentType: null, data: Buffer.alloc(0) }]);
  });

  it('rejects a body that ends before the closing boundary', async () => {
    const cut = body([{ headers: 'Content-Disposition: form-data; name="file"; filename="a.mp4"', data: 'abc' }]).subarray(0, 80);
    await expect(collect(chunked(cut, 16))).rejects.toBeInstanceOf(MultipartError);
  });

  it('reads the boundary from the Content-Type', () => {
    expect(multipartBoundary(`multipart/form-data; boundary=${BOUNDARY}`)).toBe(BOUNDARY);
    expect(multipartBoundary('multipart/form-data; boundary="a b"')).toBe('a b');
    expect(multipartBoundary('application/json')).toBeNull();
    expect(multipartBoundary('multipart/form-data')).toBeNull();
  });
});
