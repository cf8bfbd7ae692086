/**
 * Typed pub/sub for task updates. In-memory by default; a distributed EventTarget (Redis, see `redis.ts`) makes
 * several gateway instances share events. Events are hints: the task registry stays the source of truth and
 * subscribers re-read it, so an event missed during a Redis reconnect costs nothing.
 *
 * Unlike yoga's `createPubSub`, `subscribe` registers its listener synchronously (so a subscriber can listen
 * first and read the registry second), and every subscription has its OWN bounded buffer (latest wins) instead
 * of one shared `repeaterBuffer` instance.
 */
import type { TaskRecord } from '../jobs/store.js';

/** Topic map: `noun:event` keyed by id. */
export type Topics = {
  'task:updated': [taskId: string, task: TaskRecord];
  /** An extract call for the asset finished: the registered task id, or null when the call failed. */
  'asset:submitted': [assetId: string, result: { taskId: string | null }];
};
type TopicName = keyof Topics;

/** The slice of EventTarget we use; @graphql-yoga/redis-event-target implements it. */
export interface EventTargetLike {
  addEventListener(type: string, listener: (event: Event) => void): void;
  removeEventListener(type: string, listener: (event: Event) => void): void;
  dispatchEvent(event: Event): boolean;
}

export interface Subscription<T> extends AsyncIterableIterator<T> {
  return(): Promise<IteratorResult<T, undefined>>;
  /**
   * Calls `listener` whenever events for this subscription may have been missed (the transport reconnected, see
   * {@link PubSub.resync}): re-read the source of truth now. Listeners go away with `return()`.
   */
  onResync(listener: () => void): void;
}

export interface PubSub {
  publish<K extends TopicName>(topic: K, ...args: Topics[K]): void;
  /** Listens from the moment of the call; iterate to receive. Call `return()` to stop listening. */
  subscribe<K extends TopicName>(topic: K, id: Topics[K][0]): Subscription<Topics[K][1]>;
  /** Active listeners (tests assert this returns to zero after clients leave). */
  listenerCount(): number;
  /**
   * Wakes every active subscription's `onResync` listeners: events published while this instance could not hear
   * them are gone for good (Redis pub/sub is at-most-once), so subscribers re-read instead of waiting for a recheck.
   */
  resync(): void;
  dispose(): Promise<void>;
}

export interface CreatePubSubOptions {
  eventTarget?: EventTargetLike;
  /** Per-subscription buffer; older undelivered events are dropped first (default 16). */
  bufferSize?: number;
  onDispose?: () => Promise<void>;
}

export function createPubSub(options: CreatePubSubOptions = {}): PubSub {
  const target: EventTargetLike = options.eventTarget ?? new EventTarget();
  const bufferSize = options.bufferSize ?? 16;
  /** Each active subscription's stop function, with its resync listeners. */
  const active = new Map<() => void, Set<() => void>>();

  return {
    publish(topic, id, payload) {
      target.dispatchEvent(new CustomEvent(`${topic}:${id}`, { detail: payload }));
    },
    subscribe(topic, id) {
      type T = Topics[typeof topic][1];
      const name = `${topic}:${id}`;
      const buffer: T[] = [];
      let waiter: ((r: IteratorResult<T, undefined>) => void) | undefined;
      let done = false;
      const listener = (event: Event) => {
        const value = (event as CustomEvent<T>).detail;
        if (waiter) {
          const w = waiter;
          waiter = undefined;
          w({ value, done: false });
          return;
        }
        buffer.push(value);
        if (buffer.length > bufferSize) buffer.shift();
      };
      const stop = () => {
        if (done) return;
        done = true;
        target.removeEventListener(name, listener);
        active.delete(stop);
        waiter?.({ value: undefined, done: true });
        waiter = undefined;
      };
      const resyncListeners = new Set<() => void>();
      target.addEventListener(name, listener);
      active.set(stop, resyncListeners);
      const iterator: Subscription<T> = {
        next() {
          const value = buffer.shift();
          if (value !== undefined) return Promise.resolve({ value, done: false });
          if (done) return Promise.resolve({ value: undefined, done: true });
          return new Promise((resolve) => {
            waiter = resolve;
          });
        },
        return() {
          stop();
          return Promise.resolve({ value: undefined, done: true });
        },
        onResync(resyncListener) {
          if (!done) resyncListeners.add(resyncListener);
        },
        [Symbol.asyncIterator]() {
          return iterator;
        },
      };
      return iterator;
    },
    listenerCount: () => active.size,
    resync() {
      for (const listeners of [...active.values()]) for (const listener of [...listeners]) listener();
    },
    async dispose() {
      for (const stop of [...active.keys()]) stop();
      await options.onDispose?.();
    },
  };
}
