/** A promise whose settle functions are exposed, so a test decides when something happens (no sleeps). */
export interface Deferred<T> {
  promise: Promise<T>;
  resolve: (value: T | PromiseLike<T>) => void;
  reject: (reason?: unknown) => void;
}

export function createDeferred<T = void>(): Deferred<T> {
  let resolve!: Deferred<T>['resolve'];
  let reject!: Deferred<T>['reject'];
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/**
 * FIFO of pushed values for tests that await "the next item" (callbacks received, subscription events).
 * `next()` resolves with the oldest unread value, or waits for the next push; after `close()` pending and later
 * `next()` calls reject once the buffered values are drained.
 */
export interface EventQueue<T> {
  push(value: T): void;
  next(): Promise<T>;
  close(reason?: unknown): void;
  /** Values pushed but not read yet. */
  readonly size: number;
  readonly closed: boolean;
}

export class EventQueueClosedError extends Error {
  constructor(readonly reason?: unknown) {
    super('event queue closed', reason === undefined ? undefined : { cause: reason });
    this.name = 'EventQueueClosedError';
  }
}

export function createEventQueue<T>(): EventQueue<T> {
  const buffered: T[] = [];
  const waiting: Deferred<T>[] = [];
  let closedWith: EventQueueClosedError | null = null;

  return {
    push(value) {
      if (closedWith) return;
      const waiter = waiting.shift();
      if (waiter) waiter.resolve(value);
      else buffered.push(value);
    },
    next() {
      if (buffered.length > 0) return Promise.resolve(buffered.shift() as T);
      if (closedWith) return Promise.reject(closedWith);
      const waiter = createDeferred<T>();
      waiting.push(waiter);
      return waiter.promise;
    },
    close(reason) {
      if (closedWith) return;
      closedWith = new EventQueueClosedError(reason);
      for (const waiter of waiting.splice(0)) waiter.reject(closedWith);
    },
    get size() {
      return buffered.length;
    },
    get closed() {
      return closedWith !== null;
    },
  };
}
