import { AsyncLocalStorage } from 'node:async_hooks';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createUploadLimiter, type UploadLimiter } from '../../../src/ingest/upload-limiter.js';
import { UpstreamError } from '../../../src/upstream/errors.js';
import { createDeferred, type Deferred } from '../../helpers/deferred.js';

/** A task that reports when it starts and finishes when the test says so. */
function gatedTask(name: string, log: string[]) {
  const started = createDeferred();
  const finish: Deferred<string> = createDeferred();
  const task = vi.fn(() => {
    log.push(name);
    started.resolve();
    return finish.promise;
  });
  return { task, started: started.promise, finish };
}

describe('createUploadLimiter', () => {
  let limiter: UploadLimiter;
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    limiter = createUploadLimiter({ concurrency: 4, maxWaitMs: 20_000 });
  });
  afterEach(() => {
    limiter.dispose();
    vi.useRealTimers();
  });

  it("runs a task that waited for a slot in its caller's async context", async () => {
    const caller = new AsyncLocalStorage<string>();
    const one = createUploadLimiter({ concurrency: 1, maxWaitMs: 20_000 });
    const first = gatedTask('first', []);
    const seen: (string | undefined)[] = [];
    const running = caller.run('first', () => one.run(first.task));
    const waiting = caller.run('second', () => one.run(async () => void seen.push(caller.getStore())));
    await first.started;
    first.finish.resolve('done');
    await Promise.all([running, waiting]);
    expect(seen).toEqual(['second']);
    one.dispose();
  });

  it('runs at most `concurrency` tasks at once; the 5th starts when one of them finishes', async () => {
    const log: string[] = [];
    const tasks = ['a', 'b', 'c', 'd', 'e'].map((name) => gatedTask(name, log));
    const results = tasks.map(({ task }) => limiter.run(task));
    await Promise.all(tasks.slice(0, 4).map((t) => t.started));
    expect(log).toEqual(['a', 'b', 'c', 'd']);
    expect({ active: limiter.active, pending: limiter.pending }).toEqual({ active: 4, pending: 1 });

    tasks[2]!.finish.resolve('c done');
    expect(await results[2]).toBe('c done');
    await tasks[4]!.started;
    expect(log).toEqual(['a', 'b', 'c', 'd', 'e']);
    expect({ active: limiter.active, pending: limiter.pending }).toEqual({ active: 4, pending: 0 });

    for (const t of tasks) t.finish.resolve('done');
    await Promise.all(results);
  });

  it('refuses a waiter not started within maxWaitMs with RATE_LIMITED, and never runs it', async () => {
    const log: string[] = [];
    const running = ['a', 'b', 'c', 'd'].map((name) => gatedTask(name, log));
    const results = running.map(({ task }) => limiter.run(task));
    const late = gatedTask('late', log);
    const refused = limiter.run(late.task).catch((error: unknown) => error);

    await vi.advanceTimersByTimeAsync(19_999);
    expect(limiter.pending).toBe(1);
    await vi.advanceTimersByTimeAsync(1);
    const error = await refused;
    expect(error).toBeInstanceOf(UpstreamError);
    expect(error).toMatchObject({ kind: 'RATE_LIMITED', retryAfterSeconds: 20 });
    expect((error as Error).message).toMatch(/no upload slot \(of 4\) became free within 20000 ms/);
    expect(limiter.pending).toBe(0);

    running[0]!.finish.resolve('done');
    await results[0];
    expect(limiter.active).toBe(3);
    expect(late.task).not.toHaveBeenCalled();
    for (const t of running) t.finish.resolve('done');
    await Promise.all(results);
  });

  it('lets a waiter that got a slot in time run to the end, however long that takes', async () => {
    const log: string[] = [];
    const running = ['a', 'b', 'c', 'd'].map((name) => gatedTask(name, log));
    const results = running.map(({ task }) => limiter.run(task));
    const waiter = gatedTask('waiter', log);
    const result = limiter.run(waiter.task);

    await vi.advanceTimersByTimeAsync(10_000);
    running[0]!.finish.resolve('done');
    await waiter.started;
    await vi.advanceTimersByTimeAsync(60_000); // far past maxWaitMs while it runs
    waiter.finish.resolve('uploaded');
    expect(await result).toBe('uploaded');
    for (const t of running) t.finish.resolve('done');
    await Promise.all(results);
  });

  it('passes a task failure through and frees its slot', async () => {
    const one = createUploadLimiter({ concurrency: 1, maxWaitMs: 1000 });
    await expect(one.run(() => Promise.reject(new Error('upload failed')))).rejects.toThrow('upload failed');
    expect(await one.run(async () => 'next')).toBe('next');
    one.dispose();
  });

  it('dispose refuses the waiters and later calls; a running task finishes', async () => {
    const one = createUploadLimiter({ concurrency: 1, maxWaitMs: 1000 });
    const running = gatedTask('running', []);
    const result = one.run(running.task);
    const waiting = one.run(async () => 'never');
    one.dispose();
    await expect(waiting).rejects.toThrow(/disposed before the upload started/);
    await expect(one.run(async () => 'never')).rejects.toThrow(/disposed/);
    running.finish.resolve('finished');
    expect(await result).toBe('finished');
  });

  it('rejects a concurrency below 1', () => {
    expect(() => createUploadLimiter({ concurrency: 0, maxWaitMs: 0 })).toThrow(RangeError);
  });
});
