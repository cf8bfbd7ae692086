/**
 * The engine's upload states follow the real API: WAITING (stored, waiting for a probe slot), UPLOADING (being
 * probed), then SUCCESS or FAILED. ffprobe is gated (gatedFfprobe), so the test holds the probes where it wants and
 * opens the gate when it is done looking.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { createEngine } from '../../src/engine/index.js';
import { gatedFfprobe, generateVideo } from '../helpers/video.js';

const KEY = 'engine-status-key';
let disposers: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const dispose of disposers.reverse()) await dispose();
  disposers = [];
});

it('shows WAITING while probe slots are busy, UPLOADING while probed, then SUCCESS', async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'engine-status-'));
  disposers.push(() => rm(dir, { recursive: true, force: true }));
  const ffprobe = await gatedFfprobe(dir);
  const clip = await readFile(await generateVideo({ dir, seconds: 1 }));
  const engine = await createEngine({ apiKey: KEY, dataDir: path.join(dir, 'data'), ffprobePath: ffprobe.path, logger: { info() {}, warn() {}, error() {} } });
  disposers.push(engine.stop);

  const upload = async (name: string) => {
    const form = new FormData();
    form.set('file', new Blob([clip], { type: 'video/mp4' }), name);
    const res = await fetch(`${engine.url}/upload`, { method: 'POST', headers: { authorization: KEY }, body: form });
    return ((await res.json()) as { data: { asset_id: string } }).data.asset_id;
  };
  const status = async (id: string) => {
    const res = await fetch(`${engine.url}/${id}/metadata`, { headers: { authorization: KEY } });
    return ((await res.json()) as { data: { resource: { upload_status: string }[] } }).data.resource[0]!.upload_status;
  };

  const ids = [await upload('a.mp4'), await upload('b.mp4'), await upload('c.mp4')];
  // Two probe slots, both held at the FIFO: the first uploads are being probed, the third waits for a slot.
  expect(await status(ids[0]!)).toBe('UPLOADING');
  expect(await status(ids[2]!)).toBe('WAITING');

  await ffprobe.open(); // open the gate: every probe, held or still to come, runs
  await engine.idle();
  expect(await Promise.all(ids.map(status))).toEqual(['SUCCESS', 'SUCCESS', 'SUCCESS']);
});
