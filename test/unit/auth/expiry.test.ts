import { afterEach, describe, expect, it, vi } from 'vitest';
import { atTime } from '../../../src/auth/expiry.js';

const DAY = 86_400_000;

afterEach(() => {
  vi.useRealTimers();
});

describe('atTime', () => {
  it('fires at the time, not before, even past the 24.8-day limit of one setTimeout', () => {
    vi.useFakeTimers();
    const fired = vi.fn();
    atTime(Date.now() + 30 * DAY, fired);
    vi.advanceTimersByTime(30 * DAY - 1);
    expect(fired).not.toHaveBeenCalled();
    vi.advanceTimersByTime(1);
    expect(fired).toHaveBeenCalledTimes(1);
  });

  it('fires at once for a time already past, and never after cancel', () => {
    vi.useFakeTimers();
    const past = vi.fn();
    atTime(Date.now() - 1, past);
    expect(past).toHaveBeenCalledTimes(1);
    const cancelled = vi.fn();
    const cancel = atTime(Date.now() + 40 * DAY, cancelled);
    vi.advanceTimersByTime(25 * DAY);
    cancel();
    vi.advanceTimersByTime(20 * DAY);
    expect(cancelled).not.toHaveBeenCalled();
  });
});
