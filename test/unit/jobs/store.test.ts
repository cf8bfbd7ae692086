/**
 * The store-independent transition rule. The stores themselves (memory and Redis) share ONE contract suite in
 * test/integration/task-store.test.ts, so neither is tested alone.
 */
import { describe, expect, it } from 'vitest';
import { canTransition, type TaskOutcome, type TaskStatus } from '../../../src/jobs/store.js';

describe('canTransition', () => {
  const table: [TaskStatus, TaskOutcome['status'], boolean][] = [
    ['PENDING', 'SUCCEEDED', true],
    ['PENDING', 'FAILED', true],
    ['PENDING', 'TIMED_OUT', true],
    ['TIMED_OUT', 'SUCCEEDED', true],
    ['TIMED_OUT', 'FAILED', true],
    ['TIMED_OUT', 'TIMED_OUT', false],
    ['SUCCEEDED', 'SUCCEEDED', false],
    ['SUCCEEDED', 'FAILED', false],
    ['SUCCEEDED', 'TIMED_OUT', false],
    ['FAILED', 'SUCCEEDED', false],
    ['FAILED', 'FAILED', false],
    ['FAILED', 'TIMED_OUT', false],
  ];
  it.each(table)('%s → %s is %s', (from, to, allowed) => {
    expect(canTransition(from, to)).toBe(allowed);
  });
});
