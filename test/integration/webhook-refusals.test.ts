/**
 * A refused webhook (400, 413) is logged with the `task_id` it carried whenever one can be read, so an operator
 * knows which paid result was lost; the refusal itself changes nothing.
 */
import http from 'node:http';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/logger.js';
import { createDeferred, type Deferred } from '../helpers/deferred.js';
import { startFakeUpstream, type FakeUpstream } from '../helpers/fake-upstream.js';
import { startTestGateway, TEST_WEBHOOK_SECRET, type TestGateway } from '../helpers/gateway.js';

const TASK = '1e8ae1075e054e8abb58e7598c53cbf1';
const MAX = 4_096;

let fake: FakeUpstream;
let gw: TestGateway;
let warnings: Deferred<Record<string, unknown>>[];

beforeEach(async () => {
  fake = await startFakeUpstream({ rps: 0 });
  warnings = [];
  const logger = createLogger({
    level: 'warn',
    write: (line) => {
      const entry = JSON.parse(line) as Record<string, unknown>;
      if (String(entry.msg).startsWith('malformed webhook') || String(entry.msg).startsWith('webhook body too large')) warnings.shift()?.resolve(entry);
    },
  });
  gw = await startTestGateway({ upstreamUrl: fake.url, logger, env: { WEBHOOK_MAX_BODY_BYTES: String(MAX) } });
});
afterEach(async () => {
  await gw.close();
  await fake.close();
});

/** The next refusal warning (register before sending). */
const nextWarning = () => {
  const deferred = createDeferred<Record<string, unknown>>();
  warnings.push(deferred);
  return deferred.promise;
};

const hook = () => `${gw.url}/webhooks/mavi/${TEST_WEBHOOK_SECRET}`;
const post = (body: string) => fetch(hook(), { method: 'POST', headers: { 'content-type': 'application/json' }, body });

/** POSTs `chunks` with chunked transfer encoding (no Content-Length), so the limit is hit while reading. */
function postChunked(chunks: string[]): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.request(hook(), { method: 'POST', headers: { 'content-type': 'application/json' } }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', reject);
    for (const chunk of chunks) req.write(chunk);
    req.end();
  });
}

describe('refused webhooks', () => {
  it('logs the task_id of a 400 for a body that is not valid JSON', async () => {
    const warned = nextWarning();
    expect((await post(`{"code":200,"message":"SUCCESS","data":{"asset_id":"im_1"},"task_id":"${TASK}"`)).status).toBe(400);
    expect(await warned).toMatchObject({ msg: 'malformed webhook body', error: 'body is not valid JSON', taskId: TASK });
  });

  it('logs the top-level task_id of a 400 for JSON that is not a callback, and null when there is none', async () => {
    const warned = nextWarning();
    expect((await post('{"code":200,"data":{},"task_id":4242}')).status).toBe(400);
    expect(await warned).toMatchObject({ msg: 'malformed webhook body', error: expect.stringMatching(/task_id/), taskId: '4242' });
    const none = nextWarning();
    expect((await post(JSON.stringify([1, 2]))).status).toBe(400);
    expect(await none).toMatchObject({ msg: 'malformed webhook body', taskId: null });
  });

  it('logs the task_id of a 413 whose declared size is over the limit, read from the tail as it streams past', async () => {
    const warned = nextWarning();
    const body = JSON.stringify({ code: 200, message: 'SUCCESS', data: { asset_ch_ids: ['x'.repeat(MAX * 8)] }, task_id: TASK });
    expect((await post(body)).status).toBe(413);
    expect(await warned).toMatchObject({ msg: 'webhook body too large', taskId: TASK });
  });

  it('logs the task_id of a chunked 413 from the part read before the limit, even split across chunks', async () => {
    const warned = nextWarning();
    const status = await postChunked(['{"task_id":"1e8ae1075e054e8a', 'bb58e7598c53cbf1","data":{"pad":"', 'x'.repeat(MAX * 2), '"}}']);
    expect(status).toBe(413);
    expect(await warned).toMatchObject({ msg: 'webhook body too large', error: expect.stringMatching(/exceeds the limit/), taskId: TASK });
  });

  it('logs taskId null for a 413 that carries none, and the refusals change nothing', async () => {
    const { task } = (await gw.graphql(`mutation($id: ID!) { extractFrames(assetId: $id) { ... on ExtractFramesSuccess { task { id } } } }`, { id: fake.addAsset() }))
      .data!.extractFrames as { task: { id: string } };
    const warned = nextWarning();
    expect((await post(JSON.stringify({ pad: 'y'.repeat(MAX * 2) }))).status).toBe(413);
    expect(await warned).toMatchObject({ msg: 'webhook body too large', taskId: null });
    const oversized = nextWarning();
    expect((await post(JSON.stringify({ code: 200, data: { pad: 'z'.repeat(MAX) }, task_id: task.id }))).status).toBe(413);
    expect(await oversized).toMatchObject({ taskId: task.id });
    const state = await gw.graphql(`query($id: ID!) { frameExtractionTask(id: $id) { status } }`, { id: task.id });
    expect(state.data!.frameExtractionTask).toEqual({ status: 'PENDING' });
  });
});
