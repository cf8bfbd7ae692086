import { createSchema, createYoga } from 'graphql-yoga';
import { SignJWT, type JWTPayload } from 'jose';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createGatewayAuth } from '../../../src/auth/gateway-auth.js';
import { createSubscriptionSharing } from '../../../src/http/subscription-sharing.js';
import { loadConfig } from '../../../src/config.js';
import { currentTenant, type Caller } from '../../../src/tenancy.js';
import { createDeferred, type Deferred } from '../../helpers/deferred.js';
import { readSseEvents } from '../../helpers/sse.js';

const SECRET = 'unit-jwt-secret-0123456789abcdef01234';
const sign = (claims: JWTPayload, expiresAt = Math.floor(Date.now() / 1000) + 600) =>
  new SignJWT(claims).setProtectedHeader({ alg: 'HS256' }).setExpirationTime(expiresAt).sign(new TextEncoder().encode(SECRET));

/**
 * yoga (no socket) over a tiny schema whose resolvers report what they see: `currentTenant()` and `ctx.caller`.
 * Each of its `events` ticks is released by the test, outside any tenant scope, like an event from the pub/sub;
 * `sources.ended` counts the event sources that finished or were closed (a listener let go).
 */
function harness(env: Record<string, string>, events = 2, options: { sharing?: boolean } = {}) {
  const auth = createGatewayAuth(loadConfig(env).auth);
  const sources = { ended: 0 };
  let tick: Deferred<void> = createDeferred();
  const schema = createSchema<{ caller: Caller }>({
    typeDefs: /* GraphQL */ `
      type Query { seen: String }
      type Subscription { ticks: String }
    `,
    resolvers: {
      Query: { seen: (_root, _args, ctx) => `${currentTenant()}/${ctx.caller.tenant}` },
      Subscription: {
        ticks: {
          subscribe: async function* () {
            try {
              for (let i = 0; i < events; i++) {
                await tick.promise;
                tick = createDeferred();
                yield currentTenant();
              }
            } finally {
              sources.ended += 1;
            }
          },
          resolve: (fromSource: string | undefined) => `${fromSource}/${currentTenant()}`,
        },
      },
    },
  });
  const yoga = createYoga({
    schema,
    context: (initial) => ({ caller: auth.callerOf(initial) }),
    // As in server.ts: sharing first, so auth sees each subscriber's stream over the shared execution.
    plugins: options.sharing ? [createSubscriptionSharing().plugin, auth.plugin] : [auth.plugin],
    maskedErrors: false,
    logging: false,
  });
  return { yoga, sources, release: () => tick.resolve() };
}

const post = (yoga: ReturnType<typeof harness>['yoga'], query: string, headers: Record<string, string> = {}) =>
  yoga.fetch('http://gateway/graphql', {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify({ query }),
  });

afterEach(() => {
  vi.useRealTimers();
});

describe('createGatewayAuth', () => {
  it('runs a query as the token tenant: currentTenant() in the resolver and ctx.caller agree', async () => {
    const { yoga } = harness({ AUTH_JWT_SECRET: SECRET });
    const res = await post(yoga, '{ seen }', { authorization: `Bearer ${await sign({ tenant: 'acme' })}` });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ data: { seen: 'acme/acme' } });
  });

  it('runs as the local tenant without auth configured', async () => {
    const { yoga } = harness({});
    expect(await (await post(yoga, '{ seen }')).json()).toEqual({ data: { seen: 'local/local' } });
  });

  it('answers 401 UNAUTHENTICATED with WWW-Authenticate before parsing the document', async () => {
    const { yoga } = harness({ AUTH_JWT_SECRET: SECRET });
    const res = await post(yoga, '{ this is not graphql');
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toBe('Bearer');
    expect(await res.json()).toEqual({
      errors: [{ message: 'Authentication required: send Authorization: Bearer <token>', extensions: { code: 'UNAUTHENTICATED' } }],
    });
  });

  it('pulls every subscription event as the tenant, though the events come from outside its scope', async () => {
    const { yoga, release } = harness({ AUTH_JWT_SECRET: SECRET });
    const token = await sign({ tenant: 'acme' });
    const res = await post(yoga, 'subscription { ticks }', { accept: 'text/event-stream', authorization: `Bearer ${token}` });
    const next = readSseEvents(res.body!);
    release();
    expect(await next()).toEqual({ data: { ticks: 'acme/acme' } });
    release();
    expect(await next()).toEqual({ data: { ticks: 'acme/acme' } });
    expect(await next()).toBe('complete');
  });

  it('ends an SSE subscription at the token expiry with a final UNAUTHENTICATED error', async () => {
    vi.useFakeTimers({ toFake: ['Date', 'setTimeout', 'clearTimeout'] });
    const { yoga, release } = harness({ AUTH_JWT_SECRET: SECRET }, Infinity);
    const exp = Math.floor(Date.now() / 1000) + 60;
    const token = await sign({ tenant: 'acme' }, exp);
    const res = await post(yoga, 'subscription { ticks }', { accept: 'text/event-stream', authorization: `Bearer ${token}` });
    expect(res.status).toBe(200);
    const next = readSseEvents(res.body!);
    release();
    expect(await next()).toEqual({ data: { ticks: 'acme/acme' } });
    const expired = next();
    await vi.advanceTimersByTimeAsync(exp * 1000 - Date.now() - 1);
    // Nothing yet one millisecond before exp; then the error, then the stream completes.
    let settled = false;
    void expired.then(() => (settled = true));
    await vi.advanceTimersByTimeAsync(0);
    expect(settled).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    expect(await expired).toEqual({ errors: [{ message: 'Token expired', extensions: { code: 'UNAUTHENTICATED' } }] });
    expect(await next()).toBe('complete');
  });
});

/** A subscription as graphql-ws runs it (getEnveloped with the connection's caller), or as SSE with `request`. */
async function subscribeEnveloped(yoga: ReturnType<typeof harness>['yoga'], initial: { caller: Caller; request?: object }) {
  const enveloped = yoga.getEnveloped(initial);
  const result = await enveloped.subscribe({
    schema: enveloped.schema,
    document: enveloped.parse('subscription { ticks }'),
    contextValue: await enveloped.contextFactory(),
  });
  return (result as AsyncIterable<unknown>)[Symbol.asyncIterator]();
}

describe('subscription streams and token expiry', () => {
  const SSE_HEADERS = { accept: 'text/event-stream' };
  // Timers still armed once yoga's parse cache (lru-cache) has run its 1 ms clock timers: the expiry ones.
  const expiryTimers = async () => {
    await vi.advanceTimersByTimeAsync(1);
    return vi.getTimerCount();
  };

  it('shares one expiry timer among the SSE streams of a token, and clears it when they end before exp', async () => {
    vi.useFakeTimers({ toFake: ['Date', 'setTimeout', 'clearTimeout'] });
    const { yoga, release } = harness({ AUTH_JWT_SECRET: SECRET }, 1);
    const authorization = `Bearer ${await sign({ tenant: 'acme' })}`;
    const streams = await Promise.all([1, 2, 3].map(() => post(yoga, 'subscription { ticks }', { ...SSE_HEADERS, authorization })));
    const nexts = streams.map((res) => readSseEvents(res.body!));
    expect(await expiryTimers()).toBe(1);
    for (const next of nexts) {
      release();
      expect(await next()).toEqual({ data: { ticks: 'acme/acme' } });
      expect(await next()).toBe('complete');
    }
    expect(await expiryTimers()).toBe(0);
  });

  it('clears the expiry of an SSE stream that completes before exp', async () => {
    vi.useFakeTimers({ toFake: ['Date', 'setTimeout', 'clearTimeout'] });
    const { yoga, release } = harness({ AUTH_JWT_SECRET: SECRET }, 1);
    const caller: Caller = { tenant: 'acme', authenticated: true, expiresAt: Date.now() + 60_000 };
    const stream = await subscribeEnveloped(yoga, { caller, request: {} });
    expect(await expiryTimers()).toBe(1);
    const first = stream.next();
    release();
    expect(await first).toEqual({ done: false, value: { data: { ticks: 'acme/acme' } } });
    expect(await stream.next()).toEqual({ done: true, value: undefined });
    expect(await expiryTimers()).toBe(0);
  });

  it('clears the expiry of an SSE stream whose client went away', async () => {
    vi.useFakeTimers({ toFake: ['Date', 'setTimeout', 'clearTimeout'] });
    const { yoga } = harness({ AUTH_JWT_SECRET: SECRET }, Infinity);
    const token = await sign({ tenant: 'acme' });
    const res = await post(yoga, 'subscription { ticks }', { ...SSE_HEADERS, authorization: `Bearer ${token}` });
    expect(res.status).toBe(200);
    expect(await expiryTimers()).toBe(1);
    const body = res.body!.getReader();
    // The first read starts the stream (yoga's cancel fails on one never started).
    await body.read();
    await body.cancel();
    expect(await expiryTimers()).toBe(0);
  });

  it('ends an SSE stream at exp even between two pulls: the source is let go at once, the next pull gets the error', async () => {
    vi.useFakeTimers({ toFake: ['Date', 'setTimeout', 'clearTimeout'] });
    const { yoga, sources, release } = harness({ AUTH_JWT_SECRET: SECRET }, Infinity);
    const endsAt = Date.now() + 60_000;
    const stream = await subscribeEnveloped(yoga, { caller: { tenant: 'acme', authenticated: true, expiresAt: endsAt }, request: {} });
    const first = stream.next();
    release();
    expect(await first).toEqual({ done: false, value: { data: { ticks: 'acme/acme' } } });
    await vi.advanceTimersByTimeAsync(60_000);
    expect(sources.ended).toBe(1);
    expect(await stream.next()).toEqual({
      done: false,
      value: { errors: [expect.objectContaining({ message: 'Token expired', extensions: expect.objectContaining({ code: 'UNAUTHENTICATED' }) })] },
    });
    expect(await stream.next()).toEqual({ done: true, value: undefined });
  });

  it('runs the events of a shared execution as the tenant, for every graphql-ws subscriber sharing it', async () => {
    const { yoga, release } = harness({ AUTH_JWT_SECRET: SECRET }, 2, { sharing: true });
    const caller: Caller = { tenant: 'acme', authenticated: true, expiresAt: null };
    const streams = [await subscribeEnveloped(yoga, { caller }), await subscribeEnveloped(yoga, { caller })];
    const first = streams.map((s) => s.next());
    release();
    expect(await Promise.all(first)).toEqual([0, 1].map(() => ({ done: false, value: { data: { ticks: 'acme/acme' } } })));
    const second = streams.map((s) => s.next());
    release();
    expect(await Promise.all(second)).toEqual([0, 1].map(() => ({ done: false, value: { data: { ticks: 'acme/acme' } } })));
    expect(await Promise.all(streams.map((s) => s.next()))).toEqual([0, 1].map(() => ({ done: true, value: undefined })));
  });

  it('pulls graphql-ws events as the tenant and leaves their end at exp to the socket (no timer per stream)', async () => {
    vi.useFakeTimers({ toFake: ['Date', 'setTimeout', 'clearTimeout'] });
    const { yoga, release } = harness({ AUTH_JWT_SECRET: SECRET }, 2);
    const stream = await subscribeEnveloped(yoga, { caller: { tenant: 'acme', authenticated: true, expiresAt: Date.now() + 1000 } });
    expect(vi.getTimerCount()).toBe(0);
    const first = stream.next();
    release();
    expect(await first).toEqual({ done: false, value: { data: { ticks: 'acme/acme' } } });
    await vi.advanceTimersByTimeAsync(2000);
    const second = stream.next();
    release();
    expect(await second).toEqual({ done: false, value: { data: { ticks: 'acme/acme' } } });
    expect(await stream.next()).toEqual({ done: true, value: undefined });
  });
});
