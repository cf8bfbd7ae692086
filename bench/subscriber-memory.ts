/**
 * `npm run bench:subscriber-memory [-- --subscribers 3000 --snapshots --dist --env NAME=value ...]`: what one idle
 * graphql-ws subscriber costs the gateway. One gateway child process (on the local Redis under a bench prefix, in
 * front of the fake upstream) serves a query and a health check, then gets N idle `frameExtractionTask` subscribers
 * (10 per task, one socket each), then N more; its memory (after full collections) is read before, at N and at 2N.
 * Per subscriber: RSS, V8 heap used, heap committed (what the heap takes of the RSS) and the RSS outside the heap.
 *
 * The gateway runs as `npm start` does (src/main.ts under tsx), or with `--dist` as the production build does
 * (`npm run build` first). tsx compiles with esbuild's keepNames, which gives every named function its own property
 * dictionary (~300 B): per-subscription closures cost more under tsx than in production.
 *
 * The goal (issue 12): ≤ 20 KB of RSS per idle subscriber, judged from before to 2N (to N with `--snapshots`: writing
 * the snapshot at N moves the RSS of the step after it); the verdict line says whether it was met.
 *
 * `--snapshots` also writes a V8 heap snapshot at N and at 2N (into `--snapshot-dir`, default a temporary one) and
 * prints the objects allocated between them and still live, by class, per subscriber, with the chains that hold
 * them. `--env` passes variables to the gateway (`--env OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:4318`: tracing).
 * With `--env AUTH_JWT_SECRET=<32+ chars>` the gateway authenticates: the tasks belong to the tenant `bench`, and the
 * warm-up query and every socket's connection_init carry an HS256 token of that tenant, valid for two hours.
 */
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { Redis } from 'ioredis';
import { SignJWT } from 'jose';
import { startFakeUpstream } from '../test/helpers/fake-upstream.js';
import { killAllGateways, startGatewayProcess, type GatewayMemory, type GatewayProcess } from './lib/gateway-process.js';
import { newObjects, readHeapSnapshot } from './lib/heap-diff.js';
import { deleteKeys, insertPendingTasks } from './lib/redis-tasks.js';
import { formatTable } from './lib/table.js';
import { closeSockets, openSockets, watchTask } from './lib/task-watch.js';
import type { WsConnection } from './lib/ws-subscriber.js';

const API_KEY = 'sk-mavi-bench-subscriber-memory';
const WEBHOOK_SECRET = 'bench-subscriber-memory-webhook-secret';
const DIST_ENTRY = 'dist/main.js';
const PER_TASK = 10;
const WARMUP = 200;
/** Classes listed from a snapshot comparison, and how many of them get their holders shown. */
const TOP_CLASSES = 25;
const EXPLAINED = 12;
const BENCH_TENANT = 'bench';
/** Issue 12's goal: RSS per idle subscriber. */
const RSS_PER_SUBSCRIBER_GOAL_KB = 20;

const { values } = parseArgs({
  options: {
    subscribers: { type: 'string', default: '3000' },
    snapshots: { type: 'boolean', default: false },
    'snapshot-dir': { type: 'string' },
    dist: { type: 'boolean', default: false },
    env: { type: 'string', multiple: true, default: [] },
  },
});
const N = Number(values.subscribers);
if (!Number.isInteger(N) || N < PER_TASK || N % PER_TASK !== 0) throw new RangeError(`--subscribers must be a multiple of ${PER_TASK}`);
if (values.dist && !existsSync(new URL(`../${DIST_ENTRY}`, import.meta.url))) {
  throw new Error(`--dist runs the production build, and ${DIST_ENTRY} is missing: npm run build first`);
}
const extraEnv = Object.fromEntries(
  values.env.map((pair) => {
    const eq = pair.indexOf('=');
    if (eq <= 0) throw new RangeError(`--env takes NAME=value, got ${JSON.stringify(pair)}`);
    return [pair.slice(0, eq), pair.slice(eq + 1)];
  }),
);
const redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const progress = (step: string) => process.stderr.write(`${step}\n`);
const kb = (bytes: number) => `${(bytes / 1024).toFixed(1)} KB`;
const mb = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MB`;

interface Bench {
  work: string;
  /** `Bearer <token>` when the gateway runs with AUTH_JWT_SECRET. */
  authorization: string | undefined;
  redis: Redis;
  prefix: string;
  sockets: WsConnection[];
  gateway?: GatewayProcess;
}

function startGateway(bench: Bench, upstreamUrl: string): Promise<GatewayProcess> {
  const env = {
    PORT: '0',
    HOST: '127.0.0.1',
    MAVI_BASE_URL: upstreamUrl,
    MAVI_API_KEY: API_KEY,
    MAVI_WEBHOOK_SECRET: WEBHOOK_SECRET,
    MEDIA_SIGNING_SECRET: 'bench-subscriber-memory-media-signing-secret-0123',
    LOG_LEVEL: 'warn',
    MEDIA_CACHE_DIR: path.join(bench.work, 'media'),
    DATA_DIR: path.join(bench.work, 'data'),
    REDIS_URL: redisUrl,
    REDIS_PREFIX: bench.prefix,
    ...extraEnv,
  };
  return startGatewayProcess(env, { entry: values.dist ? DIST_ENTRY : 'src/main.ts' });
}

/**
 * A health check and a query, as a serving gateway has had: the request log's AsyncLocalStorage then tracks every
 * promise (it starts to at its first request), the idle subscribers' pending ones included.
 */
async function servePlainRequests(bench: Bench, gateway: GatewayProcess): Promise<void> {
  const health = await fetch(`${gateway.url}/healthz`);
  const query = await fetch(`${gateway.url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(bench.authorization ? { authorization: bench.authorization } : {}) },
    body: JSON.stringify({ query: '{ __typename }' }),
  });
  await Promise.all([health.text(), query.text()]);
  if (!health.ok || !query.ok) throw new Error(`the warm-up requests were answered ${health.status} / ${query.status}`);
}

/** `count` subscribers on `tasks` (PER_TASK each, in order), resolved once every one got its first event. */
async function subscribe(bench: Bench, gateway: GatewayProcess, tasks: readonly string[], count: number): Promise<WsConnection[]> {
  const sockets = await openSockets(gateway.wsUrl, count, undefined, bench.authorization ? { authorization: bench.authorization } : {});
  const first = await Promise.all(sockets.map((s, i) => watchTask(s, tasks[Math.floor(i / PER_TASK)]!).ready));
  if (first.some((status) => status !== 'PENDING')) throw new Error(`subscriptions did not start PENDING: ${[...new Set(first)]}`);
  return sockets;
}

/** Memory before, at N and at 2N subscribers, plus a heap snapshot at N and 2N when asked for. */
async function measure(bench: Bench, gateway: GatewayProcess): Promise<{ points: [string, GatewayMemory][]; snapshots: string[] }> {
  const tenant = bench.authorization ? BENCH_TENANT : undefined;
  const tasks = await insertPendingTasks(bench.redis, bench.prefix, (2 * N) / PER_TASK, tenant);
  // Lazily loaded code and warmed caches are not per-subscriber memory.
  await servePlainRequests(bench, gateway);
  await closeSockets(await subscribe(bench, gateway, tasks, WARMUP));
  const points: [string, GatewayMemory][] = [['before', await gateway.memory()]];
  const snapshots: string[] = [];
  for (const round of [0, 1]) {
    progress(`connecting subscribers ${round * N + 1}..${(round + 1) * N}`);
    bench.sockets.push(...(await subscribe(bench, gateway, tasks.slice((round * N) / PER_TASK), N)));
    points.push([`${(round + 1) * N} idle subscribers`, await gateway.memory()]);
    const file = path.resolve(values['snapshot-dir'] ?? bench.work, `subscribers-${(round + 1) * N}.heapsnapshot`);
    if (values.snapshots) snapshots.push(await gateway.heapSnapshot(file));
  }
  return { points, snapshots };
}

/** Each point; per subscriber since the point before: RSS, heap used, heap committed, RSS outside the JS heap. */
function memoryTable(points: [string, GatewayMemory][]): string {
  const rows = points.map(([label, m], i) => {
    const absolute = [mb(m.rss), mb(m.heapUsed), mb(m.heapTotal)];
    const [, p] = points[Math.max(0, i - 1)]!;
    const per = (now: number, then: number) => (i === 0 ? '' : kb((now - then) / N));
    return [label, ...absolute, per(m.rss, p.rss), per(m.heapUsed, p.heapUsed), per(m.heapTotal, p.heapTotal), per(m.rss - m.heapTotal, p.rss - p.heapTotal)];
  });
  const header = ['', 'RSS', 'heap used', 'heap committed', 'per subscriber: RSS', 'heap used', 'heap committed', 'RSS outside the heap'];
  return [formatTable(header, rows), '', ...points.slice(1).map(([label, m], i) => `${label}: ${spaceGrowth(points[i]![1], m)}`)].join('\n');
}

/** Where the committed heap grew (per subscriber, largest first): a young generation grown under load is not live data. */
function spaceGrowth(before: GatewayMemory, after: GatewayMemory): string {
  const grown = Object.entries(after.spaces)
    .map(([space, bytes]) => [space, (bytes - (before.spaces[space] ?? 0)) / N] as const)
    .filter(([, perSubscriber]) => Math.abs(perSubscriber) >= 102)
    .sort((a, b) => b[1] - a[1]);
  return `heap committed per subscriber by space: ${grown.map(([space, bytes]) => `${space} ${kb(bytes)}`).join(', ') || 'no change'}`;
}

/** RSS per subscriber against the goal, over every subscriber (the first N only when a snapshot was written at N). */
function goalVerdict(points: [string, GatewayMemory][]): { line: string; ok: boolean } {
  const [, before] = points[0]!;
  const upTo = values.snapshots ? 1 : points.length - 1;
  const [label, after] = points[upTo]!;
  const subscribers = upTo * N;
  const perSubscriber = (after.rss - before.rss) / subscribers;
  const ok = perSubscriber <= RSS_PER_SUBSCRIBER_GOAL_KB * 1024;
  const heap = kb((after.heapUsed - before.heapUsed) / subscribers);
  return {
    ok,
    line: `RSS per idle subscriber, before → ${label}: ${kb(perSubscriber)} (heap used ${heap}); goal ≤ ${RSS_PER_SUBSCRIBER_GOAL_KB} KB: ${ok ? 'yes' : 'NO'}`,
  };
}

async function compareSnapshots(fileA: string, fileB: string): Promise<string> {
  progress('reading the heap snapshots');
  const grown = newObjects(await readHeapSnapshot(fileA), await readHeapSnapshot(fileB), { top: TOP_CLASSES, explained: EXPLAINED, depth: 6 });
  const total = grown.reduce((sum, g) => sum + g.bytes, 0);
  const rows = grown.map((g) => [g.key.slice(0, 90), (g.count / N).toFixed(2), `${Math.round(g.bytes / N)} B`]);
  const lines = [`objects allocated from ${N} to ${2 * N} subscribers and still live, per subscriber (top ${TOP_CLASSES} classes: ${Math.round(total / N)} B)`, ''];
  lines.push(formatTable(['class', 'objects', 'self size'], rows), '', 'held by (share of the new objects of the class; nearest holder first):');
  for (const g of grown.filter((c) => c.chains.length > 0)) {
    lines.push(`  ${g.key.slice(0, 100)}`, ...g.chains.map((c) => `    ${Math.round(c.count)}%  ${c.chain}`));
  }
  return lines.join('\n');
}

/** A token for the gateway's AUTH_* settings passed with --env (HS256 secret, tenant claim, issuer, audience). */
async function benchAuthorization(): Promise<string | undefined> {
  const secret = extraEnv.AUTH_JWT_SECRET;
  if (secret === undefined) return undefined;
  const jwt = new SignJWT({ [extraEnv.AUTH_TENANT_CLAIM ?? 'tenant']: BENCH_TENANT }).setProtectedHeader({ alg: 'HS256' }).setExpirationTime('2h');
  if (extraEnv.AUTH_ISSUER) jwt.setIssuer(extraEnv.AUTH_ISSUER);
  if (extraEnv.AUTH_AUDIENCE) jwt.setAudience(extraEnv.AUTH_AUDIENCE);
  return `Bearer ${await jwt.sign(new TextEncoder().encode(secret))}`;
}

async function main(): Promise<void> {
  const fake = await startFakeUpstream({ rps: 0, apiKey: API_KEY });
  const bench: Bench = {
    work: await mkdtemp(path.join(tmpdir(), 'bench-subscriber-memory-')),
    authorization: await benchAuthorization(),
    redis: new Redis(redisUrl, { connectionName: 'bench-subscriber-memory' }),
    prefix: `bench-subscriber-memory:${process.pid}-${randomBytes(4).toString('hex')}:`,
    sockets: [],
  };
  try {
    bench.gateway = await startGateway(bench, fake.url);
    const { points, snapshots } = await measure(bench, bench.gateway);
    const runtime = values.dist ? `the production build (${DIST_ENTRY})` : 'src/main.ts under tsx';
    const envNote = Object.keys(extraEnv).length > 0 ? `, gateway env ${Object.keys(extraEnv).join(', ')}` : '';
    console.log(`frames gateway subscriber memory: node ${process.version}, ${runtime}, ${N} + ${N} idle graphql-ws subscribers (${PER_TASK} per task, Redis)${envNote}\n`);
    console.log(memoryTable(points));
    const verdict = goalVerdict(points);
    console.log(`\n${verdict.line}`);
    if (!verdict.ok) process.exitCode = 1;
    if (snapshots.length === 2) {
      console.log('\n(writing the snapshot at N moves the RSS of the step after it)\n');
      console.log(await compareSnapshots(snapshots[0]!, snapshots[1]!));
    }
  } finally {
    await bench.gateway?.stop();
    killAllGateways();
    await closeSockets(bench.sockets);
    await deleteKeys(bench.redis, bench.prefix);
    await bench.redis.quit();
    await fake.close();
    await rm(bench.work, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
