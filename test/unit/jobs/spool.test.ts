/**
 * The durable spool on a real temp directory: durable entries, ordered replay (lanes in order, each oldest first),
 * remove-after-apply, outage handling and the retry after an outage.
 */
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { RegistryUnavailableError } from '../../../src/jobs/registry-guard.js';
import { createSpool, type Spool, type SpoolApplyResult } from '../../../src/jobs/spool.js';
import { createLogger, silentLogger } from '../../../src/logger.js';
import { createDeferred, type Deferred } from '../../helpers/deferred.js';

let root: string;
let dir: string;
const spools: Pick<Spool<string>, 'close'>[] = [];

beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'frames-spool-test-'));
  dir = join(root, 'webhook-spool');
});
afterEach(async () => {
  await Promise.all(spools.splice(0).map((s) => s.close().catch(() => undefined)));
  await rm(root, { recursive: true, force: true });
});

/** A one-lane spool whose `apply` records bodies and answers from `script` (default 'done'). */
function open(script: (body: string) => Promise<SpoolApplyResult> = async () => 'done', options: { now?: () => number } = {}) {
  const applied: string[] = [];
  const spool = createSpool({
    lanes: [
      {
        kind: 'webhook',
        dir,
        apply: async ({ body }) => {
          const result = await script(body);
          applied.push(body);
          return result;
        },
      },
    ],
    logger: silentLogger,
    ...options,
  });
  spools.push(spool);
  return { spool, applied };
}

const entries = async () => (await readdir(dir).catch(() => [])).filter((n) => !n.startsWith('.')).sort();
const outage = () => Promise.reject(new RegistryUnavailableError(new Error('Connection is closed.')));

describe('createSpool', () => {
  it('stores each body in its own file before append resolves, exactly as received', async () => {
    let down = true;
    const { spool } = open(() => (down ? outage() : Promise.resolve('done')));
    await spool.append('webhook', '{"task_id":"a"}');
    await spool.append('webhook', '{"task_id":"b","x":"é"}');
    const names = await entries();
    expect(names).toHaveLength(2);
    expect(names.every((n) => /^\d{13}-\d{6}-[0-9a-f]{8}\.json$/.test(n))).toBe(true);
    expect(await Promise.all(names.map((n) => readFile(join(dir, n), 'utf8')))).toEqual(['{"task_id":"a"}', '{"task_id":"b","x":"é"}']);
    down = false;
  });

  it('replays oldest first and removes an entry only once its apply resolved', async () => {
    let clock = 1_000;
    let down = true;
    const gate: Deferred<SpoolApplyResult> = createDeferred();
    const started = createDeferred<string>();
    const { spool, applied } = open(
      async (body) => {
        if (down) return outage();
        if (body === 'first') {
          started.resolve(body);
          return gate.promise;
        }
        return 'done';
      },
      { now: () => clock++ },
    );
    await spool.append('webhook', 'first');
    await spool.append('webhook', 'second');
    down = false;
    const replay = spool.replay();
    await started.promise;
    expect(await entries()).toHaveLength(2); // applying, not applied yet: still on disk
    gate.resolve('done');
    expect(await replay).toEqual({ applied: 2, remaining: 0 });
    expect(applied).toEqual(['first', 'second']);
    expect(await entries()).toEqual([]);
  });

  it('stops at the first outage and keeps that entry and the rest for the next replay', async () => {
    let down = true;
    const { spool, applied } = open(() => (down ? outage() : Promise.resolve('done')));
    await spool.append('webhook', 'one');
    await spool.append('webhook', 'two');
    expect(await spool.replay()).toEqual({ applied: 0, remaining: 2 });
    expect(applied).toEqual([]);
    down = false;
    expect(await spool.replay()).toEqual({ applied: 2, remaining: 0 });
    expect(applied).toEqual(['one', 'two']);
  });

  it('keeps an entry whose apply failed for another reason, logs it, and goes on with the next', async () => {
    const logged: string[] = [];
    let down = true;
    const spool = createSpool({
      lanes: [
        {
          kind: 'webhook',
          dir,
          apply: async ({ body }) => {
            if (down) throw new RegistryUnavailableError(null);
            if (body === 'bad') throw new Error('ERR script crashed');
            return 'done';
          },
        },
      ],
      logger: createLogger({ level: 'error', write: (line) => logged.push(line) }),
    });
    spools.push(spool);
    await spool.append('webhook', 'bad');
    await spool.append('webhook', 'good');
    down = false;
    expect(await spool.replay()).toEqual({ applied: 1, remaining: 1 });
    expect(await entries()).toHaveLength(1);
    expect(logged.join('\n')).toMatch(/spooled entry could not be applied; kept for the next replay/);
  });

  it('moves an entry that is not a valid callback aside and never applies it again', async () => {
    let down = true;
    const { spool, applied } = open(async (body) => (down ? outage() : body === 'garbage' ? 'invalid' : 'done'));
    await spool.append('webhook', 'garbage');
    down = false;
    expect(await spool.replay()).toEqual({ applied: 0, remaining: 0 });
    expect(await spool.replay()).toEqual({ applied: 0, remaining: 0 });
    expect(applied).toEqual(['garbage']);
    expect((await readdir(dir)).filter((n) => n.endsWith('.json.rejected'))).toHaveLength(1);
  });

  it('leaves entries a closed spool could not apply for the next process to replay', async () => {
    const first = open(() => outage());
    await first.spool.append('webhook', 'paid result');
    expect(await first.spool.close()).toEqual({ applied: 0, remaining: 1 });
    await expect(first.spool.append('webhook', 'late')).rejects.toThrow(/closed/);

    const next = open();
    expect(await next.spool.replay()).toEqual({ applied: 1, remaining: 0 });
    expect(next.applied).toEqual(['paid result']);
  });

  it('tries to apply right after an append, so an entry written as the registry came back is not left waiting', async () => {
    const appliedOne = createDeferred<string>();
    const { spool } = open(async (body) => {
      appliedOne.resolve(body);
      return 'done';
    });
    await spool.append('webhook', 'written during the reconnect');
    expect(await appliedOne.promise).toBe('written during the reconnect'); // nobody called replay()
    expect((await spool.flush()).remaining).toBe(0);
    expect(await entries()).toEqual([]);
  });

  it('shares one pass between concurrent replays and picks up entries appended during it', async () => {
    let down = true;
    const gate = createDeferred<SpoolApplyResult>();
    const started = createDeferred();
    const { spool, applied } = open(async (body) => {
      if (down) return outage();
      if (body === 'early') {
        started.resolve();
        return gate.promise;
      }
      return 'done';
    });
    await spool.append('webhook', 'early');
    down = false;
    const a = spool.replay();
    await started.promise;
    const b = spool.replay();
    await spool.append('webhook', 'during the pass');
    gate.resolve('done');
    expect(await a).toEqual({ applied: 2, remaining: 0 });
    expect(await b).toEqual({ applied: 2, remaining: 0 });
    expect(applied).toEqual(['early', 'during the pass']);
  });

  it('close waits for an append still being written, then flushes it', async () => {
    const { spool, applied } = open();
    const appending = spool.append('webhook', 'in flight at shutdown');
    const closed = spool.close();
    await appending;
    await closed;
    expect(applied).toEqual(['in flight at shutdown']);
    expect(await entries()).toEqual([]);
  });

  it('hands each entry the time it was appended, from its name', async () => {
    let clock = 1_700_000_000_123;
    let down = true;
    const seen: number[] = [];
    const spool = createSpool({
      lanes: [{ kind: 'webhook', dir, apply: async ({ appendedAt }) => (down ? outage() : (seen.push(appendedAt), 'done')) }],
      logger: silentLogger,
      now: () => clock,
    });
    spools.push(spool);
    await spool.append('webhook', 'arrived at 123');
    clock += 60_000;
    down = false;
    expect(await spool.replay()).toEqual({ applied: 1, remaining: 0 });
    expect(seen).toEqual([1_700_000_000_123]);
  });
});

describe('createSpool with several lanes', () => {
  /** Two lanes; `order` records `lane:body` as each entry is applied. */
  function openLanes(down: () => boolean) {
    const order: string[] = [];
    const lane = (kind: 'registration' | 'webhook') => ({
      kind,
      dir: join(root, kind),
      apply: async ({ body }: { body: string }): Promise<SpoolApplyResult> => {
        if (down()) return outage();
        order.push(`${kind}:${body}`);
        return 'done';
      },
    });
    const spool = createSpool({ lanes: [lane('registration'), lane('webhook')], logger: silentLogger });
    spools.push(spool);
    return { spool, order };
  }

  it('replays every entry of an earlier lane before any of a later one, whatever their times', async () => {
    let down = true;
    const { spool, order } = openLanes(() => down);
    await spool.append('webhook', 'callback of t1');
    await spool.append('registration', 't1');
    await spool.append('webhook', 'callback of t2');
    await spool.append('registration', 't2');
    down = false;
    expect(await spool.replay()).toEqual({ applied: 4, remaining: 0 });
    expect(order).toEqual(['registration:t1', 'registration:t2', 'webhook:callback of t1', 'webhook:callback of t2']);
  });

  it('applies nothing of a later lane when an earlier one meets an outage', async () => {
    let down = true;
    const { spool, order } = openLanes(() => down);
    await spool.append('registration', 't1');
    await spool.append('webhook', 'callback of t1');
    expect(await spool.replay()).toEqual({ applied: 0, remaining: 2 });
    expect(order).toEqual([]);
    await expect(spool.append('nope' as 'webhook', 'x')).rejects.toThrow(/no lane "nope"/);
  });
});

describe('createSpool after an outage', () => {
  afterEach(() => vi.useRealTimers());

  it('replays again retryMs after a pass that an outage stopped, with no reconnect to trigger it', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    let down = true;
    const applied = createDeferred<string>();
    const spool = createSpool({
      lanes: [{ kind: 'webhook', dir, apply: async ({ body }) => (down ? outage() : (applied.resolve(body), 'done')) }],
      logger: silentLogger,
      retryMs: 5_000,
    });
    spools.push(spool);
    await spool.append('webhook', 'spooled during a silent partition');
    expect(await spool.replay()).toEqual({ applied: 0, remaining: 1 });
    down = false; // the partition heals: the connection never closed, so no 'ready' comes
    await vi.advanceTimersByTimeAsync(5_000);
    expect(await applied.promise).toBe('spooled during a silent partition');
    expect((await spool.flush()).remaining).toBe(0);
  });
});
