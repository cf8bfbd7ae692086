/**
 * The embedded frame-extraction engine: a local stand-in for memories.ai's v2 API that speaks the same REST +
 * webhook contract and extracts frames with ffmpeg. It imports nothing from the rest of `src/`; the gateway
 * reaches it only by URL.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createCallbackSender } from './callbacks.js';
import type { EngineContext, EngineSettings } from './context.js';
import { createConsoleLogger } from './logger.js';
import { createProcessRunner, resolveMediaTools } from './processes.js';
import { createTaskQueue } from './queue.js';
import { createRateLimiter } from './rate-limit.js';
import { createRequestHandler } from './router.js';
import { openStore } from './store.js';
import type { Engine, EngineOptions } from './types.js';
import { DEFAULT_SIGNED_UPLOAD_TTL_SECONDS, deriveUploadSigningKey } from './signed-upload.js';
import { scheduleProbe } from './upload.js';

export type { Engine, EngineLogger, EngineOptions } from './types.js';

const DEFAULTS = {
  host: '127.0.0.1',
  frameIntervalSeconds: 1,
  maxFrames: 100,
  concurrency: 1,
  maxUploadBytes: 500 * 1024 * 1024,
  extractionTimeoutMs: 15 * 60 * 1000,
  probeTimeoutMs: 60 * 1000,
  callbackRetry: { attempts: 5, baseDelayMs: 500 },
} as const;

/** Starts an engine: opens (or creates) the index in `dataDir`, re-probes unfinished uploads and listens. */
export async function createEngine(options: EngineOptions): Promise<Engine> {
  const settings = resolveSettings(options);
  const logger = options.logger ?? createConsoleLogger();
  const tools = resolveMediaTools(options);
  const store = await openStore(options.dataDir, logger);
  const retry = options.callbackRetry ?? DEFAULTS.callbackRetry;
  const callbacks = createCallbackSender({ webhookUrl: options.webhookUrl, retry, logger });
  let stopping = false;
  let url = '';
  let publicUrl = options.publicUrl?.replace(/\/+$/, '');
  const ctx: EngineContext = {
    settings,
    store,
    runner: createProcessRunner(),
    tools,
    logger,
    callbacks,
    extractions: createTaskQueue(settings.concurrency),
    probes: createTaskQueue(2),
    deliveries: createTaskQueue(Number.POSITIVE_INFINITY),
    isStopping: () => stopping,
    signedUploads: {
      key: options.uploadSigningSecret ? Buffer.from(options.uploadSigningSecret) : deriveUploadSigningKey(options.apiKey),
      ttlSeconds: options.signedUploadTtlSeconds ?? DEFAULT_SIGNED_UPLOAD_TTL_SECONDS,
      publicUrl: () => publicUrl ?? url,
      receiving: new Set(),
    },
  };

  const inflight = new Set<Promise<void>>();
  const track = (p: Promise<void>) => {
    inflight.add(p);
    void p.finally(() => inflight.delete(p));
  };
  const handler = createRequestHandler(ctx, { apiKey: options.apiKey, limiter: createRateLimiter(options.rps) }, track);
  const server = createServer({ requestTimeout: 60 * 60 * 1000 }, handler);
  url = await listen(server, options.port ?? 0, options.host ?? DEFAULTS.host);

  for (const asset of store.assets()) {
    // A signed-url asset still waiting for its file has nothing to probe yet.
    if ((asset.status === 'UPLOADING' || asset.status === 'WAITING') && !asset.awaitingUpload) scheduleProbe(ctx, asset.id);
  }
  logger.info('engine listening', { url, dataDir: store.dataDir, ffmpeg: tools.ffmpeg });

  let stopped: Promise<void> | null = null;
  const stop = () =>
    (stopped ??= (async () => {
      stopping = true;
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      const dropped = ctx.extractions.clear();
      if (dropped > 0) logger.warn('engine stopping: dropped queued extractions', { dropped });
      ctx.probes.clear(); // unprobed uploads stay UPLOADING and are probed at the next start
      callbacks.dispose();
      await ctx.runner.killAll();
      await closed;
      await Promise.allSettled([...inflight]);
      await waitIdle(ctx);
      await store.flush();
      logger.info('engine stopped', { url });
    })());

  return {
    url,
    setWebhookUrl: (next) => callbacks.setUrl(next),
    setPublicUrl: (next) => {
      publicUrl = next?.replace(/\/+$/, '');
    },
    stop,
    idle: () => waitIdle(ctx),
  };
}

async function listen(server: Server, port: number, host: string): Promise<string> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  return `http://${host.includes(':') ? `[${host}]` : host}:${address.port}`;
}

/** A finishing extraction enqueues its delivery, so loop until all three queues are empty at once. */
async function waitIdle(ctx: EngineContext): Promise<void> {
  const queues = [ctx.extractions, ctx.probes, ctx.deliveries];
  while (queues.some((q) => q.pending > 0 || q.running > 0)) {
    for (const q of queues) await q.idle();
  }
}

function resolveSettings(options: EngineOptions): EngineSettings {
  const settings: EngineSettings = {
    frameIntervalSeconds: options.frameIntervalSeconds ?? DEFAULTS.frameIntervalSeconds,
    maxFrames: options.maxFrames ?? DEFAULTS.maxFrames,
    concurrency: options.concurrency ?? DEFAULTS.concurrency,
    maxUploadBytes: options.maxUploadBytes ?? DEFAULTS.maxUploadBytes,
    extractionTimeoutMs: options.extractionTimeoutMs ?? DEFAULTS.extractionTimeoutMs,
    probeTimeoutMs: DEFAULTS.probeTimeoutMs,
  };
  const problems: string[] = [];
  if (!options.apiKey) problems.push('apiKey must be a non-empty string');
  if (!options.dataDir) problems.push('dataDir must be a non-empty path');
  const interval = settings.frameIntervalSeconds;
  if (!(interval > 0 && Number.isFinite(interval))) problems.push('frameIntervalSeconds must be > 0');
  for (const key of ['maxFrames', 'concurrency', 'maxUploadBytes', 'extractionTimeoutMs'] as const) {
    if (!Number.isInteger(settings[key]) || settings[key] < 1) problems.push(`${key} must be an integer >= 1`);
  }
  if (options.rps !== undefined && !(options.rps >= 0)) problems.push('rps must be >= 0');
  const ttl = options.signedUploadTtlSeconds;
  if (ttl !== undefined && !(Number.isInteger(ttl) && ttl >= 0)) problems.push('signedUploadTtlSeconds must be an integer >= 0');
  if (options.publicUrl !== undefined && !/^https?:\/\/[^/]/.test(options.publicUrl)) problems.push('publicUrl must be an http(s) URL');
  const retry = options.callbackRetry;
  if (retry && (!Number.isInteger(retry.attempts) || retry.attempts < 1 || !(retry.baseDelayMs >= 0))) {
    problems.push('callbackRetry needs attempts >= 1 and baseDelayMs >= 0');
  }
  if (problems.length > 0) throw new RangeError(`Invalid engine options: ${problems.join('; ')}`);
  return settings;
}
