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
