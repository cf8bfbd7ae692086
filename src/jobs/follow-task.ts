/**
 * The task subscription's event stream, independent of GraphQL: current state first, then changes, then done.
 */
import type { Subscription } from '../pubsub/index.js';
import type { TaskRecord } from './store.js';
import { isTerminal } from './tasks.js';

/**
 * The last item of a stream that could not follow its task to the end: `TASK_GONE` when the registry no longer has
 * it (retention expiry, a flushed Redis), `REGISTRY_UNAVAILABLE` when reading the registry failed. A plain value,
 * not a thrown error, so the schema can turn it into a coded GraphQL error in a final result and then complete.
 */
export interface TaskStreamEnd {
  readonly ended: 'TASK_GONE' | 'REGISTRY_UNAVAILABLE';
  readonly taskId: string;
  /** What the failed registry read rejected with (REGISTRY_UNAVAILABLE only); for logs, never for clients. */
  readonly cause?: unknown;
}

/** What {@link followTask} yields: task states, and at most one {@link TaskStreamEnd} as its last item. */
export type TaskStreamEvent = TaskRecord | TaskStreamEnd;

/** Whether `event` is the stream's end marker rather than a task state. */
export function isTaskStreamEnd(event: TaskStreamEvent): event is TaskStreamEnd {
  return 'ended' in event;
}

/** How {@link followTask} re-reads the registry and how long it waits for a late result. */
export interface FollowTaskOptions {
  /** Reads the task from the registry: null when it no longer exists; rejects when the registry is unreachable. */
  recheck: () => Promise<TaskRecord | null>;
  /** How often the registry is re-read while the task may still change (events are only hints). */
  recheckMs: number;
  /**
   * How long after a TIMED_OUT task's `completedAt` the stream stays open for a late SUCCEEDED/FAILED (the store
   * accepts one); 0 ends the stream at TIMED_OUT.
   */
  lateResultGraceMs: number;
  /** The registry's clock (epoch ms), which `completedAt` is measured on. */
  now?: () => number;
}

/** The end of a TIMED_OUT task's late-result grace, on the registry's clock. */
const graceEnd = (task: TaskRecord, graceMs: number) => (task.completedAt ?? task.deadlineAt) + graceMs;

async function readOrEnd(recheck: FollowTaskOptions['recheck'], taskId: string): Promise<TaskStreamEvent> {
  try {
    return (await recheck()) ?? { ended: 'TASK_GONE', taskId };
  } catch (cause) {
    return { ended: 'REGISTRY_UNAVAILABLE', taskId, cause };
  }
}

type Wake = 'tick' | 'resync';

/**
 * Waits for the next event, `ms`, or a resync of the pub/sub (events may have been missed), whichever comes first;
 * `cancel()` ends a wait at once. A resync while nobody waits is kept for the next wait.
 */
function createChangeWaiter(updates: Subscription<TaskRecord>) {
  // The pending next() survives a tick: the event it resolves with later must not be lost.
  let pendingEvent: Promise<IteratorResult<TaskRecord, undefined>> | null = null;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let wake: ((why: Wake) => void) | undefined;
  let resyncMissed = false;
  updates.onResync(() => {
    if (wake) wake('resync');
    else resyncMissed = true;
  });
  return {
    async wait(ms: number): Promise<IteratorResult<TaskRecord, undefined> | Wake> {
      if (resyncMissed) {
        resyncMissed = false;
        return 'resync';
      }
      pendingEvent ??= updates.next();
      const woken = new Promise<Wake>((resolve) => {
        wake = resolve;
        timer = setTimeout(() => resolve('tick'), ms);
      });
      const winner = await Promise.race([pendingEvent, woken]);
      clearTimeout(timer);
      wake = undefined;
      if (winner !== 'tick' && winner !== 'resync') pendingEvent = null;
      return winner;
    },
    cancel() {
      clearTimeout(timer);
      wake?.('tick');
    },
  };
}

/**
 * Yields `current`, then each newer state (same-state repeats dropped), until a final state: SUCCEEDED, FAILED, or
 * TIMED_OUT once its late-result grace has passed. Events are hints: the registry is re-read every `recheckMs` too,
 * and at once when the pub/sub resyncs after a reconnect, so an event lost in a Redis outage only delays the update. A re-read that finds nothing or fails yields a
 * {@link TaskStreamEnd} and ends the stream, so no subscriber waits forever on a task that is gone.
 * A hand-written iterator, not an async generator: a generator's `return()` waits for the pending `await` to
 * settle, so a client leaving before the first change would keep its listener until the next event.
 */
export function followTask(
  current: TaskRecord,
  updates: Subscription<TaskRecord>,
  options: FollowTaskOptions,
): AsyncIterableIterator<TaskStreamEvent> {
  const { recheck, recheckMs, lateResultGraceMs: graceMs } = options;
  const now = options.now ?? (() => Date.now());
  const isFinal = (task: TaskRecord) => (task.status === 'TIMED_OUT' ? now() >= graceEnd(task, graceMs) : isTerminal(task));
  // Inside the grace, also wake at its end, so the stream completes on time between two rechecks.
  const waitMs = (task: TaskRecord) => (task.status === 'TIMED_OUT' ? Math.min(recheckMs, graceEnd(task, graceMs) - now()) : recheckMs);
  const waiter = createChangeWaiter(updates);
  let last: TaskRecord | null = null;
  let finished = false;

  const finish = async (): Promise<IteratorResult<TaskStreamEvent, undefined>> => {
    if (!finished) {
      finished = true;
      waiter.cancel();
      await updates.return();
    }
    return { value: undefined, done: true };
  };
  const nextChange = async (task: TaskRecord): Promise<TaskStreamEvent | 'done' | 'unchanged'> => {
    const winner = await waiter.wait(waitMs(task));
    if (finished) return 'done';
    if (winner === 'tick') return readOrEnd(recheck, current.id);
    if (winner !== 'resync') return winner.done ? 'done' : winner.value;
    const read = await readOrEnd(recheck, current.id);
    // A resync is a hint: a registry that is not back yet (its connection lags the pub/sub's) ends nothing; its own
    // reconnect resyncs again, and the periodic re-read still decides.
    return isTaskStreamEnd(read) && read.ended === 'REGISTRY_UNAVAILABLE' ? 'unchanged' : read;
  };
  const iterator: AsyncIterableIterator<TaskStreamEvent> = {
    async next() {
      if (finished) return { value: undefined, done: true };
      if (last === null) {
        last = current;
        return { value: current, done: false };
      }
      while (!isFinal(last)) {
        const change = await nextChange(last);
        if (change === 'done' || finished) return finish();
        if (change === 'unchanged') continue;
        if (isTaskStreamEnd(change)) {
          await finish();
          return { value: change, done: false };
        }
        if (change.status === last.status && change.completedAt === last.completedAt) continue;
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
