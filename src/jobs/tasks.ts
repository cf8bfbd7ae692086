/**
 * Task lifecycle: submit (with dedupe), register, apply callbacks, time out. Only this module publishes task
 * events, and it always writes the registry first and publishes after.
 */
import type { UpstreamClient } from '../upstream/client.js';
import type { AssetResource, ExtractFramesCallback } from '../upstream/types.js';
import type { Logger } from '../logger.js';
import type { PubSub } from '../pubsub/index.js';
import { linkActiveSpanTo, tracePublish } from '../observability/spans.js';
import type { OwnershipStore } from './ownership.js';
import { createRegistrar, recordOwnership } from './registration.js';
import { TERMINAL_STATUSES, type TaskOutcome, type TaskRecord, type TaskStatus, type TaskStore } from './store.js';
import { createSubmitter, type SubmitOptions, type SubmitResult } from './submission.js';

// Where callers have always found them.
export { ExtractionRejectedError, IdempotencyKeyInUseError, scopedToTenant, type SubmitOptions, type SubmitResult } from './submission.js';

export interface TaskServiceDeps {
  store: TaskStore;
  /** Records each task, and the collection it produced, as its tenant's; none in lifecycle-only unit tests. */
  ownership?: OwnershipStore;
  pubsub: PubSub;
  client: UpstreamClient;
  /** Current metadata of a `re_` asset (through the shared metadata cache); throws UpstreamError NOT_FOUND. */
  lookupAsset: (assetId: string) => Promise<AssetResource>;
  logger: Logger;
  now?: () => number;
  timeoutSeconds: number;
  reuseSeconds: number;
  parkTtlSeconds: number;
  /** Initial TTL of the cross-instance submission claim on an asset; its holder renews it while it submits. */
  claimTtlMs: number;
  /** How long a submit waits for another instance's claim on the asset before failing with RATE_LIMITED. */
  maxWaitMs: number;
  /**
   * Durably keeps a billed task the registry could not take (Redis went away after the extract reply); its replay
   * calls {@link TaskService.register}. Without one, that failure reaches the caller.
   */
  spoolRegistration?: (task: TaskRecord) => Promise<void>;
  /** Metrics: a state this instance moved a task into (PENDING at submit, then the terminal one it applied). */
  onTransition?: (status: TaskStatus) => void;
}

/** How a callback is applied. */
export interface ApplyCallbackOptions {
  /** When the webhook arrived (epoch ms; default now): a spooled callback replayed later completes at its arrival. */
  receivedAt?: number;
  /**
   * A spool replay: a duplicate is announced too. Its first attempt may have been applied by a command that timed
   * out here and ran once Redis answered again, and nobody published that (a repeated event costs subscribers nothing).
   */
  replayed?: boolean;
}

export interface TaskService {
  submit(assetId: string, options?: SubmitOptions): Promise<SubmitResult>;
  /** Registry read; a PENDING task past its deadline is timed out on the spot. */
  get(id: string): Promise<TaskRecord | null>;
  listByAsset(assetId: string): Promise<TaskRecord[]>;
  /**
   * Registers a task whose extract call was made (a spooled registration being replayed); idempotent: an id already
   * registered keeps its stored state. Resolves with the registered record (terminal when a parked callback waited).
   */
  register(task: TaskRecord): Promise<TaskRecord>;
  /** Applies a webhook callback: 'applied', 'duplicate' (no event), or 'parked' (unknown id, kept for a while). */
  applyCallback(callback: ExtractFramesCallback, options?: ApplyCallbackOptions): Promise<'applied' | 'duplicate' | 'parked'>;
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
  const { store, pubsub, logger } = deps;
  const now = deps.now ?? Date.now;
  let sweeper: ReturnType<typeof setInterval> | undefined;

  const publish = (task: TaskRecord) =>
    tracePublish('task:updated', { 'frames.task.id': task.id, 'frames.task.status': task.status }, () =>
      pubsub.publish('task:updated', task.id, task),
    );

  const registrar = createRegistrar({
    store,
    logger,
    now,
    publish,
    ownership: deps.ownership,
    onTransition: deps.onTransition,
    spoolRegistration: deps.spoolRegistration,
  });

  /** `replayed`: a spool replay, whose first attempt may have stopped between the transition and the ownership. */
  const finish = async (id: string, outcome: TaskOutcome, replayed = false) => {
    const result = await store.complete(id, outcome);
    linkActiveSpanTo(result.task?.traceparent);
    // Before publishing: a subscriber that sees SUCCEEDED can open the collection at once. Only a replayed duplicate
    // records the collection again: an upstream redelivery must not resurrect a collection deleted since.
    if (result.task && result.changed) await recordOwnership(deps.ownership, result.task, logger);
    else if (result.task && replayed) await recordOwnership(deps.ownership, result.task, logger, 'collection');
    if (result.changed && result.task) {
      deps.onTransition?.(result.task.status);
      publish(result.task);
    }
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

  const submit = createSubmitter({ ...deps, now, registrar });

  return {
    submit,

    async get(id) {
      const task = await store.get(id);
      if (task && task.status === 'PENDING' && task.deadlineAt <= now()) {
        return (await timeOut(id)).task ?? task;
      }
      return task;
    },

    listByAsset: (assetId) => store.listByAsset(assetId),

    register: registrar.register,

    async applyCallback(cb, options = {}) {
      const completedAt = options.receivedAt ?? now();
      const outcome: TaskOutcome = cb.succeeded
        ? { status: 'SUCCEEDED', collectionId: cb.collectionId, frameIds: cb.frameIds, error: null, completedAt }
        : {
            status: 'FAILED',
            collectionId: null,
            frameIds: [],
            error: cb.message ?? 'The upstream reported a failure without a message',
            completedAt,
          };
      const result = await finish(cb.taskId, outcome, options.replayed);
      if (result.changed) return 'applied';
      if (result.task) {
        if (options.replayed && isTerminal(result.task)) publish(result.task);
        return 'duplicate';
      }
      // Unknown id: another endpoint's task on the shared account webhook, or ours whose extract reply is still
      // in flight. Keep it; `insert` applies it if the id gets registered in time.
      const parked = await store.park({ taskId: cb.taskId, outcome, expiresAt: now() + deps.parkTtlSeconds * 1000 });
      if (!parked) {
        // Lost a race with insert: the task was registered between complete() and park().
        const retry = await finish(cb.taskId, outcome, options.replayed);
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
