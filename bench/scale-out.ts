/**
 * `npm run bench:scale-out [-- --quick] [-- --tsx] [-- --cpu-prof] [-- --idle-only] [-- --scenario a|b] [-- --repeat N]`: how the gateway holds up scaled out over Redis,
 * in one run (~3 min):
 *
 * 1. callback → subscriber latency, p50/p99: 1 instance in memory, 1 instance on Redis, and 2 instances on
 *    Redis with the subscriber on B and the webhook into A (goal: ≤ 50 ms added at p99 over the single instance);
 * 2. 10,000 idle graphql-ws subscribers (one socket each) on one instance: (a) 1,000 tasks × 10, (b) 10,000 on one
 *    task; RSS per subscriber of the gateway process and p99 from webhook to subscriber (a: 1,000 webhooks at
 *    once, b: one webhook). Issue 12's goals: p99 ≤ 500 ms (a) and ≤ 250 ms (b), RSS ≤ 20 KB per idle
 *    subscriber, none lost or doubled (measured before fan-out sharing: p99 ~980 / ~460 ms). Each scenario is
 *    also run against a bare graphql-ws server (bench/lib/bare-fanout-server.ts) with the same subscribers and
 *    client right after, and the gateway's p99 and CPU per event are printed as ratios to it;
 * 3. 1,000 webhooks/s for 30 s round-robin over 2 instances, every task followed: 0 lost, 0 duplicated events.
 *
 * Gateways are child processes of the production build (`node dist/main.js`; the npm script builds it first; `--tsx`
 * runs `src/main.ts` under tsx instead, as `npm start` does) in front of the fake upstream, on the local Redis
 * (REDIS_URL, default redis://127.0.0.1:6379) under a unique key prefix that is deleted at the end. `--cpu-prof` runs
 * the gateways of section 2 under `--cpu-prof` and prints their top five self-time functions.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { Redis } from 'ioredis';
import { startFakeUpstream, type FakeUpstream } from '../test/helpers/fake-upstream.js';
import { formatTopSelfTime, mainThreadProfile } from './lib/cpu-profile-top.js';
import { killAllGateways, startGatewayProcess, type GatewayProcess } from './lib/gateway-process.js';
import { deleteKeys } from './lib/redis-tasks.js';
import { idleSubscribers, type IdleResult } from './lib/scale-idle.js';
import { measureCallbackLatency } from './lib/scale-latency.js';
import { sustainedWebhooks, type ThroughputResult } from './lib/scale-throughput.js';
import { ms, type LatencySummary } from './lib/stats.js';
import { formatTable } from './lib/table.js';

const API_KEY = 'sk-mavi-bench-scale-out';
const WEBHOOK_SECRET = 'bench-scale-out-webhook-secret';
const ADDED_P99_GOAL_MS = 50;
/** Issue 12's goals for section 2 (fan-out executed once per event). */
const BURST_P99_GOAL_MS = 500;
const ONE_TASK_P99_GOAL_MS = 250;
const RSS_PER_SUBSCRIBER_GOAL_KB = 20;
const DIST_ENTRY = 'dist/main.js';
// Waiting for the last events after the last webhook: longer than SUBSCRIPTION_RECHECK_MS (15 s), so an event
// lost on the way still arrives through the subscription's registry re-read and shows as slow, not lost.
const DRAIN_MS = 20_000;

const { values } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    tsx: { type: 'boolean', default: false },
    'cpu-prof': { type: 'boolean', default: false },
    // Runs section 2 alone (the fan-out goals), ~1 min: for iterating on the fan-out path.
    'idle-only': { type: 'boolean', default: false },
    // Runs each fan-out scenario of section 2 N times and reports the median run (p99s move ±25% run to run here).
    repeat: { type: 'string', default: '1' },
    // Section 2's scenarios to run: a (1,000 webhooks at once), b (one webhook to one task), or both.
    scenario: { type: 'string', default: 'both' },
  },
});
const REPEAT = Math.max(1, Number.parseInt(values.repeat, 10) || 1);
if (!['a', 'b', 'both'].includes(values.scenario)) throw new Error(`--scenario is a, b or both, not ${values.scenario}`);
if (!values.tsx && !existsSync(new URL(`../${DIST_ENTRY}`, import.meta.url))) {
  throw new Error(`the bench runs the production build, and ${DIST_ENTRY} is missing: npm run build first (or pass --tsx)`);
}
const ENTRY = values.tsx ? 'src/main.ts' : DIST_ENTRY;
const SIZES = values.quick
  ? { samples: 100, warmup: 20, idleTasks: 100, perTask: 10, rate: 200, seconds: 5, sockets: 4 }
  : { samples: 1000, warmup: 100, idleTasks: 1000, perTask: 10, rate: 1000, seconds: 30, sockets: 8 };
const IDLE_SUBSCRIBERS = SIZES.idleTasks * SIZES.perTask;
const redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

interface Bench {
  work: string;
  fake: FakeUpstream;
  redis: Redis;
  prefix: string;
  gateways: Set<GatewayProcess>;
  cleaning?: Promise<void>;
}

/**
 * Every idle subscriber is a socket in the bench AND in the gateway. Node raises its soft fd limit to the hard
 * one at start (and the gateways inherit it), so what `sh -c 'ulimit -n'` reports here is all there is.
 */
function checkFdLimit(): number {
  const reported = execFileSync('sh', ['-c', 'ulimit -n'], { encoding: 'utf8' }).trim();
  const limit = reported === 'unlimited' ? Infinity : Number(reported);
  const needed = IDLE_SUBSCRIBERS + SIZES.idleTasks + 500;
  if (limit < needed) {
    throw new Error(`the open-file limit is ${limit}; this run needs ${needed} (raise the hard limit: ulimit -Hn ${needed}, as root)`);
  }
  return limit;
}

const startedAt = Date.now();
/** Progress on stderr, so a three-minute run shows where it is while stdout keeps only the table. */
const progress = (step: string) => process.stderr.write(`[${((Date.now() - startedAt) / 1000).toFixed(1)} s] ${step}\n`);

let instanceCount = 0;
/** `profileDir`: run the gateway under `--cpu-prof`, writing its profile there when it exits. */
async function startGateway(bench: Bench, withRedis: boolean, profileDir?: string): Promise<GatewayProcess> {
  const n = ++instanceCount;
  const nodeArgs = profileDir ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : [];
  const gateway = await startGatewayProcess({
    PORT: '0',
    HOST: '127.0.0.1',
    MAVI_BASE_URL: bench.fake.url,
    MAVI_API_KEY: API_KEY,
    MAVI_WEBHOOK_SECRET: WEBHOOK_SECRET,
    MEDIA_SIGNING_SECRET: 'bench-scale-out-media-signing-secret-0123456789',
    UPSTREAM_RPS: '1000',
    // The margin guards a real 1 req/s account against jitter; the fake has no limit, so it would only slow setup.
    UPSTREAM_RATE_MARGIN_MS: '0',
    LOG_LEVEL: 'warn',
    MEDIA_CACHE_DIR: path.join(bench.work, `media-${n}`),
    DATA_DIR: path.join(bench.work, `data-${n}`),
    REDIS_URL: withRedis ? redisUrl : undefined,
    REDIS_PREFIX: bench.prefix,
  }, { entry: ENTRY, nodeArgs });
  bench.gateways.add(gateway);
  return gateway;
}

async function stopGateways(bench: Bench, gateways: GatewayProcess[]): Promise<void> {
  await Promise.all(gateways.map((g) => g.stop()));
  for (const g of gateways) bench.gateways.delete(g);
}

const latencyCell = (s: LatencySummary) => `p50 ${ms(s.p50)}, p99 ${ms(s.p99)}`;
const count = (n: number) => n.toLocaleString('en-US');
const kb = (bytes: number) => `${(bytes / 1024).toFixed(1)} KB`;
const mb = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(0)} MB`;
const verdict = (ok: boolean) => (ok ? 'yes' : 'NO');
const share = (core: number | undefined) => (core === undefined ? 'n/a' : `${Math.round(core * 100)}%`);

/** All three paths at once (idle gateways cost next to nothing), so their samples can interleave. */
async function latencySection(bench: Bench): Promise<{ rows: string[][]; pair: [GatewayProcess, GatewayProcess] }> {
  progress('callback latency: 1 instance in memory, 1 and 2 instances on Redis (interleaved)');
  const [memory, a, b] = await Promise.all([startGateway(bench, false), startGateway(bench, true), startGateway(bench, true)]);
  const summaries = await measureCallbackLatency({
    fake: bench.fake,
    samples: SIZES.samples,
    warmup: SIZES.warmup,
    paths: [
      { webhookTo: memory, subscribeOn: memory },
      { webhookTo: a, subscribeOn: a },
      { webhookTo: a, subscribeOn: b },
    ],
  });
  await stopGateways(bench, [memory]);
  const [single, redisSingle, pair] = summaries as [LatencySummary, LatencySummary, LatencySummary];
  const added = (from: LatencySummary) => `${pair.p99 - from.p99 >= 0 ? '+' : ''}${ms(pair.p99 - from.p99)}`;
  const ok = pair.p99 - single.p99 <= ADDED_P99_GOAL_MS;
  return {
    pair: [a, b],
    rows: [
      ['1 callback → subscriber', `1 instance, in memory (${single.count} sequential callbacks per path)`, latencyCell(single), '', ''],
      ['', '1 instance on Redis (webhook and subscriber on A)', latencyCell(redisSingle), '', ''],
      ['', '2 instances on Redis (webhook into A, subscriber on B)', latencyCell(pair), '', ''],
      ['', 'added at p99: 2 on Redis − 1 in memory', added(single), `≤ ${ADDED_P99_GOAL_MS} ms`, verdict(ok)],
      ['', 'added at p99: 2 on Redis − 1 on Redis', added(redisSingle), '', ''],
    ],
  };
}

/** What issue 12 measured on this machine kind before fan-out sharing (references, not goals). */
const BEFORE = { burstP99: 'before: p99 ~980 ms', oneTaskP99: 'before: p99 ~460 ms', rss: 'issue 8: ~21 KB; Hasura ~125 KB' };

const cpuCell = (r: IdleResult) =>
  r.fanOutCpuSeconds === undefined
    ? 'n/a'
    : `${Math.round(r.fanOutCpuSeconds * 1000)} ms = ${((r.fanOutCpuSeconds * 1e6) / r.subscribers).toFixed(0)} µs per event`;

interface IdleGoals {
  p99Ms: number;
  reference: string;
}

function idleRows(label: string, what: string, burst: string, goals: IdleGoals, r: IdleResult): { rows: string[][]; ok: boolean } {
  const perSubscriber = r.rssDelta / r.subscribers;
  const clean = r.delivered === r.subscribers && r.duplicated === 0 && r.notCompleted === 0;
  const rssOk = perSubscriber <= RSS_PER_SUBSCRIBER_GOAL_KB * 1024;
  const latencyOk = r.latency.p99 <= goals.p99Ms;
  // The goals are set for 10,000 subscribers; a --quick run (1,000) only shows the direction.
  const scope = values.quick ? ' (set for 10,000)' : '';
  return {
    rows: [
      [label, `${what}: gateway RSS per subscriber (+${mb(r.rssDelta)} RSS, +${mb(r.heapDelta)} heap)`, kb(perSubscriber), `≤ ${RSS_PER_SUBSCRIBER_GOAL_KB} KB${scope} (${BEFORE.rss})`, verdict(rssOk)],
      ['', `${burst} → ${count(r.subscribers)} events (connecting took ${(r.connectMs / 1000).toFixed(1)} s)`, latencyCell(r.latency), `p99 ≤ ${goals.p99Ms} ms${scope} (${goals.reference})`, verdict(latencyOk)],
      ['', `gateway CPU from the ${burst.slice(4)} to the last event delivered (not moved by other load)`, cpuCell(r), '', ''],
      ['', `delivered / lost / duplicated (${r.notCompleted} not completed)`, `${count(r.delivered)} / ${count(r.subscribers - r.delivered)} / ${r.duplicated}`, '0 lost, 0 duplicated', verdict(clean)],
    ],
    ok: clean && rssOk && latencyOk,
  };
}

const BARE_BASELINE_ENTRY = 'bench/lib/bare-fanout-server.ts';

/** The bare graphql-ws server of bench/lib/bare-fanout-server.ts, as a child process like the gateways. */
async function startBareBaseline(bench: Bench): Promise<GatewayProcess> {
  const bare = await startGatewayProcess({ MAVI_WEBHOOK_SECRET: WEBHOOK_SECRET }, { entry: BARE_BASELINE_ENTRY });
  bench.gateways.add(bare);
  return bare;
}

/** The baseline's figures for the same scenario and the gateway's as ratios to them (medians of the runs). */
function baselineRows(gateway: IdleResult, bare: IdleResult, bareRuns: IdleResult[]): string[][] {
  const ratio = (x: number, y: number) => (y > 0 ? `${(x / y).toFixed(2)}×` : 'n/a');
  const cpu = (r: IdleResult) => (r.fanOutCpuSeconds === undefined ? undefined : (r.fanOutCpuSeconds * 1e6) / r.subscribers);
  const gatewayCpu = cpu(gateway);
  const bareCpu = cpu(bare);
  const runs = bareRuns.length > 1 ? ` (runs: p99 ${bareRuns.map((r) => ms(r.latency.p99)).join(', ')})` : '';
  return [
    ['', `bare graphql-ws server, same subscribers and client (bench/lib/bare-fanout-server.ts)${runs}`, `${latencyCell(bare.latency)}, ${cpuCell(bare).replace(/.*= /, '')}, ${kb(bare.rssDelta / bare.subscribers)} RSS per subscriber`, '', ''],
    ['', 'gateway ÷ bare graphql-ws: p99, CPU per event', `${ratio(gateway.latency.p99, bare.latency.p99)}, ${gatewayCpu === undefined || bareCpu === undefined ? 'n/a' : ratio(gatewayCpu, bareCpu)}`, '', ''],
  ];
}

/** The run with the median p99 of several runs of one scenario (the lower middle one for an even count). */
function medianRun(runs: IdleResult[]): IdleResult {
  return [...runs].sort((x, y) => x.latency.p99 - y.latency.p99)[Math.floor((runs.length - 1) / 2)]!;
}

const runsRow = (runs: IdleResult[]): string[] => [
  '',
  `${runs.length} runs: p99 of each / gateway CPU per event`,
  `${runs.map((r) => ms(r.latency.p99)).join(', ')} / ${runs.map((r) => cpuCell(r).replace(/.*= /, '').replace(' per event', '')).join(', ')}`,
  'the rows above show the median run',
  '',
];

async function idleSection(bench: Bench): Promise<{ rows: string[][]; ok: boolean; profiles: string[] }> {
  const base = { redis: bench.redis, prefix: bench.prefix };
  // BENCH_PROFILE_DIR keeps the profiles (the work directory is deleted at the end).
  const profileRoot = process.env.BENCH_PROFILE_DIR ?? bench.work;
  const profileDirs = values['cpu-prof'] ? [path.join(profileRoot, 'cpu-prof-a'), path.join(profileRoot, 'cpu-prof-b')] : [];
  const heading = `2 ${count(IDLE_SUBSCRIBERS)} idle subscribers`;
  const rows: string[][] = [];
  const profiled: string[] = [];
  let ok = true;
  const scenarios = [
    { key: 'a', tasks: SIZES.idleTasks, perTask: SIZES.perTask, what: `(a) ${count(SIZES.idleTasks)} tasks × ${SIZES.perTask}`, burst: `(a) ${count(SIZES.idleTasks)} webhooks at once`, goals: { p99Ms: BURST_P99_GOAL_MS, reference: BEFORE.burstP99 } },
    { key: 'b', tasks: 1, perTask: IDLE_SUBSCRIBERS, what: `(b) ${count(IDLE_SUBSCRIBERS)} on one task`, burst: '(b) one webhook', goals: { p99Ms: ONE_TASK_P99_GOAL_MS, reference: BEFORE.oneTaskP99 } },
  ];
  for (const [i, scenario] of scenarios.entries()) {
    if (values.scenario !== 'both' && values.scenario !== scenario.key) continue;
    const runs: IdleResult[] = [];
    const bareRuns: IdleResult[] = [];
    if (profileDirs[i]) profiled.push(`gateway of (${scenario.key}): ${profileDirs[i]}`);
    for (let run = 1; run <= REPEAT; run++) {
      const of = REPEAT > 1 ? `, run ${run} of ${REPEAT}` : '';
      progress(`idle subscribers: ${scenario.what}${of}`);
      const gateway = await startGateway(bench, true, run === 1 ? profileDirs[i] : undefined);
      runs.push(await idleSubscribers({ ...base, gateway, tasks: scenario.tasks, perTask: scenario.perTask }));
      // The baseline right after, in the same conditions: one bare graphql-ws process, the same subscribers and client.
      progress(`idle subscribers: ${scenario.what}, bare graphql-ws baseline${of}`);
      const bare = await startBareBaseline(bench);
      bareRuns.push(await idleSubscribers({ ...base, gateway: bare, tasks: scenario.tasks, perTask: scenario.perTask }));
    }
    const result = idleRows(rows.length === 0 ? heading : '', scenario.what, scenario.burst, scenario.goals, medianRun(runs));
    rows.push(...result.rows, ...(REPEAT > 1 ? [runsRow(runs)] : []), ...baselineRows(medianRun(runs), medianRun(bareRuns), bareRuns));
    ok &&= result.ok;
  }
  // idleSubscribers stops each gateway, which writes its profile on exit (the first run of each scenario).
  const profiles = profiled.map((entry) => {
    const [label, dir] = entry.split(': ') as [string, string];
    return `${label}: ${formatTopSelfTime(mainThreadProfile(dir), 5)}`;
  });
  return { rows, ok, profiles };
}

async function throughputSection(bench: Bench, pair: [GatewayProcess, GatewayProcess]): Promise<{ rows: string[][]; ok: boolean }> {
  progress(`sustained webhooks: ${count(SIZES.rate)}/s for ${SIZES.seconds} s over 2 instances`);
  const r = await sustainedWebhooks({
    instances: pair,
    redis: bench.redis,
    prefix: bench.prefix,
    rate: SIZES.rate,
    seconds: SIZES.seconds,
    socketsPerInstance: SIZES.sockets,
    drainMs: DRAIN_MS,
  });
  await stopGateways(bench, pair);
  const applied = r.replies.applied ?? 0;
  const others = Object.entries(r.replies).filter(([k]) => k !== 'applied' && k !== 'duplicate');
  const stored = applied === r.tasks && r.storeSucceeded === r.tasks && others.length === 0;
  const clean = r.lost === 0 && r.duplicated === 0 && r.notCompleted === 0 && r.subscriptionErrors === 0;
  const replies = `${count(applied)} / ${count(r.replies.duplicate ?? 0)}${others.map(([k, v]) => ` / ${k} ${v}`).join('')}`;
  return {
    rows: [
      [`3 ${count(SIZES.rate)} webhooks/s × ${SIZES.seconds} s`, `sent, round-robin over A and B, at ${count(Math.round(r.sent / r.sendSeconds))}/s (${count(r.redeliveries)} are redeliveries to the other instance)`, count(r.sent), '', ''],
      ['', `replies applied / duplicate; tasks SUCCEEDED in Redis`, `${replies}; ${count(r.storeSucceeded)} of ${count(r.tasks)}`, `${count(r.tasks)} applied`, verdict(stored)],
      ['', `events delivered / lost / duplicated (${r.notCompleted} not completed, ${r.subscriptionErrors} errors)`, `${count(r.delivered)} / ${count(r.lost)} / ${count(r.duplicated)}`, '0 lost, 0 duplicated', verdict(clean)],
      ['', 'webhook → subscriber under this load', `${latencyCell(r.latency)}, max ${ms(r.latency.max)}`, '', ''],
      ['', 'CPU while sending and draining (share of one core)', `A ${share(r.cpu.gateways[0])}, B ${share(r.cpu.gateways[1])}, bench client ${share(r.cpu.bench)}`, '', ''],
    ],
    ok: stored && clean,
  };
}

/** Stops every gateway, deletes the bench's Redis keys and temp files; safe to call twice. */
function cleanup(bench: Bench): Promise<void> {
  bench.cleaning ??= (async () => {
    await Promise.all([...bench.gateways].map((g) => g.stop()));
    // Gateways still starting when a step failed are not in `bench.gateways` yet.
    killAllGateways();
    await deleteKeys(bench.redis, bench.prefix);
    await bench.redis.quit();
    await bench.fake.close();
    await rm(bench.work, { recursive: true, force: true });
  })();
  return bench.cleaning;
}

async function main(): Promise<void> {
  const fdLimit = checkFdLimit();
  // Other work on the machine moves every figure here; the load average says how much there was.
  const loadAtStart = loadavg()[0]!;
  const bench: Bench = {
    work: await mkdtemp(path.join(tmpdir(), 'bench-scale-out-')),
    fake: await startFakeUpstream({ rps: 0, apiKey: API_KEY }),
    redis: new Redis(redisUrl, { connectionName: 'bench-scale-out' }),
    prefix: `bench-scale-out:${process.pid}-${randomBytes(4).toString('hex')}:`,
    gateways: new Set(),
  };
  process.once('SIGINT', () => void cleanup(bench).finally(() => process.exit(130)));
  try {
    const idleOnly = values['idle-only'];
    const latency = idleOnly ? { rows: [] } : await latencySection(bench);
    const flow = 'pair' in latency ? await throughputSection(bench, latency.pair) : { rows: [], ok: true };
    const idle = await idleSection(bench);
    console.log(
      `frames gateway scale-out bench${values.quick ? ' (--quick)' : ''}: node ${process.version}, ${availableParallelism()} cores, gateways run ${ENTRY}, ` +
        `load average ${loadAtStart.toFixed(1)} at start / ${loadavg()[0]!.toFixed(1)} at end, ulimit -n ${fdLimit}, gateways as child processes, ` +
        `Redis ${redisUrl}, ${Math.round((Date.now() - startedAt) / 1000)} s`,
    );
    console.log('');
    console.log(formatTable(['', 'measurement', 'result', 'goal / reference', 'ok'], [...latency.rows, ...idle.rows, ...flow.rows]));
    for (const top of idle.profiles) console.log(`\n${top}`);
    if (!idle.ok || !flow.ok) process.exitCode = 1;
  } finally {
    await cleanup(bench);
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
