/** Per-test fake timers for the upstream unit tests, and a way to await a promise without letting it reject. */
import { afterEach, beforeEach, vi } from 'vitest';

/**
 * Fake timers for every test of the file; `setup` runs once they are on, `teardown` (disposing the scheduler, whose
 * pending timers are fake ones) runs before the real timers come back.
 */
export function useFakeTimersEachTest(hooks: { setup?: () => void; teardown: () => void }): void {
  beforeEach(() => {
    vi.useFakeTimers();
    hooks.setup?.();
  });
  afterEach(() => {
    hooks.teardown();
    vi.useRealTimers();
  });
}

/** The promise's value or its error, whichever it settles with. */
export async function settle<T>(promise: Promise<T>): Promise<{ value?: T; error?: unknown }> {
  return promise.then(
    (value) => ({ value }),
    (error: unknown) => ({ error }),
  );
}
