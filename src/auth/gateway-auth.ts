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
import { LOCAL_CALLER, runAsTenant, type Caller } from '../tenancy.js';
import { AuthenticationError, createAuthenticator, type Authenticator } from './authenticator.js';
import { atTime } from './expiry.js';

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
        // graphql-ws closes the whole socket at expiry (4401); an SSE stream ends itself with an error event.
        const endsAt = (args.contextValue as { request?: unknown }).request ? caller.expiresAt : null;
        setSubscribeFn(async (subscribeArgs) => {
          const result = await runAsTenant(caller.tenant, () => subscribeFn(subscribeArgs));
          return isAsyncIterable<ExecutionResult>(result) ? tenantStream(result, caller.tenant, endsAt) : result;
        });
      },
    },
  };
}

function callerIn(contextValue: unknown): Caller {
  return (contextValue as { caller?: Caller }).caller ?? LOCAL_CALLER;
}

/**
 * The subscription's stream with every pull run as the tenant (the transport pulls from its own async context, so
 * per-event resolvers would otherwise run unattributed), ended at `endsAt` with a final UNAUTHENTICATED error so the
 * client reconnects with a fresh token. A hand-written iterator: an async generator's `return()` would wait for the
 * pending event, keeping the task's listener until it came.
 */
function tenantStream(
  source: AsyncIterable<ExecutionResult>,
  tenant: string,
  endsAt: number | null,
): AsyncIterableIterator<ExecutionResult> {
  const iterator = source[Symbol.asyncIterator]();
  let state: 'open' | 'done' = 'open';
  let onExpiry: () => void = () => {};
  const expiry = new Promise<'expired'>((resolve) => (onExpiry = () => resolve('expired')));
  const cancelTimer = endsAt === null ? () => {} : atTime(endsAt, () => onExpiry());
  const close = (value?: unknown): Promise<unknown> => {
    cancelTimer();
    state = 'done';
    return iterator.return ? runAsTenant(tenant, () => iterator.return!(value)) : Promise.resolve();
  };
  const stream: AsyncIterableIterator<ExecutionResult> = {
    [Symbol.asyncIterator]: () => stream,
    async next() {
      if (state !== 'open') return { done: true, value: undefined };
      const pending = runAsTenant(tenant, () => iterator.next());
      const step = await Promise.race([pending, expiry]);
      if (step === 'expired') {
        pending.catch(() => {});
        // Not awaited: a source still waiting for its next event may settle its return() only then.
        close().catch(() => {});
        return { done: false, value: { errors: [authGraphQLError(new AuthenticationError('expired', 'Token expired'))] } };
      }
      if (step.done) cancelTimer();
      return step;
    },
    async return(value?: unknown) {
      await close(value);
      return { done: true, value: undefined };
    },
    async throw(error?: unknown) {
      cancelTimer();
      state = 'done';
      if (iterator.throw) return runAsTenant(tenant, () => iterator.throw!(error));
      throw error;
    },
  };
  return stream;
}

function isAsyncIterable<T>(value: unknown): value is AsyncIterable<T> {
  return typeof value === 'object' && value !== null && Symbol.asyncIterator in value;
}
