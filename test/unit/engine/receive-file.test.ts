import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import type { IncomingMessage } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { EngineHttpError } from '../../../src/engine/http-util.js';
import { MULTIPART_SLACK, receiveFile } from '../../../src/engine/receive-file.js';

const BOUNDARY = '----form-boundary-42';

function body(parts: Array<{ headers: string; data: Buffer | string }>, preamble = '', epilogue = ''): Buffer {
  const chunks: Buffer[] = [Buffer.from(preamble)];
  for (const p of parts) chunks.push(Buffer.from(`--${BOUNDARY}\r\n${p.headers}\r\n\r\n`), Buffer.from(p.data), Buffer.from('\r\n'));
  chunks.push(Buffer.from(`--${BOUNDARY}--\r\n${epilogue}`));
  return Buffer.concat(chunks);
}

/** An IncomingMessage stand-in (no socket): the body arrives in `size`-byte chunks, one per tick. */
function requestOf(buf: Buffer, size: number, headers: Record<string, string> = {}): IncomingMessage {
  const stream = new PassThrough();
  Object.assign(stream, { headers: { 'content-type': `multipart/form-data; boundary=${BOUNDARY}`, ...headers } });
  void (async () => {
    for (let i = 0; i < buf.length; i += size) {
      if (!stream.write(buf.subarray(i, i + size))) await new Promise((resolve) => stream.once('drain', resolve));
    }
    stream.end();
  })();
  return stream as unknown as IncomingMessage;
}

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'receive-file-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const receive = (req: IncomingMessage, maxFileBytes = 1_000_000) => receiveFile(req, { tmpDir: dir, maxFileBytes });
const refusal = async (req: IncomingMessage, maxFileBytes?: number) => {
  const error = await receive(req, maxFileBytes).then(
    () => null,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(EngineHttpError);
  return { status: (error as EngineHttpError).status, message: (error as EngineHttpError).message };
};

describe('receiveFile (busboy)', () => {
  // Binary data that contains CRLFs, dashes and a near-miss of the delimiter.
  const payload = Buffer.concat([Buffer.from([0, 13, 10, 45, 45, 255]), Buffer.from(`\r\n--${BOUNDARY.slice(0, -1)}x\r\n`), Buffer.alloc(300, 7)]);
  const input = body(
    [
      { headers: 'Content-Disposition: form-data; name="note"', data: 'hello' },
      { headers: 'Content-Disposition: form-data; name="other"; filename="decoy.bin"', data: 'not me' },
      { headers: 'Content-Disposition: form-data; name="file"; filename="C:\\\\clips\\\\my clip.mp4"\r\nContent-Type: video/mp4', data: payload },
    ],
    'preamble to ignore\r\n',
    'epilogue to ignore',
  );

  it.each([1, 7, 64, 100_000])('stores the "file" part byte for byte whatever the chunk size (%i bytes)', async (size) => {
    const received = await receive(requestOf(input, size));
    expect(received).toMatchObject({ size: payload.length, filename: 'my clip.mp4', contentType: 'video/mp4' });
    expect((await readFile(received.tmpPath)).equals(payload)).toBe(true);
  });

  it("decodes an RFC 5987 filename* and names a nameless file 'file'", async () => {
    const named = body([{ headers: `Content-Disposition: form-data; name="file"; filename*=UTF-8''vid%C3%A9o.mp4`, data: 'x' }]);
    expect((await receive(requestOf(named, 5))).filename).toBe('vidéo.mp4');
    const nameless = body([{ headers: 'Content-Disposition: form-data; name="file"; filename=""', data: 'x' }]);
    expect((await receive(requestOf(nameless, 5))).filename).toBe('file');
  });

  it('refuses a non-multipart body (415), a body without a file part or cut short (400)', async () => {
    expect((await refusal(requestOf(Buffer.from('x'), 10, { 'content-type': 'text/plain' }))).status).toBe(415);
    expect((await refusal(requestOf(Buffer.from('x'), 10, { 'content-type': 'multipart/form-data' }))).status).toBe(415);
    const noFile = body([{ headers: 'Content-Disposition: form-data; name="other"', data: 'value' }]);
    expect(await refusal(requestOf(noFile, 16))).toEqual({ status: 400, message: expect.stringMatching(/"file"/) });
    const cut = body([{ headers: 'Content-Disposition: form-data; name="file"; filename="a.mp4"', data: 'abc'.repeat(50) }]).subarray(0, 120);
    expect((await refusal(requestOf(cut, 16))).status).toBe(400);
    expect(await readdir(dir)).toEqual([]);
  });

  it('answers 413 past the file limit or the allowance for other parts, and leaves no temp file', async () => {
    const big = body([{ headers: 'Content-Disposition: form-data; name="file"; filename="a.mp4"', data: Buffer.alloc(5000, 1) }]);
    expect(await refusal(requestOf(big, 512), 4000)).toEqual({ status: 413, message: expect.stringMatching(/limit of 4000 bytes/) });
    const padded = body([
      { headers: 'Content-Disposition: form-data; name="pad"', data: Buffer.alloc(MULTIPART_SLACK + 10, 97) },
      { headers: 'Content-Disposition: form-data; name="file"; filename="a.mp4"', data: 'x' },
    ]);
    expect((await refusal(requestOf(padded, 4096))).status).toBe(413);
    expect(await readdir(dir)).toEqual([]);
    // Exactly at the limit still passes.
    const exact = body([{ headers: 'Content-Disposition: form-data; name="file"; filename="a.mp4"', data: Buffer.alloc(4000, 1) }]);
    expect((await receive(requestOf(exact, 512), 4000)).size).toBe(4000);
  });
});
