/**
 * Task lifecycle: submit (with dedupe), register, apply callbacks, time out. Only this module publishes task
 * events, and it always writes the registry first and publishes after.
 */
import type { UpstreamClient } from '../upstream/client.js';
import type { AssetResource, ExtractFramesCallback } from '../upstream/types.js';
import type { Logger } from '../logger.js';
import type { PubSub } from '../pubsub/index.js';
import { activeTraceparent, linkActiveSpanTo, tracePublish } from '../observability/spans.js';
import { LOCAL_TENANT } from '../tenancy.js';
import { createSubmissionClaims } from './claim.js';
import type { OwnershipStore } from './ownership.js';
import { createRegistrar, recordOwnership } from './registration.js';
import { TERMINAL_STATUSES, taskTenant, type TaskOutcome, type TaskRecord, type TaskStatus, type TaskStore } from './store.js';

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

/** An idempotency key reused for another asset: it stays bound to its first task, and nothing is submitted. */
export class IdempotencyKeyInUseError extends Error {
  override readonly name = 'IdempotencyKeyInUseError';
  constructor(
    readonly key: string,
    /** The task the key is bound to. */
    readonly task: TaskRecord,
    readonly requestedAssetId: string,
  ) {
    super(`Idempotency key "${key}" belongs to task ${task.id} for asset ${task.assetId}; use a new key to extract ${requestedAssetId}`);
  }
}

export interface SubmitOptions {
  /** Re-extract even when a pending or recent task exists (billed again). */
  force?: boolean;
  /**
   * The same key always returns the same task; with another asset it is an {@link IdempotencyKeyInUseError}. Keys
   * are the tenant's own (printable ASCII without spaces, as the schema checks), as are reuse and dedupe.
   */
  idempotencyKey?: string | null;
  /** Who submits: reuse, dedupe and keys only ever answer with this tenant's tasks. Default the local tenant. */
  tenant?: string;
}

export interface SubmitResult {
  task: TaskRecord;
  /** True when an existing task was returned and no upstream extract call was made. */
  reused: boolean;
}

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

function traceContextField(): Pick<TaskRecord, 'traceparent'> {
  const traceparent = activeTraceparent();
  return traceparent ? { traceparent } : {};
}

export function isTerminal(task: TaskRecord): boolean {
  return TERMINAL_STATUSES.has(task.status);
}

/**
 * A key (or asset id) in the tenant's namespace: bare for the local tenant (so keys bound before tenants existed keep
 * answering), else `<tenant> <value>`. Unambiguous because values never contain a space: the last one separates.
 */
export function scopedToTenant(tenant: string, value: string): string {
  return tenant === LOCAL_TENANT ? value : `${tenant} ${value}`;
}

export function createTaskService(deps: TaskServiceDeps): TaskService {
  const { store, pubsub, client, logger } = deps;
  const now = deps.now ?? Date.now;
  const inFlight = new Map<string, { assetId: string; promise: Promise<SubmitResult> }>();
  const submitUnderClaim = createSubmissionClaims({ store, pubsub, logger, now, ttlMs: deps.claimTtlMs, maxWaitMs: deps.maxWaitMs });
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

  const findReusable = async (assetId: string, tenant: string): Promise<TaskRecord | undefined> => {
    const tasks = await store.listByAsset(assetId);
    const since = now() - deps.reuseSeconds * 1000;
    const found = tasks.find(
      (t) =>
        taskTenant(t) === tenant &&
        ((t.status === 'PENDING' && t.deadlineAt > now()) ||
          (t.status === 'SUCCEEDED' && deps.reuseSeconds > 0 && (t.completedAt ?? 0) > since)),
    );
    // deleteFrameCollection forgets the collection: a task whose frames were deleted has nothing left to reuse.
    if (found?.collectionId && deps.ownership && (await deps.ownership.ownerOf('collection', found.collectionId)) === null) {
      return undefined;
    }
    return found;
  };

  const startNew = async (assetId: string, idempotencyKey: string | null, tenant: string): Promise<SubmitResult> => {
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
    const { taskId } = await client.extractFrames(assetId);
    const submittedAt = now();
    const record: TaskRecord = {
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
      tenant,
      // The submitting span (the mutation's), for the webhook span to link to: the callback comes in another trace.
      ...traceContextField(),
    };
    const task = await registrar.registerOrSpool(record);
    deps.onTransition?.('PENDING');
    logger.info('extract submitted', { taskId, assetId });
    return { task, reused: false };
  };

  /** The key's bound task answers a request for the same asset; for another asset the request is refused. */
  const answerKey = (key: string, assetId: string, bound: TaskRecord): SubmitResult => {
    if (bound.assetId !== assetId) throw new IdempotencyKeyInUseError(key, bound, assetId);
    return { task: bound, reused: true };
  };

  /** Registers `promise` as the flight other concurrent submits join, until it settles. */
  const track = (flight: string, assetId: string, promise: Promise<SubmitResult>) => {
    inFlight.set(flight, { assetId, promise });
    const clear = () => {
      if (inFlight.get(flight)?.promise === promise) inFlight.delete(flight);
    };
    promise.then(clear, clear);
  };

  /** One submit request: the raw key is for messages, the scoped one is what the registry binds. */
  interface Request {
    assetId: string;
    tenant: string;
    key: string | null;
    storeKey: string | null;
    force: boolean;
  }

  const submitForAsset = async (req: Request): Promise<SubmitResult> => {
    const { assetId, tenant, key, storeKey } = req;
    // A key keeps answering the task it first got, whatever else happened since (force included).
    const bindKey = async (result: SubmitResult): Promise<SubmitResult> => {
      // A spooled registration binds its own key when it is replayed (the registry is away right now).
      if (!key || !storeKey || (registrar.isSpooled(result.task) && result.task.idempotencyKey === storeKey)) return result;
      const bound = await store.bindIdempotencyKey(storeKey, result.task.id);
      return bound && bound.id !== result.task.id ? answerKey(key, assetId, bound) : result;
    };
    // Per tenant: another tenant's pending task, flight or claim on the same asset is never this caller's answer.
    const scopedAsset = scopedToTenant(tenant, assetId);
    if (!req.force) {
      const reusable = await findReusable(assetId, tenant);
      if (reusable) return bindKey({ task: reusable, reused: true });
      // Concurrent submits for one asset (keyed or not) share a single upstream call.
      const pending = inFlight.get(`asset:${scopedAsset}`);
      if (pending) return pending.promise.then((r) => bindKey({ task: r.task, reused: true }));
    }
    if (req.force) return startNew(assetId, storeKey, tenant).then(bindKey);
    const submitted = submitUnderClaim(scopedAsset, {
      findReusable: () => findReusable(assetId, tenant),
      submit: () => startNew(assetId, storeKey, tenant),
    });
    // The flight is the bare submission: a joiner binds its own key, and this caller's key conflict is not theirs.
    track(`asset:${scopedAsset}`, assetId, submitted);
    return submitted.then(bindKey);
  };

  const submit = (assetId: string, options: SubmitOptions = {}): Promise<SubmitResult> => {
    const key = options.idempotencyKey ?? null;
    const tenant = options.tenant ?? LOCAL_TENANT;
    const storeKey = key === null ? null : scopedToTenant(tenant, key);
    const req: Request = { assetId, tenant, key, storeKey, force: options.force ?? false };
    if (!key || !storeKey) return submitForAsset(req);
    // Checked and registered in one synchronous step, so two concurrent requests with a key never both submit.
    const pending = inFlight.get(`key:${storeKey}`);
    if (pending?.assetId === assetId) return pending.promise.then((r) => ({ task: r.task, reused: true }));
    if (pending) {
      // The key is being spent on another asset right now: once that settles, it is bound (a conflict) or free.
      const again = () => submit(assetId, options);
      return pending.promise.then(again, again);
    }
    const promise = (async () => {
      const existing = await store.findByIdempotencyKey(storeKey);
      return existing ? answerKey(key, assetId, existing) : submitForAsset(req);
    })();
    track(`key:${storeKey}`, assetId, promise);
    return promise;
  };

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
