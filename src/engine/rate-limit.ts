/** Per-account token bucket: `rps` tokens per second, bursts up to max(1, rps). */

/** Answers whether one more request may pass now. */
export interface RateLimiter {
  tryTake(): boolean;
}

/** `rps` <= 0 or undefined means unlimited. `now` is injectable for tests. */
export function createRateLimiter(rps: number | undefined, now: () => number = () => performance.now()): RateLimiter {
  if (!rps || rps <= 0) return { tryTake: () => true };
  const capacity = Math.max(1, rps);
  let tokens = capacity;
  let last = now();
  return {
    tryTake() {
      const t = now();
      tokens = Math.min(capacity, tokens + ((t - last) / 1000) * rps);
      last = t;
      if (tokens < 1) return false;
      tokens -= 1;
      return true;
    },
  };
}
