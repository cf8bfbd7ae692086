/**
 * This instance's spool of registry writes that could not wait for Redis, on the durable {@link createSpool}
 * under `DATA_DIR`, in two lanes replayed in this order:
 * - `registration-spool/`: tasks whose billed extract call succeeded but whose registration failed (Redis went
 *   away in between); the caller was answered with the PENDING task, so the id must reach the registry;
 * - `webhook-spool/`: valid callbacks that arrived while the registry was unreachable (the upstream documents no
 *   redelivery: the route answers 2xx only once the body is on disk).
 * Registrations first, so a replayed callback finds its task instead of being parked as unknown.
 */
import { join } from 'node:path';
import type { Logger } from '../logger.js';
import { createSpool, type ReplayResult, type SpoolApplyResult } from './spool.js';
import { taskFields, type TaskRecord } from './store.js';

export type { ReplayResult, SpoolApplyResult } from './spool.js';

/** The webhook route's view of the spool. */
export interface WebhookSpool {
  /** Durably stores one validated callback body; resolves once it is fsync'd (then, and only then, answer 2xx). */
  append(body: string): Promise<void>;
  /** Applies every spooled entry (registrations, then callbacks), oldest first; stops at the first outage. */
  replay(): Promise<ReplayResult>;
  /** Waits for pending appends, then replays once (what cannot be applied stays on disk for the next start). */
  flush(): Promise<ReplayResult>;
  /** `flush`, then refuses further appends. */
  close(): Promise<ReplayResult>;
}

/** The whole spool: webhooks, and the registrations of billed tasks. */
export interface TaskSpool extends WebhookSpool {
  /** Durably stores a task the registry could not take; resolves once it is fsync'd. */
  appendRegistration(task: TaskRecord): Promise<void>;
}

export interface TaskSpoolOptions {
  /** `DATA_DIR`: the lanes live in `registration-spool/` and `webhook-spool/` below it. */
  dataDir: string;
  /** Registers a spooled task (idempotent: an id already registered keeps its stored state). */
  register: (task: TaskRecord) => Promise<unknown>;
  /** Applies a spooled webhook body that arrived at `receivedAt` (epoch ms); 'invalid' when it is no callback. */
  applyCallback: (body: string, receivedAt: number) => Promise<SpoolApplyResult>;
  logger: Logger;
  /** The clock entries are stamped with (the registry's clock: a replayed callback completes at its arrival). */
  now?: () => number;
  /** After a replay stopped by an outage, replay again this much later (default 5000; 0 = only on reconnect). */
  retryMs?: number;
}

/** Creates the spool; nothing touches the disk until the first append or replay. */
export function createTaskSpool(options: TaskSpoolOptions): TaskSpool {
  const spool = createSpool({
    lanes: [
      {
        kind: 'registration',
        dir: join(options.dataDir, 'registration-spool'),
        apply: async ({ body }) => {
          const task = parseSpooledTask(body);
          if (!task) return 'invalid';
          await options.register(task);
          return 'done';
        },
      },
      {
        kind: 'webhook',
        dir: join(options.dataDir, 'webhook-spool'),
        apply: ({ body, appendedAt }) => options.applyCallback(body, appendedAt),
      },
    ],
    logger: options.logger,
    ...(options.now ? { now: options.now } : {}),
    ...(options.retryMs === undefined ? {} : { retryMs: options.retryMs }),
  });
  return {
    append: (body) => spool.append('webhook', body),
    appendRegistration: (task) => spool.append('registration', JSON.stringify(taskFields(task))),
    replay: spool.replay,
    flush: spool.flush,
    close: spool.close,
  };
}

/** A spooled registration, or null when the entry is not one (a damaged or foreign file: moved aside). */
function parseSpooledTask(body: string): TaskRecord | null {
  let value: unknown;
  try {
    value = JSON.parse(body);
  } catch {
    return null;
  }
  if (typeof value !== 'object' || value === null) return null;
  const t = value as Partial<Record<keyof TaskRecord, unknown>>;
  const ok =
    typeof t.id === 'string' &&
    t.id !== '' &&
    typeof t.assetId === 'string' &&
    t.status === 'PENDING' &&
    Array.isArray(t.frameIds) &&
    typeof t.submittedAt === 'number' &&
    typeof t.deadlineAt === 'number' &&
    (t.idempotencyKey === null || typeof t.idempotencyKey === 'string') &&
    (t.tenant === undefined || typeof t.tenant === 'string');
  return ok ? (value as TaskRecord) : null;
}
