/**
 * Per-tenant hourly budgets of billed work (TENANT_EXTRACTIONS_PER_HOUR, TENANT_UPLOADS_PER_HOUR), counted with
 * rate-limiter-flexible: `RateLimiterRedis` with REDIS_URL, so every instance draws on the same budget, and
 * `RateLimiterMemory` without. A budget is a fixed window: it starts with the tenant's first charge and refills
 * an hour later.
 *
 * A unit is charged right before the billed upstream call ({@link meterClient}), after every local check, and
 * refunded (`reward`) when that call fails in a way that proves nothing was billed (refused locally, or by a 4xx/429
 * reply). A failure that may have reached the upstream (5xx, network error, timeout) keeps its charge.
 */
import { RateLimiterMemory, RateLimiterRedis, RateLimiterRes, type RateLimiterAbstract } from 'rate-limiter-flexible';
import type { Redis } from 'ioredis';
import { LOCAL_TENANT, currentTenant } from '../tenancy.js';
import type { UpstreamClient } from '../upstream/client.js';
import { UpstreamError } from '../upstream/errors.js';
import { RegistryUnavailableError } from './registry-guard.js';

/** What a budget counts: `extractFrames` calls, or uploads (uploadVideo, importVideo and createVideoUpload alike). */
export type Budget = 'extractions' | 'uploads';

const HOUR_SECONDS = 3600;

/** The tenant's budget is used up: nothing was charged, submitted or uploaded. */
export class QuotaExhaustedError extends Error {
  override readonly name = 'QuotaExhaustedError';
  constructor(
    readonly budget: Budget,
    readonly perHour: number,
    /** Seconds until the budget refills (at least 1). */
    readonly retryAfterSeconds: number,
  ) {
    super(`This tenant's budget of ${perHour} ${budget === 'extractions' ? 'extractions' : 'uploads and imports'} per hour is used up`);
  }
}

/** One tenant-keyed hourly budget. Every method throws {@link RegistryUnavailableError} when Redis cannot be read. */
export interface Quota {
  readonly budget: Budget;
  readonly perHour: number;
  /** Throws {@link QuotaExhaustedError} when nothing is left; consumes nothing (a cheap early refusal). */
  ensureAvailable(tenant: string): Promise<void>;
  /** Consumes one unit, or throws {@link QuotaExhaustedError}. Resolves with the refund of that unit. */
  charge(tenant: string): Promise<() => Promise<void>>;
  /** Units left in the tenant's current window. */
  remaining(tenant: string): Promise<number>;
}

/** The two budgets every tenant has. */
export interface Quotas {
  extractions: Quota;
  uploads: Quota;
}

/** How {@link createQuota} builds one budget. */
export interface QuotaOptions {
  budget: Budget;
  /** Units per hour; 0 refuses every charge. */
  perHour: number;
  /** Shared budget across instances when given (the registry connection: no offline queue, command timeout). */
  redis?: Redis;
  /** Key prefix, e.g. `frames:` (keys are `<prefix>quota:<budget>:<tenant>`). */
  prefix: string;
}

/** Creates one budget; see the module comment for what is counted and when it refills. */
export function createQuota(options: QuotaOptions): Quota {
  const { budget, perHour } = options;
  const limiterOptions = { points: Math.max(1, perHour), duration: HOUR_SECONDS, keyPrefix: `${options.prefix}quota:${budget}` };
  const limiter: RateLimiterAbstract = options.redis
    ? new RateLimiterRedis({ ...limiterOptions, storeClient: options.redis })
    : new RateLimiterMemory(limiterOptions);

  const exhausted = (res: RateLimiterRes | null) =>
    new QuotaExhaustedError(budget, perHour, perHour === 0 ? HOUR_SECONDS : Math.max(1, Math.ceil((res?.msBeforeNext ?? 0) / 1000)));

  // rate-limiter-flexible rejects with a RateLimiterRes when the budget is used up, with an Error when Redis failed.
  const store = async <T>(call: () => Promise<T>): Promise<T> => {
    try {
      return await call();
    } catch (error) {
      if (error instanceof RateLimiterRes) throw error;
      throw new RegistryUnavailableError(error);
    }
  };

  return {
    budget,
    perHour,
    async ensureAvailable(tenant) {
      if (perHour === 0) throw exhausted(null);
      const res = await store(() => limiter.get(tenant));
      if (res && res.consumedPoints >= perHour) throw exhausted(res);
    },
    async charge(tenant) {
      if (perHour === 0) throw exhausted(null);
      try {
        await store(() => limiter.consume(tenant));
      } catch (error) {
        if (!(error instanceof RateLimiterRes)) throw error;
        // A refused consume still counted its point: give it back, or a later refund would not free a unit.
        await store(() => limiter.reward(tenant)).catch(() => undefined);
        throw exhausted(error);
      }
      let refunded = false;
      // A refund after the window rolled over credits the new window: at most one unit per refused call.
      return async () => {
        if (refunded) return;
        refunded = true;
        await store(() => limiter.reward(tenant));
      };
    },
    async remaining(tenant) {
      if (perHour === 0) return 0;
      const res = await store(() => limiter.get(tenant));
      return res ? Math.max(0, perHour - res.consumedPoints) : perHour;
    },
  };
}

/** Both budgets of config.tenants, on one store. */
export function createQuotas(options: { extractionsPerHour: number; uploadsPerHour: number; redis?: Redis; prefix: string }): Quotas {
  const shared = { prefix: options.prefix, ...(options.redis ? { redis: options.redis } : {}) };
  return {
    extractions: createQuota({ budget: 'extractions', perHour: options.extractionsPerHour, ...shared }),
    uploads: createQuota({ budget: 'uploads', perHour: options.uploadsPerHour, ...shared }),
  };
}

/** No budget at all: without auth there is one local tenant and nobody to share the account with (as before). */
export function unlimitedQuotas(): Quotas {
  const unlimited = (budget: Budget): Quota => ({
    budget,
    perHour: Number.POSITIVE_INFINITY,
    ensureAvailable: async () => undefined,
    charge: async () => async () => undefined,
    remaining: async () => Number.POSITIVE_INFINITY,
  });
  return { extractions: unlimited('extractions'), uploads: unlimited('uploads') };
}

/**
 * The tenant billed work is charged to: the caller's. Outside any tenant (no billed call is made there today) the
 * local tenant's budget is used, so nothing unattributed is ever free.
 */
export function billedTenant(): string {
  return currentTenant() ?? LOCAL_TENANT;
}

/**
 * Errors that prove the billed call was not billed: every classified refusal, local (queue full, TENANT_MAX_QUEUED,
 * invalid input) or the upstream's (4xx, 429, an error envelope). UPSTREAM_ERROR (5xx, network, unreadable reply,
 * shutdown) and TIMEOUT may have reached the upstream, and anything else is unexpected: those keep their charge.
 */
function provesNotBilled(error: unknown): boolean {
  return error instanceof UpstreamError && error.kind !== 'UPSTREAM_ERROR' && error.kind !== 'TIMEOUT';
}

/** Runs the billed `call` with one unit of `quota` charged to the current tenant; refunds it if nothing was billed. */
export async function billed<T>(quota: Quota, call: () => Promise<T>): Promise<T> {
  const refund = await quota.charge(billedTenant());
  try {
    return await call();
  } catch (error) {
    if (provesNotBilled(error)) await refund().catch(() => undefined);
    throw error;
  }
}

/**
 * The client every billed call goes through: `extractFrames` draws on the extraction budget, `upload` and
 * `createSignedUpload` on the upload budget (uploadVideo and importVideo end in the first, createVideoUpload in the
 * second), charged only when the call is really made (reused tasks, dedupe joins and local refusals never reach it).
 * Other calls pass through unmetered.
 */
export function meterClient(client: UpstreamClient, quotas: Quotas): UpstreamClient {
  return {
    ...client,
    extractFrames: (assetId, options) => billed(quotas.extractions, () => client.extractFrames(assetId, options)),
    upload: (input, options) => billed(quotas.uploads, () => client.upload(input, options)),
    // A direct upload's asset is made by this call (the bytes go to the signed URL without the gateway).
    createSignedUpload: (filename, options) => billed(quotas.uploads, () => client.createSignedUpload(filename, options)),
  };
}
