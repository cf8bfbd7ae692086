/**
 * Many idle graphql-ws subscribers on ONE gateway process, one socket each: the gateway's RSS per subscriber
 * (after full GCs, so garbage is not counted) and the latency from a burst of webhooks to every subscriber.
 */
import type { Redis } from 'ioredis';
import { performance } from 'node:perf_hooks';
import type { GatewayProcess } from './gateway-process.js';
import { insertPendingTasks } from './redis-tasks.js';
import { summarize, type LatencySummary } from './stats.js';
import { allEnded, closeSockets, duplicatedEvents, openSockets, watchTask } from './task-watch.js';
import { createWebhookPoster, successBodyFor } from './webhook-poster.js';

const WARMUP_SUBSCRIBERS = 200;
const DELIVERY_TIMEOUT_MS = 60_000;

export interface IdleRun {
  gateway: GatewayProcess;
  redis: Redis;
  prefix: string;
  tasks: number;
  perTask: number;
}

export interface IdleResult {
  subscribers: number;
  /** Gateway RSS growth, bytes, from before the subscribers connected to all of them being live. */
  rssDelta: number;
  heapDelta: number;
  /** Wall time to connect every socket and get every subscription's first event. */
  connectMs: number;
  webhooks: number;
  /** Subscribers that received SUCCEEDED; events beyond one per status; operations the server never ended. */
  delivered: number;
  duplicated: number;
  notCompleted: number;
  latency: LatencySummary;
  /**
   * Gateway CPU (user + system, seconds) from the first webhook to the last subscription ended: unlike the latency,
   * what the fan-out costs does not move with other load on the machine. Undefined where /proc is missing.
   */
  fanOutCpuSeconds: number | undefined;
}

/**
 * Opens a few subscriptions and closes them before the baseline, so lazily loaded code and warmed caches are not
 * counted as per-subscriber memory.
 */
async function warmUp(run: IdleRun, taskIds: string[]): Promise<void> {
  const sockets = await openSockets(run.gateway.wsUrl, WARMUP_SUBSCRIBERS);
  await Promise.all(sockets.map((s, i) => watchTask(s, taskIds[i % taskIds.length]!).ready));
  await closeSockets(sockets);
}

/**
 * Runs one idle-subscriber scenario and stops `run.gateway` at the end: its shutdown closes the sockets from the
 * server side, faster than 10,000 client close handshakes, and the server keeps the TIME_WAIT entries rather
 * than the bench's ephemeral ports.
 */
export async function idleSubscribers(run: IdleRun): Promise<IdleResult> {
  const taskIds = await insertPendingTasks(run.redis, run.prefix, run.tasks);
  await warmUp(run, taskIds);
  const before = await run.gateway.memory();
  const subscribers = run.tasks * run.perTask;
  const started = performance.now();
  const sockets = await openSockets(run.gateway.wsUrl, subscribers);
  const sentAt = new Map<string, number>();
  const latencies: number[] = [];
  const watches = sockets.map((s, i) => watchTask(s, taskIds[i % run.tasks]!, (w) => latencies.push(w.succeededAt! - sentAt.get(w.taskId)!)));
  const first = await Promise.all(watches.map((w) => w.ready));
  if (first.some((status) => status !== 'PENDING')) throw new Error(`subscriptions did not start PENDING: ${[...new Set(first)]}`);
  const connectMs = performance.now() - started;
  const after = await run.gateway.memory();

  // Every callback issued in the same tick ("at once"); each latency counts from its own task's issue time.
  const poster = createWebhookPoster({ maxSockets: Infinity });
  const cpuBefore = run.gateway.cpuSeconds();
  const replies = await Promise.all(
    taskIds.map((id) => {
      sentAt.set(id, performance.now());
      return poster.post(run.gateway.webhookUrl, successBodyFor(id));
    }),
  );
  poster.close();
  const refused = replies.filter((r) => r.status !== 200).length;
  if (refused > 0) throw new Error(`${refused} of ${replies.length} webhooks were not answered 200`);
  await allEnded(watches, DELIVERY_TIMEOUT_MS);
  const cpuAfter = run.gateway.cpuSeconds();
  // Counted before the gateway stops: its shutdown ends whatever is still open.
  const notCompleted = watches.filter((w) => !w.done).length;
  await run.gateway.stop();
  await closeSockets(sockets);
  return {
    subscribers,
    rssDelta: after.rss - before.rss,
    heapDelta: after.heapUsed - before.heapUsed,
    connectMs,
    webhooks: replies.length,
    delivered: watches.filter((w) => w.successes > 0).length,
    duplicated: duplicatedEvents(watches),
    notCompleted,
    latency: summarize(latencies),
    fanOutCpuSeconds: cpuBefore === undefined || cpuAfter === undefined ? undefined : cpuAfter - cpuBefore,
  };
}
