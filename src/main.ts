/**
 * Entry point (`npm start`): the only module with import-time effects. With MAVI_API_KEY it fronts the real
 * memories.ai API; without it, it starts the embedded engine and points the same upstream client at it by URL.
 */
import { mkdir } from 'node:fs/promises';
import { ConfigError, configSecrets, loadConfig, maskSecret, webhookPath, type Config } from './config.js';
import { createLogger, type Logger } from './logger.js';
import { startTracing } from './observability/tracing.js';
import { createGateway } from './server.js';
import { EngineConfigError, loadEngineConfig, type EngineConfig } from './engine/config.js';
import { createEngine, type Engine } from './engine/index.js';

/** Both configurations at once, so one message lists every problem (gateway and engine alike). */
function loadAll(env: NodeJS.ProcessEnv): { config: Config; engineConfig: EngineConfig | undefined } {
  const problems: string[] = [];
  let config: Config | undefined;
  let engineConfig: EngineConfig | undefined;
  try {
    config = loadConfig(env);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    problems.push(...error.problems);
  }
  if (!env.MAVI_API_KEY?.trim()) {
    try {
      engineConfig = loadEngineConfig(env);
    } catch (error) {
      if (!(error instanceof EngineConfigError)) throw error;
      problems.push(...error.issues);
    }
  }
  if (problems.length > 0 || !config) throw new ConfigError(problems);
  return { config, engineConfig };
}

async function main() {
  let loaded: ReturnType<typeof loadAll>;
  try {
    loaded = loadAll(process.env);
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`${error.message}\n`);
      process.exit(2);
    }
    throw error;
  }
  let { config } = loaded;
  const { engineConfig } = loaded;
  const logger = createLogger({
    level: config.logLevel,
    pretty: config.logPretty,
    // The engine's key too: in embedded mode it becomes the upstream key only after this logger exists.
    secrets: [...configSecrets(config), ...(engineConfig ? [engineConfig.apiKey] : [])],
  });

  // Before anything can serve a request. Instrumentation is manual (no module patching), so no --import hook is needed.
  const tracing = await startTracing({ env: process.env, logger });

  let engine: Engine | undefined;
  if (engineConfig) {
    // Embedded mode: the engine is a separate service reached only by URL, started here for convenience.
    await mkdir(engineConfig.dataDir, { recursive: true });
    engine = await createEngine({ ...engineConfig, logger: { info: logger.info, warn: logger.warn, error: logger.error } });
    config = { ...config, upstream: { ...config.upstream, baseUrl: engine.url, apiKey: engineConfig.apiKey } };
  }

  if (config.media.signingSecretGenerated) {
    logger.warn(
      config.redisUrl
        ? 'MEDIA_SIGNING_SECRET is not set: each instance signs media URLs with its own random key, so URLs fail on the other instances'
        : 'MEDIA_SIGNING_SECRET is not set: media URLs are signed with a random key and stop working after a restart',
    );
  }
  const gateway = createGateway(config, { logger, engineUrl: engine?.url });
  await gateway.start();
  const publicUrl = config.publicUrl ?? gateway.url.replace('127.0.0.1', 'localhost');
  if (engine) {
    // The engine runs beside us: deliver callbacks over loopback, not through PUBLIC_URL.
    engine.setWebhookUrl(`${gateway.url}${webhookPath(config.webhook.secret)}`);
    // Browsers upload to the engine's signed URLs through the gateway's own port (src/http/signed-upload-proxy.ts).
    engine.setPublicUrl(publicUrl);
  }

  // Before the banner: a supervisor may signal as soon as it reads "ready".
  onStopSignals(logger, async () => {
    await gateway.shutdown({ timeoutMs: config.shutdownTimeoutMs });
    if (engine) {
      // After the gateway: requests that were draining may still have needed the engine. Kills its ffmpeg.
      await engine.stop();
      logger.info('shutdown: engine stopped');
    }
    // Last: the spans of the drain itself are exported too (bounded by SHUTDOWN_FLUSH_MS).
    await tracing?.shutdown();
  }, config.shutdownTimeoutMs);

  const masked = `${publicUrl}${webhookPath(maskSecret(config.webhook.secret))}`;
  const endpoint = `${publicUrl}/graphql`;
  logger.info('frames gateway ready', {
    graphql: endpoint,
    graphiql: config.exposure.graphiql,
    mode: engine ? 'embedded engine' : 'memories.ai',
    upstream: engine ? engine.url : config.upstream.baseUrl,
    webhook: masked,
  });
  process.stdout.write(
    [
      '',
      // test/helpers/main-process.ts and bench/lib/gateway-process.ts read the endpoint from this line.
      config.exposure.graphiql
        ? `  GraphiQL:   ${endpoint}`
        : `  GraphQL:    ${endpoint}  (GraphiQL off: GRAPHIQL=true to enable)`,
      engine ? `  Engine:     ${engine.url} (embedded; no MAVI_API_KEY set)` : `  Upstream:   ${config.upstream.baseUrl}`,
      engine
        ? '  Webhook:    wired to the embedded engine automatically'
        : `  Webhook:    ${masked}  (register it in the MAVI console; \`npm run webhook-url\` prints it whole)`,
      '',
    ].join('\n') + '\n',
  );

}

// Past the HTTP drain, disposing (spool flush, Redis quit, engine stop) gets this long before the exit is forced.
const DISPOSE_GRACE_MS = 5_000;
const SIGNAL_EXIT_CODES: Record<string, number> = { SIGINT: 130, SIGTERM: 143 };

/**
 * First SIGINT/SIGTERM: graceful shutdown, exit 0 (1 if it fails or overruns). A second one exits at once with
 * 128 + signal number: the operator asked twice, and whatever is still draining is given up.
 */
function onStopSignals(logger: Logger, shutdown: () => Promise<void>, drainTimeoutMs: number) {
  let stopping = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (stopping) {
      logger.warn('shutdown: second signal, exiting now', { signal });
      process.exit(SIGNAL_EXIT_CODES[signal] ?? 1);
    }
    stopping = true;
    logger.info('shutdown: signal received', { signal });
    setTimeout(() => {
      logger.error('shutdown: did not finish in time, exiting', { afterMs: drainTimeoutMs + DISPOSE_GRACE_MS });
      process.exit(1);
    }, drainTimeoutMs + DISPOSE_GRACE_MS).unref();
    shutdown().then(
      () => {
        logger.info('shutdown: complete');
        process.exit(0);
      },
      (error: unknown) => {
        logger.error('shutdown failed', { error });
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
}

main().catch((error: unknown) => {
  process.stderr.write(`frames gateway failed to start: ${(error as Error)?.message ?? String(error)}\n`);
  process.exit(1);
});
