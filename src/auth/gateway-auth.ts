/**
 * Authentication in the GraphQL pipeline. Over HTTP (POST, GET, SSE) the token is checked in yoga's
 * `onRequestParse`, before the document is even parsed, so a refused request costs no validation and no upstream
 * call; graphql-ws checks it once in `connection_init` (see http/graphql-ws.ts) and puts the caller on the initial
 * context of every operation of the socket. Either way the context gets `caller`, and each operation's execution
 * (and each pull of a subscription's stream) runs inside `runAsTenant(caller.tenant)`, so upstream calls queued deep
 * below the schema are attributed to the tenant.
 */
import { GraphQLError, type ExecutionResult } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import type { Config } from '../config.js';
import { ErrorCode } from '../schema/error-codes.js';
import { LOCAL_CALLER, pullsRunNoResolvers, runAsTenant, type Caller } from '../tenancy.js';
import { AuthenticationError, createAuthenticator, type Authenticator } from './authenticator.js';
import { createExpiryScheduler, type ExpiryScheduler } from './expiry.js';

export interface GatewayAuth {
  /** Undefined when auth is off (every caller is the local tenant). */
  authenticator: Authenticator | undefined;
  /** The caller of an operation, from yoga's initial context (HTTP request or graphql-ws connection). */
  callerOf(initialContext: object): Caller;
  plugin: Plugin;
}

/** The GraphQL error of a refused token: 401 (503 when the JWKS could not be read), coded for clients. */
export function authGraphQLError(error: AuthenticationError): GraphQLError {
  if (error.reason === 'unavailable') {
    return new GraphQLError(error.message, { extensions: { code: ErrorCode.SERVICE_UNAVAILABLE, http: { status: 503 } } });
  }
  return new GraphQLError(error.message, {
    extensions: { code: ErrorCode.UNAUTHENTICATED, http: { status: 401, headers: { 'WWW-Authenticate': 'Bearer' } } },
  });
}

export function createGatewayAuth(auth: Config['auth']): GatewayAuth {
  const authenticator = auth.enabled ? createAuthenticator(auth) : undefined;
  // Keyed by yoga's Request object, which the same request's initial context carries into the context factory.
  const callers = new WeakMap<object, Caller>();
  const expiries = createExpiryScheduler<ExpiringStream>((stream) => stream.expire());
  return {
    authenticator,
    callerOf(initialContext) {
      if (!authenticator) return LOCAL_CALLER;
      const initial = initialContext as { caller?: Caller; request?: object };
      const caller = initial.caller ?? (initial.request ? callers.get(initial.request) : undefined);
      // Fail closed: a path that skipped the check (none should) gets no operation.
      if (!caller) throw authGraphQLError(new AuthenticationError('missing', 'Authentication required'));
      return caller;
    },
    plugin: {
      async onRequestParse({ request }) {
        if (!authenticator) return;
        try {
          callers.set(request, await authenticator.authenticate(request.headers.get('authorization')));
        } catch (error) {
          if (error instanceof AuthenticationError) throw authGraphQLError(error);
          throw error;
        }
      },
      onExecute({ args, executeFn, setExecuteFn }) {
        const { tenant } = callerIn(args.contextValue);
        setExecuteFn((execArgs) => runAsTenant(tenant, () => executeFn(execArgs)));
      },
      onSubscribe({ args, subscribeFn, setSubscribeFn }) {
        const caller = callerIn(args.contextValue);
        // graphql-ws closes the whole socket at expiry (4401, see graphql-ws-auth.ts), which returns its streams; an
        // SSE stream ends itself with an error event.
        const endsAt = (args.contextValue as { request?: unknown }).request ? caller.expiresAt : null;
        setSubscribeFn(async (subscribeArgs) => {
          const result = await runAsTenant(caller.tenant, () => subscribeFn(subscribeArgs));
          if (!isAsyncIterable<ExecutionResult>(result)) return result;
          if (endsAt !== null) return new ExpiringStream(result, caller.tenant, expiries, endsAt);
          // A shared execution already runs as this tenant (the tenant is part of its key): nothing to scope.
          return pullsRunNoResolvers(result) ? result : new TenantStream(result, caller.tenant);
        });
      },
    },
  };
}

function callerIn(contextValue: unknown): Caller {
  return (contextValue as { caller?: Caller }).caller ?? LOCAL_CALLER;
}

/**
 * The subscription's stream with every pull run as the tenant: the transport pulls from its own async context, so
 * per-event resolvers would otherwise run unattributed. Over graphql-ws that is all a stream needs (the socket closes
 * at the token's expiry). A class for the reason of MeasuredStream in http/metrics-route.ts, an idle subscriber
 * holding one for hours: one object, and a pending `next()` is the source's own promise, nothing of ours. Not an
 * async generator either: its `return()` would wait for the pending event, keeping the task's listener until it came.
 */
class TenantStream<T> implements AsyncIterableIterator<T> {
  readonly #source: AsyncIterator<T>;
  readonly #tenant: string;

  constructor(source: AsyncIterable<T>, tenant: string) {
    this.#source = source[Symbol.asyncIterator]();
    this.#tenant = tenant;
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  next(): Promise<IteratorResult<T>> {
    const source = this.#source;
    return runAsTenant(this.#tenant, () => source.next());
  }

  return(value?: unknown): Promise<IteratorResult<T>> {
    const source = this.#source;
    if (!source.return) return Promise.resolve({ done: true, value: undefined });
    return runAsTenant(this.#tenant, () => source.return!(value));
  }

  throw(error?: unknown): Promise<IteratorResult<T>> {
    const source = this.#source;
    if (!source.throw) return Promise.reject(error);
    return runAsTenant(this.#tenant, () => source.throw!(error));
  }
}

/**
 * An SSE subscription's stream: a TenantStream ended at the token's expiry (by the gateway's one expiry scheduler)
 * with a final UNAUTHENTICATED error, so the client reconnects with a fresh token; then done. While a `next()` waits
 * it is a promise of ours, which the expiry settles: a source still waiting for its next event (an async generator,
 * say) may settle its own `next()`, even after `return()`, only when that event comes.
 */
class ExpiringStream extends TenantStream<ExecutionResult> {
  readonly #expiries: ExpiryScheduler<ExpiringStream>;
  readonly #endsAt: number;
  /** `expired`: the expiry came between two pulls, and the next one gets the error. */
  #state: 'open' | 'expired' | 'done' = 'open';
  /** Resolves the pending `next()`, while one waits. */
  #settle: ((step: IteratorResult<ExecutionResult>) => void) | undefined;

  constructor(source: AsyncIterable<ExecutionResult>, tenant: string, expiries: ExpiryScheduler<ExpiringStream>, endsAt: number) {
    super(source, tenant);
    this.#expiries = expiries;
    this.#endsAt = endsAt;
    // Last: a token that expired since it was checked expires the stream at once.
    expiries.add(endsAt, this);
  }

  override next(): Promise<IteratorResult<ExecutionResult>> {
    if (this.#state === 'expired') {
      this.#state = 'done';
      return Promise.resolve(expiredStep());
    }
    if (this.#state === 'done') return Promise.resolve({ done: true, value: undefined });
    return new Promise((resolve, reject) => {
      this.#settle = resolve;
      super.next().then(
        (step) => {
          if (this.#settle === resolve) this.#settle = undefined;
          if (step.done) this.#end();
          resolve(step);
        },
        (error: unknown) => {
          if (this.#settle === resolve) this.#settle = undefined;
          this.#end();
          reject(error);
        },
      );
    });
  }

  override return(value?: unknown): Promise<IteratorResult<ExecutionResult>> {
    this.#end();
    return super.return(value);
  }

  override throw(error?: unknown): Promise<IteratorResult<ExecutionResult>> {
    this.#end();
    return super.throw(error);
  }

  /** The scheduler's call at the token's expiry. */
  expire(): void {
    if (this.#state !== 'open') return;
    const settle = this.#settle;
    this.#settle = undefined;
    this.#state = settle ? 'done' : 'expired';
    settle?.(expiredStep());
    // Not awaited, for the same reason: the source may settle its return() only at its next event.
    super.return().catch(() => {});
  }

  #end(): void {
    this.#state = 'done';
    this.#expiries.delete(this.#endsAt, this);
  }
}

function expiredStep(): IteratorResult<ExecutionResult> {
  return { done: false, value: { errors: [authGraphQLError(new AuthenticationError('expired', 'Token expired'))] } };
}

function isAsyncIterable<T>(value: unknown): value is AsyncIterable<T> {
  return typeof value === 'object' && value !== null && Symbol.asyncIterator in value;
}
