/**
 * The metrics registry (one per gateway, typed handles, scrape-time gauges) and the subscription gauge plugin,
 * driven through `yoga.fetch` (no sockets).
 */
import { createSchema, createYoga } from 'graphql-yoga';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { ConfigError, loadConfig } from '../../../src/config.js';
import { useGraphQLMetrics, useSubscriptionMetrics } from '../../../src/http/metrics-route.js';
import { createMetrics, type Metrics } from '../../../src/observability/metrics.js';
import { createDeferred } from '../../helpers/deferred.js';
import { parseExposition } from '../../helpers/metrics.js';

const scrape = async (metrics: Metrics) => parseExposition((await metrics.scrape()).body);

afterEach(() => {
  vi.useRealTimers();
});

describe('createMetrics', () => {
  it('gives every gateway its own registry: two in one process count apart', async () => {
    const a = createMetrics({ defaultMetrics: false });
    const b = createMetrics({ defaultMetrics: false });
    a.upstream.exchange('extract', 'rate_limited');
    a.tasks.transition('PENDING');
    b.webhooks.delivery('duplicate');
    expect((await scrape(a)).value('frames_upstream_requests_total', { endpoint: 'extract', outcome: 'rate_limited' })).toBe(1);
    expect((await scrape(b)).value('frames_upstream_requests_total', { endpoint: 'extract', outcome: 'rate_limited' })).toBe(0);
    expect((await scrape(a)).value('frames_tasks_total', { status: 'PENDING' })).toBe(1);
    expect((await scrape(b)).value('frames_webhook_deliveries_total', { outcome: 'duplicate' })).toBe(1);
  });

  it('reads the pending tasks and the cache size at scrape time, NaN when the registry fails or hangs', async () => {
    vi.useFakeTimers();
    const metrics = createMetrics({ defaultMetrics: false, sourceTimeoutMs: 1000 });
    let pending: () => Promise<number> = async () => 3;
    metrics.readAtScrape({ tasksPending: () => pending(), mediaCacheBytes: () => 4096 });
    expect((await scrape(metrics)).value('frames_tasks_pending')).toBe(3);
    expect((await scrape(metrics)).value('frames_media_cache_bytes')).toBe(4096);
    pending = () => Promise.reject(new Error('connect ECONNREFUSED'));
    expect((await scrape(metrics)).value('frames_tasks_pending')).toBeNaN();
    pending = () => new Promise<number>(() => undefined);
    const hanging = scrape(metrics);
    await vi.advanceTimersByTimeAsync(1000);
    expect((await hanging).value('frames_tasks_pending')).toBeNaN();
  });

  it('says in the HELP text whether frames_tasks_pending is cluster-wide', async () => {
    const help = async (shared: boolean) =>
      /# HELP frames_tasks_pending (.*)/.exec((await createMetrics({ defaultMetrics: false, sharedRegistry: shared }).scrape()).body)?.[1];
    expect(await help(true)).toMatch(/cluster-wide.*same value/);
    expect(await help(false)).toMatch(/this instance/);
  });

  it('ends a subscription once, however often its end is reported', async () => {
    const metrics = createMetrics({ defaultMetrics: false });
    const end = metrics.subscriptions.opened('ws');
    metrics.subscriptions.opened('ws');
    end();
    end();
    expect((await scrape(metrics)).value('frames_subscriptions_active', { transport: 'ws' })).toBe(1);
  });
});

describe('useSubscriptionMetrics', () => {
  /** A yoga whose `ticks` subscription yields once, then waits for `second` (a value, or an error to throw). */
  function start() {
    const metrics = createMetrics({ defaultMetrics: false });
    const returned = createDeferred();
    const second = createDeferred<IteratorResult<number>>();
    const source = (): AsyncIterableIterator<number> => {
      let sent = false;
      return {
        [Symbol.asyncIterator]() {
          return this;
        },
        next: () => (sent ? second.promise : ((sent = true), Promise.resolve({ value: 1, done: false }))),
        return: () => {
          returned.resolve();
          return Promise.resolve({ value: undefined, done: true });
        },
      };
    };
    const yoga = createYoga({
      schema: createSchema({
        typeDefs: 'type Query { ok: Boolean } type Subscription { ticks: Int }',
        resolvers: { Subscription: { ticks: { subscribe: source, resolve: (n: number) => n } } },
      }),
      plugins: [useSubscriptionMetrics(metrics)],
      logging: false,
    });
    const open = async (accept: string) => {
      const res = await yoga.fetch('http://yoga/graphql', {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept },
        body: JSON.stringify({ query: 'subscription { ticks }' }),
      });
      const reader = res.body!.getReader();
      let text = '';
      while (!text.includes('"ticks":1')) text += new TextDecoder().decode((await reader.read()).value);
      return reader;
    };
    const active = async (transport: string) => (await scrape(metrics)).value('frames_subscriptions_active', { transport });
    return { yoga, open, active, returned, second };
  }

  it('counts an SSE subscription until its client goes away', async () => {
    const { open, active, returned } = start();
    const reader = await open('text/event-stream');
    expect(await active('sse')).toBe(1);
    await reader.cancel();
    await returned.promise;
    expect(await active('sse')).toBe(0);
  });

  it('ends the count when the stream fails, for a consumer that never calls return() (graphql-ws)', async () => {
    const { yoga, active, second } = start();
    // graphql-ws runs operations through getEnveloped (no fetch Request: the ws transport) and iterates with
    // for await, which does not call return() when next() rejects.
    const { parse, subscribe, schema, contextFactory } = yoga.getEnveloped({});
    const stream = (await subscribe({ schema, document: parse('subscription { ticks }'), contextValue: await contextFactory() })) as AsyncIterable<unknown>;
    const seen: unknown[] = [];
    second.reject(new Error('source broke'));
    await expect(
      (async () => {
        for await (const result of stream) seen.push(result);
      })(),
    ).rejects.toThrow(); // masked by yoga
    expect(seen).toEqual([{ data: { ticks: 1 } }]);
    expect(await active('ws')).toBe(0);
  });

  it('ends the count when the stream completes', async () => {
    const { open, active, second } = start();
    const reader = await open('text/event-stream');
    second.resolve({ value: undefined, done: true });
    while (!(await reader.read()).done);
    expect(await active('sse')).toBe(0);
  });
});

describe('graphql_envelop_* for subscriptions', () => {
  /** A yoga over a `ticks` subscription that pushes 1, then a result whose field failed, then ends. */
  function start(plugins: 'both' | 'prometheus only') {
    const metrics = createMetrics({ defaultMetrics: false });
    async function* ticks() {
      yield 1;
      yield -1;
    }
    const yoga = createYoga({
      schema: createSchema({
        typeDefs: 'type Query { ok: Boolean } type Subscription { ticks: Int }',
        resolvers: {
          Query: { ok: () => true },
          Subscription: {
            ticks: {
              subscribe: ticks,
              resolve: (n: number) => {
                if (n < 0) throw new Error('negative tick');
                return n;
              },
            },
          },
        },
      }),
      plugins: plugins === 'both' ? [useGraphQLMetrics(metrics), useSubscriptionMetrics(metrics)] : [useGraphQLMetrics(metrics)],
      logging: false,
    });
    /** Runs the subscription to its end the way graphql-ws does (getEnveloped, for await). */
    const follow = async () => {
      const { parse, validate, subscribe, schema, contextFactory } = yoga.getEnveloped({});
      const document = parse('subscription { ticks }');
      expect(validate(schema, document)).toEqual([]);
      const stream = (await subscribe({ schema, document, contextValue: await contextFactory() })) as AsyncIterable<{ errors?: unknown[] }>;
      const results: { errors?: unknown[] }[] = [];
      for await (const result of stream) results.push(result);
      return results;
    };
    const value = async (name: string, labels: Record<string, string>) => {
      const found = (await scrape(metrics)).samples.filter(
        (s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v),
      );
      return found.reduce((sum, s) => sum + s.value, 0);
    };
    return { yoga, follow, value };
  }

  it('leaves subscriptions out of @graphql-yoga/plugin-prometheus: it would wrap every stream for its whole life', async () => {
    const { yoga, follow, value } = start('prometheus only');
    const results = await follow();
    expect(results).toHaveLength(2);
    expect(await value('graphql_envelop_request', { operationType: 'subscription' })).toBe(0);
    expect(await value('graphql_envelop_phase_subscribe_count', {})).toBe(0);
    expect(await value('graphql_envelop_error_result', { operationType: 'subscription' })).toBe(0);
    // Queries are still the plugin's.
    await yoga.fetch('http://yoga/graphql?query=%7Bok%7D');
    expect(await value('graphql_envelop_request', { operationType: 'query' })).toBe(1);
    expect(await value('graphql_envelop_phase_execute_count', { operationType: 'query' })).toBe(1);
  });

  it('counts a subscription once when it ends, its life as the subscribe phase, and each error it pushed', async () => {
    const { follow, value } = start('both');
    const results = await follow();
    expect(results.map((r) => r.errors?.length ?? 0)).toEqual([0, 1]);
    const subscription = { operationType: 'subscription' };
    expect(await value('graphql_envelop_request', subscription)).toBe(1);
    expect(await value('graphql_envelop_request_duration_count', subscription)).toBe(1);
    expect(await value('graphql_envelop_phase_subscribe_count', subscription)).toBe(1);
    expect(await value('graphql_envelop_error_result', { ...subscription, phase: 'execute' })).toBe(1);
    expect(await value('graphql_envelop_error_result', { ...subscription, phase: 'subscribe' })).toBe(0);
    expect(await value('frames_subscriptions_active', { transport: 'ws' })).toBe(0);
  });
});

describe('METRICS_TOKEN', () => {
  it('is optional, and refused (with a clear message) when short or containing spaces', () => {
    expect(loadConfig({}).metricsToken).toBeUndefined();
    expect(loadConfig({ METRICS_TOKEN: 'a-long-enough-token-123' }).metricsToken).toBe('a-long-enough-token-123');
    for (const bad of ['short', 'has spaces in the middle of it']) {
      expect(() => loadConfig({ METRICS_TOKEN: bad })).toThrow(ConfigError);
      expect(() => loadConfig({ METRICS_TOKEN: bad })).toThrow(/METRICS_TOKEN: must be 16-256 printable ASCII characters/);
    }
  });
});
