/**
 * `npm run bench:economy [-- --seconds 5 --connections 10 --warmup 1 --rounds 3]`: upstream economy and media
 * serving of the real gateway in front of a fake upstream that enforces the account limit (1 request/s, 429 beyond),
 * in one run:
 *
 * (a) upstream calls for 100 concurrent `frameCollection` queries of one 500-frame collection (goal: 1);
 * (b) upstream calls for 500 concurrent frame-image fetches through the gateway's signed URLs (goal: 1);
 * (c) requests/s serving one cached frame through the gateway's /media route vs a plain node:http static server
 *     piping the same file (autocannon in a child process, same settings for both; goal: ratio >= 0.8x). The two
 *     alternate over `--rounds` rounds (order swapped each round) and the medians are compared, because a shared
 *     machine drifts by more than the difference being measured.
 */
import { createReadStream } from 'node:fs';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { loadConfig } from '../src/config.js';
import { createGateway, type Gateway } from '../src/server.js';
import { startFakeUpstream, type FakeUpstream, type RecordedCall } from '../test/helpers/fake-upstream.js';
import { runLoad, type LoadResult } from './lib/load.js';
import { formatTable } from './lib/table.js';

const API_KEY = 'sk-mavi-bench-economy';
const FRAMES = 500;
const CLIENTS = 100;

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '5' },
    connections: { type: 'string', default: '10' },
    warmup: { type: 'string', default: '1' },
    rounds: { type: 'string', default: '3' },
  },
});
const load = { connections: Number(values.connections), seconds: Number(values.seconds) };
const warmup = { connections: load.connections, seconds: Number(values.warmup) };
const rounds = Math.max(1, Number(values.rounds));

interface CollectionReply {
  data?: { frameCollection: { frameCount: number; frames: { id: string; url: string }[] } | null };
  errors?: unknown[];
}

/** "1 (GET /im_…/metadata)" style summary of the calls a step made; refused (429) attempts are listed apart. */
function describeCalls(calls: RecordedCall[]): string {
  const accepted = calls.filter((c) => c.status !== 429);
  const refused = calls.length - accepted.length;
  const kinds = [...new Set(accepted.map((c) => `${c.method} /${c.path.split('/')[1]?.replace(/\d+/g, '…')}/${c.path.split('/')[2]}`))];
  return `${accepted.length} (${kinds.join(', ') || 'none'})${refused > 0 ? ` + ${refused} refused 429` : ''}`;
}

async function graphql(gateway: Gateway, query: string, variables: Record<string, unknown>): Promise<CollectionReply> {
  const res = await fetch(`${gateway.url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json' },
    body: JSON.stringify({ query, variables }),
  });
  return (await res.json()) as CollectionReply;
}

/** (a) 100 concurrent clients ask for the same 500-frame collection; returns its signed frame URLs. */
async function collectionQueries(gateway: Gateway, fake: FakeUpstream, collectionId: string) {
  const query = `query($id: ID!) { frameCollection(id: $id) { frameCount frames(limit: 1000) { id url } } }`;
  const before = fake.calls.length;
  const started = performance.now();
  const replies = await Promise.all(Array.from({ length: CLIENTS }, () => graphql(gateway, query, { id: collectionId })));
  const ms = performance.now() - started;
  for (const reply of replies) {
    if (reply.errors || reply.data?.frameCollection?.frameCount !== FRAMES) throw new Error(`bad reply: ${JSON.stringify(reply).slice(0, 300)}`);
  }
  return { calls: fake.calls.slice(before), ms, frames: replies[0]!.data!.frameCollection!.frames };
}

/** (b) every frame image fetched at once through its signed gateway URL; each body checked against its id. */
async function frameFetches(fake: FakeUpstream, frames: { id: string; url: string }[]) {
  const before = fake.calls.length;
  const started = performance.now();
  await Promise.all(
    frames.map(async ({ id, url }) => {
      const res = await fetch(url);
      const body = Buffer.from(await res.arrayBuffer());
      if (res.status !== 200 || res.headers.get('content-type') !== 'image/jpeg' || !body.includes(id)) {
        throw new Error(`bad frame ${id}: HTTP ${res.status} ${res.headers.get('content-type')}`);
      }
    }),
  );
  return { calls: fake.calls.slice(before), ms: performance.now() - started };
}

/** The plain baseline: node:http piping the file, content type and length known up front (no stat per request). */
async function startStaticServer(file: string, size: number): Promise<{ server: Server; url: string }> {
  const server = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'image/jpeg', 'content-length': size });
    createReadStream(file).pipe(res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/frame.jpg` };
}

async function sameBytes(a: string, b: string): Promise<void> {
  const [x, y] = await Promise.all([a, b].map(async (url) => Buffer.from(await (await fetch(url)).arrayBuffer())));
  if (!x!.equals(y!)) throw new Error('the gateway and the static server serve different bytes');
}

const rate = (r: LoadResult) => `${Math.round(r.requestsPerSecond)} req/s (p50 ${r.latencyP50Ms} ms, p99 ${r.latencyP99Ms} ms)`;
const clean = (r: LoadResult) => r.non2xx === 0 && r.errors === 0 && r.timeouts === 0;
const sum = (rs: LoadResult[], key: 'non2xx' | 'errors' | 'timeouts') => rs.reduce((n, r) => n + r[key], 0);

/** The run with the median request rate (the lower middle one for an even count). */
function median(runs: LoadResult[]): LoadResult {
  const sorted = [...runs].sort((a, b) => a.requestsPerSecond - b.requestsPerSecond);
  return sorted[Math.floor((sorted.length - 1) / 2)]!;
}

async function main(): Promise<void> {
  const work = await mkdtemp(path.join(tmpdir(), 'bench-economy-'));
  const cacheDir = path.join(work, 'media');
  const fake = await startFakeUpstream({ rps: 1, apiKey: API_KEY });
  const gateway = createGateway(
    loadConfig({
      PORT: '0',
      HOST: '127.0.0.1',
      MAVI_BASE_URL: fake.url,
      MAVI_API_KEY: API_KEY,
      MAVI_WEBHOOK_SECRET: 'bench-economy-webhook-secret',
      UPSTREAM_RPS: '1',
      MEDIA_CACHE_DIR: cacheDir,
      LOG_LEVEL: 'silent',
    }),
  );
  await gateway.start();
  let staticServer: Server | undefined;
  try {
    const { collectionId } = fake.addCollection(FRAMES);
    const a = await collectionQueries(gateway, fake, collectionId);
    const b = await frameFetches(fake, a.frames);

    // (c) one frame, already cached by (b). Same host for both servers (the signature covers id and expiry only).
    const frame = a.frames[0]!;
    const signed = new URL(frame.url);
    const gatewayUrl = `${gateway.url}${signed.pathname}${signed.search}`;
    const file = path.join(cacheDir, `${frame.id}.data`);
    const { size } = await stat(file);
    const baseline = await startStaticServer(file, size);
    staticServer = baseline.server;
    await sameBytes(gatewayUrl, baseline.url);
    const callsBefore = fake.calls.length;
    await runLoad(baseline.url, warmup);
    await runLoad(gatewayUrl, warmup);
    const plainRuns: LoadResult[] = [];
    const servedRuns: LoadResult[] = [];
    for (let round = 0; round < rounds; round++) {
      if (round % 2 === 0) {
        plainRuns.push(await runLoad(baseline.url, load));
        servedRuns.push(await runLoad(gatewayUrl, load));
      } else {
        servedRuns.push(await runLoad(gatewayUrl, load));
        plainRuns.push(await runLoad(baseline.url, load));
      }
    }
    const plain = median(plainRuns);
    const served = median(servedRuns);
    const ratio = served.requestsPerSecond / plain.requestsPerSecond;
    const extraCalls = fake.calls.length - callsBefore;

    console.log(`frames gateway economy bench: fake upstream at 1 req/s (429 beyond), gateway UPSTREAM_RPS=1, node ${process.version}`);
    console.log('');
    console.log(
      formatTable(
        ['', 'measurement', 'result', 'goal'],
        [
          ['(a)', `upstream calls, ${CLIENTS} concurrent frameCollection queries (${FRAMES} frames)`, `${describeCalls(a.calls)} in ${Math.round(a.ms)} ms`, '1'],
          ['(b)', `upstream calls, ${FRAMES} concurrent frame images via signed URLs`, `${describeCalls(b.calls)} in ${Math.round(b.ms)} ms`, '1'],
          ['(c)', `cached frame (${size} B), plain node static, median`, rate(plain), ''],
          ['', 'cached frame, gateway /media (signed URL), median', rate(served), ''],
          ['', 'ratio gateway / static (medians)', `${ratio.toFixed(2)}x`, '>= 0.80x'],
        ],
      ),
    );
    console.log('');
    const perRound = plainRuns.map((p, i) => `${Math.round(servedRuns[i]!.requestsPerSecond)}/${Math.round(p.requestsPerSecond)}`);
    const all = [...plainRuns, ...servedRuns];
    console.log(
      `(c) autocannon ${load.connections} connections, ${load.seconds} s per run, ${rounds} rounds after a ${warmup.seconds} s warm-up each; ` +
        `gateway/static req/s per round: ${perRound.join(', ')}; ` +
        `non-2xx/errors/timeouts: ${sum(all, 'non2xx')}/${sum(all, 'errors')}/${sum(all, 'timeouts')}; upstream calls during (c): ${extraCalls}`,
    );
    if (!all.every(clean)) process.exitCode = 1;
  } finally {
    if (staticServer) {
      staticServer.closeAllConnections();
      await new Promise<void>((resolve) => staticServer!.close(() => resolve()));
    }
    await gateway.stop();
    await fake.close();
    await rm(work, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
