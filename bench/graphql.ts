/**
 * `npm run bench:graphql [-- --quick] [-- --cpu-prof]`: cached reads of the production build (`node dist/main.js`,
 * built by the npm script) against a bare graphql-yoga server (bench/lib/bare-yoga.ts: yoga's defaults, no Pothos,
 * no loaders) answering the same documents from a static list of the same frames. Both are child processes started
 * the same way (tsx + the gc agent preloaded), so their RSS compare. The gateway fronts the fake upstream holding
 * one finished task with a 500-frame collection; every query below is answered from the gateway's caches.
 *
 * Each query is loaded with autocannon (20 connections, pipelining 1, a 5 s warm-up then 10 s measured; `--quick`:
 * 1 s + 3 s), gateway first, then the baseline. Printed: req/s, p50/p99, RSS at the end of the load (VmRSS, no
 * forced collection) for both, and the ratios. Goals (issue 12, as ratios in the same run): the collection query
 * >= 1.0x the baseline's req/s and <= 1.0x its p99; with `url` >= 0.8x; RSS at the end <= 1.5x.
 *
 * `--log-level warn` runs the gateway without its per-request log line (default: info, as deployed).
 * `--cpu-prof` runs the gateway with `--cpu-prof --cpu-prof-dir=<dir>` and prints its top five self-time functions
 * once it has exited (the profile is written at exit).
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { startFakeUpstream } from '../test/helpers/fake-upstream.js';
import type { BareYogaData } from './lib/bare-yoga.js';
import { formatTopSelfTime, mainThreadProfile } from './lib/cpu-profile-top.js';
import { killAllGateways, startGatewayProcess, type GatewayProcess } from './lib/gateway-process.js';
import { runLoad, type LoadResult } from './lib/load.js';
import { formatTable } from './lib/table.js';

const API_KEY = 'sk-mavi-bench-graphql';
const WEBHOOK_SECRET = 'bench-graphql-webhook-secret';
const FRAMES = 500;
const CONNECTIONS = 20;

const { values } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    'cpu-prof': { type: 'boolean', default: false },
    // The gateway's LOG_LEVEL: at info (the default) it writes one request line per request.
    'log-level': { type: 'string', default: 'info' },
  },
});
const timing = values.quick ? { warmup: 1, seconds: 3 } : { warmup: 5, seconds: 10 };

const FRAME_FIELDS = 'id extension createdAt';
const QUERIES = {
  collection: `query CollectionFrames($id: ID!) { frameCollection(id: $id) { frames(offset: 0, limit: 100) { ${FRAME_FIELDS} } } }`,
  collectionUrl: `query CollectionFrameUrls($id: ID!) { frameCollection(id: $id) { frames(offset: 0, limit: 100) { ${FRAME_FIELDS} url } } }`,
  frame: `query OneFrame($id: ID!) { frame(id: $id) { id index url } }`,
  task: `query FinishedTask($id: ID!) { frameExtractionTask(id: $id) { id status frameCount collectionId error submittedAt completedAt } }`,
} as const;
type QueryName = keyof typeof QUERIES;

const LABELS: Record<QueryName, string> = {
  collection: 'frames(limit: 100) { id extension createdAt }',
  collectionUrl: 'same + url (100 signed URLs)',
  frame: 'frame(id) { id index url }',
  task: 'frameExtractionTask(id), finished',
};

interface GraphQLReply {
  data?: Record<string, unknown> | null;
  errors?: unknown[];
}

async function post(url: string, body: string): Promise<GraphQLReply> {
  const res = await fetch(`${url}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
  if (res.status !== 200) throw new Error(`HTTP ${res.status} from ${url}: ${(await res.text()).slice(0, 300)}`);
  return (await res.json()) as GraphQLReply;
}

async function checked(url: string, body: string): Promise<Record<string, unknown>> {
  const reply = await post(url, body);
  if (reply.errors || !reply.data) throw new Error(`errors from ${url}: ${JSON.stringify(reply).slice(0, 500)}`);
  return reply.data;
}

/** VmRSS of `pid` in bytes, read as the OS sees it (no collection forced first). */
async function rssOf(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  return Number(/^VmRSS:\s+(\d+) kB/m.exec(status)?.[1] ?? 0) * 1024;
}

/** One finished task through the gateway: extract, then the fake's callback with a 500-frame collection. */
async function finishedTask(gateway: GatewayProcess, fake: Awaited<ReturnType<typeof startFakeUpstream>>) {
  const extract = `mutation Extract($assetId: ID!) { extractFrames(assetId: $assetId) { __typename ... on ExtractFramesSuccess { task { id } } ... on Error { message } } }`;
  const data = await checked(gateway.url, JSON.stringify({ query: extract, variables: { assetId: fake.addAsset() } }));
  const taskId = (data.extractFrames as { task?: { id: string } }).task?.id;
  if (!taskId) throw new Error(`extractFrames failed: ${JSON.stringify(data)}`);
  const done = await fake.completeTask(taskId, { frames: FRAMES });
  if (done.status !== 200) throw new Error(`webhook answered ${done.status}\n${gateway.recentOutput()}`);
  return { taskId, collectionId: done.collectionId, frameIds: done.frameIds };
}

interface Measured {
  load: LoadResult;
  rss: number;
  /** CPU time the server used per request while measured (user + system): steadier than req/s on a busy machine. */
  cpuMsPerRequest: number;
}

async function measure(server: GatewayProcess, body: string): Promise<Measured> {
  const url = `${server.url}/graphql`;
  await runLoad(url, { connections: CONNECTIONS, seconds: timing.warmup, jsonBody: body });
  const cpuBefore = server.cpuSeconds() ?? Number.NaN;
  const load = await runLoad(url, { connections: CONNECTIONS, seconds: timing.seconds, jsonBody: body });
  const cpuMsPerRequest = (((server.cpuSeconds() ?? Number.NaN) - cpuBefore) * 1000) / Math.max(1, load.total);
  if (load.non2xx || load.errors || load.timeouts) {
    throw new Error(`${url}: ${load.non2xx} non-2xx, ${load.errors} errors, ${load.timeouts} timeouts under load`);
  }
  return { load, rss: await rssOf(server.pid), cpuMsPerRequest };
}

const mb = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(0)} MB`;
const x = (ratio: number) => `${ratio.toFixed(2)}x`;
const verdict = (ok: boolean) => (ok ? 'met' : 'NOT met');
const cpu = (p: GatewayProcess, since: number | undefined) => {
  const now = p.cpuSeconds();
  return now === undefined || since === undefined ? 'n/a' : `${(now - since).toFixed(1)} s`;
};

async function main(): Promise<void> {
  const work = await mkdtemp(path.join(tmpdir(), 'bench-graphql-'));
  const profileDir = path.join(work, 'cpu-prof');
  const fake = await startFakeUpstream({ rps: 0, apiKey: API_KEY });
  const processes: GatewayProcess[] = [];
  const loadAtStart = loadavg();
  try {
    const gateway = await startGatewayProcess(
      {
        PORT: '0',
        HOST: '127.0.0.1',
        MAVI_BASE_URL: fake.url,
        MAVI_API_KEY: API_KEY,
        MAVI_WEBHOOK_SECRET: WEBHOOK_SECRET,
        MEDIA_SIGNING_SECRET: 'bench-graphql-media-signing-secret-0123456789',
        UPSTREAM_RPS: '1000',
        UPSTREAM_RATE_MARGIN_MS: '0',
        MEDIA_CACHE_DIR: path.join(work, 'media'),
        DATA_DIR: path.join(work, 'data'),
        NODE_ENV: 'production',
        LOG_LEVEL: values['log-level'],
      },
      { entry: 'dist/main.js', nodeArgs: values['cpu-prof'] ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : [] },
    );
    processes.push(gateway);
    fake.setWebhookUrl(gateway.webhookUrl);
    const { taskId, collectionId, frameIds } = await finishedTask(gateway, fake);
    const frameId = frameIds[42]!;
    const bodies: Record<QueryName, string> = {
      collection: JSON.stringify({ query: QUERIES.collection, variables: { id: collectionId } }),
      collectionUrl: JSON.stringify({ query: QUERIES.collectionUrl, variables: { id: collectionId } }),
      frame: JSON.stringify({ query: QUERIES.frame, variables: { id: frameId } }),
      task: JSON.stringify({ query: QUERIES.task, variables: { id: taskId } }),
    };

    // The baseline serves what the gateway answered (same frames, same signed URLs, same task).
    const answers = Object.fromEntries(
      await Promise.all(Object.entries(bodies).map(async ([name, body]) => [name, await checked(gateway.url, body)])),
    ) as Record<QueryName, Record<string, unknown>>;
    const urlFrames = (answers.collectionUrl.frameCollection as { frames: BareYogaData['frames'] }).frames;
    const one = answers.frame.frame as { id: string; index: number; url: string };
    if (urlFrames.length !== 100) throw new Error(`expected 100 frames, got ${urlFrames.length}`);
    const data: BareYogaData = {
      collectionId,
      // `index` is not in the collection documents; the frame query reads it (and its url) from this list.
      frames: urlFrames.map((f) => (f.id === one.id ? { ...f, index: one.index, url: one.url } : { ...f, index: Number(f.id.split('_')[2]) })),
      task: answers.task.frameExtractionTask as BareYogaData['task'],
    };
    const dataFile = path.join(work, 'bare-yoga.json');
    await writeFile(dataFile, JSON.stringify(data));
    const baseline = await startGatewayProcess({ BARE_YOGA_DATA: dataFile, MAVI_WEBHOOK_SECRET: 'unused' }, { entry: 'bench/lib/bare-yoga.ts' });
    processes.push(baseline);
    for (const [name, body] of Object.entries(bodies) as [QueryName, string][]) {
      const theirs = await checked(baseline.url, body);
      if (JSON.stringify(theirs) !== JSON.stringify(answers[name])) {
        throw new Error(`the baseline answers ${name} differently:\n${JSON.stringify(theirs).slice(0, 300)}\n${JSON.stringify(answers[name]).slice(0, 300)}`);
      }
    }

    const idle = { gateway: await rssOf(gateway.pid), baseline: await rssOf(baseline.pid) };
    const cpuAtStart = { gateway: gateway.cpuSeconds(), baseline: baseline.cpuSeconds() };
    const results = {} as Record<QueryName, { gateway: Measured; baseline: Measured }>;
    for (const name of Object.keys(QUERIES) as QueryName[]) {
      process.stderr.write(`loading ${name}: gateway, then baseline (${timing.warmup} s + ${timing.seconds} s each)\n`);
      const g = await measure(gateway, bodies[name]);
      const b = await measure(baseline, bodies[name]);
      results[name] = { gateway: g, baseline: b };
    }
    const loadAtEnd = loadavg();
    // After two forced collections (the gc agent): what the processes retain, as opposed to garbage not yet collected.
    const collected = { gateway: await gateway.memory(), baseline: await baseline.memory() };
    // Still answering correctly after the load (a cache must not have turned an answer into another one).
    for (const name of ['collection', 'task'] as const) {
      if (JSON.stringify(await checked(gateway.url, bodies[name])) !== JSON.stringify(answers[name])) throw new Error(`${name} changed under load`);
    }

    const rows = (Object.keys(QUERIES) as QueryName[]).map((name) => {
      const { gateway: g, baseline: b } = results[name];
      return [
        LABELS[name],
        `${Math.round(g.load.requestsPerSecond)} / ${Math.round(b.load.requestsPerSecond)}`,
        x(g.load.requestsPerSecond / b.load.requestsPerSecond),
        `${g.load.latencyP50Ms} / ${b.load.latencyP50Ms} ms`,
        `${g.load.latencyP99Ms} / ${b.load.latencyP99Ms} ms`,
        x(g.load.latencyP99Ms / Math.max(1, b.load.latencyP99Ms)),
        `${g.cpuMsPerRequest.toFixed(2)} / ${b.cpuMsPerRequest.toFixed(2)} ms`,
        x(g.cpuMsPerRequest / b.cpuMsPerRequest),
        `${mb(g.rss)} / ${mb(b.rss)}`,
      ];
    });
    const last = results.task;
    const rssRatio = last.gateway.rss / last.baseline.rss;
    const c = results.collection;
    const u = results.collectionUrl;
    const rpsRatio = c.gateway.load.requestsPerSecond / c.baseline.load.requestsPerSecond;
    const p99Ratio = c.gateway.load.latencyP99Ms / Math.max(1, c.baseline.load.latencyP99Ms);
    const urlRatio = u.gateway.load.requestsPerSecond / u.baseline.load.requestsPerSecond;

    console.log(
      `bench:graphql — node ${process.version}, ${availableParallelism()} cores, load average ${loadAtStart.map((l) => l.toFixed(1)).join(' ')} at start / ` +
        `${loadAtEnd.map((l) => l.toFixed(1)).join(' ')} at end; autocannon ${CONNECTIONS} connections, pipelining 1, ` +
        `${timing.warmup} s warm-up + ${timing.seconds} s measured per row${values.quick ? ' (--quick)' : ''}${values['cpu-prof'] ? ', gateway under --cpu-prof' : ''}`,
    );
    console.log(`gateway: node dist/main.js (LOG_LEVEL ${values['log-level']}, one ${FRAMES}-frame collection cached); baseline: bare graphql-yoga, static list`);
    console.log(`idle RSS before the load: gateway ${mb(idle.gateway)}, baseline ${mb(idle.baseline)}\n`);
    console.log(formatTable(['query (gateway / baseline)', 'req/s', 'ratio', 'p50', 'p99', 'p99 ratio', 'CPU/request', 'CPU ratio', 'RSS at end'], rows));
    console.log(
      `after the load and two forced GCs: RSS ${mb(collected.gateway.rss)} / ${mb(collected.baseline.rss)}, ` +
        `heap used ${mb(collected.gateway.heapUsed)} / ${mb(collected.baseline.heapUsed)} (gateway / baseline)`,
    );
    console.log(`CPU used under load: gateway ${cpu(gateway, cpuAtStart.gateway)}, baseline ${cpu(baseline, cpuAtStart.baseline)}`);
    console.log(`goal collection req/s >= 1.0x baseline: ${x(rpsRatio)} ${verdict(rpsRatio >= 1)}`);
    console.log(`goal collection p99 <= 1.0x baseline:   ${x(p99Ratio)} ${verdict(p99Ratio <= 1)}`);
    console.log(`goal with url req/s >= 0.8x baseline:   ${x(urlRatio)} ${verdict(urlRatio >= 0.8)}`);
    console.log(`goal RSS at end of load <= 1.5x:        ${mb(last.gateway.rss)} / ${mb(last.baseline.rss)} = ${x(rssRatio)} ${verdict(rssRatio <= 1.5)}`);

    await Promise.all(processes.map((p) => p.stop()));
    if (values['cpu-prof']) console.log(`\n${formatTopSelfTime(mainThreadProfile(profileDir), 5)}`);
  } finally {
    killAllGateways();
    await fake.close();
    if (!values['cpu-prof']) await rm(work, { recursive: true, force: true });
    else process.stderr.write(`profile kept in ${profileDir}\n`);
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`${(error as Error)?.stack ?? String(error)}\n`);
  process.exitCode = 1;
});
