/**
 * Follows `frameExtractionTask` subscriptions from the bench side and records what each one received: when it was
 * live (its first event, the current state), when SUCCEEDED first arrived, and how many times it did.
 */
import { performance } from 'node:perf_hooks';
import { createDeferred } from '../../test/helpers/deferred.js';
import { connectWs, type WsConnection } from './ws-subscriber.js';

/** Only registry fields: an event then costs the gateway no upstream call. */
export const TASK_SUBSCRIPTION = 'subscription Follow($id: ID!) { frameExtractionTask(id: $id) { id status } }';

export interface TaskWatch {
  taskId: string;
  /** Resolves with the first event's status (the state the server yields at once). */
  ready: Promise<string>;
  /** `performance.now()` of the first SUCCEEDED event; undefined until then. */
  succeededAt: number | undefined;
  /** SUCCEEDED events received. */
  successes: number;
  /** Status of every event, in order: a status seen twice is a duplicated event. */
  statuses: string[];
  /** True once the operation completed or failed. */
  done: boolean;
  /** Resolves when the server completes the operation, or with the error that ended it. */
  ended: Promise<{ error?: unknown }>;
}

/** Events beyond one per status (the stream drops same-state repeats, so any is a bug). */
export const duplicatedEvents = (watches: readonly TaskWatch[]): number =>
  watches.reduce((n, w) => n + w.statuses.length - new Set(w.statuses).size, 0);

export function watchTask(connection: WsConnection, taskId: string, onSucceeded?: (watch: TaskWatch) => void): TaskWatch {
  const ready = createDeferred<string>();
  const ended = createDeferred<{ error?: unknown }>();
  ready.promise.catch(() => {});
  const watch: TaskWatch = { taskId, ready: ready.promise, succeededAt: undefined, successes: 0, statuses: [], done: false, ended: ended.promise };
  const end = (outcome: { error?: unknown }) => {
    watch.done = true;
    ended.resolve(outcome);
  };
  connection.subscribe(TASK_SUBSCRIPTION, { id: taskId }, {
    next(payload) {
      const status = (payload.data?.frameExtractionTask as { status?: string } | null | undefined)?.status ?? 'ERROR';
      ready.resolve(status);
      watch.statuses.push(status);
      if (status !== 'SUCCEEDED') return;
      watch.successes += 1;
      if (watch.successes > 1) return;
      watch.succeededAt = performance.now();
      onSucceeded?.(watch);
    },
    error(reason) {
      ready.reject(reason);
      end({ error: reason });
    },
    complete() {
      ready.resolve('COMPLETED');
      end({});
    },
  });
  return watch;
}

/** Opens `count` sockets to `url`, at most `concurrency` handshakes at a time, each initialised with `initPayload`. */
export async function openSockets(
  url: string,
  count: number,
  concurrency = 200,
  initPayload?: Record<string, unknown>,
): Promise<WsConnection[]> {
  const sockets: WsConnection[] = [];
  let started = 0;
  const worker = async () => {
    while (started < count) {
      started += 1;
      sockets.push(await connectWs(url, initPayload));
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
  return sockets;
}

/** Closes sockets, `concurrency` at a time (a close handshake each). */
export async function closeSockets(sockets: readonly WsConnection[], concurrency = 500): Promise<void> {
  for (let start = 0; start < sockets.length; start += concurrency) {
    await Promise.all(sockets.slice(start, start + concurrency).map((s) => s.close()));
  }
}

/** Resolves when every watch has ended, or after `ms` (for the bench to count what never arrived). */
export async function allEnded(watches: readonly TaskWatch[], ms: number): Promise<boolean> {
  return withTimeout(Promise.all(watches.map((w) => w.ended)).then(() => true), ms, false);
}

/** `promise`, or `fallback` once `ms` passed: a bench reports a missing event instead of hanging on it. */
export async function withTimeout<T, F>(promise: Promise<T>, ms: number, fallback: F): Promise<T | F> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const deadline = new Promise<F>((resolve) => (timer = setTimeout(() => resolve(fallback), ms)));
  try {
    return await Promise.race([promise, deadline]);
  } finally {
    clearTimeout(timer);
  }
}
