/**
 * A durable local spool for registry writes that cannot wait for Redis (a refused webhook or a lost registration is
 * a paid result lost): entries wait on local disk, in ordered lanes, until the registry takes them.
 *
 * One file per entry, `<appendedAt>-<seq>-<random>.json` in its lane's directory, holding the body exactly as
 * given: written under a temporary name, fsync'd, renamed, and the directory fsync'd, so after a crash an entry is
 * either complete or absent, and removing an applied entry is one unlink. Hand-written (about 20 lines of fs
 * calls): the maintained packages for this either write single files atomically (no ordered replay or
 * remove-after-apply) or are work queues in memory or in a database, which would put back the dependency that
 * just failed.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, open, readdir, readFile, rename, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from '../logger.js';
import { RegistryUnavailableError } from './registry-guard.js';

/** What applying one spooled entry did: `done` removes it; `invalid` moves it aside (never retried). */
export type SpoolApplyResult = 'done' | 'invalid';

/** One spooled entry as `apply` gets it. */
export interface SpooledEntry {
  /** The body exactly as appended. */
  body: string;
  /** When it was appended (epoch ms on the spool's clock, kept in the entry's name). */
  appendedAt: number;
}

/** A directory of entries of one kind, and how to apply one of them. */
export interface SpoolLane<K extends string = string> {
  kind: K;
  /** Created on the first append. */
  dir: string;
  /**
   * Applies one entry to the registry. A rejection keeps the entry for the next replay; a
   * {@link RegistryUnavailableError} also ends the pass (the rest would fail the same way).
   */
  apply: (entry: SpooledEntry) => Promise<SpoolApplyResult>;
}

export interface SpoolOptions<K extends string> {
  /** Replayed in this order, each oldest first: an entry of a later lane never overtakes one of an earlier lane. */
  lanes: readonly SpoolLane<K>[];
  logger: Logger;
  now?: () => number;
  /**
   * After a pass that stopped on an outage, replay again this much later (default 5000; 0 = never, wait for an
   * explicit replay). A reconnect replays at once anyway, but a silent partition that heals emits no reconnect.
   */
  retryMs?: number;
}

/** Outcome of one {@link Spool.replay}, over every lane. */
export interface ReplayResult {
  applied: number;
  /** Entries still on disk (not yet applicable). */
  remaining: number;
}

export interface Spool<K extends string> {
  /**
   * Durably stores one body in `kind`'s lane; resolves once it is fsync'd (then, and only then, acknowledge it).
   * A replay is attempted right after.
   */
  append(kind: K, body: string): Promise<void>;
  /**
   * Applies every spooled entry, lane by lane, oldest first, removing each only after `apply` resolved; stops at
   * the first {@link RegistryUnavailableError}. A call made while a pass runs resolves after a pass that started
   * after it.
   */
  replay(): Promise<ReplayResult>;
  /** Waits for pending appends, then replays once (what cannot be applied stays on disk for the next start). */
  flush(): Promise<ReplayResult>;
  /** `flush`, then refuses further appends and stops retrying. */
  close(): Promise<ReplayResult>;
}

const ENTRY = /^\d{13}-\d{6}-[0-9a-f]{8}\.json$/;

/** Creates the spool over its lanes; nothing touches the disk until the first append or replay. */
export function createSpool<K extends string>(options: SpoolOptions<K>): Spool<K> {
  const { lanes, logger } = options;
  const now = options.now ?? Date.now;
  const retryMs = options.retryMs ?? 5_000;
  let seq = 0;
  let closed = false;
  const appends = new Set<Promise<void>>();
  let running: Promise<ReplayResult> | null = null;
  let again = false;
  let retry: ReturnType<typeof setTimeout> | undefined;

  const write = async (dir: string, body: string) => {
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

  /** Applies one entry: 'applied', 'kept' (stays on disk), or 'outage' (stays, and the pass ends). */
  const applyOne = async (lane: SpoolLane<K>, name: string): Promise<'applied' | 'kept' | 'gone' | 'outage'> => {
    const path = join(lane.dir, name);
    // null: applied and removed meanwhile by another replayer sharing the directory.
    const body = await readFile(path, 'utf8').catch((error: unknown) => ignoreMissing(error, null));
    if (body === null) return 'gone';
    let result: SpoolApplyResult;
    try {
      result = await lane.apply({ body, appendedAt: Number(name.slice(0, 13)) });
    } catch (error) {
      if (error instanceof RegistryUnavailableError) return 'outage';
      logger.error('spooled entry could not be applied; kept for the next replay', { lane: lane.kind, entry: name, error });
      return 'kept';
    }
    if (result === 'invalid') {
      logger.error('spooled entry is not valid; moved aside', { lane: lane.kind, entry: `${name}.rejected` });
      await rename(path, `${path}.rejected`);
      return 'gone';
    }
    await unlink(path).catch((error: unknown) => ignoreMissing(error, undefined));
    return 'applied';
  };

  const pass = async (): Promise<ReplayResult & { outage: boolean }> => {
    const listed = await Promise.all(lanes.map(async (lane) => ({ lane, names: await listEntries(lane.dir) })));
    let applied = 0;
    let remaining = listed.reduce((sum, { names }) => sum + names.length, 0);
    for (const { lane, names } of listed) {
      for (const name of names) {
        const result = await applyOne(lane, name);
        if (result === 'outage') return { applied, remaining, outage: true };
        if (result === 'applied') applied++;
        if (result !== 'kept') remaining--;
      }
    }
    return { applied, remaining, outage: false };
  };

  const scheduleRetry = () => {
    if (closed || retryMs <= 0 || retry) return;
    retry = setTimeout(() => {
      retry = undefined;
      replay().catch((error: unknown) => logger.error('spool replay failed', { error }));
    }, retryMs);
    retry.unref?.();
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
        // Only for calls that came in during the pass (each wants a pass that saw its entry); an outage is retried
        // by the connection's next 'ready', or by the retry timer.
      } while (again);
      if (applied > 0) logger.info('spool replayed', { applied, remaining: result.remaining });
      if (result.outage) scheduleRetry();
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
    append(kind, body) {
      if (closed) return Promise.reject(new Error('the spool is closed'));
      const lane = lanes.find((l) => l.kind === kind);
      if (!lane) return Promise.reject(new Error(`the spool has no lane "${kind}"`));
      const pending = write(lane.dir, body);
      appends.add(pending);
      pending.then(
        () => {
          appends.delete(pending);
          // The registry may have come back while this entry was being written, after the reconnect's replay
          // listed the directory: try now rather than wait for the next reconnect (fails fast while Redis is away).
          if (!closed) replay().catch((error: unknown) => logger.error('spool replay failed', { error }));
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
      clearTimeout(retry);
      retry = undefined;
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
