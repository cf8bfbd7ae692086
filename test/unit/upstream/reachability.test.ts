import { afterEach, describe, expect, it, vi } from 'vitest';
import { checkReachable } from '../../../src/upstream/reachability.js';

afterEach(() => {
  vi.useRealTimers();
});

/** A fetch that never answers: it only settles when its signal aborts (as Node's fetch does). */
const hangingFetch: typeof fetch = (_input, init) =>
  new Promise((_resolve, reject) => {
    init?.signal?.addEventListener('abort', () => reject(new DOMException('This operation was aborted', 'AbortError')));
  });

describe('checkReachable', () => {
  it('is ok for any HTTP reply, a 404 included, and releases the body', async () => {
    const cancel = vi.fn(async () => {});
    const fetch = vi.fn(async () => ({ status: 404, body: { cancel } }) as unknown as Response);
    await expect(checkReachable('http://127.0.0.1:4001', { fetch, timeoutMs: 1_000 })).resolves.toBe('ok');
    expect(fetch).toHaveBeenCalledWith('http://127.0.0.1:4001', expect.objectContaining({ signal: expect.any(AbortSignal) }));
    expect(cancel).toHaveBeenCalledOnce();
  });

  it('names the socket error when nothing listens', async () => {
    const refused = Object.assign(new TypeError('fetch failed'), { cause: Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }) });
    const fetch = vi.fn(async () => Promise.reject(refused));
    await expect(checkReachable('http://127.0.0.1:1', { fetch, timeoutMs: 1_000 })).resolves.toBe('unavailable (ECONNREFUSED)');
  });

  it('gives up after timeoutMs when the target accepts but never answers', async () => {
    vi.useFakeTimers();
    const result = checkReachable('http://127.0.0.1:4001', { fetch: hangingFetch, timeoutMs: 1_000 });
    await vi.advanceTimersByTimeAsync(999);
    let settled = false;
    void result.then(() => (settled = true));
    await Promise.resolve();
    expect(settled).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    await expect(result).resolves.toBe('unavailable (no reply within 1000 ms)');
  });
});
