/**
 * The gateway's long-lived services, wired from config: upstream client and scheduler (paced through Redis when
 * REDIS_URL is set), metadata cache, task registry and service, pub/sub, and media delivery. `server.ts` puts HTTP
 * in front of them; `dispose()` releases everything created here.
 */
import { createHash } from 'node:crypto';
import { configSecrets, type Config } from './config.js';
import type { Services } from './context.js';
import { handleCallbackBody } from './jobs/callbacks.js';
import { createQuotas, meterClient, unlimitedQuotas } from './jobs/quota.js';
import { createMemoryOwnershipStore } from './jobs/ownership-memory.js';
import { createRedisOwnershipStore } from './jobs/ownership-redis.js';
import type { OwnershipStore } from './jobs/ownership.js';
import { createRedisTaskStore } from './jobs/redis-store.js';
import { checkRedis, createRegistryConnection, guardRegistry } from './jobs/registry-guard.js';
import { createMemoryTaskStore, type TaskStore } from './jobs/store.js';
import { createTaskService, type TaskService } from './jobs/tasks.js';
import { createTaskSpool, type WebhookSpool } from './jobs/webhook-spool.js';
import { createMetadataCache, type MetadataCache } from './loaders/metadata-cache.js';
import { createLogger, type Logger } from './logger.js';
import { createDiskCache } from './media/disk-cache.js';
import { createMediaHandler, type MediaRequestHandler } from './media/handler.js';
import { collectionIdOfFrame } from './media/ids.js';
import { createMediaService } from './media/media-service.js';
import { createImageService } from './media/rendition.js';
import { createMediaSigner, type MediaSigner } from './media/signing.js';
import { createMetrics, type Metrics } from './observability/metrics.js';
import { createPubSub, type PubSub } from './pubsub/index.js';
import { createRedisPubSub, watchConnection, whenReady, type RedisPubSub } from './pubsub/redis.js';
import { closeRedis } from './redis/close.js';
import { createUploadLimiter } from './ingest/upload-limiter.js';
import { createUpstreamClient } from './upstream/client.js';
import { UpstreamError } from './upstream/errors.js';
import { checkReachable } from './upstream/reachability.js';
import { createScheduler, type Scheduler } from './upstream/rate-limit.js';
import { createRedisPacer, wrapSchedulerWithPacer } from './upstream/redis-pacer.js';

export interface GatewayDeps {
  logger?: Logger;
  /** fetch used for upstream calls and URL imports (tests inject nothing: they run a real fake upstream). */
  fetch?: typeof fetch;
  store?: TaskStore;
  ownership?: OwnershipStore;
  pubsub?: PubSub;
  now?: () => number;
  /**
   * The embedded engine's URL (embedded mode only): `/readyz` then checks it answers. A remote upstream is not
   * checked: its outage would take every instance out of rotation at once, and nothing local could fix it.
   */
  engineUrl?: string;
}

export type GatewayServices = Services & { scheduler: Scheduler; store: TaskStore };

export interface ServiceRuntime {
  services: GatewayServices;
  media: MediaRequestHandler;
  /** This gateway's Prometheus registry and metric handles (served at `/metrics`). */
  metrics: Metrics;
  /** The public base URL media and webhook URLs are built on. */
  readonly publicUrl: string;
  /** Called once the listening port is known (when PUBLIC_URL is not set). */
  setPublicUrl(url: string): void;
  /** Where webhooks wait while Redis is unreachable (only with REDIS_URL: the memory registry cannot be away). */
  readonly webhookSpool: WebhookSpool | undefined;
  /** Resolves when shared connections (registry, pub/sub) are up and a spool left from before is replayed. */
  ready(): Promise<void>;
  /** What `/readyz` reports: ok only when every dependency this instance needs answers; `checks` names each one. */
  readiness(): Promise<{ ok: boolean; checks: Record<string, string> }>;
  dispose(): Promise<void>;
}

export function createServices(config: Config, deps: GatewayDeps = {}): ServiceRuntime {
  const logger = deps.logger ?? createLogger({ level: config.logLevel, secrets: configSecrets(config), pretty: config.logPretty });
  const fetchImpl = deps.fetch ?? globalThis.fetch;
  const now = deps.now ?? Date.now;
  const metrics = createMetrics({ sharedRegistry: config.redisUrl !== undefined });

  // With REDIS_URL, instances share tasks, events and the account's request pacing.
  // Registry commands fail at once while Redis is away (no offline queue, no waiting through reconnects), and within
  // REDIS_COMMAND_TIMEOUT_MS when a silent partition leaves the socket open: operations answer SERVICE_UNAVAILABLE
  // and webhooks go to the spool instead of hanging.
  const redis = config.redisUrl ? createRegistryConnection(config.redisUrl, { commandTimeoutMs: config.redisCommandTimeoutMs }) : undefined;
  if (redis) watchConnection(redis, 'registry', logger);
  const localScheduler = createScheduler({
    rps: config.upstream.rps,
    maxWaitMs: config.upstream.maxWaitMs,
    marginMs: config.upstream.rateMarginMs,
    // Tenant limits keep tenants from crowding each other out: without auth there is only the local tenant, and
    // its queue stays bounded by UPSTREAM_MAX_WAIT_MS alone, as before.
    ...(config.auth.enabled ? { maxQueuedPerTenant: config.tenants.maxQueued } : {}),
  });
  const scheduler: Scheduler = redis
    ? wrapSchedulerWithPacer(
        localScheduler,
        createRedisPacer({
          redis,
          // One pacer per upstream ACCOUNT (keys of an account share its limit; the key itself is never stored).
          key: `${config.redisPrefix}pacer:${createHash('sha256').update(config.upstream.apiKey ?? '').digest('hex').slice(0, 16)}`,
          rps: config.upstream.rps,
          marginMs: config.upstream.rateMarginMs,
        }),
        { maxWaitMs: config.upstream.maxWaitMs },
      )
    : localScheduler;
  // Per-tenant budgets of billed work, shared by every instance through Redis when there is one (with auth only,
  // like the queue cap).
  const quotas = config.auth.enabled
    ? createQuotas({
        extractionsPerHour: config.tenants.extractionsPerHour,
        uploadsPerHour: config.tenants.uploadsPerHour,
        prefix: config.redisPrefix,
        ...(redis ? { redis } : {}),
      })
    : unlimitedQuotas();
  // Metered: extractFrames and upload are charged to the caller's tenant exactly when they are really called.
  const client = meterClient(
    createUpstreamClient({
      baseUrl: config.upstream.baseUrl,
      apiKey: config.upstream.apiKey ?? '',
      scheduler,
      fetch: fetchImpl,
      timeoutMs: config.upstream.timeoutMs,
      stallMs: config.upstream.stallMs,
      observer: metrics.upstream,
    }),
    quotas,
  );
  const metadata: MetadataCache = createMetadataCache({ client, onLookup: metrics.metadataCache.lookup });
  const retentionMs = config.tasks.retentionSeconds * 1000;
  const store =
    deps.store ??
    (redis
      ? guardRegistry(createRedisTaskStore({ redis, now, prefix: config.redisPrefix, retentionMs }), redis)
      : createMemoryTaskStore({ retentionMs }));
  // Task ownership expires with the task record; assets and collections stay until deleted (see jobs/ownership.ts).
  const ownershipRetention = { task: retentionMs };
  const ownership =
    deps.ownership ??
    (redis
      ? guardRegistry(createRedisOwnershipStore({ redis, prefix: config.redisPrefix, retentionMs: ownershipRetention }), redis)
      : createMemoryOwnershipStore({ retentionMs: ownershipRetention, now }));
  const redisPubSub: RedisPubSub | undefined =
    !deps.pubsub && config.redisUrl ? createRedisPubSub({ url: config.redisUrl, logger, channelPrefix: config.redisPrefix }) : undefined;
  const pubsub = deps.pubsub ?? redisPubSub ?? createPubSub();
  // What the registry cannot take while Redis is away waits on local disk: billed tasks whose registration failed,
  // then valid webhooks (replayed in that order, so a callback finds its task); start-up and reconnects replay them.
  const spool = redis
    ? createTaskSpool({
        dataDir: config.dataDir,
        logger,
        now,
        register: (task) => tasks.register(task),
        applyCallback: async (body, receivedAt) =>
          (await handleCallbackBody(body, { tasks, logger }, { receivedAt, replayed: true })).status === 200 ? 'done' : 'invalid',
      })
    : undefined;
  const tasks: TaskService = createTaskService({
    store,
    ownership,
    pubsub,
    client,
    logger,
    now,
    lookupAsset: async (assetId) => {
      let reply = await metadata.get(assetId);
      if (reply.resources.find((r) => r.assetId === assetId)?.uploadStatus !== 'SUCCESS') {
        // A cached "not ready" may be stale (the upload settled since): re-read before refusing the extraction.
        metadata.invalidate(assetId);
        reply = await metadata.get(assetId);
      }
      const resource = reply.resources.find((r) => r.assetId === assetId) ?? reply.resources[0];
      if (!resource) throw new UpstreamError('NOT_FOUND', `Asset ${assetId} not found`);
      return resource;
    },
    timeoutSeconds: config.tasks.timeoutSeconds,
    reuseSeconds: config.tasks.reuseSeconds,
    parkTtlSeconds: config.webhook.pendingCallbackTtlSeconds,
    claimTtlMs: config.tasks.claimTtlMs,
    maxWaitMs: config.upstream.maxWaitMs,
    onTransition: metrics.tasks.transition,
    ...(spool ? { spoolRegistration: (task) => spool.appendRegistration(task) } : {}),
  });
  const replaySpool = () => spool?.replay().catch((error: unknown) => logger.error('spool replay failed', { error }));
  redis?.on('ready', () => {
    void replaySpool();
    // Subscriptions woken by the pub/sub's own reconnect may have found the registry still away: wake them again.
    pubsub.resync();
  });

  let publicUrl = config.publicUrl ?? `http://localhost:${config.port}`;
  const newSigner = () => createMediaSigner({ secret: config.media.signingSecret, ttlSeconds: config.media.urlTtlSeconds, publicUrl, now });
  let signer = newSigner();

  // The signer is re-created once the real port is known; hand out a stable facade.
  const currentSigner: MediaSigner = { url: (...args) => signer.url(...args), verify: (...args) => signer.verify(...args) };
  const mediaCache = createDiskCache({ dir: config.media.cacheDir, maxBytes: config.media.cacheMaxBytes });
  const mediaService = createMediaService({ client, cache: mediaCache, logger, metadata: (id) => metadata.get(id) });
  const images = createImageService({ media: mediaService, cache: mediaCache, concurrency: config.media.imageConcurrency, logger });
  const media = createMediaHandler({
    signer: currentSigner,
    service: mediaService,
    images,
    logger,
    onResult: metrics.media.request,
    // With auth every URL is minted for an owned id, so a forgotten one was deleted (perhaps through another instance).
    ...(config.auth.enabled
      ? {
          stillOwned: async (id, kind) =>
            (await ownership.ownerOf(kind === 'video' ? 'asset' : 'collection', kind === 'frame' ? (collectionIdOfFrame(id) ?? id) : id)) !==
            null,
        }
      : {}),
  });
  metrics.readAtScrape({ tasksPending: () => store.pendingCount(), mediaCacheBytes: () => mediaCache.stats().bytes });

  const services: Services & { scheduler: Scheduler; store: TaskStore } = {
    client,
    metadata,
    tasks,
    pubsub,
    logger,
    scheduler,
    store,
    ownership,
    mediaUrl: currentSigner.url,
    subscriptionRecheckMs: config.tasks.subscriptionRecheckMs,
    lateResultGraceSeconds: config.tasks.lateResultGraceSeconds,
    now,
    importLimits: { ...config.import, fetch: fetchImpl },
    uploads: createUploadLimiter({ concurrency: config.uploadConcurrency, maxWaitMs: config.upstream.maxWaitMs }),
    quotas,
    evictMedia: (id) => images.evict(id),
    mediaFrameSize: (frameId) => images.frameSize(frameId),
  };
  return {
    services,
    media,
    metrics,
    get publicUrl() {
      return publicUrl;
    },
    setPublicUrl(url) {
      publicUrl = url;
      signer = newSigner();
    },
    webhookSpool: spool,
    ready: async () => {
      await Promise.all([redis && whenReady(redis), redisPubSub?.ready()]);
      await replaySpool();
    },
    readiness: async () => {
      // At once, not one after another: a probe gets its answer within one check's timeout, not the sum of them.
      const [redisCheck, engineCheck] = await Promise.all([
        redis ? checkRedis(redis, 1_000) : undefined,
        deps.engineUrl ? checkReachable(deps.engineUrl, { fetch: fetchImpl, timeoutMs: 1_000 }) : undefined,
      ]);
      const checks: Record<string, string> = {};
      if (redisCheck !== undefined) checks.redis = redisCheck;
      if (redisPubSub) checks.redisPubSub = redisPubSub.health();
      if (engineCheck !== undefined) checks.engine = engineCheck;
      return { ok: Object.values(checks).every((check) => check === 'ok'), checks };
    },
    async dispose() {
      tasks.stop();
      // Before pub/sub and Redis close: the flush applies (and publishes) what it can; the rest stays on disk.
      await spool?.close();
      await pubsub.dispose();
      await mediaService.dispose();
      await mediaCache.dispose();
      services.uploads.dispose();
      scheduler.dispose();
      await store.dispose();
      await ownership.dispose();
      if (redis) await closeRedis(redis);
    },
  };
}
