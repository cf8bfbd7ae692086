/**
 * The per-account call scheduler (starts spaced at the account rate, tenants served round-robin) and the backoff
 * helper used for retries. Timers are `globalThis.setTimeout`/`clearTimeout` and the default clock is
 * `performance.now`, so vitest's fake timers drive both.
 */
import { AsyncResource } from 'node:async_hooks';
import { markQueued } from '../observability/spans.js';
import { currentTenant } from '../tenancy.js';
import { UpstreamError, disposedError } from './errors.js';

export interface ScheduleOptions {
  /** Fail fast with UpstreamError('RATE_LIMITED', { retryAfterSeconds }) when the expected wait exceeds this. */
  maxWaitMs?: number;
  signal?: AbortSignal;
}

/** One per upstream account: every call of every endpoint goes through it, so the account rate is never exceeded. */
export interface Scheduler {
  schedule<T>(task: () => Promise<T>, options?: ScheduleOptions): Promise<T>;
  /** Calls started so far (for metrics and tests). */
  readonly started: number;
  /** Calls waiting in the queue (every lane). */
  readonly pending: number;
  dispose(): void;
}

export interface SchedulerOptions {
  /** Starts per second (the upstream allows 1 per account). Must be > 0. */
  rps: number;
  /** Default for {@link ScheduleOptions.maxWaitMs}; no limit when absent. */
  maxWaitMs?: number;
  /**
   * Calls one tenant may have waiting (TENANT_MAX_QUEUED); one more is refused at once with RATE_LIMITED. No cap
   * when absent. The system lane (calls made outside any tenant) is not capped: only `maxWaitMs` bounds it.
   */
  maxQueuedPerTenant?: number;
  /** Monotonic clock in ms. Default `performance.now()`. */
  now?: () => number;
  /**
   * Extra spacing added to every interval, in ms (default 0). The upstream counts arrivals, not our starts: with
   * starts exactly 1000 ms apart, network jitter lets two requests arrive 999 ms apart and the second gets a 429.
   */
  marginMs?: number;
}

/**
 * The lane of calls made outside any tenant (`currentTenant()` undefined: media misses, start-up, background work).
 * A symbol, so no tenant name (a JWT claim) can land in it; it takes its round-robin turn like any tenant.
 */
export const SYSTEM_LANE: unique symbol = Symbol('system');
type LaneKey = string | typeof SYSTEM_LANE;

interface Entry {
  lane: LaneKey;
  start(): void;
  fail(reason: unknown): void;
}

/**
 * Creates the scheduler. Consecutive starts are at least `1000 / rps` (+ `marginMs`) ms apart, so no 1000 ms window
 * holds more than `rps` starts.
 *
 * Calls queue per tenant (`currentTenant()` when `schedule` is called; the {@link SYSTEM_LANE} outside any tenant),
 * FIFO within a lane, and each free slot goes to the next lane in a round-robin ring: a tenant that queued 200 calls
 * delays another tenant's first call by at most one slot per other busy lane, not by its 200 calls.
 *
 * The expected wait checked against `maxWaitMs` is, for a call that would be the k-th waiting in its lane, `time to
 * the next free slot + (k + Σ over other lanes of min(their length, k + 1)) × interval`: an upper bound of the slots
 * served before it (a lane later in the ring serves only k of them).
 *
 * Only the START of a task is spaced; how long it runs is not limited (the upstream limits request rate, not
 * concurrency). A queued task is removed when its signal aborts (rejecting with `signal.reason`).
 */
export function createScheduler(options: SchedulerOptions): Scheduler {
  if (!(options.rps > 0) || !Number.isFinite(options.rps)) throw new RangeError('rps must be a positive number');
  const now = options.now ?? (() => performance.now());
  const interval = 1000 / options.rps + (options.marginMs ?? 0);
  const maxQueued = options.maxQueuedPerTenant;
  // Only non-empty lanes, in ring order: a Map iterates in insertion order, so the served lane is moved to the end.
  const lanes = new Map<LaneKey, Entry[]>();
  let pending = 0;
  // The earliest time the next start is allowed.
  let nextStartAt = Number.NEGATIVE_INFINITY;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let started = 0;
  let disposed = false;

  /** Expected ms until a call enqueued now in `lane` starts (see the bound in the doc above). */
  const expectedWait = (lane: LaneKey): number => {
    const t = now();
    const ahead = lanes.get(lane)?.length ?? 0;
    let slots = ahead;
    for (const [key, entries] of lanes) if (key !== lane) slots += Math.min(entries.length, ahead + 1);
    return Math.max(0, Math.max(nextStartAt, t) + slots * interval - t);
  };

  /** The head of the next lane in the ring; the lane moves to the ring's end (or leaves it when emptied). */
  const takeNext = (): Entry => {
    const [key, entries] = lanes.entries().next().value as [LaneKey, Entry[]];
    const entry = entries.shift() as Entry;
    lanes.delete(key);
    if (entries.length > 0) lanes.set(key, entries);
    pending--;
    return entry;
  };

  const remove = (entry: Entry): void => {
    const entries = lanes.get(entry.lane);
    const index = entries?.indexOf(entry) ?? -1;
    if (!entries || index < 0) return;
    entries.splice(index, 1);
    pending--;
    if (entries.length === 0) lanes.delete(entry.lane);
  };

  const pump = (): void => {
    if (timer !== undefined) clearTimeout(timer);
    timer = undefined;
    for (;;) {
      if (pending === 0) return;
      const t = now();
      if (t < nextStartAt) {
        // ceil: never wake up before the slot (a fractional interval would otherwise spin on 0 ms timers).
        timer = setTimeout(pump, Math.max(1, Math.ceil(nextStartAt - t)));
        return;
      }
      nextStartAt = Math.max(nextStartAt, t) + interval;
      takeNext().start();
    }
  };

  /** Why a call for `lane` may not queue (the tenant's cap, or the expected wait), or undefined. */
  const refusal = (lane: LaneKey, maxWaitMs: number | undefined): UpstreamError | undefined => {
    const queued = lanes.get(lane)?.length ?? 0;
    if (lane !== SYSTEM_LANE && maxQueued !== undefined && queued >= maxQueued) {
      return new UpstreamError('RATE_LIMITED', `this tenant already has ${queued} upstream calls queued (TENANT_MAX_QUEUED)`, {
        retryAfterSeconds: Math.max(1, Math.ceil(expectedWait(lane) / 1000)),
      });
    }
    if (maxWaitMs === undefined) return undefined;
    const wait = expectedWait(lane);
    if (wait <= maxWaitMs) return undefined;
    return new UpstreamError('RATE_LIMITED', `upstream call queue is full: expected wait ${Math.ceil(wait)} ms exceeds ${maxWaitMs} ms`, {
      retryAfterSeconds: Math.max(1, Math.ceil(wait / 1000)),
    });
  };

  const schedule = <T>(task: () => Promise<T>, callOptions: ScheduleOptions = {}): Promise<T> => {
    const { signal } = callOptions;
    if (disposed) return Promise.reject(disposedError('upstream scheduler', 'the call'));
    if (signal?.aborted) return Promise.reject(signal.reason);
    const lane: LaneKey = currentTenant() ?? SYSTEM_LANE;
    const refused = refusal(lane, callOptions.maxWaitMs ?? options.maxWaitMs);
    if (refused) return Promise.reject(refused);
    // Started by whichever caller's timer fires: bound here so the task runs in ITS caller's async context (request
    // id on log lines, the active trace span), not in the context of the call that happened to arm the timer.
    // markQueued: the CLIENT span of the call records its wait for the slot (frames.upstream.queue_wait_ms).
    const run = AsyncResource.bind(markQueued(task));
    return new Promise<T>((resolve, reject) => {
      const onAbort = (): void => {
        remove(entry);
        reject(signal?.reason);
        pump();
      };
      const entry: Entry = {
        lane,
        start() {
          signal?.removeEventListener('abort', onAbort);
          started++;
          let result: Promise<T>;
          try {
            result = Promise.resolve(run());
          } catch (error) {
            result = Promise.reject(error);
          }
          result.then(resolve, reject);
        },
        fail(reason) {
          signal?.removeEventListener('abort', onAbort);
          reject(reason);
        },
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      const entries = lanes.get(lane);
      if (entries) entries.push(entry);
      else lanes.set(lane, [entry]);
      pending++;
      pump();
    });
  };

  return {
    schedule,
    get started() {
      return started;
    },
    get pending() {
      return pending;
    },
    dispose() {
      if (disposed) return;
      disposed = true;
      if (timer !== undefined) clearTimeout(timer);
      timer = undefined;
      const waiting = [...lanes.values()].flat();
      lanes.clear();
      pending = 0;
      for (const entry of waiting) entry.fail(disposedError('upstream scheduler', 'the call'));
    },
  };
}

export interface BackoffOptions {
  /** First retry delay ceiling in ms (doubles per retry). Default 1000. */
  baseMs?: number;
  /** Upper bound of any delay in ms. Default 30000. */
  capMs?: number;
  /** Full jitter (a uniform delay in [0, ceiling)). Default true; false uses the ceiling itself. */
  jitter?: boolean;
  /** Source of randomness in [0, 1). Default `Math.random`. */
  random?: () => number;
}

export interface RetryOptions extends BackoffOptions {
  /** Total attempts including the first (≥ 1). */
  attempts: number;
  /** Whether the error of attempt `attempt` (1-based) may be retried. */
  isRetryable: (error: unknown, attempt: number) => boolean;
  /** Waits `ms`; rejects with `signal.reason` when aborted. Default: a `setTimeout` sleep. */
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  /** Stops waiting (and retrying) when aborted. */
  signal?: AbortSignal;
  /** Observes each retry before its delay (logging, metrics). */
  onRetry?: (info: { attempt: number; delayMs: number; error: unknown }) => void;
}

/**
 * Delay before the retry that follows failed attempt `attempt` (1-based): exponential `baseMs × 2^(attempt-1)`
 * capped at `capMs`, with full jitter. A `retryAfterSeconds` hint (from the upstream) raises it, up to `capMs`.
 */
export function backoffDelay(attempt: number, options: BackoffOptions = {}, retryAfterSeconds?: number): number {
  const baseMs = options.baseMs ?? 1000;
  const capMs = options.capMs ?? 30_000;
  const ceiling = Math.min(capMs, baseMs * 2 ** Math.max(0, attempt - 1));
  const delay = options.jitter === false ? ceiling : Math.floor((options.random ?? Math.random)() * ceiling);
  const hinted = retryAfterSeconds === undefined ? 0 : Math.min(capMs, retryAfterSeconds * 1000);
  return Math.max(delay, hinted);
}

/**
 * Runs `fn` up to `attempts` times with exponential backoff and full jitter between attempts. `fn` should itself go
 * through the scheduler, so every retry also waits for a rate slot. Errors that `isRetryable` rejects, and the
 * error of the last attempt, are rethrown unchanged.
 */
export async function retryWithBackoff<T>(fn: (attempt: number) => Promise<T>, options: RetryOptions): Promise<T> {
  const attempts = Math.max(1, Math.floor(options.attempts));
  const sleep = options.sleep ?? defaultSleep;
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn(attempt);
    } catch (error) {
      if (attempt >= attempts || options.signal?.aborted || !options.isRetryable(error, attempt)) throw error;
      const hint = error instanceof UpstreamError ? error.retryAfterSeconds : undefined;
      const delayMs = backoffDelay(attempt, options, hint);
      options.onRetry?.({ attempt, delayMs, error });
      await sleep(delayMs, options.signal);
    }
  }
}

function defaultSleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason);
      return;
    }
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
