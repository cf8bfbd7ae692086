/**
 * `npm run bench:engine [-- --reps 5 --seconds 20 --size 640x360]`: wall time of one extraction through the
 * engine (extract call -> callback received by a local webhook) against the plain ffmpeg command with the
 * same arguments, over several repetitions. Prints per-run figures, medians and the ratio (goal <= 1.10x).
 */
import { execFile, spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs, promisify } from 'node:util';
import { extractArgs } from '../src/engine/frames.js';
import { createEngine } from '../src/engine/index.js';
import { resolveMediaTools } from '../src/engine/processes.js';

const run = promisify(execFile);
const KEY = 'bench-key';

const { values } = parseArgs({
  options: { reps: { type: 'string', default: '5' }, seconds: { type: 'string', default: '20' }, size: { type: 'string', default: '640x360' } },
});
const reps = Number(values.reps);
const seconds = Number(values.seconds);

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
};

function startReceiver() {
  const waiting = new Map<string, (body: { code: number; data: { asset_ch_ids: string[] } | null }) => void>();
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      res.writeHead(200).end();
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
      waiting.get(body.task_id)?.(body);
    });
  });
  return new Promise<{ url: string; next: (taskId: string) => Promise<{ code: number; data: { asset_ch_ids: string[] } | null }>; close: () => void }>((resolve) =>
    server.listen(0, '127.0.0.1', () =>
      resolve({
        url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`,
        next: (taskId) => new Promise((r) => waiting.set(taskId, r)),
        close: () => {
          server.closeAllConnections();
          server.close();
        },
      }),
    ),
  );
}

async function main(): Promise<void> {
  const work = await mkdtemp(path.join(tmpdir(), 'bench-engine-'));
  const { ffmpeg } = resolveMediaTools({});
  const video = path.join(work, 'bench.mp4');
  await run(ffmpeg, ['-hide_banner', '-loglevel', 'error', '-nostdin', '-y', '-f', 'lavfi', '-i', `testsrc=size=${values.size}:rate=25:duration=${seconds}`, '-c:v', 'libx264', '-preset', 'veryfast', '-pix_fmt', 'yuv420p', video]);

  const receiver = await startReceiver();
  const quiet = { info() {}, warn: console.warn, error: console.error };
  const engine = await createEngine({ apiKey: KEY, dataDir: path.join(work, 'data'), webhookUrl: receiver.url, logger: quiet });
  try {
    const form = new FormData();
    form.append('file', new Blob([new Uint8Array(await readFile(video))], { type: 'video/mp4' }), 'bench.mp4');
    const upload = (await (await fetch(`${engine.url}/upload`, { method: 'POST', body: form, headers: { Authorization: KEY } })).json()) as { data: { asset_id: string } };
    const assetId = upload.data.asset_id;
    await engine.idle();

    const viaEngine = async () => {
      const t0 = performance.now();
      const res = await fetch(`${engine.url}/video/extract-frames`, { method: 'POST', headers: { Authorization: KEY, 'Content-Type': 'application/json' }, body: JSON.stringify({ asset_id: assetId }) });
      const { data } = (await res.json()) as { data: { task_id: string } };
      const body = await receiver.next(data.task_id);
      const ms = performance.now() - t0;
      if (body.code !== 200) throw new Error(`extraction failed: ${JSON.stringify(body)}`);
      return { ms, frames: body.data!.asset_ch_ids.length };
    };
    const plain = async () => {
      const out = await mkdtemp(path.join(work, 'plain-'));
      const args = extractArgs({ input: video, outputDir: out, intervalSeconds: 1, maxFrames: 100 });
      const t0 = performance.now();
      await new Promise<void>((resolve, reject) =>
        spawn(ffmpeg, args, { stdio: 'ignore' }).once('error', reject).once('close', (code) => (code === 0 ? resolve() : reject(new Error(`ffmpeg exited ${code}`)))),
      );
      const ms = performance.now() - t0;
      await rm(out, { recursive: true, force: true });
      return ms;
    };

    await viaEngine(); // warm-up: page cache, JIT, keep-alive sockets
    await plain();
    const engineMs: number[] = [];
    const plainMs: number[] = [];
    let frames = 0;
    for (let i = 0; i < reps; i++) {
      // Alternate the order so neither side always runs on a warmer machine.
      if (i % 2 === 0) {
        const e = await viaEngine();
        frames = e.frames;
        engineMs.push(e.ms);
        plainMs.push(await plain());
      } else {
        plainMs.push(await plain());
        const e = await viaEngine();
        frames = e.frames;
        engineMs.push(e.ms);
      }
    }
    const fmt = (xs: number[]) => xs.map((x) => x.toFixed(1)).join(', ');
    console.log(`video: ${seconds} s ${values.size} @25 fps H.264, interval 1 s -> ${frames} frames; ${reps} repetitions`);
    console.log(`engine (extract call -> callback received), ms: ${fmt(engineMs)}`);
    console.log(`plain ffmpeg (same args), ms:                  ${fmt(plainMs)}`);
    const ratio = median(engineMs) / median(plainMs);
    console.log(`median engine ${median(engineMs).toFixed(1)} ms | median ffmpeg ${median(plainMs).toFixed(1)} ms | ratio ${ratio.toFixed(3)}x (goal <= 1.10x)`);
  } finally {
    await engine.stop();
    receiver.close();
    await rm(work, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
