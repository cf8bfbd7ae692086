/**
 * The multipart body cap (max(25 MB, UPLOAD_MAX_BYTES + 1 MB)) now lives in http/operation-limits.ts with the JSON
 * cap, yoga's own `maxRequestBodySize` being off: a multipart body declaring more is refused with 413 before it is
 * read, and nothing reaches the upstream. A body streamed without a length is counted by the same plugin, but busboy's
 * limits (file size, one file, field sizes) refuse any multipart body before it reaches 25 MB, so no test can tell
 * that count apart. (Within the limits: upload-limits.test.ts.)
 */
import { request } from 'node:http';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { startFakeUpstream, type FakeUpstream } from '../helpers/fake-upstream.js';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';

const CAP = 25_000_000;
const BOUNDARY = 'frames-cap-test';

let fake: FakeUpstream;
let gw: TestGateway;
beforeEach(async () => {
  fake = await startFakeUpstream({ rps: 0 });
  gw = await startTestGateway({ upstreamUrl: fake.url, env: { UPLOAD_MAX_BYTES: '1000' } });
});
afterEach(async () => {
  await gw.close();
  await fake.close();
});

/** POSTs a 500-byte upload plus a skipped extra file part of `fileBytes`; `chunked`: no Content-Length, 1 MB writes. */
function postMultipart(fileBytes: number, chunked: boolean): Promise<{ status: number; body: string }> {
  const query = 'mutation($file: File!) { uploadVideo(file: $file) { __typename } }';
  const head = Buffer.from(
    [
      `--${BOUNDARY}`,
      'Content-Disposition: form-data; name="operations"',
      '',
      JSON.stringify({ query, variables: { file: null } }),
      `--${BOUNDARY}`,
      'Content-Disposition: form-data; name="map"',
      '',
      JSON.stringify({ 0: ['variables.file'] }),
      `--${BOUNDARY}`,
      'Content-Disposition: form-data; name="0"; filename="clip.mp4"',
      'Content-Type: video/mp4',
      '',
      'x'.repeat(500),
      // A second file: busboy stops at `files: 1` and skips it (its per-file limit never sees these bytes), so only
      // the body cap bounds what is read.
      `--${BOUNDARY}`,
      'Content-Disposition: form-data; name="1"; filename="padding.bin"',
      'Content-Type: application/octet-stream',
      '',
      '',
    ].join('\r\n'),
  );
  const tail = Buffer.from(`\r\n--${BOUNDARY}--\r\n`);
  const total = head.length + fileBytes + tail.length;
  return new Promise((resolve, reject) => {
    const req = request(`${gw.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': `multipart/form-data; boundary=${BOUNDARY}`, ...(chunked ? {} : { 'content-length': String(total) }) },
    });
    // Answered before the whole body went out: stop sending, read the answer, then drop the connection.
    let answered = false;
    req.on('response', (res) => {
      answered = true;
      let body = '';
      res.setEncoding('utf8').on('data', (c: string) => (body += c));
      res.on('end', () => {
        resolve({ status: res.statusCode ?? 0, body });
        req.destroy();
      });
    });
    req.on('error', (error) => (answered ? undefined : reject(error)));
    req.write(head);
    const chunk = Buffer.alloc(1_048_576, 7);
    let left = fileBytes;
    const pump = (): void => {
      while (left > 0 && !answered) {
        const part = chunk.subarray(0, Math.min(left, chunk.length));
        left -= part.length;
        if (!req.write(part)) {
          req.once('drain', pump);
          return;
        }
      }
      if (!answered) req.end(tail);
    };
    pump();
  });
}

it('refuses a multipart body declaring more than the cap with 413, before reading it', async () => {
  const res = await postMultipart(CAP + 1, false);
  expect(res.status).toBe(413);
  expect(JSON.parse(res.body).errors[0]).toMatchObject({
    message: `Request body too large (limit ${CAP} bytes)`,
    extensions: { code: 'REQUEST_ENTITY_TOO_LARGE' },
  });
  expect(fake.calls).toHaveLength(0);
});
