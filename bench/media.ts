/**
 * `npm run bench:media [-- --frames 100 --size 1280x720 --seconds 4 --connections 10 --rounds 2]`: what renditions
 * cost and save, on the real gateway in front of the fake upstream, whose frames are real JPEGs made by ffmpeg
 * (testsrc2, 1280×720 by default: edges, gradients and text, not flat colour):
 *
 * (a) first-hit latency of renditions (originals already cached: the sharp work alone), p50 / p95 per kind, and of
 *     a sprite and a preview of the whole collection;
 * (b) requests/s serving one cached rendition (240 px WebP) vs the cached original frame through the same gateway
 *     in the same run (autocannon in a child process, same settings, alternating rounds, medians; goal >= 0.8x);
 * (c) bytes sent for a grid of every frame at 160 px WebP vs the originals (Content-Length of each response).
 *
 * Prints the figures and the ratios; upstream calls are counted (goal: one zip download for everything).
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs, promisify } from 'node:util';
import { loadConfig } from '../src/config.js';
import { resolveMediaTools } from '../src/engine/processes.js';
import { createGateway, type Gateway } from '../src/server.js';
import { startFakeUpstream } from '../test/helpers/fake-upstream.js';
import { runLoad, type LoadResult } from './lib/load.js';
import { ms, percentile } from './lib/stats.js';
import { formatTable } from './lib/table.js';

const API_KEY = 'sk-mavi-bench-media';
const run = promisify(execFile);

const { values } = parseArgs({
  options: {
    frames: { type: 'string', default: '100' },
    size: { type: 'string', default: '1280x720' },
    seconds: { type: 'string', default: '4' },
    connections: { type: 'string', default: '10' },
    rounds: { type: 'string', default: '2' },
  },
});
const FRAMES = Number(values.frames);
const load = { connections: Number(values.connections), seconds: Number(values.seconds) };
const warmup = { connections: load.connections, seconds: 1 };
const rounds = Math.max(1, Number(values.rounds));

/** `FRAMES` JPEG frames of an ffmpeg test pattern at `values.size`, in index order. */
async function makeFrames(work: string): Promise<Buffer[]> {
  const { ffmpeg } = resolveMediaTools({});
  const dir = path.join(work, 'frames');
  await run(ffmpeg, ['-v', 'error', '-f', 'lavfi', '-i', `testsrc2=size=${values.size}:rate=5`, '-frames:v', String(FRAMES), '-q:v', '3', `${dir}-%04d.jpg`]);
  const names = (await readdir(work)).filter((n) => n.startsWith('frames-')).sort();
  return Promise.all(names.map((n) => readFile(path.join(work, n))));
}

async function graphql(gateway: Gateway, query: string, variables: Record<string, unknown>): Promise<any> {
  const res = await fetch(`${gateway.url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json' },
    body: JSON.stringify({ query, variables }),
  });
  const reply = (await res.json()) as { data?: any; errors?: unknown[] };
  if (reply.errors) throw new Error(`GraphQL errors: ${JSON.stringify(reply.errors).slice(0, 500)}`);
  return reply.data;
}

/** GETs `url`, checks the status, returns the body length and the wall time. */
async function timedGet(url: string): Promise<{ ms: number; bytes: number; type: string }> {
  const started = performance.now();
  const res = await fetch(url);
  const body = Buffer.from(await res.arrayBuffer());
  if (res.status !== 200) throw new Error(`HTTP ${res.status} for ${url}: ${body.toString('utf8').slice(0, 200)}`);
  return { ms: performance.now() - started, bytes: body.length, type: res.headers.get('content-type') ?? '' };
}

/** One at a time, so each figure is one request's own latency (not a queue's). */
async function firstHits(urls: string[]): Promise<number[]> {
  const out: number[] = [];
  for (const url of urls) out.push((await timedGet(url)).ms);
  return out;
}

function median(runs: LoadResult[]): LoadResult {
  const sorted = [...runs].sort((a, b) => a.requestsPerSecond - b.requestsPerSecond);
  return sorted[Math.floor((sorted.length - 1) / 2)]!;
}

const rate = (r: LoadResult) => `${Math.round(r.requestsPerSecond)} req/s (p50 ${r.latencyP50Ms} ms, p99 ${r.latencyP99Ms} ms)`;
const kib = (bytes: number) => `${(bytes / 1024).toFixed(1)} KiB`;

async function main(): Promise<void> {
  const work = await mkdtemp(path.join(tmpdir(), 'bench-media-'));
  const images = await makeFrames(work);
  const fake = await startFakeUpstream({ rps: 1, apiKey: API_KEY, frameImage: (n) => images[n % images.length]! });
  const gateway = createGateway(
    loadConfig({
      PORT: '0',
      HOST: '127.0.0.1',
      MAVI_BASE_URL: fake.url,
      MAVI_API_KEY: API_KEY,
      MAVI_WEBHOOK_SECRET: 'bench-media-webhook-secret',
      UPSTREAM_RPS: '1',
      UPSTREAM_RATE_MARGIN_MS: '200',
      MEDIA_CACHE_DIR: path.join(work, 'media'),
      LOG_LEVEL: 'silent',
    }),
  );
  await gateway.start();
  try {
    const { collectionId } = fake.addCollection(FRAMES);
    const query = `query($id: ID!) { frameCollection(id: $id) { frames(limit: 1000) {
        original: url grid: url(width: 160, format: WEBP) thumb: url(width: 240, format: WEBP)
        jpeg: url(width: 480, format: JPEG) avif: url(width: 480, format: AVIF) } } }`;
    const frames = (await graphql(gateway, query, { id: collectionId })).frameCollection.frames as Record<string, string>[];

    // Originals first (one zip download), so (a) measures sharp's work and the cache write only.
    const originals = await Promise.all(frames.map((f) => timedGet(f.original!)));
    const grid160 = await firstHits(frames.map((f) => f.grid!));
    const thumb240 = await firstHits(frames.map((f) => f.thumb!));
    const jpeg480 = await firstHits(frames.slice(0, 30).map((f) => f.jpeg!));
    const avif480 = await firstHits(frames.slice(0, 10).map((f) => f.avif!));
    const sheets = (await graphql(gateway, `query($id: ID!) { frameCollection(id: $id) { sprite { url rows tileHeight } preview } }`, { id: collectionId }))
      .frameCollection;
    const sprite = await timedGet(sheets.sprite.url);
    const preview = await timedGet(sheets.preview);

    // (b) the same gateway, same run: a cached original vs a cached rendition, alternating.
    const originalUrl = frames[0]!.original!;
    const renditionUrl = frames[0]!.thumb!;
    await runLoad(originalUrl, warmup);
    await runLoad(renditionUrl, warmup);
    const originalRuns: LoadResult[] = [];
    const renditionRuns: LoadResult[] = [];
    for (let round = 0; round < rounds; round++) {
      const pair = round % 2 === 0 ? [originalUrl, renditionUrl] : [renditionUrl, originalUrl];
      for (const url of pair) (url === originalUrl ? originalRuns : renditionRuns).push(await runLoad(url, load));
    }
    const plain = median(originalRuns);
    const variant = median(renditionRuns);

    // (c) a grid of every frame: bytes of the originals vs the 160 px WebP renditions (both now cached).
    const gridBytes = (await Promise.all(frames.map((f) => timedGet(f.grid!)))).reduce((n, r) => n + r.bytes, 0);
    const originalBytes = originals.reduce((n, r) => n + r.bytes, 0);
    const downloads = fake.callsTo('GET', /\/download$/).filter((c) => c.status === 200).map((c) => c.path);

    const row = (label: string, samples: number[]) => {
      const sorted = [...samples].sort((a, b) => a - b);
      return [label, `${samples.length}`, ms(percentile(sorted, 50)), ms(percentile(sorted, 95))];
    };
    console.log(`frames gateway media bench: ${FRAMES} frames of ${values.size} (ffmpeg testsrc2 JPEG q3), node ${process.version}`);
    console.log('');
    console.log('(a) first hit of a rendition, original already cached (one request at a time)');
    console.log(
      formatTable(
        ['rendition', 'n', 'p50', 'p95'],
        [
          row('url(width: 160, format: WEBP)', grid160),
          row('url(width: 240, format: WEBP)', thumb240),
          row('url(width: 480, format: JPEG)', jpeg480),
          row('url(width: 480, format: AVIF)', avif480),
          [`sprite (10 × ${sheets.sprite.rows} tiles of 160×${sheets.sprite.tileHeight}, JPEG)`, '1', ms(sprite.ms), `${kib(sprite.bytes)}`],
          [`preview (${FRAMES} pages, 320 px, 4 fps, WebP)`, '1', ms(preview.ms), `${kib(preview.bytes)}`],
        ],
      ),
    );
    console.log('');
    console.log(
      formatTable(
        ['', 'measurement', 'result', 'goal'],
        [
          ['(b)', `cached original frame (${kib(originals[0]!.bytes)}), gateway /media, median`, rate(plain), ''],
          ['', `cached rendition 240 px WebP (${kib((await timedGet(renditionUrl)).bytes)}), same gateway, median`, rate(variant), ''],
          ['', 'ratio rendition / original (medians)', `${(variant.requestsPerSecond / plain.requestsPerSecond).toFixed(2)}x`, '>= 0.80x'],
          ['(c)', `bytes for a ${FRAMES}-frame grid, originals`, kib(originalBytes), ''],
          ['', `bytes for a ${FRAMES}-frame grid, 160 px WebP renditions`, kib(gridBytes), ''],
          ['', 'ratio renditions / originals', `${(gridBytes / originalBytes).toFixed(3)}x (${(originalBytes / gridBytes).toFixed(1)}× fewer bytes)`, ''],
          ['', 'upstream downloads for all of the above', `${downloads.length} (${downloads.map((p) => p.replace(/\d+/, '…')).join(', ')})`, '1'],
        ],
      ),
    );
    console.log('');
    const perRound = originalRuns.map((o, i) => `${Math.round(renditionRuns[i]!.requestsPerSecond)}/${Math.round(o.requestsPerSecond)}`);
    const all = [...originalRuns, ...renditionRuns];
    console.log(
      `(b) autocannon ${load.connections} connections, ${load.seconds} s per run, ${rounds} rounds after a ${warmup.seconds} s warm-up each; ` +
        `rendition/original req/s per round: ${perRound.join(', ')}; non-2xx/errors/timeouts: ` +
        `${all.reduce((n, r) => n + r.non2xx, 0)}/${all.reduce((n, r) => n + r.errors, 0)}/${all.reduce((n, r) => n + r.timeouts, 0)}`,
    );
    if (!all.every((r) => r.non2xx === 0 && r.errors === 0 && r.timeouts === 0)) process.exitCode = 1;
  } finally {
    await gateway.stop();
    await fake.close();
    await rm(work, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
