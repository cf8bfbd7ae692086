/**
 * One extract call per asset across every instance: the caller that wins the asset's submission claim submits
 * (and renews the claim while its call is in flight); everyone else waits for the task the holder registers.
 * Pub/sub events only wake waiters early: a waiter also re-reads the registry and retries the claim every
 * `retryMs`, so a lost event or a holder that died costs time, never a second bill.
 */
import { randomUUID } from 'node:crypto';
import type { Logger } from '../logger.js';
import type { PubSub } from '../pubsub/index.js';
import { UpstreamError } from '../upstream/errors.js';
import type { TaskRecord, TaskStore } from './store.js';

export interface ClaimedSubmission {
  task: TaskRecord;
  /** True when an existing task was returned and no upstream extract call was made. */
  reused: boolean;
}

/** What runs under the claim. */
export interface ClaimedWork {
  /** A task that makes a new extraction unnecessary (pending, or a recent success), if any. */
  findReusable(): Promise<TaskRecord | undefined>;
  /** The billed extract call and its registration; only ever called while this caller holds the claim. */
  submit(): Promise<ClaimedSubmission>;
}

export interface SubmissionClaimDeps {
  store: TaskStore;
  pubsub: PubSub;
  logger: Logger;
  now: () => number;
  /** Initial TTL of a claim; the holder renews it every third of it while its work runs. */
  ttlMs: number;
  /** How long a caller waits for another holder before failing with `UpstreamError('RATE_LIMITED')`. */
  maxWaitMs: number;
}

/**
 * `run(assetId, work)`: runs `work.submit` under the asset's claim, or answers with the holder's task. The task
 * service passes the asset id scoped to the tenant (`scopedToTenant`): claims, and the holder's task a waiter is
 * answered with, are per tenant, so one tenant never waits for (or is handed) another's extraction.
 */
export type SubmitUnderClaim = (assetId: string, work: ClaimedWork) => Promise<ClaimedSubmission>;

/** Creates the claim runner. Timers are the global ones, so tests drive them with fake timers. */
export function createSubmissionClaims(deps: SubmissionClaimDeps): SubmitUnderClaim {
  const { store, logger } = deps;
  const renewMs = deps.ttlMs / 3;
  const retryMs = Math.min(1_000, deps.ttlMs / 3);

  /** Extends the claim every `renewMs` until the returned stop function is called. */
  const keepRenewed = (assetId: string, token: string): (() => void) => {
    let stopped = false;
    let renewing = false;
    const timer = setInterval(() => {
      if (renewing) return; // a slow Redis: never stack renewals
      renewing = true;
      store
        .renewSubmission(assetId, token, deps.ttlMs, deps.now())
        .then(
          (held) => {
            if (held) logger.debug('extract claim renewed', { assetId });
            else if (!stopped) {
              clearInterval(timer);
              logger.warn('extract claim lost while the extract call was in flight (another instance may bill too)', { assetId });
            }
          },
          (error: unknown) => logger.warn('extract claim renewal failed', { assetId, error }),
        )
        .finally(() => (renewing = false));
    }, renewMs);
    timer.unref?.();
    return () => {
      stopped = true;
      clearInterval(timer);
    };
  };

  const runHolding = async (assetId: string, token: string, work: ClaimedWork): Promise<ClaimedSubmission> => {
    const stopRenewal = keepRenewed(assetId, token);
    let taskId: string | null = null;
    try {
      // Re-check under the claim: the previous holder may have registered its task after our last read.
      const reusable = await work.findReusable();
      const result = reusable ? { task: reusable, reused: true } : await work.submit();
      taskId = result.task.id;
      return result;
    } finally {
      stopRenewal();
      // Release first, then announce: a waiter woken by a failure (taskId null) can claim at once.
      await store
        .releaseSubmission(assetId, token)
        .catch((error: unknown) => logger.warn('could not release the extract claim (it expires on its own)', { assetId, error }));
      deps.pubsub.publish('asset:submitted', assetId, { taskId });
    }
  };

  const waitForHolder = async (assetId: string, token: string, work: ClaimedWork): Promise<ClaimedSubmission> => {
    // Listen first, then read: a task registered in between is seen by the read or announced to the listener.
    const updates = deps.pubsub.subscribe('asset:submitted', assetId);
    const deadline = startTimer(deps.maxWaitMs);
    let event = updates.next();
    logger.info('waiting for another instance submitting the same asset', { assetId });
    try {
      for (;;) {
        const reusable = await work.findReusable();
        if (reusable) return { task: reusable, reused: true };
        if (deadline.fired) {
          throw new UpstreamError('RATE_LIMITED', `Another submission of ${assetId} is still in flight`, {
            retryAfterSeconds: Math.max(1, Math.ceil(retryMs / 1000)),
          });
        }
        const tick = startTimer(retryMs);
        const woke = await Promise.race([event, tick.promise, deadline.promise]);
        tick.clear();
        if (woke !== undefined) {
          // A finished subscription (pub/sub disposed) must not spin: from now on only the timers wake us.
          event = woke.done ? new Promise<never>(() => {}) : updates.next();
          const task = !woke.done && woke.value.taskId ? await store.get(woke.value.taskId) : null;
          if (task) return { task, reused: true };
        }
        if (await store.claimSubmission(assetId, token, deps.ttlMs, deps.now())) return await runHolding(assetId, token, work);
      }
    } finally {
      deadline.clear();
      await updates.return();
    }
  };

  return async (assetId, work) => {
    const token = randomUUID();
    if (await store.claimSubmission(assetId, token, deps.ttlMs, deps.now())) return runHolding(assetId, token, work);
    return waitForHolder(assetId, token, work);
  };
}

function startTimer(ms: number): { promise: Promise<undefined>; readonly fired: boolean; clear(): void } {
  let handle: ReturnType<typeof setTimeout> | undefined;
  let fired = false;
  const promise = new Promise<undefined>((resolve) => {
    handle = setTimeout(() => {
      fired = true;
      resolve(undefined);
    }, ms);
  });
  return {
    promise,
    get fired() {
      return fired;
    },
    clear: () => clearTimeout(handle),
  };
}
