/**
 * `npm run bench:scale-out [-- --quick]`: how the gateway holds up scaled out over Redis, in one run (~3 min):
 *
 * 1. callback → subscriber latency, p50/p99: 1 instance in memory, 1 instance on Redis, and 2 instances on
 *    Redis with the subscriber on B and the webhook into A (goal: ≤ 50 ms added at p99 over the single instance);
 * 2. 10,000 idle graphql-ws subscribers (one socket each) on one instance: (a) 1,000 tasks × 10, (b) 10,000 on one
 *    task; RSS per subscriber of the gateway process and p99 from webhook to subscriber (a: 1,000 webhooks at
 *    once, b: one webhook);
 * 3. 1,000 webhooks/s for 30 s round-robin over 2 instances, every task followed: 0 lost, 0 duplicated events.
 *
 * Gateways are child processes (`node --import tsx src/main.ts`) in front of the fake upstream, on the local Redis
 * (REDIS_URL, default redis://127.0.0.1:6379) under a unique key prefix that is deleted at the end.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { Redis } from 'ioredis';
import { startFakeUpstream, type FakeUpstream } from '../test/helpers/fake-upstream.js';
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
// Waiting for the last events after the last webhook: longer than SUBSCRIPTION_RECHECK_MS (15 s), so an event
// lost on the way still arrives through the subscription's registry re-read and shows as slow, not lost.
const DRAIN_MS = 20_000;

const { values } = parseArgs({ options: { quick: { type: 'boolean', default: false } } });
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
async function startGateway(bench: Bench, withRedis: boolean): Promise<GatewayProcess> {
  const n = ++instanceCount;
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
  });
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

/** The figures issue 8 quotes for this machine kind, shown beside today's for comparison (not goals). */
const QUOTED = { rssPerSubscriber: '~21 KB (Hasura ~125 KB)', burstP99: 'p99 ~980 ms', oneTaskP99: 'p99 ~460 ms' };

function idleRows(label: string, what: string, burst: string, reference: string, r: IdleResult): string[][] {
  const perSubscriber = r.rssDelta / r.subscribers;
  const clean = r.delivered === r.subscribers && r.duplicated === 0 && r.notCompleted === 0;
  return [
    [label, `${what}: gateway RSS per subscriber (+${mb(r.rssDelta)} RSS, +${mb(r.heapDelta)} heap)`, kb(perSubscriber), `issue 8: ${QUOTED.rssPerSubscriber}`, ''],
    ['', `${burst} → ${count(r.subscribers)} events (connecting took ${(r.connectMs / 1000).toFixed(1)} s)`, latencyCell(r.latency), `issue 8: ${reference}`, ''],
    ['', `delivered / lost / duplicated (${r.notCompleted} not completed)`, `${count(r.delivered)} / ${count(r.subscribers - r.delivered)} / ${r.duplicated}`, '0 lost, 0 duplicated', verdict(clean)],
  ];
}

async function idleSection(bench: Bench): Promise<{ rows: string[][]; ok: boolean }> {
  const base = { redis: bench.redis, prefix: bench.prefix };
  progress(`idle subscribers: (a) ${count(SIZES.idleTasks)} tasks × ${SIZES.perTask}`);
  const many = await idleSubscribers({ ...base, gateway: await startGateway(bench, true), tasks: SIZES.idleTasks, perTask: SIZES.perTask });
  progress(`idle subscribers: (b) ${count(IDLE_SUBSCRIBERS)} on one task`);
  const one = await idleSubscribers({ ...base, gateway: await startGateway(bench, true), tasks: 1, perTask: IDLE_SUBSCRIBERS });
  const heading = `2 ${count(IDLE_SUBSCRIBERS)} idle subscribers`;
  return {
    rows: [
      ...idleRows(heading, `(a) ${count(SIZES.idleTasks)} tasks × ${SIZES.perTask}`, `(a) ${count(SIZES.idleTasks)} webhooks at once`, QUOTED.burstP99, many),
      ...idleRows('', `(b) ${count(IDLE_SUBSCRIBERS)} on one task`, '(b) one webhook', QUOTED.oneTaskP99, one),
    ],
    ok: [many, one].every((r) => r.delivered === r.subscribers && r.duplicated === 0 && r.notCompleted === 0),
  };
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
    const latency = await latencySection(bench);
    const flow = await throughputSection(bench, latency.pair);
    const idle = await idleSection(bench);
    console.log(
      `frames gateway scale-out bench${values.quick ? ' (--quick)' : ''}: node ${process.version}, ${availableParallelism()} cores, ` +
        `load average ${loadAtStart.toFixed(1)} at start / ${loadavg()[0]!.toFixed(1)} at end, ulimit -n ${fdLimit}, gateways as child processes, ` +
        `Redis ${redisUrl}, ${Math.round((Date.now() - startedAt) / 1000)} s`,
    );
    console.log('');
    console.log(formatTable(['', 'measurement', 'result', 'goal / reference', 'ok'], [...latency.rows, ...idle.rows, ...flow.rows]));
    if (!idle.ok || !flow.ok) process.exitCode = 1;
  } finally {
    await cleanup(bench);
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
