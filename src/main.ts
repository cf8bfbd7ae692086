/**
 * Entry point (`npm start`): the only module with import-time effects. With MAVI_API_KEY it fronts the real
 * memories.ai API; without it, it starts the embedded engine and points the same upstream client at it by URL.
 */
import { mkdir } from 'node:fs/promises';
import { ConfigError, loadConfig, maskSecret, webhookPath, type Config } from './config.js';
import { createLogger } from './logger.js';
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
    secrets: [config.upstream.apiKey, config.webhook.secret, config.media.signingSecret].filter((s): s is string => !!s),
  });

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
  const gateway = createGateway(config, { logger });
  await gateway.start();
  const publicUrl = config.publicUrl ?? gateway.url.replace('127.0.0.1', 'localhost');
  if (engine) {
    // The engine runs beside us: deliver callbacks over loopback, not through PUBLIC_URL.
    engine.setWebhookUrl(`${gateway.url}${webhookPath(config.webhook.secret)}`);
  }

  const masked = `${publicUrl}${webhookPath(maskSecret(config.webhook.secret))}`;
  logger.info('frames gateway ready', {
    graphiql: `${publicUrl}/graphql`,
    mode: engine ? 'embedded engine' : 'memories.ai',
    upstream: engine ? engine.url : config.upstream.baseUrl,
    webhook: masked,
  });
  process.stdout.write(
    [
      '',
      `  GraphiQL:   ${publicUrl}/graphql`,
      engine ? `  Engine:     ${engine.url} (embedded; no MAVI_API_KEY set)` : `  Upstream:   ${config.upstream.baseUrl}`,
      engine
        ? '  Webhook:    wired to the embedded engine automatically'
        : `  Webhook:    ${masked}  (register it in the MAVI console; \`npm run webhook-url\` prints it whole)`,
      '',
    ].join('\n') + '\n',
  );

  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info('shutting down', { signal });
    await gateway.stop();
    await engine?.stop();
    process.exit(0);
  };
  process.on('SIGINT', () => void shutdown('SIGINT'));
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
}

main().catch((error: unknown) => {
  process.stderr.write(`frames gateway failed to start: ${(error as Error)?.message ?? String(error)}\n`);
  process.exit(1);
});
