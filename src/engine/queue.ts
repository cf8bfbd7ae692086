/** A FIFO task queue with bounded concurrency and an idle() promise. */

/** Bounded-concurrency queue. */
export interface TaskQueue {
  /** Runs `task` when a slot frees up; its rejection is swallowed (tasks report their own errors). */
  push(task: () => Promise<void>): void;
  /** Resolves when nothing is queued or running. */
  idle(): Promise<void>;
  /** Drops tasks that have not started; returns how many were dropped. */
  clear(): number;
  readonly pending: number;
  readonly running: number;
}

/** Creates a queue running at most `concurrency` tasks at once (`Infinity` = just track them). */
export function createTaskQueue(concurrency: number): TaskQueue {
  const valid = (Number.isInteger(concurrency) || concurrency === Number.POSITIVE_INFINITY) && concurrency >= 1;
  if (!valid) throw new RangeError(`concurrency must be an integer >= 1, got ${concurrency}`);
  const waiting: Array<() => Promise<void>> = [];
  let running = 0;
  let idleWaiters: Array<() => void> = [];

  const settleIdle = () => {
    if (running === 0 && waiting.length === 0) {
      const waiters = idleWaiters;
      idleWaiters = [];
      for (const w of waiters) w();
    }
  };

  const pump = () => {
    while (running < concurrency && waiting.length > 0) {
      const task = waiting.shift()!;
      running++;
      void (async () => {
        try {
          await task();
        } catch {
          // tasks log and report their own failures
        } finally {
          running--;
          pump();
          settleIdle();
        }
      })();
    }
  };

  return {
    push(task) {
      waiting.push(task);
      pump();
    },
    idle() {
      if (running === 0 && waiting.length === 0) return Promise.resolve();
      return new Promise<void>((resolve) => idleWaiters.push(resolve));
    },
    clear() {
      const dropped = waiting.length;
      waiting.length = 0;
      settleIdle();
      return dropped;
    },
    get pending() {
      return waiting.length;
    },
    get running() {
      return running;
    },
  };
}
