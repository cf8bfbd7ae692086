/**
 * createGateway(config, deps?) wires Yoga (HTTP + SSE), graphql-ws (same path), the webhook route and media
 * delivery onto one node:http server, and owns every long-lived resource so `stop()` releases them all.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createFetch } from '@whatwg-node/fetch';
import { createYoga, maskError, type YogaServerInstance } from 'graphql-yoga';
import { createGatewayAuth } from './auth/gateway-auth.js';
import { webhookPath, type Config } from './config.js';
import { createContextFactory, type Context } from './context.js';
import { createDemoPage, loadExampleTabs, type ExampleTab } from './http/demo-page.js';
import { trackConnections, useEndEventStreamsOn } from './http/drain.js';
import { attachGraphQLWs } from './http/graphql-ws.js';
import { createSubscriptionSharing, type SubscriptionSharingStats } from './http/subscription-sharing.js';
import { createMetricsRoute, METRICS_PATH, useGraphQLMetrics, useSubscriptionMetrics } from './http/metrics-route.js';
import { useGraphQLTracing } from './http/graphql-tracing.js';
import { createResponseCache, type ResponseCache } from './http/response-cache.js';
import { operationLimitPlugins, useJsonBodyLimit } from './http/operation-limits.js';
import { loadPersistedOperations, usePersistedOperationList } from './http/persisted-operations.js';
import { sendJson } from './http/read-body.js';
import { loggedRoute, useRequestLogOperation, withRequestLog } from './http/request-log.js';
import { createSignedUploadProxy, SIGNED_UPLOAD_PATH_PREFIX } from './http/signed-upload-proxy.js';
import { createWebhookRoute, WEBHOOK_PREFIX } from './http/webhook-route.js';
import { registryOutageError } from './schema/errors.js';
import { schema } from './schema/index.js';
import { createServices, type GatewayDeps, type GatewayServices } from './services.js';

export type { GatewayDeps, GatewayServices };

export interface Gateway {
  yoga: YogaServerInstance<Record<string, unknown>, Context>;
  server: Server;
  services: GatewayServices;
  /** Subscribers, shared executions and the results they produced (http/subscription-sharing.ts). */
  readonly subscriptions: Readonly<SubscriptionSharingStats>;
  /** The cache of immutable reads (http/response-cache.ts; absent with RESPONSE_CACHE_MAX_BYTES=0). */
  responseCache: ResponseCache | undefined;
  /** Base URL after start (http://host:port). */
  readonly url: string;
  /** Absolute webhook URL (contains the secret: never log it). */
  readonly webhookUrl: string;
  start(): Promise<void>;
  /**
   * Graceful drain: `/readyz` answers 503 "draining", the server stops accepting, graphql-ws sockets close with
   * 1001 and SSE streams end (clients reconnect elsewhere), in-flight requests (webhooks included) finish within
   * `timeoutMs` (default SHUTDOWN_TIMEOUT_MS) before their sockets are destroyed; then the services are disposed.
   * Idempotent: later calls (and `stop()`) share the first drain.
   */
  shutdown(options?: { timeoutMs?: number }): Promise<void>;
  /** `shutdown({ timeoutMs: 0 })`: the same order, but in-flight requests are cut at once (tests). */
  stop(): Promise<void>;
}

/** Room for the `operations` and `map` fields and part headers of a GraphQL multipart upload. */
const MULTIPART_OVERHEAD_BYTES = 1_048_576;

export function createGateway(config: Config, deps: GatewayDeps = {}): Gateway {
  // Before any service starts: a broken list throws here, with nothing to release.
  const persistedOperations = loadPersistedOperations(config);
  const runtime = createServices(config, deps);
  const { services } = runtime;
  const { logger, tasks, scheduler } = services;
  const createContext = createContextFactory(services);
  // Bearer JWTs on HTTP/SSE and in graphql-ws' connection_init; without AUTH_* every caller is the local tenant.
  const auth = createGatewayAuth(config.auth);
  // Aborted when the drain begins: ends every SSE stream (see useEndEventStreamsOn).
  const drainSignal = new AbortController();
  let exampleTabs: Promise<ExampleTab[]> | undefined;
  // Subscribers of the same operation, variables and tenant share one execution per event.
  const sharing = createSubscriptionSharing();

  // Yoga's default 25 MB body cap would refuse uploads UPLOAD_MAX_BYTES allows: the file limit plus room for the
  // multipart envelope (the per-file limit below still applies).
  const uploadBodyCap = Math.max(25_000_000, config.uploadMaxBytes + MULTIPART_OVERHEAD_BYTES);
  const responseCache = config.responseCacheMaxBytes > 0 ? createResponseCache({ maxBytes: config.responseCacheMaxBytes }) : undefined;

  const yoga = createYoga<Record<string, unknown>, Context>({
    schema,
    context: (initial) => createContext(auth.callerOf(initial)),
    // Opens with the demo's example operations (web/operations/) as tabs, read on the first page load.
    graphiql: config.exposure.graphiql && (async () => ({ subscriptionsProtocol: 'WS', title: 'frames gateway', defaultTabs: await (exampleTabs ??= loadExampleTabs()) })),
    // GraphiQL bundled into the page: no third-party CDN script, and it works offline. The bundle is ~9 MB of JS
    // (~45 MB RSS once parsed), so it is imported on the first page request, not at start-up.
    renderGraphiQL: async (options) => (await import('@graphql-yoga/render-graphiql')).renderGraphiQL(options),
    maskedErrors: { maskError: (error, message, isDev) => registryOutageError(error) ?? maskError(error, message, isDev) },
    logging: {
      debug: (...args) => logger.debug(String(args[0])),
      info: (...args) => logger.info(String(args[0])),
      warn: (...args) => logger.warn(String(args[0])),
      error: (...args) => logger.error(String(args[0]), { detail: args.slice(1).map(String) }),
    },
    landingPage: false,
    // No CSRF prevention plugin: nothing here sets or reads cookies (callers authenticate with an Authorization
    // header, media with signed URLs), so a cross-site request carries no ambient credential to abuse.
    plugins: [
      // Wraps the executor's subscribe before any other plugin does, so each of them still wraps every subscriber's
      // own stream (token expiry, metrics, spans); it has no request hooks, so the auth check below still comes first.
      sharing.plugin,
      // First: a refused token ends the request before its body is parsed; execution runs as the caller's tenant.
      auth.plugin,
      // Persisted operations before the limits, so those check the document a hash stands for.
      ...(persistedOperations ? [usePersistedOperationList(persistedOperations)] : []),
      // Every body cap (JSON and multipart) in one plugin, counting only bodies that declare no length.
      useJsonBodyLimit(config.limits.maxBodyBytes, { multipartMaxBytes: uploadBodyCap }),
      // Abuse limits and introspection on every operation (HTTP, SSE and, through getEnveloped, graphql-ws).
      ...operationLimitPlugins(config),
      useEndEventStreamsOn(drainSignal.signal),
      useRequestLogOperation(),
      useGraphQLMetrics(runtime.metrics),
      useSubscriptionMetrics(runtime.metrics),
      // Last, so the operation span wraps the execute/subscribe every other plugin settled on.
      useGraphQLTracing(),
      // After every other plugin (logs, metrics and spans still see each operation it answers): immutable reads only.
      ...(responseCache ? [responseCache.plugin] : []),
    ],
    // Applied by useJsonBodyLimit above (the same caps, without a counting stream for bodies of a declared length).
    maxRequestBodySize: false,
    // Multipart uploads: one file, bounded (yoga rejects anything larger with 413 before our resolver runs).
    fetchAPI: createFetch({
      formDataLimits: { files: 1, fileSize: config.uploadMaxBytes, fieldSize: 1_000_000, fields: 10, headerSize: 16_384 },
    }),
  });

  const webhook = createWebhookRoute({
    secret: config.webhook.secret,
    maxBodyBytes: config.webhook.maxBodyBytes,
    tasks,
    logger,
    spool: runtime.webhookSpool,
    metrics: runtime.metrics.webhooks,
  });
  const metricsRoute = createMetricsRoute({ metrics: runtime.metrics, token: config.metricsToken });
  // Embedded mode: the engine's signed upload URLs point at this server (one port for browsers; see the module).
  const signedUploads = deps.engineUrl
    ? createSignedUploadProxy(deps.engineUrl, logger, (assetId) => services.metadata.invalidate(assetId))
    : undefined;
  const demoPage = config.exposure.demoPage
    ? createDemoPage({
        auth: config.auth.enabled,
        graphiql: config.exposure.graphiql,
        mediaOrigin: () => new URL(runtime.publicUrl).origin,
        // Browsers upload straight to the upstream's signed URLs: the embedded engine, or memories.ai's storage.
        uploadOrigins: [new URL(config.upstream.baseUrl).origin, 'https://storage.googleapis.com'],
        logger,
      })
    : undefined;

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const pathname = (req.url ?? '/').split('?')[0] ?? '/';
    if (pathname.startsWith(WEBHOOK_PREFIX)) return webhook(req, res, pathname);
    if (pathname.startsWith('/media/')) return runtime.media(req, res);
    if (signedUploads && pathname.startsWith(SIGNED_UPLOAD_PATH_PREFIX)) return signedUploads(req, res);
    if (pathname === METRICS_PATH) return metricsRoute(req, res);
    if (pathname === '/healthz') return sendJson(res, 200, { status: 'ok' });
    if (pathname === '/readyz') {
      const load = { upstreamQueue: scheduler.pending, subscriptions: sharing.stats.subscribers };
      if (drain.draining) return sendJson(res, 503, { status: 'draining', ...load });
      const { ok, checks } = await runtime.readiness();
      return sendJson(res, ok ? 200 : 503, {
        status: ok ? 'ready' : 'unavailable',
        checks,
        upstreamQueue: scheduler.pending,
        subscriptions: sharing.stats.subscribers,
      });
    }
    if (demoPage?.handles(pathname)) return demoPage.handle(req, res, pathname);
    if (pathname === '/') {
      res.writeHead(302, { location: yoga.graphqlEndpoint });
      res.end();
      return;
    }
    return yoga.requestListener(req, res);
  };

  const server = createServer(
    withRequestLog((req, res) => {
      handle(req, res).catch((error: unknown) => {
        logger.error('request failed', { error, route: loggedRoute(req.url) });
        if (!res.headersSent) sendJson(res, 500, { error: 'internal error' });
        else res.destroy();
      });
    }, logger),
  );
  const drain = trackConnections(server);
  const graphqlWs = attachGraphQLWs(server, yoga, persistedOperations, auth.authenticator, logger);

  let shuttingDown: Promise<void> | undefined;
  const shutdown = (options: { timeoutMs?: number } = {}) => (shuttingDown ??= runShutdown(options.timeoutMs ?? config.shutdownTimeoutMs));
  const runShutdown = async (timeoutMs: number) => {
    // Stop accepting first, so clients told to go away below cannot reconnect to this instance.
    const closed = drain.drain(timeoutMs);
    logger.info('shutdown: draining', { timeoutMs, inFlight: drain.inFlight, websockets: graphqlWs.connections });
    drainSignal.abort();
    const [, { forced }] = await Promise.all([graphqlWs.dispose(), closed]);
    logger.info('shutdown: server closed', { forcedSockets: forced });
    // Only now: webhooks that arrived while draining needed the registry (and the spool) until the last socket.
    await runtime.dispose();
    logger.info('shutdown: services disposed');
  };

  let baseUrl = '';
  return {
    yoga,
    server,
    services,
    subscriptions: sharing.stats,
    responseCache,
    get url() {
      return baseUrl;
    },
    get webhookUrl() {
      return `${runtime.publicUrl}${webhookPath(config.webhook.secret)}`;
    },
    async start() {
      // Subscribe before serving: a SUBSCRIBE still queued while connecting could miss an event.
      await runtime.ready();
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(config.port, config.host, () => {
          server.off('error', reject);
          resolve();
        });
      });
      const { port } = server.address() as AddressInfo;
      baseUrl = `http://${config.host === '0.0.0.0' || config.host === '::' ? '127.0.0.1' : config.host}:${port}`;
      if (!config.publicUrl) runtime.setPublicUrl(`http://localhost:${port}`);
      tasks.startSweeper(Math.min(30_000, Math.max(1_000, (config.tasks.timeoutSeconds * 1000) / 10)));
    },
    shutdown,
    stop: () => shutdown({ timeoutMs: 0 }),
  };
}
