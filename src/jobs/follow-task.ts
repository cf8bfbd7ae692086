/**
 * The task subscription's event stream, independent of GraphQL: current state first, then changes, then done.
 */
import type { Subscription } from '../pubsub/index.js';
import type { TaskRecord } from './store.js';
import { isTerminal } from './tasks.js';

/**
 * Yields `current`, then each newer state (same-state repeats dropped), until a final state. Events are hints: the
 * registry is re-read every `recheckMs` too, so an event lost in a Redis reconnect only delays the update.
 * A hand-written iterator, not an async generator: a generator's `return()` waits for the pending `await` to
 * settle, so a client leaving before the first change would keep its listener until the next event.
 */
export function followTask(
  current: TaskRecord,
  updates: Subscription<TaskRecord>,
  recheck: () => Promise<TaskRecord | null>,
  recheckMs: number,
): AsyncIterableIterator<TaskRecord> {
  let last: TaskRecord | null = null;
  let finished = false;
  let pendingEvent: Promise<IteratorResult<TaskRecord, undefined>> | null = null;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let wake: (() => void) | undefined;
  const finish = async (): Promise<IteratorResult<TaskRecord, undefined>> => {
    finished = true;
    clearTimeout(timer);
    wake?.();
    await updates.return();
    return { value: undefined, done: true };
  };
  const nextChange = async (): Promise<TaskRecord | null | 'done'> => {
    pendingEvent ??= updates.next();
    const tick = new Promise<'tick'>((resolve) => {
      wake = () => resolve('tick');
      timer = setTimeout(wake, recheckMs);
    });
    const winner = await Promise.race([pendingEvent, tick]);
    clearTimeout(timer);
    if (finished) return 'done';
    if (winner !== 'tick') {
      pendingEvent = null;
      return winner.done ? 'done' : winner.value;
    }
    return recheck();
  };
  const iterator: AsyncIterableIterator<TaskRecord> = {
    async next() {
      if (finished) return { value: undefined, done: true };
      if (last === null) {
        last = current;
        return { value: current, done: false };
      }
      while (!isTerminal(last)) {
        const change = await nextChange();
        if (change === 'done' || finished) return finish();
        if (!change || (change.status === last.status && change.completedAt === last.completedAt)) continue;
        last = change;
        return { value: last, done: false };
      }
      return finish();
    },
    return: finish,
    [Symbol.asyncIterator]: () => iterator,
  };
  return iterator;
}
