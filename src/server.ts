/**
 * createGateway(config, deps?) wires Yoga (HTTP + SSE), graphql-ws (same path), the webhook route and media
 * delivery onto one node:http server, and owns every long-lived resource so `stop()` releases them all.
 */
import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { EnvelopArmorPlugin } from '@escape.tech/graphql-armor';
import { createFetch } from '@whatwg-node/fetch';
import { createYoga, type YogaServerInstance } from 'graphql-yoga';
import { Redis } from 'ioredis';
import { webhookPath, type Config } from './config.js';
import { createContextFactory, type Context, type Services } from './context.js';
import { createMemoryTaskStore, type TaskStore } from './jobs/store.js';
import { createTaskService, type TaskService } from './jobs/tasks.js';
import { sendJson } from './http/read-body.js';
import { attachGraphQLWs } from './http/graphql-ws.js';
import { createWebhookRoute, WEBHOOK_PREFIX } from './http/webhook-route.js';
import { createMetadataCache, type MetadataCache } from './loaders/metadata-cache.js';
import { createLogger, type Logger } from './logger.js';
import { createDiskCache } from './media/disk-cache.js';
import { createMediaHandler } from './media/handler.js';
import { createMediaService } from './media/media-service.js';
import { createMediaSigner, type MediaSigner } from './media/signing.js';
import { createPubSub, type PubSub } from './pubsub/index.js';
import { schema } from './schema/index.js';
import { createUpstreamClient } from './upstream/client.js';
import { createScheduler } from './upstream/rate-limit.js';
import { createRedisPacer, wrapSchedulerWithPacer } from './upstream/redis-pacer.js';
import { createRedisTaskStore } from './jobs/redis-store.js';
import { createRedisPubSub, type RedisPubSub } from './pubsub/redis.js';
import type { Scheduler } from './upstream/rate-limit.js';
import { UpstreamError } from './upstream/errors.js';

export interface GatewayDeps {
  logger?: Logger;
  /** fetch used for upstream calls and URL imports (tests inject nothing: they run a real fake upstream). */
  fetch?: typeof fetch;
  store?: TaskStore;
  pubsub?: PubSub;
  now?: () => number;
}

export interface Gateway {
  yoga: YogaServerInstance<Record<string, unknown>, Context>;
  server: Server;
  services: Services & { scheduler: Scheduler; store: TaskStore };
  /** Base URL after start (http://host:port). */
  readonly url: string;
  /** Absolute webhook URL (contains the secret: never log it). */
  readonly webhookUrl: string;
  start(): Promise<void>;
  stop(): Promise<void>;
}

export function createGateway(config: Config, deps: GatewayDeps = {}): Gateway {
  const secrets = [config.upstream.apiKey, config.webhook.secret, config.media.signingSecret].filter((s): s is string => !!s);
  const logger = deps.logger ?? createLogger({ level: config.logLevel, secrets });
  const fetchImpl = deps.fetch ?? globalThis.fetch;
  const now = deps.now ?? Date.now;

  // With REDIS_URL, instances share tasks, events and the account's request pacing.
  const redis = config.redisUrl ? new Redis(config.redisUrl, { connectionName: 'frames-gateway' }) : undefined;
  redis?.on('error', (error: unknown) => logger.warn('redis connection error', { error }));
  const localScheduler = createScheduler({
    rps: config.upstream.rps,
    maxWaitMs: config.upstream.maxWaitMs,
    marginMs: config.upstream.rateMarginMs,
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
  const client = createUpstreamClient({
    baseUrl: config.upstream.baseUrl,
    apiKey: config.upstream.apiKey ?? '',
    scheduler,
    fetch: fetchImpl,
    timeoutMs: config.upstream.timeoutMs,
  });
  const metadata: MetadataCache = createMetadataCache({ client });
  const store = deps.store ?? (redis ? createRedisTaskStore({ redis, now, prefix: config.redisPrefix }) : createMemoryTaskStore());
  const redisPubSub: RedisPubSub | undefined =
    !deps.pubsub && config.redisUrl ? createRedisPubSub({ url: config.redisUrl, logger, channelPrefix: config.redisPrefix }) : undefined;
  const pubsub = deps.pubsub ?? redisPubSub ?? createPubSub();
  const tasks: TaskService = createTaskService({
    store,
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
  });

  let publicUrl = config.publicUrl ?? `http://localhost:${config.port}`;
  let signer = createMediaSigner({ secret: config.media.signingSecret, ttlSeconds: config.media.urlTtlSeconds, publicUrl, now });

  // The signer is re-created once the real port is known; hand out a stable facade.
  const currentSigner: MediaSigner = { url: (id) => signer.url(id), verify: (...args) => signer.verify(...args) };
  const mediaCache = createDiskCache({ dir: config.media.cacheDir, maxBytes: config.media.cacheMaxBytes });
  const mediaService = createMediaService({ client, cache: mediaCache, logger });
  const media = createMediaHandler({ signer: currentSigner, service: mediaService, logger });

  const services: Services & { scheduler: Scheduler; store: TaskStore } = {
    client,
    metadata,
    tasks,
    pubsub,
    logger,
    scheduler,
    store,
    mediaUrl: currentSigner.url,
    subscriptionRecheckMs: config.tasks.subscriptionRecheckMs,
    importLimits: { ...config.import, fetch: fetchImpl },
  };
  const createContext = createContextFactory(services);

  const yoga = createYoga<Record<string, unknown>, Context>({
    schema,
    context: () => createContext(),
    graphiql: { subscriptionsProtocol: 'WS', title: 'frames gateway' },
    maskedErrors: true,
    logging: {
      debug: (...args) => logger.debug(String(args[0])),
      info: (...args) => logger.info(String(args[0])),
      warn: (...args) => logger.warn(String(args[0])),
      error: (...args) => logger.error(String(args[0]), { detail: args.slice(1).map(String) }),
    },
    landingPage: false,
    // Abuse limits on every operation (HTTP, SSE and, through getEnveloped, graphql-ws). Aliases are generous
    // because federation routers batch entity fetches under aliases.
    plugins: [EnvelopArmorPlugin({ maxDepth: { n: 12 }, maxAliases: { n: 100 }, costLimit: { maxCost: 20_000 } })],
    // Multipart uploads: one file, bounded (yoga rejects anything larger with 413 before our resolver runs).
    fetchAPI: createFetch({
      formDataLimits: { files: 1, fileSize: config.uploadMaxBytes, fieldSize: 1_000_000, fields: 10, headerSize: 16_384 },
    }),
  });

  const webhook = createWebhookRoute({ secret: config.webhook.secret, maxBodyBytes: config.webhook.maxBodyBytes, tasks, logger });

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const pathname = (req.url ?? '/').split('?')[0] ?? '/';
    if (pathname.startsWith(WEBHOOK_PREFIX)) return webhook(req, res, pathname);
    if (pathname.startsWith('/media/')) return media(req, res);
    if (pathname === '/healthz') return sendJson(res, 200, { status: 'ok' });
    if (pathname === '/readyz') {
      return sendJson(res, 200, { status: 'ready', upstreamQueue: scheduler.pending, subscriptions: pubsub.listenerCount() });
    }
    if (pathname === '/') {
      res.writeHead(302, { location: yoga.graphqlEndpoint });
      res.end();
      return;
    }
    return yoga.requestListener(req, res);
  };

  const server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      logger.error('request failed', { error, path: req.url?.split('?')[0] });
      if (!res.headersSent) sendJson(res, 500, { error: 'internal error' });
      else res.destroy();
    });
  });
  const sockets = new Set<Socket>();
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });

  const graphqlWs = attachGraphQLWs(server, yoga);

  let baseUrl = '';
  return {
    yoga,
    server,
    services,
    get url() {
      return baseUrl;
    },
    get webhookUrl() {
      return `${publicUrl}${webhookPath(config.webhook.secret)}`;
    },
    async start() {
      // Subscribe before serving: a SUBSCRIBE still queued while connecting could miss an event.
      await redisPubSub?.ready();
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(config.port, config.host, () => {
          server.off('error', reject);
          resolve();
        });
      });
      const { port } = server.address() as AddressInfo;
      baseUrl = `http://${config.host === '0.0.0.0' || config.host === '::' ? '127.0.0.1' : config.host}:${port}`;
      if (!config.publicUrl) {
        publicUrl = `http://localhost:${port}`;
        signer = createMediaSigner({ secret: config.media.signingSecret, ttlSeconds: config.media.urlTtlSeconds, publicUrl, now });
      }
      tasks.startSweeper(Math.min(30_000, Math.max(1_000, (config.tasks.timeoutSeconds * 1000) / 10)));
    },
    async stop() {
      tasks.stop();
      await graphqlWs.dispose();
      await pubsub.dispose();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const socket of sockets) socket.destroy();
      });
      await mediaService.dispose();
      await mediaCache.dispose();
      scheduler.dispose();
      await store.dispose();
      await redis?.quit().catch(() => redis.disconnect());
    },
  };
}
