/**
 * One bound for `uploadVideo` and `importVideo` together (UPLOAD_CONCURRENCY): each holds a temp file and an
 * upstream upload for its whole run, so the number in flight bounds disk, sockets and memory. The rest wait in FIFO
 * order, with the upstream scheduler's fail-fast rule: a caller not started within `maxWaitMs` is refused with
 * UpstreamError('RATE_LIMITED') (the schema shows it as UpstreamRateLimitedError) instead of hanging.
 *
 * p-queue does the queueing; since 9.x an aborted signal removes a waiting task from its queue, which is what the
 * wait deadline uses. (p-limit cannot drop one waiter; async-mutex's withTimeout leaves it queued.)
 */
import { AsyncResource } from 'node:async_hooks';
import PQueue from 'p-queue';
import { UpstreamError, disposedError } from '../upstream/errors.js';

export interface UploadLimiter {
  /** Runs `task` in a free slot; rejects with RATE_LIMITED when no slot frees up within `maxWaitMs`. */
  run<T>(task: () => Promise<T>): Promise<T>;
  /** Tasks running now. */
  readonly active: number;
  /** Tasks waiting for a slot. */
  readonly pending: number;
  /** Refuses the waiting tasks and any later ones; running tasks finish. */
  dispose(): void;
}

export interface UploadLimiterOptions {
  /** Slots (UPLOAD_CONCURRENCY), ≥ 1. */
  concurrency: number;
  /** Longest wait for a slot (UPSTREAM_MAX_WAIT_MS). */
  maxWaitMs: number;
}

/** Creates the limiter. The wait deadline is a `globalThis.setTimeout`, so vitest's fake timers drive it. */
export function createUploadLimiter(options: UploadLimiterOptions): UploadLimiter {
  const { concurrency, maxWaitMs } = options;
  if (!Number.isInteger(concurrency) || concurrency < 1) throw new RangeError('concurrency must be an integer ≥ 1');
  const queue = new PQueue({ concurrency });
  const waiting = new Set<AbortController>();
  let disposed = false;

  const run = <T>(task: () => Promise<T>): Promise<T> => {
    if (disposed) return Promise.reject(disposedError('upload limiter', 'the upload'));
    const wait = new AbortController();
    const timer = setTimeout(() => wait.abort(queueFullError(maxWaitMs, concurrency)), maxWaitMs);
    waiting.add(wait);
    const stopWaiting = () => {
      clearTimeout(timer);
      waiting.delete(wait);
    };
    // p-queue starts a waiting task from whichever task freed the slot: bound, it runs in its own caller's async
    // context (request id on log lines, the active trace span).
    const bound = AsyncResource.bind(task);
    // Once started, the signal is never aborted (timer cleared, out of `waiting`): p-queue would otherwise reject
    // a running upload's promise while the upload itself goes on.
    return queue
      .add(
        () => {
          stopWaiting();
          return bound();
        },
        { signal: wait.signal },
      )
      .finally(stopWaiting);
  };

  return {
    run,
    get active() {
      return queue.pending;
    },
    get pending() {
      return queue.size;
    },
    dispose() {
      if (disposed) return;
      disposed = true;
      for (const wait of [...waiting]) wait.abort(disposedError('upload limiter', 'the upload'));
    },
  };
}

function queueFullError(maxWaitMs: number, concurrency: number): UpstreamError {
  return new UpstreamError(
    'RATE_LIMITED',
    `upload queue is full: no upload slot (of ${concurrency}) became free within ${maxWaitMs} ms`,
    { retryAfterSeconds: Math.max(1, Math.ceil(maxWaitMs / 1000)) },
  );
}
