/**
 * Runs something at a token's expiry. Node fires a setTimeout longer than 2^31-1 ms (~24.8 days) at once, and
 * tokens may live longer than that: the timer re-arms in steps until the time has really come.
 */
const MAX_TIMER_MS = 2_147_483_647;

/** Calls `fn` once at epoch ms `at` (at once if it has passed); returns a cancel function. */
export function atTime(at: number, fn: () => void): () => void {
  let timer: ReturnType<typeof setTimeout> | undefined;
  let cancelled = false;
  const arm = () => {
    if (cancelled) return;
    const delay = at - Date.now();
    if (delay <= 0) {
      fn();
      return;
    }
    timer = setTimeout(arm, Math.min(delay, MAX_TIMER_MS));
    // The socket or stream it ends keeps the process alive; the timer alone must not.
    timer.unref();
  };
  arm();
  return () => {
    cancelled = true;
    clearTimeout(timer);
  };
}

/** Ends things at times; see {@link createExpiryScheduler}. */
export interface ExpiryScheduler<T> {
  /** Expires `item` at epoch ms `at` (at once, before returning, if that has passed). */
  add(at: number, item: T): void;
  /** Forgets `item`, added with `at`, that ended before its time; a no-op once it expired. */
  delete(at: number, item: T): void;
}

/**
 * Calls `expire(item)` for each item at its time, with one timer per distinct time rather than one per item: a JWT's
 * `exp` has whole seconds, so the sockets and streams of one token (or of tokens minted in the same second) share a
 * timer and each costs a set entry, where a timer of its own kept a Timeout and three closures alive for as long as
 * an idle subscriber stayed connected. A few lines over atTime: Node's timer lists already order the distinct times.
 */
export function createExpiryScheduler<T>(expire: (item: T) => void): ExpiryScheduler<T> {
  const due = new Map<number, { items: Set<T>; cancel: () => void }>();
  const fire = (at: number) => {
    const items = due.get(at)?.items ?? [];
    due.delete(at);
    for (const item of items) expire(item);
  };
  return {
    add(at, item) {
      const bucket = due.get(at);
      if (bucket) {
        bucket.items.add(item);
        return;
      }
      const fresh = { items: new Set([item]), cancel: () => {} };
      due.set(at, fresh);
      // Set before arming: a time already past fires inside atTime, and must find the item.
      fresh.cancel = atTime(at, () => fire(at));
    },
    delete(at, item) {
      const bucket = due.get(at);
      if (!bucket?.items.delete(item) || bucket.items.size > 0) return;
      bucket.cancel();
      due.delete(at);
    },
  };
}
