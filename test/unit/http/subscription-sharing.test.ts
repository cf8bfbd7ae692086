/**
 * The sharing module alone (src/http/subscription-sharing.ts), driven through its envelop hook with a scripted
 * source: who shares an execution, what a late joiner gets, how the end and the last leaver reach the source.
 */
import type { DocumentNode, ExecutionResult } from 'graphql';
import { parse } from 'graphql';
import { describe, expect, it } from 'vitest';
import {
  canonicalJson,
  createSubscriptionSharing,
  deferContextBuild,
  DELIVERY_CHUNK,
  type SubscriptionSharing,
} from '../../../src/http/subscription-sharing.js';
import { LOCAL_CALLER, type Caller } from '../../../src/tenancy.js';
import { createEventQueue } from '../../helpers/deferred.js';

const DOC = parse('subscription($id: ID!) { frameExtractionTask(id: $id) { id status } }');
const OTHER_DOC = parse('subscription($id: ID!) { frameExtractionTask(id: $id) { id status frameCount } }');

/** A source stream the test pushes into; counts its pulls and whether it was returned. */
function scriptedSource() {
  const queue = createEventQueue<ExecutionResult>();
  const state = { returned: 0, pulls: 0 };
  const iterator: AsyncIterableIterator<ExecutionResult> = {
    async next() {
      state.pulls += 1;
      try {
        return { done: false, value: await queue.next() };
      } catch (error) {
        if ((error as { reason?: unknown }).reason instanceof Error) throw (error as { reason: Error }).reason;
        return { done: true, value: undefined };
      }
    },
    async return() {
      state.returned += 1;
      queue.close('returned');
      return { done: true, value: undefined };
    },
    [Symbol.asyncIterator]: () => iterator,
  };
  return {
    iterator,
    state,
    push: (status: string) => queue.push({ data: { frameExtractionTask: { status } } }),
    end: () => queue.close('done'),
    fail: (error: Error) => queue.close(error),
  };
}

interface Harness {
  sharing: SubscriptionSharing;
  sources: ReturnType<typeof scriptedSource>[];
  subscribe(options?: {
    document?: DocumentNode;
    variables?: Record<string, unknown>;
    operationName?: string;
    caller?: Caller;
    context?: Record<string, unknown>;
  }): Promise<unknown>;
}

/** The plugin's subscribe wrapper over a subscribe that opens a new scripted source per call. */
function harness(subscribeResult?: () => ExecutionResult | Promise<ExecutionResult>): Harness {
  const sharing = createSubscriptionSharing();
  const sources: ReturnType<typeof scriptedSource>[] = [];
  const raw = async () => {
    if (subscribeResult) return subscribeResult();
    const source = scriptedSource();
    sources.push(source);
    return source.iterator;
  };
  return {
    sharing,
    sources,
    subscribe(options = {}) {
      let wrapped: ((args: unknown) => unknown) | undefined;
      const hook = sharing.plugin.onSubscribe as (payload: unknown) => void;
      hook({ subscribeFn: raw, setSubscribeFn: (fn: (args: unknown) => unknown) => (wrapped = fn), args: {} });
      return Promise.resolve(
        wrapped!({
          document: options.document ?? DOC,
          operationName: options.operationName,
          variableValues: options.variables ?? { id: 't1' },
          contextValue: options.context ?? { caller: options.caller ?? LOCAL_CALLER },
        }),
      );
    },
  };
}

const stream = (value: unknown) => value as AsyncIterableIterator<ExecutionResult>;
const statusOf = async (s: AsyncIterableIterator<ExecutionResult>) => {
  const step = await s.next();
  return step.done ? 'done' : (step.value.data as { frameExtractionTask: { status: string } }).frameExtractionTask.status;
};
const acme: Caller = { tenant: 'acme', authenticated: true, expiresAt: null };
const globex: Caller = { tenant: 'globex', authenticated: true, expiresAt: null };

describe('subscription sharing', () => {
  it('runs one subscribe for subscribers of the same operation and hands every one the same result objects', async () => {
    const h = harness();
    const subscribers = (await Promise.all([h.subscribe(), h.subscribe(), h.subscribe()])).map(stream);
    expect(h.sources).toHaveLength(1);
    expect(h.sharing.stats).toMatchObject({ subscribers: 3, executions: 1, subscribeCalls: 1 });
    h.sources[0]!.push('PENDING');
    const first = await Promise.all(subscribers.map((s) => s.next()));
    expect(new Set(first.map((step) => step.value)).size).toBe(1);
    h.sources[0]!.push('SUCCEEDED');
    expect(await Promise.all(subscribers.map(statusOf))).toEqual(['SUCCEEDED', 'SUCCEEDED', 'SUCCEEDED']);
    expect(h.sharing.stats.results).toBe(2);
    h.sources[0]!.end();
    expect(await Promise.all(subscribers.map(statusOf))).toEqual(['done', 'done', 'done']);
    expect(h.sharing.stats).toMatchObject({ subscribers: 0, executions: 0 });
  });

  it('shares variables that differ only in key order, and never across variables, documents, operation names or tenants', async () => {
    const h = harness();
    await h.subscribe({ variables: { id: 't1', n: 1 } });
    await h.subscribe({ variables: { n: 1, id: 't1' } });
    expect(h.sources).toHaveLength(1);
    await h.subscribe({ variables: { id: 't2', n: 1 } });
    await h.subscribe({ document: OTHER_DOC, variables: { id: 't1', n: 1 } });
    await h.subscribe({ operationName: 'Follow', variables: { id: 't1', n: 1 } });
    await h.subscribe({ caller: acme, variables: { id: 't1', n: 1 } });
    await h.subscribe({ caller: globex, variables: { id: 't1', n: 1 } });
    // Same tenant name, unauthenticated vs authenticated: resolvers treat them differently.
    await h.subscribe({ caller: { tenant: 'local', authenticated: true, expiresAt: null }, variables: { id: 't1', n: 1 } });
    expect(h.sources).toHaveLength(7);
    // A different expiry of the same tenant is not a different result: it ends only that subscriber's stream.
    await h.subscribe({ caller: { ...acme, expiresAt: Date.now() + 1000 }, variables: { id: 't1', n: 1 } });
    expect(h.sources).toHaveLength(7);
  });

  it('gives a late joiner the latest result at once, then the later ones, never an older one', async () => {
    const h = harness();
    const early = stream(await h.subscribe());
    h.sources[0]!.push('PENDING');
    h.sources[0]!.push('TIMED_OUT');
    expect(await statusOf(early)).toBe('PENDING');
    expect(await statusOf(early)).toBe('TIMED_OUT');
    const late = stream(await h.subscribe());
    expect(h.sources).toHaveLength(1);
    expect(await statusOf(late)).toBe('TIMED_OUT');
    h.sources[0]!.push('SUCCEEDED');
    expect(await statusOf(late)).toBe('SUCCEEDED');
    expect(await statusOf(early)).toBe('SUCCEEDED');
  });

  it('returns the source only when the last sharer leaves; the next subscriber starts a new execution', async () => {
    const h = harness();
    const [a, b] = (await Promise.all([h.subscribe(), h.subscribe()])).map(stream);
    h.sources[0]!.push('PENDING');
    await Promise.all([statusOf(a!), statusOf(b!)]);
    const waiting = a!.next();
    await a!.return!();
    expect(await waiting).toEqual({ done: true, value: undefined });
    expect(h.sources[0]!.state.returned).toBe(0);
    expect(h.sharing.stats).toMatchObject({ subscribers: 1, executions: 1 });
    await b!.return!();
    expect(h.sources[0]!.state.returned).toBe(1);
    expect(h.sharing.stats).toMatchObject({ subscribers: 0, executions: 0 });
    const c = stream(await h.subscribe());
    expect(h.sources).toHaveLength(2);
    await c.return!();
    expect(h.sources[1]!.state.returned).toBe(1);
  });

  it('delivers what a sharer still had queued before the end, and a thrown error to every sharer', async () => {
    const h = harness();
    const [a, b] = (await Promise.all([h.subscribe(), h.subscribe()])).map(stream);
    h.sources[0]!.push('PENDING');
    h.sources[0]!.push('SUCCEEDED');
    h.sources[0]!.end();
    expect(await statusOf(a!)).toBe('PENDING');
    expect(await statusOf(a!)).toBe('SUCCEEDED');
    expect(await statusOf(a!)).toBe('done');
    expect([await statusOf(b!), await statusOf(b!), await statusOf(b!)]).toEqual(['PENDING', 'SUCCEEDED', 'done']);

    const [c, d] = (await Promise.all([h.subscribe(), h.subscribe()])).map(stream);
    expect(h.sources).toHaveLength(2);
    const failure = new Error('registry gone');
    h.sources[1]!.fail(failure);
    await expect(c!.next()).rejects.toBe(failure);
    await expect(d!.next()).rejects.toBe(failure);
    expect(h.sharing.stats).toMatchObject({ subscribers: 0, executions: 0 });
  });

  it('hands the subscribe error result to every subscriber that asked meanwhile, and retries for the next one', async () => {
    let calls = 0;
    const error: ExecutionResult = { errors: [] };
    const h = harness(() => {
      calls += 1;
      return error;
    });
    expect(await Promise.all([h.subscribe(), h.subscribe()])).toEqual([error, error]);
    expect(calls).toBe(1);
    expect(await h.subscribe()).toBe(error);
    expect(calls).toBe(2);
    expect(h.sharing.stats).toMatchObject({ subscribers: 0, executions: 0 });
  });

  it('completes a deferred context only for the subscriber that starts an execution', async () => {
    const seen: unknown[] = [];
    const sharing = harness();
    const contexts = [0, 1, 2].map(() => ({ caller: LOCAL_CALLER }) as Record<string, unknown>);
    const builds = contexts.map((context, i) => () => {
      seen.push(i);
      context.services = 'full';
    });
    contexts.forEach((context, i) => deferContextBuild(context, builds[i]!));
    await Promise.all(contexts.map((context) => sharing.subscribe({ context })));
    expect(seen).toEqual([0]);
    expect(contexts.map((c) => c.services)).toEqual(['full', undefined, undefined]);
  });

  it('hands a result to many sharers a chunk per turn of the event loop, each with the end in the same turn', async () => {
    const h = harness();
    const count = DELIVERY_CHUNK * 2 + 50;
    const subscribers = (await Promise.all(Array.from({ length: count }, () => h.subscribe()))).map(stream);
    // Turns of the event loop, counted by an immediate that re-arms itself until every sharer has its end.
    let turn = 0;
    let counting = true;
    const tick = () => {
      turn += 1;
      if (counting) setImmediate(tick);
    };
    setImmediate(tick);
    const received = subscribers.map(async (s) => {
      const status = await statusOf(s);
      const resultTurn = turn;
      const end = await statusOf(s);
      return { status, end, resultTurn, endTurn: turn };
    });
    h.sources[0]!.push('SUCCEEDED');
    h.sources[0]!.end();
    const got = await Promise.all(received);
    counting = false;
    expect(got.every((g) => g.status === 'SUCCEEDED' && g.end === 'done')).toBe(true);
    // The end reaches each sharer in the turn its result did (the transport then writes both at once).
    expect(got.filter((g) => g.endTurn !== g.resultTurn)).toEqual([]);
    const turnsOf = (from: number, to: number) => [...new Set(got.slice(from, to).map((g) => g.resultTurn))];
    const chunks = [turnsOf(0, DELIVERY_CHUNK), turnsOf(DELIVERY_CHUNK, 2 * DELIVERY_CHUNK), turnsOf(2 * DELIVERY_CHUNK, count)];
    expect(chunks.map((turns) => turns.length)).toEqual([1, 1, 1]);
    expect(chunks[0]![0]!).toBeLessThan(chunks[1]![0]!);
    expect(chunks[1]![0]!).toBeLessThan(chunks[2]![0]!);
    expect(h.sharing.stats).toMatchObject({ subscribers: 0, executions: 0, results: 1 });
  });

  it('keeps every sharer\'s results in order when the source yields again while a result is still being handed out', async () => {
    const h = harness();
    const count = DELIVERY_CHUNK + 10;
    const subscribers = (await Promise.all(Array.from({ length: count }, () => h.subscribe()))).map(stream);
    h.sources[0]!.push('PENDING');
    h.sources[0]!.push('SUCCEEDED');
    h.sources[0]!.end();
    const seen = await Promise.all(subscribers.map(async (s) => [await statusOf(s), await statusOf(s), await statusOf(s)]));
    expect(new Set(seen.map((statuses) => statuses.join()))).toEqual(new Set(['PENDING,SUCCEEDED,done']));
  });

  it('does not share operations whose variables are not plain JSON', async () => {
    const h = harness();
    await h.subscribe({ variables: { id: 't1', at: new Date(0) } });
    await h.subscribe({ variables: { id: 't1', at: new Date(0) } });
    expect(h.sources).toHaveLength(2);
  });
});

describe('canonicalJson', () => {
  it('sorts keys at every level and refuses what JSON cannot carry', () => {
    expect(canonicalJson({ b: [1, { d: 'x', c: null }], a: true, u: undefined })).toBe('{"a":true,"b":[1,{"c":null,"d":"x"}]}');
    expect(canonicalJson({ n: Number.NaN })).toBeUndefined();
    expect(canonicalJson({ n: 1n })).toBeUndefined();
    expect(canonicalJson(new Map())).toBeUndefined();
  });
});
