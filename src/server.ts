/**
 * createGateway(config, deps?) wires Yoga (HTTP + SSE), graphql-ws (same path), the webhook route and media
 * delivery onto one node:http server, and owns every long-lived resource so `stop()` releases them all.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { EnvelopArmorPlugin } from '@escape.tech/graphql-armor';
import { createFetch } from '@whatwg-node/fetch';
import { renderGraphiQL } from '@graphql-yoga/render-graphiql';
import { createYoga, type YogaServerInstance } from 'graphql-yoga';
import { webhookPath, type Config } from './config.js';
import { createContextFactory, type Context } from './context.js';
import { attachGraphQLWs } from './http/graphql-ws.js';
import { sendJson } from './http/read-body.js';
import { createWebhookRoute, WEBHOOK_PREFIX } from './http/webhook-route.js';
import { schema } from './schema/index.js';
import { createServices, type GatewayDeps, type GatewayServices } from './services.js';

export type { GatewayDeps, GatewayServices };

export interface Gateway {
  yoga: YogaServerInstance<Record<string, unknown>, Context>;
  server: Server;
  services: GatewayServices;
  /** Base URL after start (http://host:port). */
  readonly url: string;
  /** Absolute webhook URL (contains the secret: never log it). */
  readonly webhookUrl: string;
  start(): Promise<void>;
  stop(): Promise<void>;
}

export function createGateway(config: Config, deps: GatewayDeps = {}): Gateway {
  const runtime = createServices(config, deps);
  const { services } = runtime;
  const { logger, tasks, scheduler, pubsub } = services;
  const createContext = createContextFactory(services);

  const yoga = createYoga<Record<string, unknown>, Context>({
    schema,
    context: () => createContext(),
    graphiql: { subscriptionsProtocol: 'WS', title: 'frames gateway' },
    // GraphiQL bundled into the page: no third-party CDN script, and it works offline.
    renderGraphiQL,
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
    if (pathname.startsWith('/media/')) return runtime.media(req, res);
    if (pathname === '/healthz') return sendJson(res, 200, { status: 'ok' });
    if (pathname === '/readyz') {
      const { ok, checks } = await runtime.readiness();
      return sendJson(res, ok ? 200 : 503, {
        status: ok ? 'ready' : 'unavailable',
        checks,
        upstreamQueue: scheduler.pending,
        subscriptions: pubsub.listenerCount(),
      });
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
    async stop() {
      await graphqlWs.dispose();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const socket of sockets) socket.destroy();
      });
      await runtime.dispose();
    },
  };
}
