/**
 * Who is calling, as every layer needs to know it: the schema (ownership, per-tenant reuse and idempotency keys),
 * the upstream scheduler (fair share, served round-robin per tenant) and the quotas. A leaf module like `logger.ts`:
 * it imports nothing from the rest of `src/`, so any layer may import it.
 *
 * The tenant of the work in progress travels in an AsyncLocalStorage (`runAsTenant`), so calls queued deep below the
 * schema (loaders, media misses) are attributed without threading a parameter through every signature.
 */
import { AsyncLocalStorage } from 'node:async_hooks';

/** The single tenant of a gateway without auth (embedded default, or AUTH_DISABLED=true). */
export const LOCAL_TENANT = 'local';

/** The authenticated (or local) caller of one operation or media request. */
export interface Caller {
  tenant: string;
  /** False for the local tenant of a gateway without auth: every well-formed id is then usable, as before. */
  authenticated: boolean;
  /** Epoch ms when the caller's token expires (subscriptions end then); null without auth or `exp`. */
  expiresAt: number | null;
}

export const LOCAL_CALLER: Caller = Object.freeze({ tenant: LOCAL_TENANT, authenticated: false, expiresAt: null });

const scope = new AsyncLocalStorage<string>();

/**
 * Marks a subscription stream whose pulls run no resolvers: a queue of results executed elsewhere, already in the
 * tenant's scope (the shared executions of http/subscription-sharing.ts). Wrapping its pulls in `runAsTenant` would
 * only cost time per subscriber and event.
 */
export const PULLS_RUN_NO_RESOLVERS = Symbol('frames.pullsRunNoResolvers');

export function pullsRunNoResolvers(stream: object): boolean {
  return (stream as { [PULLS_RUN_NO_RESOLVERS]?: boolean })[PULLS_RUN_NO_RESOLVERS] === true;
}

/** Runs `fn` with `tenant` as the tenant of everything it starts (upstream calls, quota charges). */
export function runAsTenant<T>(tenant: string, fn: () => T): T {
  return scope.run(tenant, fn);
}

/** The tenant of the work in progress, or undefined outside any request (sweeper, webhook, start-up). */
export function currentTenant(): string | undefined {
  return scope.getStore();
}
