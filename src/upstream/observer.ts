/**
 * What the upstream client reports for metrics, as plain callbacks: `upstream/` knows nothing of Prometheus, the
 * gateway passes an implementation in (`observability/metrics.ts`) through `createUpstreamClient({ observer })`.
 * Endpoints and outcomes are closed lists, so metric labels stay bounded (never ids or paths).
 */
import { isAmbiguousRateLimit } from './envelope.js';
import { UpstreamError } from './errors.js';
import type { Scheduler } from './rate-limit.js';

/** The upstream endpoints, one label value each (`signed_url`: `POST /upload/signed-url`, createVideoUpload). */
export const UPSTREAM_ENDPOINTS = ['extract', 'metadata', 'download', 'upload', 'delete', 'signed_url'] as const;
export type UpstreamEndpoint = (typeof UPSTREAM_ENDPOINTS)[number];

/** How one HTTP exchange with the upstream ended. */
export const UPSTREAM_OUTCOMES = ['ok', 'rate_limited', 'client_error', 'server_error', 'timeout'] as const;
export type UpstreamOutcome = (typeof UPSTREAM_OUTCOMES)[number];

/** Callbacks of the upstream client; each one is optional. */
export interface UpstreamObserver {
  /**
   * One HTTP exchange ended (every retry is one). A download ends with its body: `ok` once it was read to the end or
   * cancelled by its reader, `timeout` when it stalled. An exchange the caller aborted itself is not reported.
   */
  exchange?(endpoint: UpstreamEndpoint, outcome: UpstreamOutcome): void;
  /** Body bytes received from a download, as they arrive. */
  downloadBytes?(bytes: number): void;
  /** Seconds a call waited for its start slot (local queue and, with Redis, the shared pacer). */
  queueWait?(seconds: number): void;
  /** Calls waiting for a start slot on this instance went up (+1) or down (-1). */
  queueDepth?(delta: 1 | -1): void;
}

/**
 * The outcome label of a failed exchange: the ambiguous HTTP 400 "Request has exceeded the limit." is the upstream's
 * rate limit too; network failures count as `server_error` (the reply never came).
 */
export function outcomeOf(error: unknown): UpstreamOutcome {
  if (!(error instanceof UpstreamError)) return 'server_error';
  if (error.kind === 'RATE_LIMITED' || isAmbiguousRateLimit(error)) return 'rate_limited';
  if (error.kind === 'TIMEOUT') return 'timeout';
  if (error.kind === 'UPSTREAM_ERROR') return 'server_error';
  return 'client_error';
}

/**
 * `body` as a stream that reports its bytes to `observer` and calls `settle` once: `ok` at the end or on cancel, the
 * failure's outcome on an error. Pull-based with a zero high-water mark, like the stall watch below it, so it reads
 * only what its consumer asks for.
 */
export function meterBody(
  body: ReadableStream<Uint8Array>,
  observer: UpstreamObserver,
  settle: (outcome: UpstreamOutcome) => void,
): ReadableStream<Uint8Array> {
  const reader = body.getReader();
  return new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        let chunk: ReadableStreamReadResult<Uint8Array>;
        try {
          chunk = await reader.read();
        } catch (error) {
          settle(outcomeOf(error));
          controller.error(error);
          return;
        }
        if (chunk.done) {
          settle('ok');
          controller.close();
          return;
        }
        observer.downloadBytes?.(chunk.value.byteLength);
        controller.enqueue(chunk.value);
      },
      cancel(reason) {
        settle('ok');
        return reader.cancel(reason);
      },
    },
    { highWaterMark: 0 },
  );
}

/**
 * `scheduler.schedule`, reporting how long `task` waited for its start (the local queue and, with Redis, the shared
 * pacer: both run before `task`) and how many calls wait at a time. A call the scheduler refuses never waited.
 */
export function scheduleObserved<T>(
  scheduler: Scheduler,
  observer: UpstreamObserver,
  task: () => Promise<T>,
  scheduleOptions: { signal?: AbortSignal },
): Promise<T> {
  const queuedAt = performance.now();
  let waiting = true;
  const leave = (): void => {
    if (!waiting) return;
    waiting = false;
    observer.queueDepth?.(-1);
  };
  observer.queueDepth?.(1);
  return scheduler
    .schedule(() => {
      leave();
      observer.queueWait?.((performance.now() - queuedAt) / 1000);
      return task();
    }, scheduleOptions)
    .finally(leave);
}
