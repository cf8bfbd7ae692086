/**
 * Task lifecycle: submit (with dedupe), register, apply callbacks, time out. Only this module publishes task
 * events, and it always writes the registry first and publishes after.
 */
import type { UpstreamClient } from '../upstream/client.js';
import type { AssetResource, ExtractFramesCallback } from '../upstream/types.js';
import type { Logger } from '../logger.js';
import type { PubSub, Subscription } from '../pubsub/index.js';
import { TERMINAL_STATUSES, type TaskOutcome, type TaskRecord, type TaskStore } from './store.js';

const VIDEO_EXTENSIONS = new Set(['mp4', 'mov', 'avi', 'webm', 'mkv', 'flv', 'wmv', 'mpeg', 'mpg', 'm4v', '3gp', 'ts']);

/** An extract request the gateway refuses locally, before any billed upstream call. */
export class ExtractionRejectedError extends Error {
  override readonly name = 'ExtractionRejectedError';
  constructor(
    readonly reason: 'NOT_READY' | 'NOT_A_VIDEO',
    message: string,
    readonly asset: AssetResource,
  ) {
    super(message);
  }
}

export interface SubmitOptions {
  /** Re-extract even when a pending or recent task exists (billed again). */
  force?: boolean;
  /** The same key always returns the same task. */
  idempotencyKey?: string | null;
}

export interface SubmitResult {
  task: TaskRecord;
  /** True when an existing task was returned and no upstream extract call was made. */
  reused: boolean;
}

export interface TaskServiceDeps {
  store: TaskStore;
  pubsub: PubSub;
  client: UpstreamClient;
  /** Current metadata of a `re_` asset (through the shared metadata cache); throws UpstreamError NOT_FOUND. */
  lookupAsset: (assetId: string) => Promise<AssetResource>;
  logger: Logger;
  now?: () => number;
  timeoutSeconds: number;
  reuseSeconds: number;
  parkTtlSeconds: number;
  /** How long a cross-instance submission claim lasts (default 60 s; covers one extract call and its retries). */
  claimTtlMs?: number;
}

export interface TaskService {
  submit(assetId: string, options?: SubmitOptions): Promise<SubmitResult>;
  /** Registry read; a PENDING task past its deadline is timed out on the spot. */
  get(id: string): Promise<TaskRecord | null>;
  listByAsset(assetId: string): Promise<TaskRecord[]>;
  /** Applies a webhook callback: 'applied', 'duplicate' (no event), or 'parked' (unknown id, kept for a while). */
  applyCallback(callback: ExtractFramesCallback): Promise<'applied' | 'duplicate' | 'parked'>;
  /** Times out every overdue PENDING task; returns how many. */
  sweep(): Promise<number>;
  /** Runs `sweep` every `intervalMs` until `stop()`. */
  startSweeper(intervalMs: number): void;
  stop(): void;
}

export function isTerminal(task: TaskRecord): boolean {
  return TERMINAL_STATUSES.has(task.status);
}

export function createTaskService(deps: TaskServiceDeps): TaskService {
  const { store, pubsub, client, logger } = deps;
  const now = deps.now ?? Date.now;
  const inFlight = new Map<string, Promise<SubmitResult>>();
  let sweeper: ReturnType<typeof setInterval> | undefined;

  const publish = (task: TaskRecord) => pubsub.publish('task:updated', task.id, task);

  const finish = async (id: string, outcome: TaskOutcome) => {
    const result = await store.complete(id, outcome);
    if (result.changed && result.task) publish(result.task);
    return result;
  };

  const timeOut = (id: string) =>
    finish(id, {
      status: 'TIMED_OUT',
      collectionId: null,
      frameIds: [],
      error: `No result from the upstream within ${deps.timeoutSeconds} s (callbacks cannot be re-fetched; submit again with force: true)`,
      completedAt: now(),
    });

  const findReusable = async (assetId: string): Promise<TaskRecord | undefined> => {
    const tasks = await store.listByAsset(assetId);
    const since = now() - deps.reuseSeconds * 1000;
    return tasks.find(
      (t) =>
        (t.status === 'PENDING' && t.deadlineAt > now()) ||
        (t.status === 'SUCCEEDED' && deps.reuseSeconds > 0 && (t.completedAt ?? 0) > since),
    );
  };

  const startNew = async (assetId: string, idempotencyKey: string | null): Promise<SubmitResult> => {
    const asset = await deps.lookupAsset(assetId);
    if (asset.uploadStatus !== 'SUCCESS') {
      throw new ExtractionRejectedError(
        'NOT_READY',
        `Asset ${assetId} is not ready (upload status ${asset.uploadStatus ?? 'unknown'}); only SUCCESS assets can be extracted`,
        asset,
      );
    }
    const ext = asset.extension?.toLowerCase().replace(/^\./, '') ?? '';
    if (!VIDEO_EXTENSIONS.has(ext)) {
      throw new ExtractionRejectedError('NOT_A_VIDEO', `Asset ${assetId} is not a video (extension "${ext || 'none'}")`, asset);
    }
    const { taskId } = await client.extractFrames(assetId, { priority: 'interactive' });
    const submittedAt = now();
    const { task, appliedParked } = await store.insert(
      {
        id: taskId,
        assetId,
        status: 'PENDING',
        collectionId: null,
        frameIds: [],
        error: null,
        submittedAt,
        completedAt: null,
        deadlineAt: submittedAt + deps.timeoutSeconds * 1000,
        idempotencyKey,
      },
      submittedAt,
    );
    if (appliedParked) {
      logger.info('applied a callback that arrived before the extract reply', { taskId });
      publish(task);
    }
    logger.info('extract submitted', { taskId, assetId });
    return { task, reused: false };
  };

  /** The next `asset:submitted` result, or undefined after `ms` (the other submission may have died). */
  const nextSubmitted = async (updates: Subscription<{ taskId: string | null }>, ms: number) => {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<undefined>((resolve) => {
      timer = setTimeout(() => resolve(undefined), ms);
    });
    const result = await Promise.race([updates.next().then((r) => (r.done ? undefined : r.value)), timeout]);
    clearTimeout(timer);
    return result;
  };

  /**
   * `startNew` under a cross-instance claim on the asset: when another instance is submitting the same asset right
   * now, wait for its task instead of paying for a second extraction.
   */
  const startClaimed = async (assetId: string, idempotencyKey: string | null): Promise<SubmitResult> => {
    const claimTtlMs = deps.claimTtlMs ?? 60_000;
    for (let attempt = 0; attempt < 2; attempt++) {
      if (await store.claimSubmission(assetId, claimTtlMs, now())) {
        try {
          const result = await startNew(assetId, idempotencyKey);
          pubsub.publish('asset:submitted', assetId, { taskId: result.task.id });
          return result;
        } catch (error) {
          pubsub.publish('asset:submitted', assetId, { taskId: null });
          throw error;
        } finally {
          await store.releaseSubmission(assetId);
        }
      }
      // Listen first, then re-read: the other submission may have registered its task already.
      const updates = pubsub.subscribe('asset:submitted', assetId);
      try {
        const reusable = await findReusable(assetId);
        if (reusable) return { task: reusable, reused: true };
        logger.info('waiting for another instance submitting the same asset', { assetId });
        const submitted = await nextSubmitted(updates, claimTtlMs);
        const task = submitted?.taskId ? await store.get(submitted.taskId) : null;
        if (task) return { task, reused: true };
      } finally {
        await updates.return();
      }
    }
    // The other submission failed or vanished twice: submit ourselves rather than fail the caller.
    return startNew(assetId, idempotencyKey);
  };

  return {
    async submit(assetId, options = {}) {
      const key = options.idempotencyKey ?? null;
      const force = options.force ?? false;
      // A key keeps answering the task it first got, whatever else happened since (force included).
      const bindKey = async (result: SubmitResult): Promise<SubmitResult> => {
        if (!key) return result;
        const bound = await store.bindIdempotencyKey(key, result.task.id);
        return bound && bound.id !== result.task.id ? { task: bound, reused: true } : result;
      };
      const join = (pending: Promise<SubmitResult>) => pending.then((r) => bindKey({ task: r.task, reused: true }));

      if (key) {
        const existing = await store.findByIdempotencyKey(key);
        if (existing) return { task: existing, reused: true };
        const pending = inFlight.get(`key:${key}`);
        if (pending) return join(pending);
      }
      if (!force) {
        const reusable = await findReusable(assetId);
        if (reusable) return bindKey({ task: reusable, reused: true });
        // Concurrent submits for one asset (keyed or not) share a single upstream call.
        const pending = inFlight.get(`asset:${assetId}`);
        if (pending) return join(pending);
      }
      const promise = force ? startNew(assetId, key) : startClaimed(assetId, key).then((r) => (r.reused ? bindKey(r) : r));
      const flights = [key ? `key:${key}` : null, force ? null : `asset:${assetId}`].filter((f): f is string => f !== null);
      for (const flight of flights) inFlight.set(flight, promise);
      const clear = () => {
        for (const flight of flights) if (inFlight.get(flight) === promise) inFlight.delete(flight);
      };
      promise.then(clear, clear);
      return promise;
    },

    async get(id) {
      const task = await store.get(id);
      if (task && task.status === 'PENDING' && task.deadlineAt <= now()) {
        return (await timeOut(id)).task ?? task;
      }
      return task;
    },

    listByAsset: (assetId) => store.listByAsset(assetId),

    async applyCallback(cb) {
      const outcome: TaskOutcome = cb.succeeded
        ? { status: 'SUCCEEDED', collectionId: cb.collectionId, frameIds: cb.frameIds, error: null, completedAt: now() }
        : {
            status: 'FAILED',
            collectionId: null,
            frameIds: [],
            error: cb.message ?? 'The upstream reported a failure without a message',
            completedAt: now(),
          };
      const result = await finish(cb.taskId, outcome);
      if (result.changed) return 'applied';
      if (result.task) return 'duplicate';
      // Unknown id: another endpoint's task on the shared account webhook, or ours whose extract reply is still
      // in flight. Keep it; `insert` applies it if the id gets registered in time.
      const parked = await store.park({ taskId: cb.taskId, outcome, expiresAt: now() + deps.parkTtlSeconds * 1000 });
      if (!parked) {
        // Lost a race with insert: the task was registered between complete() and park().
        const retry = await finish(cb.taskId, outcome);
        if (retry.changed) return 'applied';
        return retry.task ? 'duplicate' : 'parked';
      }
      return 'parked';
    },

    async sweep() {
      const ids = await store.overdue(now());
      let count = 0;
      for (const id of ids) if ((await timeOut(id)).changed) count++;
      if (count > 0) logger.warn('tasks timed out', { count });
      return count;
    },

    startSweeper(intervalMs) {
      sweeper ??= setInterval(() => {
        this.sweep().catch((error: unknown) => logger.error('timeout sweep failed', { error }));
      }, intervalMs);
      sweeper.unref();
    },

    stop() {
      if (sweeper) clearInterval(sweeper);
      sweeper = undefined;
    },
  };
}
