/**
 * The webhook spool: callbacks the registry could not take (Redis unreachable) wait here, on local disk, until it
 * can. The upstream documents no redelivery, so a refused callback is a paid result lost; the route answers 2xx
 * only once the body is on disk.
 *
 * One file per callback, `<receivedAt>-<seq>-<random>.json` holding the body exactly as received: written under a
 * temporary name, fsync'd, renamed, and the directory fsync'd, so after a crash an entry is either complete or
 * absent, and removing an applied entry is one unlink. Hand-written (about 20 lines of fs calls): the maintained
 * packages for this either write single files atomically (no ordered replay or remove-after-apply) or are work
 * queues in memory or in a database, which would put back the dependency that just failed.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, open, readdir, readFile, rename, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from '../logger.js';
import { RegistryUnavailableError } from './registry-guard.js';

/** What applying one spooled body did: `done` removes the entry; `invalid` moves it aside (never retried). */
export type SpoolApplyResult = 'done' | 'invalid';

export interface WebhookSpoolOptions {
  /** The spool directory (created on the first append). */
  dir: string;
  /**
   * Applies one body to the registry. A rejection keeps the entry for the next replay; a
   * {@link RegistryUnavailableError} also ends the pass (the rest would fail the same way).
   */
  apply: (body: string) => Promise<SpoolApplyResult>;
  logger: Logger;
  now?: () => number;
}

/** Outcome of one {@link WebhookSpool.replay}. */
export interface ReplayResult {
  applied: number;
  /** Entries still on disk (not yet applicable). */
  remaining: number;
}

export interface WebhookSpool {
  /**
   * Durably stores one validated callback body; resolves once it is fsync'd (then, and only then, answer 2xx).
   * A replay is attempted right after.
   */
  append(body: string): Promise<void>;
  /**
   * Applies every spooled entry, oldest first, removing each only after `apply` resolved; stops at the first
   * {@link RegistryUnavailableError}. A call made while a pass runs resolves after a pass that started after it.
   */
  replay(): Promise<ReplayResult>;
  /** Waits for pending appends, then replays once (what cannot be applied stays on disk for the next start). */
  flush(): Promise<ReplayResult>;
  /** `flush`, then refuses further appends. */
  close(): Promise<ReplayResult>;
}

const ENTRY = /^\d{13}-\d{6}-[0-9a-f]{8}\.json$/;

/** Creates the spool over `dir`; nothing touches the disk until the first append or replay. */
export function createWebhookSpool(options: WebhookSpoolOptions): WebhookSpool {
  const { dir, logger } = options;
  const now = options.now ?? Date.now;
  let seq = 0;
  let closed = false;
  const appends = new Set<Promise<void>>();
  let running: Promise<ReplayResult> | null = null;
  let again = false;

  const write = async (body: string) => {
    await mkdir(dir, { recursive: true });
    const name = `${String(now()).padStart(13, '0')}-${String(seq++ % 1_000_000).padStart(6, '0')}-${randomBytes(4).toString('hex')}.json`;
    const temp = join(dir, `.${name}.tmp`);
    const file = await open(temp, 'wx');
    try {
      await file.writeFile(body, 'utf8');
      await file.sync();
    } finally {
      await file.close();
    }
    await rename(temp, join(dir, name));
    await syncDir(dir);
  };

  const pass = async (): Promise<ReplayResult> => {
    const names = await listEntries(dir);
    let applied = 0;
    let remaining = names.length;
    for (const name of names) {
      const path = join(dir, name);
      // null: applied and removed meanwhile by another replayer sharing the directory.
      const body = await readFile(path, 'utf8').catch((error: unknown) => ignoreMissing(error, null));
      if (body !== null) {
        let result: SpoolApplyResult;
        try {
          result = await options.apply(body);
        } catch (error) {
          if (error instanceof RegistryUnavailableError) return { applied, remaining };
          logger.error('spooled webhook could not be applied; kept for the next replay', { entry: name, error });
          continue;
        }
        if (result === 'invalid') {
          logger.error('spooled webhook is not a valid callback; moved aside', { entry: `${name}.rejected` });
          await rename(path, `${path}.rejected`);
        } else {
          await unlink(path).catch((error: unknown) => ignoreMissing(error, undefined));
          applied++;
        }
      }
      remaining--;
    }
    return { applied, remaining };
  };

  const replay = (): Promise<ReplayResult> => {
    if (running) {
      again = true;
      return running;
    }
    running = (async () => {
      let applied = 0;
      let result;
      do {
        again = false;
        result = await pass();
        applied += result.applied;
        // Only for calls that came in during the pass (each wants a pass that saw its entry); an outage is not
        // retried here: the connection's next 'ready' replays again.
      } while (again);
      if (applied > 0) logger.info('webhook spool replayed', { applied, remaining: result.remaining });
      return { applied, remaining: result.remaining };
    })().finally(() => {
      running = null;
    });
    return running;
  };

  const flush = async () => {
    await Promise.allSettled([...appends]);
    return replay();
  };

  return {
    append(body) {
      if (closed) return Promise.reject(new Error('the webhook spool is closed'));
      const pending = write(body);
      appends.add(pending);
      pending.then(
        () => {
          appends.delete(pending);
          // The registry may have come back while this entry was being written, after the reconnect's replay
          // listed the directory: try now rather than wait for the next reconnect (fails fast while Redis is away).
          if (!closed) replay().catch((error: unknown) => logger.error('webhook spool replay failed', { error }));
        },
        () => appends.delete(pending),
      );
      return pending;
    },
    replay,
    flush,
    async close() {
      const result = await flush();
      closed = true;
      return result;
    },
  };
}

async function listEntries(dir: string): Promise<string[]> {
  try {
    return (await readdir(dir)).filter((name) => ENTRY.test(name)).sort();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
}

/** Makes the rename itself durable (fsync on the file covers its bytes, not its directory entry). */
async function syncDir(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

function ignoreMissing<T>(error: unknown, value: T): T {
  if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  return value;
}
