/**
 * The engine's upload states follow the real API: WAITING (stored, waiting for a probe slot), UPLOADING (being
 * probed), then SUCCESS or FAILED. ffprobe is wrapped to wait for a gate file, so the test holds the probes where it
 * wants and opens the gate when it is done looking.
 */
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { createEngine } from '../../src/engine/index.js';
import { ffprobePath, generateVideo } from '../helpers/video.js';

const KEY = 'engine-status-key';
let disposers: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const dispose of disposers.reverse()) await dispose();
  disposers = [];
});

it('shows WAITING while probe slots are busy, UPLOADING while probed, then SUCCESS', async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'engine-status-'));
  disposers.push(() => rm(dir, { recursive: true, force: true }));
  const gate = path.join(dir, 'probe-gate');
  const ffprobe = path.join(dir, 'ffprobe');
  // The stand-in ffprobe (not the test) waits for the gate, then runs the real one.
  await writeFile(ffprobe, `#!/bin/sh\nwhile [ ! -e '${gate}' ]; do sleep 0.02; done\nexec '${ffprobePath()}' "$@"\n`);
  await chmod(ffprobe, 0o755);
  const clip = await readFile(await generateVideo({ dir, seconds: 1 }));
  const engine = await createEngine({ apiKey: KEY, dataDir: path.join(dir, 'data'), ffprobePath: ffprobe, logger: { info() {}, warn() {}, error() {} } });
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

  await writeFile(gate, ''); // open the gate: every probe, held or still to come, runs
  await engine.idle();
  expect(await Promise.all(ids.map(status))).toEqual(['SUCCESS', 'SUCCESS', 'SUCCESS']);
});
