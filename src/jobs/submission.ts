/**
 * Submitting an extraction without paying twice: a tenant's pending or recent task is reused, concurrent submits
 * share one upstream call (in this process) and one claim (across instances), and an idempotency key keeps answering
 * the task it first got. All of it per tenant: another tenant's task is never an answer. Split from `tasks.ts`, which
 * owns the rest of the lifecycle.
 */
import type { Logger } from '../logger.js';
import { activeTraceparent } from '../observability/spans.js';
import type { PubSub } from '../pubsub/index.js';
import { LOCAL_TENANT } from '../tenancy.js';
import type { UpstreamClient } from '../upstream/client.js';
import type { AssetResource } from '../upstream/types.js';
import { createSubmissionClaims } from './claim.js';
import type { OwnershipStore } from './ownership.js';
import type { Registrar } from './registration.js';
import { taskTenant, type TaskRecord, type TaskStatus, type TaskStore } from './store.js';

/** Extensions the gateway treats as video (extractFrames refuses others; createVideoUpload accepts only these). */
export const VIDEO_EXTENSIONS: ReadonlySet<string> = new Set(['mp4', 'mov', 'avi', 'webm', 'mkv', 'flv', 'wmv', 'mpeg', 'mpg', 'm4v', '3gp', 'ts']);

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

/**
 * A key (or asset id) in the tenant's namespace: bare for the local tenant (so keys bound before tenants existed keep
 * answering), else `<tenant> <value>`. Unambiguous because values never contain a space: the last one separates.
 */
export function scopedToTenant(tenant: string, value: string): string {
  return tenant === LOCAL_TENANT ? value : `${tenant} ${value}`;
}

function traceContextField(): Pick<TaskRecord, 'traceparent'> {
  const traceparent = activeTraceparent();
  return traceparent ? { traceparent } : {};
}

/** What submitting needs (a subset of the task service's deps, plus its registrar). */
export interface SubmitterDeps {
  store: TaskStore;
  ownership?: OwnershipStore | undefined;
  pubsub: PubSub;
  client: UpstreamClient;
  lookupAsset: (assetId: string) => Promise<AssetResource>;
  logger: Logger;
  now: () => number;
  timeoutSeconds: number;
  reuseSeconds: number;
  claimTtlMs: number;
  maxWaitMs: number;
  registrar: Registrar;
  onTransition?: ((status: TaskStatus) => void) | undefined;
}

/** Creates `submit` (see {@link SubmitOptions}). */
export function createSubmitter(deps: SubmitterDeps): (assetId: string, options?: SubmitOptions) => Promise<SubmitResult> {
  const { store, pubsub, client, logger, now, registrar } = deps;
  const inFlight = new Map<string, { assetId: string; promise: Promise<SubmitResult> }>();
  const submitUnderClaim = createSubmissionClaims({ store, pubsub, logger, now, ttlMs: deps.claimTtlMs, maxWaitMs: deps.maxWaitMs });
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
    // The only billed call: the metered client (services.ts, jobs/quota.ts) charges the tenant's extraction budget
    // here, so reuse, dedupe joins and the rejections above are free; QuotaExhaustedError if it is used up.
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

  return submit;
}
