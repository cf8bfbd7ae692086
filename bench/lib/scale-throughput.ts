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
// A redelivery repeats the callback sent this many sends earlier (not a multiple of 20, so never a redelivery).
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

export async function sustainedWebhooks(run: ThroughputRun): Promise<ThroughputResult> {
  const { sends, tasks } = plan(run.rate * run.seconds);
  const taskIds = await insertPendingTasks(run.redis, run.prefix, tasks);
  const sockets = await Promise.all(run.instances.map((g) => openSockets(g.wsUrl, run.socketsPerInstance)));
  const sentAt = new Float64Array(tasks);
  const bodies: WireCallback[] = [];
  const latencies: number[] = [];
  const watches: TaskWatch[] = [];
  // Subscriber of task u: instance (u >> 1) % 2, so with webhooks on u % 2 half the events cross instances.
  const watch = (u: number) => {
    const connection: WsConnection = sockets[(u >> 1) % 2]![u % run.socketsPerInstance]!;
    watches.push(watchTask(connection, taskIds[u]!, (w) => latencies.push(w.succeededAt! - sentAt[u]!)));
  };
  // Subscriptions open one second of sends ahead of their first webhook, so they are live when it lands.
  const lead = run.rate;
  while (watches.length < Math.min(tasks, lead)) watch(watches.length);
  await Promise.all(watches.map((w) => w.ready));

  const poster = createWebhookPoster({ maxSockets: 32 });
  const replies: Promise<WebhookReply>[] = [];
  const send = (s: Send) => {
    if (!s.redelivery) {
      sentAt[s.task] = performance.now();
      bodies[s.task] = successBodyFor(taskIds[s.task]!);
    }
    replies.push(poster.post(run.instances[s.instance].webhookUrl, bodies[s.task]!));
  };
  const sendSeconds = await paced(sends.length, run.rate, (k) => {
    send(sends[k]!);
    const target = Math.min(tasks, sends[k]!.task + lead);
    while (watches.length < target) watch(watches.length);
  });
  const answered = await Promise.all(replies);
  poster.close();
  await allEnded(watches, run.drainMs);
  let errors = 0;
  for (const w of watches) if (w.done) errors += (await w.ended).error === undefined ? 0 : 1;
  const counts = tally(answered);
  const storeSucceeded = await countSucceeded(run.redis, run.prefix, taskIds);
  await Promise.all(sockets.flat().map((s) => s.close()));
  const delivered = watches.filter((w) => w.successes > 0).length;
  return {
    sent: sends.length,
    redeliveries: sends.filter((s) => s.redelivery).length,
    sendSeconds,
    replies: counts,
    tasks,
    storeSucceeded,
    delivered,
    lost: tasks - delivered,
    duplicated: duplicatedEvents(watches),
    notCompleted: watches.filter((w) => !w.done).length,
    subscriptionErrors: errors,
    latency: summarize(latencies),
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
