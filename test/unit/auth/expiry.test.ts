import { afterEach, describe, expect, it, vi } from 'vitest';
import { atTime, createExpiryScheduler } from '../../../src/auth/expiry.js';

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

describe('createExpiryScheduler', () => {
  it('expires each item at its time, with one timer per distinct time', () => {
    vi.useFakeTimers();
    const expired: string[] = [];
    const scheduler = createExpiryScheduler<string>((item) => expired.push(item));
    const t1 = Date.now() + 1000;
    const t2 = Date.now() + 2000;
    scheduler.add(t1, 'a');
    scheduler.add(t1, 'b');
    scheduler.add(t2, 'c');
    expect(vi.getTimerCount()).toBe(2);
    vi.advanceTimersByTime(999);
    expect(expired).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(expired).toEqual(['a', 'b']);
    vi.advanceTimersByTime(1000);
    expect(expired).toEqual(['a', 'b', 'c']);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('never expires a deleted item, and clears the timer of a time whose last item went', () => {
    vi.useFakeTimers();
    const expired = vi.fn();
    const scheduler = createExpiryScheduler<string>(expired);
    const at = Date.now() + 1000;
    scheduler.add(at, 'a');
    scheduler.add(at, 'b');
    scheduler.delete(at, 'a');
    expect(vi.getTimerCount()).toBe(1);
    scheduler.delete(at, 'b');
    expect(vi.getTimerCount()).toBe(0);
    scheduler.add(at, 'c');
    scheduler.delete(at + 1, 'c');
    vi.advanceTimersByTime(1000);
    expect(expired.mock.calls).toEqual([['c']]);
    // After its time, a delete changes nothing.
    scheduler.delete(at, 'c');
  });

  it('expires at once an item whose time has passed, and on time past the 24.8-day limit of one setTimeout', () => {
    vi.useFakeTimers();
    const expired: string[] = [];
    const scheduler = createExpiryScheduler<string>((item) => expired.push(item));
    scheduler.add(Date.now() - 1, 'past');
    expect(expired).toEqual(['past']);
    scheduler.add(Date.now() + 30 * DAY, 'late');
    vi.advanceTimersByTime(30 * DAY - 1);
    expect(expired).toEqual(['past']);
    vi.advanceTimersByTime(1);
    expect(expired).toEqual(['past', 'late']);
  });
});
