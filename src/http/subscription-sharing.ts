/**
 * Subscription fan-out executed once per event, not once per subscriber (issue 12 point 4; the pitfall of
 * apollographql/graphql-subscriptions#153). Without it every subscriber of a task ran the executor's
 * subscribe (its own pub/sub listener, registry reads and rechecks) and re-executed the document for every event:
 * 10,000 subscribers of one task meant 10,000 executions of the same selection on the same payload.
 *
 * An envelop plugin, placed FIRST among the plugins that wrap `subscribe`, so it wraps the executor's own
 * subscribe and every other plugin (tenant scope and token expiry in auth/gateway-auth.ts, metrics, tracing,
 * masking) still wraps each subscriber's stream on its own: the 4401 / UNAUTHENTICATED end at a token's `exp`, the
 * subscriber gauge, the span per subscription and drain (1001 / the end of SSE streams) stay per subscriber. Both
 * transports go through envelop's subscribe (graphql-ws via `getEnveloped`, SSE via yoga), so both share.
 *
 * Subscribers whose operations are certain to produce the same results share ONE execution: one call of the
 * executor's subscribe (one source stream, one registry read, one pub/sub listener), one execution of the document
 * per event, and the same result object handed to each of them. The key is what a result can depend on:
 * - the parsed document (by identity: yoga's parser cache hands one DocumentNode per query text; two parses of one
 *   text just do not share) and the operation name;
 * - the variables, as canonical JSON (object keys sorted), exactly as the client sent them;
 * - the caller's tenant and whether it is authenticated. Resolvers read nothing else of the caller: `expiresAt` only
 *   decides when the subscriber's stream ends, which stays per subscriber. Different tenants never share.
 * The shared execution runs with the context (and in the async context: tenant, trace span) of the subscriber that
 * started it; the schema's subscription resolvers read only the caller and process-wide services from it, and renew
 * the loaders per event. A transport may defer building the full context ({@link deferContextBuild}, graphql-ws does):
 * it is then built only for a subscriber that starts an execution, and one that joins a running execution keeps just
 * the few fields the per-subscriber plugins read (caller, headers), since an idle subscriber holds its context for
 * hours (a full one is ~2 KB: every service, in dictionary mode).
 *
 * Each subscriber still gets the current state first: one that joins a running execution receives its latest result
 * at once, then every later one in order (never an older one after a newer one). The source's end (completion, a
 * final error result, a thrown error) reaches every sharer after what it still had queued; when the last sharer
 * leaves, the source is returned (its pub/sub listener goes), and the next subscriber starts a new execution.
 */
import type { DocumentNode, ExecutionResult } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import { LOCAL_CALLER, PULLS_RUN_NO_RESOLVERS, type Caller } from '../tenancy.js';

type SubscribeResult = ExecutionResult | AsyncIterable<ExecutionResult>;

/** Contexts whose full build waits for an execution to need it, with what builds it (into the same object). */
const deferredBuilds = new WeakMap<object, () => unknown>();

/**
 * Marks `context` (a subscription's context value, still partial) as completed by `build` (which must fill in the
 * same object, as envelop's `contextFactory` does): the sharing plugin calls it only when this subscriber starts an
 * execution of its own.
 */
export function deferContextBuild(context: object, build: () => unknown): void {
  deferredBuilds.set(context, build);
}

/** Runs `run` once the context of `args` is complete (builds a deferred one first). */
function withFullContext<T>(args: SubscribeArgs, run: () => T): T | Promise<T> {
  const context = args.contextValue as object | undefined;
  const build = context ? deferredBuilds.get(context) : undefined;
  if (!build) return run();
  deferredBuilds.delete(context!);
  return Promise.resolve(build()).then(run);
}

export interface SubscriptionSharingStats {
  /** Subscriber streams open (each joined one shared execution). */
  subscribers: number;
  /** Shared executions open (one executor subscribe, one source stream each). */
  executions: number;
  /** Results the shared executions produced since start: one execution of the document per event per key. */
  results: number;
  /** Calls of the executor's subscribe since start (subscribers that joined a running execution made none). */
  subscribeCalls: number;
}

export interface SubscriptionSharing {
  plugin: Plugin;
  readonly stats: Readonly<SubscriptionSharingStats>;
}

/** What a subscribe is called with: the envelop args (schema, document, variables, context...). */
interface SubscribeArgs {
  document: DocumentNode;
  operationName?: string | null;
  variableValues?: Record<string, unknown> | null;
  contextValue?: unknown;
}

export function createSubscriptionSharing(): SubscriptionSharing {
  const stats: SubscriptionSharingStats = { subscribers: 0, executions: 0, results: 0, subscribeCalls: 0 };
  // By document first: a WeakMap, so an evicted document takes its (ended) executions' keys with it.
  const executions = new WeakMap<DocumentNode, Map<string, SharedExecution>>();

  const share = (args: SubscribeArgs, subscribeFn: (args: SubscribeArgs) => unknown): unknown => {
    const key = sharingKey(args);
    if (key === undefined) return withFullContext(args, () => subscribeFn(args));
    let byKey = executions.get(args.document);
    if (!byKey) executions.set(args.document, (byKey = new Map()));
    let execution = byKey.get(key);
    if (!execution) {
      const map = byKey;
      const created = new SharedExecution(stats, () => {
        if (map.get(key) === created) map.delete(key);
      });
      execution = created;
      map.set(key, created);
      stats.subscribeCalls += 1;
      created.start(() => withFullContext(args, () => subscribeFn(args) as SubscribeResult | Promise<SubscribeResult>));
    } else if (args.contextValue) {
      // Joining: this subscriber's own context is never executed with, so it is never completed either.
      deferredBuilds.delete(args.contextValue as object);
    }
    return execution.join();
  };

  return {
    stats,
    plugin: {
      onSubscribe({ setSubscribeFn, subscribeFn }) {
        setSubscribeFn((args) => share(args as SubscribeArgs, subscribeFn as (args: SubscribeArgs) => unknown) as never);
      },
    },
  };
}

/**
 * The key of everything a result depends on besides the document (see the module comment), or undefined when the
 * variables are not plain JSON (such an operation runs on its own, as before).
 */
export function sharingKey(args: Pick<SubscribeArgs, 'operationName' | 'variableValues' | 'contextValue'>): string | undefined {
  const caller = (args.contextValue as { caller?: Caller } | undefined)?.caller ?? LOCAL_CALLER;
  const variables = canonicalJson(args.variableValues ?? {});
  if (variables === undefined) return undefined;
  // JSON strings: no tenant or operation name can forge a separator.
  return JSON.stringify([caller.tenant, caller.authenticated, args.operationName ?? null]) + variables;
}

/** JSON with object keys sorted at every level; undefined for anything JSON cannot carry faithfully. */
export function canonicalJson(value: unknown, depth = 0): string | undefined {
  if (depth > 32) return undefined;
  if (value === null) return 'null';
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return JSON.stringify(value);
    case 'number':
      return Number.isFinite(value) ? JSON.stringify(value) : undefined;
    case 'object': {
      if (Array.isArray(value)) {
        const items: string[] = [];
        for (const item of value) {
          const json = canonicalJson(item, depth + 1);
          if (json === undefined) return undefined;
          items.push(json);
        }
        return `[${items.join(',')}]`;
      }
      const proto = Object.getPrototypeOf(value) as unknown;
      if (proto !== Object.prototype && proto !== null) return undefined;
      const entries: string[] = [];
      for (const name of Object.keys(value).sort()) {
        const item = (value as Record<string, unknown>)[name];
        if (item === undefined) continue;
        const json = canonicalJson(item, depth + 1);
        if (json === undefined) return undefined;
        entries.push(`${JSON.stringify(name)}:${json}`);
      }
      return `{${entries.join(',')}}`;
    }
    default:
      return undefined;
  }
}

function isAsyncIterable(value: unknown): value is AsyncIterable<ExecutionResult> {
  return typeof value === 'object' && value !== null && Symbol.asyncIterator in value;
}

type Ending = { error: false } | { error: true; reason: unknown };

/**
 * Sharers handed one result per turn of the event loop (see SharedExecution.#deliver). Measured with
 * `npm run bench:scale-out -- --idle-only --scenario b --repeat 5` (one webhook to 10,000 subscribers of one task):
 * each result handed out with its end in the same turn costs the gateway ~50 µs of CPU per event, where handing out
 * every result first and every end after (a second write per socket) cost 77-106 µs and graphql-ws' own adapter
 * 90-119 µs; the p99 to the event stayed the same within this machine's noise (medians 423 / 468 / 448 ms).
 */
export const DELIVERY_CHUNK = 200;

interface Waiter {
  resolve: (step: IteratorResult<ExecutionResult>) => void;
  reject: (reason: unknown) => void;
}

/**
 * One execution of a subscription shared by its subscribers. It pulls the source as fast as the source yields
 * (events are executed when they come, whoever is reading) and hands each result to every sharer's queue.
 */
class SharedExecution {
  readonly #stats: SubscriptionSharingStats;
  readonly #forget: () => void;
  #started!: Promise<SubscribeResult>;
  #source: AsyncIterator<ExecutionResult> | undefined;
  readonly #sharers = new Set<SharedStream>();
  #latest: ExecutionResult | undefined;
  #ending: Ending | undefined;
  #closed = false;
  /** Subscribers waiting for the subscribe to settle (not sharers yet, but the source must not be closed under them). */
  #pendingJoins = 0;

  constructor(stats: SubscriptionSharingStats, forget: () => void) {
    this.#stats = stats;
    this.#forget = forget;
    stats.executions += 1;
  }

  start(subscribe: () => SubscribeResult | Promise<SubscribeResult> | Promise<SubscribeResult | Promise<SubscribeResult>>): void {
    this.#started = (async () => subscribe())();
    this.#started.then(
      (result) => {
        if (!isAsyncIterable(result)) return this.#close();
        this.#source = result[Symbol.asyncIterator]();
        // Everyone who asked while the subscribe ran left already (the transport returned their streams at once).
        if (this.#sharers.size === 0 && this.#pendingJoins === 0) return this.#abandon();
        void this.#pump();
      },
      () => this.#close(),
    );
  }

  /** A subscriber's result: the shared subscribe's error result, or a stream of its own over the shared results. */
  async join(): Promise<SubscribeResult> {
    this.#pendingJoins += 1;
    let result: SubscribeResult;
    try {
      result = await this.#started;
    } finally {
      this.#pendingJoins -= 1;
    }
    // The subscribe's own result (an error, such as TASK_NOT_FOUND): the same for every subscriber that asked meanwhile.
    if (!isAsyncIterable(result)) return result;
    const stream = new SharedStream(this);
    this.#stats.subscribers += 1;
    if (this.#latest !== undefined) stream.push(this.#latest);
    if (this.#ending) stream.end(this.#ending);
    else this.#sharers.add(stream);
    return stream;
  }

  /** A sharer left (its transport returned the stream): the last one closes the source. */
  leave(stream: SharedStream): void {
    if (!this.#sharers.delete(stream)) return;
    if (this.#sharers.size === 0 && this.#pendingJoins === 0) this.#abandon();
  }

  /** Called by a stream exactly once, when it stops counting as a subscriber. */
  released(): void {
    this.#stats.subscribers -= 1;
  }

  async #pump(): Promise<void> {
    const source = this.#source!;
    let pending = source.next();
    for (;;) {
      let step: IteratorResult<ExecutionResult>;
      try {
        step = await pending;
      } catch (reason) {
        return this.#finish({ error: true, reason });
      }
      if (this.#closed) return;
      if (step.done) return this.#finish({ error: false });
      this.#stats.results += 1;
      this.#latest = step.value;
      // Asked before delivering: after a final result the source ends within a few microtasks, and a sharer that
      // gets the end in the same turn as the result writes both (`next`, `complete`) at once (http/graphql-ws-socket.ts).
      pending = source.next();
      await this.#deliver(step.value, pending);
    }
  }

  /**
   * Hands `result` to every sharer, {@link DELIVERY_CHUNK} at a time with a turn of the event loop between chunks:
   * each chunk's sockets are written (and their clients can read) while the next chunk is prepared, instead of
   * 10,000 subscribers each advancing one promise step at a time and every socket being written at the very end.
   * If the source ends meanwhile (`next` settles done or rejects), the sharers already served get the end at once
   * and the rest get it with the result.
   */
  async #deliver(result: ExecutionResult, next: Promise<IteratorResult<ExecutionResult>>): Promise<void> {
    if (this.#sharers.size <= DELIVERY_CHUNK) {
      for (const sharer of this.#sharers) sharer.push(result);
      return;
    }
    const sharers = [...this.#sharers];
    let served = 0;
    let ending: Ending | undefined;
    const endServed = (end: Ending) => {
      ending = end;
      for (let i = 0; i < served; i++) sharers[i]!.end(end);
    };
    next.then(
      (step) => {
        if (step.done) endServed({ error: false });
      },
      (reason: unknown) => endServed({ error: true, reason }),
    );
    while (served < sharers.length) {
      if (served > 0) await new Promise<void>((resolve) => setImmediate(resolve));
      if (this.#closed) return;
      const to = Math.min(served + DELIVERY_CHUNK, sharers.length);
      for (let i = served; i < to; i++) {
        sharers[i]!.push(result);
        if (ending) sharers[i]!.end(ending);
      }
      served = to;
    }
  }

  #finish(ending: Ending): void {
    this.#ending = ending;
    const sharers = [...this.#sharers];
    this.#sharers.clear();
    for (const sharer of sharers) sharer.end(ending);
    this.#close();
  }

  /** Nobody reads any more: return the source (not awaited: it may settle only at its next event). */
  #abandon(): void {
    if (this.#closed) return;
    this.#close();
    this.#source?.return?.().catch(() => {});
  }

  #close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#stats.executions -= 1;
    this.#forget();
  }
}

/**
 * One subscriber's stream over a shared execution: a queue of the results it has not pulled yet, then the end.
 * A class for the reason of MeasuredStream in metrics-route.ts: an idle subscriber holds one for hours, and while a
 * `next()` waits this costs one object and the pending promise's callbacks.
 */
class SharedStream implements AsyncIterableIterator<ExecutionResult> {
  readonly #execution: SharedExecution;
  /** Results not pulled yet (usually none or one: an idle subscriber waits with an empty queue). */
  #queue: ExecutionResult[] | undefined;
  #ending: Ending | undefined;
  #waiting: Waiter | undefined;
  #released = false;

  constructor(execution: SharedExecution) {
    this.#execution = execution;
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  /** Pulls only read the queue: the execution runs in the scope of the subscriber that started it (same tenant). */
  get [PULLS_RUN_NO_RESOLVERS](): boolean {
    return true;
  }

  push(result: ExecutionResult): void {
    if (this.#released) return;
    const waiting = this.#waiting;
    if (waiting) {
      this.#waiting = undefined;
      waiting.resolve({ done: false, value: result });
    } else (this.#queue ??= []).push(result);
  }

  end(ending: Ending): void {
    if (this.#ending) return;
    this.#ending = ending;
    const waiting = this.#waiting;
    if (!waiting) return;
    this.#waiting = undefined;
    this.#settleEnd(waiting);
  }

  next(): Promise<IteratorResult<ExecutionResult>> {
    const queued = this.#queue?.shift();
    if (queued !== undefined) return Promise.resolve({ done: false, value: queued });
    if (this.#ending || this.#released) {
      return new Promise((resolve, reject) => this.#settleEnd({ resolve, reject }));
    }
    return new Promise((resolve, reject) => {
      this.#waiting = { resolve, reject };
    });
  }

  return(): Promise<IteratorResult<ExecutionResult>> {
    this.#leave();
    return Promise.resolve({ done: true, value: undefined });
  }

  throw(error?: unknown): Promise<IteratorResult<ExecutionResult>> {
    this.#leave();
    return Promise.reject(error);
  }

  #settleEnd(waiting: Waiter): void {
    const ending = this.#ending;
    this.#release();
    if (ending?.error) waiting.reject(ending.reason);
    else waiting.resolve({ done: true, value: undefined });
  }

  #leave(): void {
    this.#queue = undefined;
    const waiting = this.#waiting;
    this.#waiting = undefined;
    this.#release();
    this.#execution.leave(this);
    waiting?.resolve({ done: true, value: undefined });
  }

  #release(): void {
    if (this.#released) return;
    this.#released = true;
    this.#execution.released();
  }
}
