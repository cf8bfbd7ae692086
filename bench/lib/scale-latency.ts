/**
 * Callback → subscriber latency: tasks submitted through the gateway (`extractFrames`, against the fake
 * upstream), one live subscription per task on the subscriber instance, then one callback at a time into the
 * webhook instance, timed from the POST to the SUCCEEDED event on the socket. One at a time, so each sample is
 * the path's own latency, not queueing behind other callbacks.
 */
import { performance } from 'node:perf_hooks';
import type { FakeUpstream } from '../../test/helpers/fake-upstream.js';
import type { GatewayProcess } from './gateway-process.js';
import { summarize, type LatencySummary } from './stats.js';
import { watchTask, withTimeout, type TaskWatch } from './task-watch.js';
import { createWebhookPoster, successBodyFor, type WebhookPoster } from './webhook-poster.js';
import { connectWs, type WsConnection } from './ws-subscriber.js';

const EXTRACT = `mutation Extract($assetId: ID!) {
  extractFrames(assetId: $assetId) { __typename ... on ExtractFramesSuccess { task { id } } ... on Error { message } }
}`;
const SUBMIT_CONCURRENCY = 16;
const EVENT_TIMEOUT_MS = 20_000;

export interface LatencyPath {
  /** Receives the callbacks. */
  webhookTo: GatewayProcess;
  /** Holds the subscriptions (the same process for a single-instance path). */
  subscribeOn: GatewayProcess;
}

export interface LatencyRun {
  paths: readonly LatencyPath[];
  fake: FakeUpstream;
  samples: number;
  warmup: number;
}

/** Submits one extraction per new fake asset through `gateway`; returns the task ids. */
async function submitTasks(gateway: GatewayProcess, fake: FakeUpstream, count: number): Promise<string[]> {
  const ids: string[] = new Array<string>(count);
  let next = 0;
  const worker = async () => {
    while (next < count) {
      const i = next++;
      const res = await fetch(`${gateway.url}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/json' },
        body: JSON.stringify({ query: EXTRACT, variables: { assetId: fake.addAsset() } }),
      });
      const reply = (await res.json()) as { data?: { extractFrames?: { __typename: string; task?: { id: string }; message?: string } } };
      const result = reply.data?.extractFrames;
      if (!result?.task) {
        throw new Error(`extractFrames failed: ${JSON.stringify(reply).slice(0, 300)}\ngateway output:\n${gateway.recentOutput()}`);
      }
      ids[i] = result.task.id;
    }
  };
  await Promise.all(Array.from({ length: SUBMIT_CONCURRENCY }, worker));
  return ids;
}

interface PreparedPath {
  path: LatencyPath;
  taskIds: string[];
  socket: WsConnection;
  watches: TaskWatch[];
  waiters: Map<string, (at: number) => void>;
  latencies: number[];
}

async function prepare(path: LatencyPath, run: LatencyRun): Promise<PreparedPath> {
  const taskIds = await submitTasks(path.webhookTo, run.fake, run.warmup + run.samples);
  const socket = await connectWs(path.subscribeOn.wsUrl);
  const waiters = new Map<string, (at: number) => void>();
  const watches = taskIds.map((id) => watchTask(socket, id, (w) => waiters.get(w.taskId)?.(w.succeededAt!)));
  const first = await Promise.all(watches.map((w) => w.ready));
  if (first.some((status) => status !== 'PENDING')) throw new Error(`subscriptions did not start PENDING: ${[...new Set(first)]}`);
  return { path, taskIds, socket, watches, waiters, latencies: [] };
}

/** One callback for task `i` of `p`, timed from the POST to the SUCCEEDED event. */
async function sample(p: PreparedPath, i: number, poster: WebhookPoster): Promise<number> {
  const taskId = p.taskIds[i]!;
  const arrived = new Promise<number>((resolve) => p.waiters.set(taskId, resolve));
  const sentAt = performance.now();
  const [reply, at] = await Promise.all([
    poster.post(p.path.webhookTo.webhookUrl, successBodyFor(taskId)),
    withTimeout(arrived, EVENT_TIMEOUT_MS, undefined),
  ]);
  if (reply.status !== 200) throw new Error(`webhook answered ${reply.status}`);
  if (at === undefined) throw new Error(`no SUCCEEDED event for ${taskId} within ${EVENT_TIMEOUT_MS} ms`);
  return at - sentAt;
}

/**
 * Measures every path with the samples interleaved (path 1, path 2, ..., path 1, ...), so background load on a
 * shared machine hits all paths alike instead of whichever ran during it. One summary per path, in order.
 */
export async function measureCallbackLatency(run: LatencyRun): Promise<LatencySummary[]> {
  const prepared: PreparedPath[] = [];
  const poster = createWebhookPoster({ maxSockets: 1 });
  try {
    for (const path of run.paths) prepared.push(await prepare(path, run));
    for (let i = 0; i < run.warmup + run.samples; i++) {
      for (const p of prepared) {
        const latency = await sample(p, i, poster);
        if (i >= run.warmup) p.latencies.push(latency);
      }
    }
    await Promise.all(prepared.flatMap((p) => p.watches.map((w) => w.ended)));
  } finally {
    poster.close();
    await Promise.all(prepared.map((p) => p.socket.close()));
  }
  return prepared.map((p) => summarize(p.latencies));
}
