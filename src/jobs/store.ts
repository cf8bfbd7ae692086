/**
 * The task registry: the only record of extract-frames task state (the upstream has no status endpoint).
 * `TaskStore` is the interface; `createMemoryTaskStore` the single-instance implementation (`redis-store.ts` the
 * shared one). Every state change is a compare-and-set, so duplicate callbacks or two instances cannot apply twice.
 */
import { LOCAL_TENANT } from '../tenancy.js';

export type TaskStatus = 'PENDING' | 'SUCCEEDED' | 'FAILED' | 'TIMED_OUT';

export interface TaskRecord {
  /** The upstream task id (32 hex on v2). */
  id: string;
  /** The `re_` asset frames are extracted from. */
  assetId: string;
  status: TaskStatus;
  collectionId: string | null;
  frameIds: string[];
  error: string | null;
  /** Epoch ms. */
  submittedAt: number;
  completedAt: number | null;
  /** Epoch ms after which a PENDING task becomes TIMED_OUT. */
  deadlineAt: number;
  /**
   * As the task service stores it: scoped to the tenant (see `scopedToTenant` in tasks.ts), so two tenants' equal
   * keys are two keys.
   */
  idempotencyKey: string | null;
  /** Who submitted it (absent on records written before tenants existed: those are the local tenant's). */
  tenant?: string;
  /**
   * W3C trace context of the span that submitted the task (absent when tracing is off, or on records written before
   * it existed): the webhook span that completes the task links to it.
   */
  traceparent?: string | null;
}

/** The terminal result of a task, from a callback or the timeout sweeper. */
export interface TaskOutcome {
  status: Exclude<TaskStatus, 'PENDING'>;
  collectionId: string | null;
  frameIds: string[];
  error: string | null;
  completedAt: number;
}

/** A callback that arrived for a task id not (yet) registered: the callback can beat the extract reply. */
export interface ParkedCallback {
  taskId: string;
  outcome: TaskOutcome;
  expiresAt: number;
}

export interface TransitionResult {
  /** False when the task is unknown, already terminal with this kind of outcome, or the transition is not allowed. */
  changed: boolean;
  task: TaskRecord | null;
}

export interface TaskStore {
  /**
   * Registers a new PENDING task. When a parked callback waits for this id, it is applied atomically and the
   * returned record is already terminal (`appliedParked: true`). Inserting an existing id returns the stored one.
   */
  insert(task: TaskRecord, now: number): Promise<{ task: TaskRecord; appliedParked: boolean }>;
  get(id: string): Promise<TaskRecord | null>;
  /**
   * PENDING → terminal, once. A late SUCCEEDED/FAILED may also replace TIMED_OUT (the result was paid for and is
   * real); nothing ever leaves SUCCEEDED or FAILED.
   */
  complete(id: string, outcome: TaskOutcome): Promise<TransitionResult>;
  /** Keeps a callback for an unknown id until `expiresAt`; the first one parked for an id wins. */
  park(callback: ParkedCallback): Promise<boolean>;
  /**
   * Takes the cross-instance claim "an extract call for this asset is under way" for `ttlMs`, held by `token` (a
   * random value only the holder knows); false while another token holds it. Keeps two instances from paying for
   * the same asset at the same moment. `now` is the memory store's clock; Redis expires claims on its own clock.
   */
  claimSubmission(assetId: string, token: string, ttlMs: number, now: number): Promise<boolean>;
  /** Extends the claim to `ttlMs` from now, only while `token` still holds it (compare-and-extend). */
  renewSubmission(assetId: string, token: string, ttlMs: number, now: number): Promise<boolean>;
  /** Drops the claim only while `token` holds it (compare-and-delete), so a stale holder cannot free a newer one's. */
  releaseSubmission(assetId: string, token: string): Promise<boolean>;
  /** Tasks this gateway started for an asset, newest first. */
  listByAsset(assetId: string): Promise<TaskRecord[]>;
  /** The task `key` is bound to, or null (never bound, or its task is gone). The task's `assetId` is the key's asset. */
  findByIdempotencyKey(key: string): Promise<TaskRecord | null>;
  /**
   * Binds `key` to an existing task unless the key is already bound to a task that still exists; returns the task
   * the key is bound to now (null when `taskId` is unknown and the key is free). A binding lives as long as its
   * task (retention included). Used when a keyed request is answered by a reused task.
   */
  bindIdempotencyKey(key: string, taskId: string): Promise<TaskRecord | null>;
  /** Ids of PENDING tasks whose deadline has passed. */
  overdue(now: number): Promise<string[]>;
  /** How many tasks are PENDING (for the `frames_tasks_pending` gauge: cheap, read at every scrape). */
  pendingCount(): Promise<number>;
  dispose(): Promise<void>;
}

export const TERMINAL_STATUSES: ReadonlySet<TaskStatus> = new Set(['SUCCEEDED', 'FAILED', 'TIMED_OUT']);

/** Whether `outcome` may replace a task in state `from` (shared by every store implementation). */
export function canTransition(from: TaskStatus, to: TaskOutcome['status']): boolean {
  if (from === 'PENDING') return true;
  return from === 'TIMED_OUT' && to !== 'TIMED_OUT';
}

/** A copy with only the declared fields: whatever else rides on the object never reaches Redis or a spool file. */
export function taskFields(task: TaskRecord): TaskRecord {
  const { id, assetId, status, collectionId, frameIds, error, submittedAt, completedAt, deadlineAt, idempotencyKey, tenant, traceparent } = task;
  const fields: TaskRecord = { id, assetId, status, collectionId, frameIds, error, submittedAt, completedAt, deadlineAt, idempotencyKey };
  if (tenant !== undefined) fields.tenant = tenant;
  return traceparent ? { ...fields, traceparent } : fields;
}

/** The tenant a task belongs to. */
export function taskTenant(task: Pick<TaskRecord, 'tenant'>): string {
  return task.tenant ?? LOCAL_TENANT;
}

export function applyOutcome(task: TaskRecord, outcome: TaskOutcome): TaskRecord {
  return {
    ...task,
    status: outcome.status,
    collectionId: outcome.collectionId,
    frameIds: outcome.frameIds,
    error: outcome.error,
    completedAt: outcome.completedAt,
  };
}

export interface MemoryTaskStoreOptions {
  /** Upper bound on parked callbacks (oldest dropped first). */
  maxParked?: number;
  /** How long a finished task is kept after it finished, in ms (default 7 days; 0 keeps it forever). */
  retentionMs?: number;
}

export function createMemoryTaskStore(options: MemoryTaskStoreOptions = {}): TaskStore {
  const maxParked = options.maxParked ?? 10_000;
  const retentionMs = options.retentionMs ?? 7 * 24 * 3600 * 1000;

  const tasks = new Map<string, TaskRecord>();
  const byAsset = new Map<string, string[]>();
  const byKey = new Map<string, string>();
  const parked = new Map<string, ParkedCallback>();
  const forget = (task: TaskRecord) => {
    tasks.delete(task.id);
    const siblings = (byAsset.get(task.assetId) ?? []).filter((id) => id !== task.id);
    if (siblings.length > 0) byAsset.set(task.assetId, siblings);
    else byAsset.delete(task.assetId);
    for (const [key, id] of byKey) if (id === task.id) byKey.delete(key);
  };
  /** A binding counts only while its task exists, as in Redis (where the two can expire apart). */
  const boundTask = (key: string): TaskRecord | undefined => {
    const id = byKey.get(key);
    return id === undefined ? undefined : tasks.get(id);
  };
  const claims = new Map<string, { token: string; until: number }>();
  const heldBy = (assetId: string, token: string, now: number): boolean => {
    const claim = claims.get(assetId);
    return claim !== undefined && claim.token === token && claim.until > now;
  };

  const takeParked = (id: string, now: number): ParkedCallback | undefined => {
    const p = parked.get(id);
    if (!p) return undefined;
    parked.delete(id);
    return p.expiresAt >= now ? p : undefined;
  };

  return {
    async insert(task, now) {
      const existing = tasks.get(task.id);
      if (existing) return { task: existing, appliedParked: false };
      const p = takeParked(task.id, now);
      const stored = p ? applyOutcome(task, p.outcome) : task;
      tasks.set(task.id, stored);
      byAsset.set(task.assetId, [task.id, ...(byAsset.get(task.assetId) ?? [])]);
      if (task.idempotencyKey && !boundTask(task.idempotencyKey)) byKey.set(task.idempotencyKey, task.id);
      return { task: stored, appliedParked: p !== undefined };
    },
    async get(id) {
      return tasks.get(id) ?? null;
    },
    async complete(id, outcome) {
      const task = tasks.get(id);
      if (!task) return { changed: false, task: null };
      if (!canTransition(task.status, outcome.status)) return { changed: false, task };
      const next = applyOutcome(task, outcome);
      tasks.set(id, next);
      return { changed: true, task: next };
    },
    async park(callback) {
      if (parked.has(callback.taskId) || tasks.has(callback.taskId)) return false;
      parked.set(callback.taskId, callback);
      if (parked.size > maxParked) {
        const oldest = parked.keys().next().value;
        if (oldest !== undefined) parked.delete(oldest);
      }
      return true;
    },
    async claimSubmission(assetId, token, ttlMs, now) {
      const current = claims.get(assetId);
      if (current !== undefined && current.until > now) return false;
      claims.set(assetId, { token, until: now + ttlMs });
      return true;
    },
    async renewSubmission(assetId, token, ttlMs, now) {
      if (!heldBy(assetId, token, now)) return false;
      claims.set(assetId, { token, until: now + ttlMs });
      return true;
    },
    async releaseSubmission(assetId, token) {
      if (claims.get(assetId)?.token !== token) return false;
      claims.delete(assetId);
      return true;
    },
    async listByAsset(assetId) {
      return (byAsset.get(assetId) ?? []).map((id) => tasks.get(id)).filter((t): t is TaskRecord => !!t);
    },
    async bindIdempotencyKey(key, taskId) {
      if (!boundTask(key) && tasks.has(taskId)) byKey.set(key, taskId);
      return boundTask(key) ?? null;
    },
    async findByIdempotencyKey(key) {
      return boundTask(key) ?? null;
    },
    async pendingCount() {
      let count = 0;
      for (const t of tasks.values()) if (t.status === 'PENDING') count++;
      return count;
    },
    async overdue(now) {
      const ids: string[] = [];
      for (const t of tasks.values()) {
        if (t.status === 'PENDING' && t.deadlineAt <= now) ids.push(t.id);
        // Finished tasks past their retention are dropped here, so a long-running process stays bounded.
        else if (retentionMs > 0 && t.completedAt !== null && t.completedAt + retentionMs < now) forget(t);
      }
      // Expired parked callbacks are dropped here too, so the map stays bounded by time as well as size.
      for (const [id, p] of parked) if (p.expiresAt < now) parked.delete(id);
      return ids;
    },
    async dispose() {
      tasks.clear();
      parked.clear();
      claims.clear();
    },
  };
}
