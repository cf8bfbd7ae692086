/**
 * Registering a task whose extract call was billed: the insert into the registry, or, when Redis went away between
 * the extract reply and the insert, the local spool (the caller is answered with the PENDING task either way: an
 * error would invite a second paid submit). The spool replays the registration through {@link Registrar.register}.
 */
import type { Logger } from '../logger.js';
import type { OwnershipStore } from './ownership.js';
import { RegistryUnavailableError } from './registry-guard.js';
import { taskTenant, type TaskRecord, type TaskStatus, type TaskStore } from './store.js';

export interface RegistrarDeps {
  store: TaskStore;
  /** Where the task (and a collection a parked callback brought) is recorded as its tenant's; none in lifecycle-only tests. */
  ownership?: OwnershipStore | undefined;
  logger: Logger;
  now: () => number;
  /** Announces a task a parked callback completed at registration (task events are published by the task service). */
  publish: (task: TaskRecord) => void;
  /** Metrics: a state this instance moved a task into. */
  onTransition?: ((status: TaskStatus) => void) | undefined;
  /** Durably keeps a task the registry could not take; without one, the registry error reaches the caller. */
  spoolRegistration?: ((task: TaskRecord) => Promise<void>) | undefined;
}

export interface Registrar {
  /** Idempotent insert (an id already registered keeps its stored state); applies a parked callback waiting for it. */
  register(record: TaskRecord): Promise<TaskRecord>;
  /** `register`, or the spool when the registry is unreachable; rejects only when both fail. */
  registerOrSpool(record: TaskRecord): Promise<TaskRecord>;
  /** Whether `task` was answered from the spool (its registration, key binding included, happens on replay). */
  isSpooled(task: TaskRecord): boolean;
}

export function createRegistrar(deps: RegistrarDeps): Registrar {
  const { store, logger } = deps;
  const spooled = new WeakSet<TaskRecord>();

  const register = async (record: TaskRecord): Promise<TaskRecord> => {
    const { task, appliedParked } = await store.insert(record, deps.now());
    // Part of the registration, so a spooled one replays it too (claims are idempotent).
    await recordOwnership(deps.ownership, task, logger);
    if (appliedParked) {
      logger.info('applied a callback that arrived before the task was registered', { taskId: task.id });
      deps.onTransition?.(task.status);
      deps.publish(task);
    }
    return task;
  };

  const spool = async (record: TaskRecord, error: unknown): Promise<TaskRecord> => {
    if (!(error instanceof RegistryUnavailableError) || !deps.spoolRegistration) throw error;
    try {
      await deps.spoolRegistration(record);
    } catch (spoolError) {
      logger.error('billed task could be neither registered nor spooled: its result will be lost', {
        taskId: record.id,
        assetId: record.assetId,
        error,
        spoolError,
      });
      throw error;
    }
    logger.warn('task registration spooled until the registry is back', { taskId: record.id, assetId: record.assetId, error });
    spooled.add(record);
    return record;
  };

  return {
    register,
    registerOrSpool: (record) => register(record).catch((error: unknown) => spool(record, error)),
    isSpooled: (task) => spooled.has(task),
  };
}

/**
 * Records `task` as its tenant's, and its collection once SUCCEEDED (owned by the task's tenant). Idempotent, and
 * called again whenever the task finishes: a task's ownership then restarts its retention, as the task record does.
 * `only: 'collection'` for a duplicate callback, which must not extend the task's retention past its record's.
 */
export async function recordOwnership(
  ownership: OwnershipStore | undefined,
  task: TaskRecord,
  logger: Logger,
  only?: 'collection',
): Promise<void> {
  if (!ownership) return;
  const tenant = taskTenant(task);
  if (only !== 'collection') await ownership.claim('task', task.id, tenant, task.submittedAt);
  if (task.status !== 'SUCCEEDED' || !task.collectionId) return;
  const owner = await ownership.claim('collection', task.collectionId, tenant, task.completedAt ?? task.submittedAt);
  if (owner !== tenant) logger.error('collection already owned by another tenant', { taskId: task.id, collectionId: task.collectionId, tenant, owner });
}
