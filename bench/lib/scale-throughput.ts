/**
 * Sustained webhooks over two instances: `rate` callbacks/s for `seconds`, round-robin between the instances,
 * every task followed by one subscriber (half of them on the other instance than their webhook), plus one
 * redelivery in 20 of an earlier callback to the OTHER instance. Counts what was sent, applied, delivered, lost
 * and duplicated; a lost or duplicated event is a bug, not a slow run.
 */
import type { Redis } from 'ioredis';
import { performance } from 'node:perf_hooks';
import type { WireCallback } from '../../test/fixtures/upstream/envelopes.js';
import type { GatewayProcess } from './gateway-process.js';
import { countSucceeded, insertPendingTasks } from './redis-tasks.js';
import { summarize, type LatencySummary } from './stats.js';
import { allEnded, duplicatedEvents, openSockets, watchTask, type TaskWatch } from './task-watch.js';
import { createWebhookPoster, successBodyFor, type WebhookReply } from './webhook-poster.js';
import type { WsConnection } from './ws-subscriber.js';

const REDELIVER_EVERY = 20;
// A redelivery repeats the callback sent this many sends earlier; 501 is not a multiple of 20, so the repeated
// send is always a first delivery, about half a second old at 1,000/s.
const REDELIVER_LAG = 501;
const TICK_MS = 5;

export interface ThroughputRun {
  instances: readonly [GatewayProcess, GatewayProcess];
  redis: Redis;
  prefix: string;
  rate: number;
  seconds: number;
  socketsPerInstance: number;
  /** How long to wait for the last events after the last webhook (longer than the subscription re-read). */
  drainMs: number;
}

export interface ThroughputResult {
  sent: number;
  redeliveries: number;
  /** Seconds between the first and the last send (the rate actually achieved is sent / this). */
  sendSeconds: number;
  replies: Record<string, number>;
  tasks: number;
  storeSucceeded: number;
  delivered: number;
  lost: number;
  duplicated: number;
  /** Subscriptions the server had not ended when the drain time was up. */
  notCompleted: number;
  subscriptionErrors: number;
  latency: LatencySummary;
  /** CPU over the sending and draining, as a share of one core (1 = a whole core). */
  cpu: { gateways: (number | undefined)[]; bench: number };
}

interface Send {
  task: number;
  instance: 0 | 1;
  redelivery: boolean;
}

function plan(total: number): { sends: Send[]; tasks: number } {
  const sends: Send[] = [];
  let tasks = 0;
  for (let k = 0; k < total; k++) {
    const earlier = sends[k - REDELIVER_LAG];
    if (k % REDELIVER_EVERY === REDELIVER_EVERY - 1 && earlier) {
      sends.push({ task: earlier.task, instance: earlier.instance === 0 ? 1 : 0, redelivery: true });
    } else {
      sends.push({ task: tasks, instance: (tasks % 2) as 0 | 1, redelivery: false });
      tasks += 1;
    }
  }
  return { sends, tasks };
}

interface Flow {
  taskIds: string[];
  sentAt: Float64Array;
  latencies: number[];
  watches: TaskWatch[];
  /** Opens subscriptions for every task up to `u` (exclusive) that has none yet. */
  watchUpTo(u: number): void;
}

function createFlow(run: ThroughputRun, taskIds: string[], sockets: WsConnection[][]): Flow {
  const flow: Flow = {
    taskIds,
    sentAt: new Float64Array(taskIds.length),
    latencies: [],
    watches: [],
    watchUpTo(u) {
      while (flow.watches.length < Math.min(taskIds.length, u)) {
        const n = flow.watches.length;
        // Subscriber of task n on instance (n >> 1) % 2: with webhooks on n % 2, half the events cross instances.
        const connection = sockets[(n >> 1) % 2]![n % run.socketsPerInstance]!;
        flow.watches.push(watchTask(connection, taskIds[n]!, (w) => flow.latencies.push(w.succeededAt! - flow.sentAt[n]!)));
      }
    },
  };
  return flow;
}

/** Sends the whole plan at `run.rate`; returns the replies and the seconds the sending took. */
async function sendAll(run: ThroughputRun, sends: Send[], flow: Flow): Promise<{ replies: WebhookReply[]; sendSeconds: number }> {
  const poster = createWebhookPoster({ maxSockets: 32 });
  const bodies: WireCallback[] = [];
  const pending: Promise<WebhookReply>[] = [];
  // Subscriptions open one second of sends ahead of their first webhook, so they are live when it lands.
  const lead = run.rate;
  const sendSeconds = await paced(sends.length, run.rate, (k) => {
    const s = sends[k]!;
    if (!s.redelivery) {
      flow.sentAt[s.task] = performance.now();
      bodies[s.task] = successBodyFor(flow.taskIds[s.task]!);
    }
    pending.push(poster.post(run.instances[s.instance].webhookUrl, bodies[s.task]!));
    flow.watchUpTo(s.task + lead);
  });
  const replies = await Promise.all(pending);
  poster.close();
  return { replies, sendSeconds };
}

export async function sustainedWebhooks(run: ThroughputRun): Promise<ThroughputResult> {
  const { sends, tasks } = plan(run.rate * run.seconds);
  const taskIds = await insertPendingTasks(run.redis, run.prefix, tasks);
  const sockets = await Promise.all(run.instances.map((g) => openSockets(g.wsUrl, run.socketsPerInstance)));
  const flow = createFlow(run, taskIds, sockets);
  flow.watchUpTo(run.rate);
  await Promise.all(flow.watches.map((w) => w.ready));

  const cpu = startCpuMeter(run.instances);
  const { replies, sendSeconds } = await sendAll(run, sends, flow);
  await allEnded(flow.watches, run.drainMs);
  const cpuShare = cpu.stop();
  const { watches } = flow;
  // Counted before the sockets close: closing fails whatever is still open.
  const notCompleted = watches.filter((w) => !w.done).length;
  let errors = 0;
  for (const w of watches) if (w.done) errors += (await w.ended).error === undefined ? 0 : 1;
  const storeSucceeded = await countSucceeded(run.redis, run.prefix, taskIds);
  await Promise.all(sockets.flat().map((s) => s.close()));
  const delivered = watches.filter((w) => w.successes > 0).length;
  return {
    sent: sends.length,
    redeliveries: sends.filter((s) => s.redelivery).length,
    sendSeconds,
    replies: tally(replies),
    tasks,
    storeSucceeded,
    delivered,
    lost: tasks - delivered,
    duplicated: duplicatedEvents(watches),
    notCompleted,
    subscriptionErrors: errors,
    latency: summarize(flow.latencies),
    cpu: cpuShare,
  };
}

/** CPU used from now until `stop()`, as a share of one core: each gateway, and this (client) process. */
function startCpuMeter(instances: readonly GatewayProcess[]) {
  const wall = performance.now();
  const self = process.cpuUsage();
  const before = instances.map((g) => g.cpuSeconds());
  return {
    stop(): { gateways: (number | undefined)[]; bench: number } {
      const seconds = (performance.now() - wall) / 1000;
      const used = process.cpuUsage(self);
      return {
        gateways: instances.map((g, i) => {
          const [now, then] = [g.cpuSeconds(), before[i]];
          return now === undefined || then === undefined ? undefined : (now - then) / seconds;
        }),
        bench: (used.user + used.system) / 1e6 / seconds,
      };
    },
  };
}

/**
 * Calls `step(k)` for k = 0..count-1, the k-th at `k / rate` seconds after the start (open loop: a slow gateway
 * does not slow the sender down). Returns the seconds from the first to the last call.
 */
function paced(count: number, rate: number, step: (k: number) => void): Promise<number> {
  return new Promise((resolve) => {
    const start = performance.now();
    let k = 0;
    const timer = setInterval(() => {
      const due = Math.min(count, Math.floor(((performance.now() - start) * rate) / 1000) + 1);
      while (k < due) step(k++);
      if (k === count) {
        clearInterval(timer);
        resolve((performance.now() - start) / 1000);
      }
    }, TICK_MS);
  });
}

/** Replies by outcome: the gateway's `result` for 200s, `HTTP <status>` otherwise. */
function tally(replies: readonly WebhookReply[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const r of replies) {
    const key = r.status === 200 ? (r.result ?? 'ok') : `HTTP ${r.status}`;
    counts[key] = (counts[key] ?? 0) + 1;
  }
  return counts;
}
