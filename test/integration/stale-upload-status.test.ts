/**
 * Regression test for the stale post-upload status: the gateway caches its read-back of a new asset (UPLOADING)
 * and then keeps reporting it, and refusing extractFrames, after the engine finished probing the file.
 * ffprobe is gated (gatedFfprobe): the read-back is guaranteed to happen while the probe is held.
 */
import { readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { createEngine } from '../../src/engine/index.js';
import { startTestGateway, TEST_API_KEY, TEST_WEBHOOK_SECRET } from '../helpers/gateway.js';
import { postGraphQLMultipart } from '../helpers/multipart.js';
import { gatedFfprobe, generateVideo } from '../helpers/video.js';

const operation = (name: string) => readFileSync(new URL(`../operations/${name}.graphql`, import.meta.url), 'utf8');
let disposers: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const dispose of disposers.reverse()) await dispose();
  disposers = [];
});

it('reports SUCCESS and extracts once the probe finished, although the upload read back UPLOADING', async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'stale-status-'));
  disposers.push(() => rm(dir, { recursive: true, force: true }));
  const ffprobe = await gatedFfprobe(dir);
  const clip = await readFile(await generateVideo({ dir, seconds: 2 }));

  const engine = await createEngine({
    apiKey: TEST_API_KEY,
    dataDir: path.join(dir, 'data'),
    ffprobePath: ffprobe.path,
    logger: { info() {}, warn() {}, error() {} },
  });
  disposers.push(engine.stop);
  const gw = await startTestGateway({ upstreamUrl: engine.url });
  disposers.push(gw.close);
  engine.setWebhookUrl(`${gw.url}/webhooks/mavi/${TEST_WEBHOOK_SECRET}`);

  const { body } = await postGraphQLMultipart(`${gw.url}/graphql`, {
    query: operation('upload-video'),
    variables: { file: null },
    files: [{ path: 'variables.file', data: clip, filename: 'clip.mp4', type: 'video/mp4' }],
  });
  expect(body.data!.uploadVideo.asset.uploadStatus).toMatch(/^(WAITING|UPLOADING)$/);
  const assetId = body.data!.uploadVideo.asset.id as string;

  await ffprobe.open(); // let the probe run
  await engine.idle();
  expect((await gw.graphql(operation('video-asset'), { id: assetId })).data!.videoAsset.uploadStatus).toBe('SUCCESS');
  expect((await gw.graphql(operation('start-frame-extraction'), { assetId })).data!.extractFrames.__typename).toBe('ExtractFramesSuccess');
});
