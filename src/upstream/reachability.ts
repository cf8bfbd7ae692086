/**
 * A readiness probe of an upstream base URL: does anything answer HTTP there? It bypasses the client, the API key
 * and the rate limiter on purpose: a health check must not spend the account's request budget, and any HTTP reply
 * (even the 404 of an unknown path) proves the service is up.
 */

/** Options of {@link checkReachable}. */
export interface ReachabilityOptions {
  fetch: typeof fetch;
  /** How long the whole exchange may take before the target counts as unavailable. */
  timeoutMs: number;
}

/**
 * GETs `url` and resolves with `'ok'` when any HTTP status comes back, else with `unavailable (<reason>)` (connection
 * refused, no reply within `timeoutMs`, ...). Never rejects, so `/readyz` can list every failing check at once.
 */
export async function checkReachable(url: string, options: ReachabilityOptions): Promise<string> {
  // A plain timer rather than AbortSignal.timeout(): fake timers can drive it in tests.
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), options.timeoutMs);
  try {
    const response = await options.fetch(url, { signal: controller.signal, redirect: 'manual' });
    await response.body?.cancel();
    return 'ok';
  } catch (error) {
    if (controller.signal.aborted) return `unavailable (no reply within ${options.timeoutMs} ms)`;
    return `unavailable (${describe(error)})`;
  } finally {
    clearTimeout(timer);
  }
}

/** Node's fetch hides the socket error (ECONNREFUSED, ...) in `cause`. */
function describe(error: unknown): string {
  const cause = (error as { cause?: { code?: unknown; message?: unknown } } | undefined)?.cause;
  if (typeof cause?.code === 'string') return cause.code;
  if (typeof cause?.message === 'string') return cause.message;
  return error instanceof Error ? error.message : String(error);
}
