/** `npm run engine`: runs the engine from environment variables until SIGINT/SIGTERM. */
import { DEFAULT_ENGINE_API_KEY, EngineConfigError, loadEngineConfig } from './config.js';
import { createEngine } from './index.js';

async function main(): Promise<void> {
  const config = loadEngineConfig();
  const engine = await createEngine({ ...config });
  const keyHint =
    config.apiKey === DEFAULT_ENGINE_API_KEY
      ? `${config.apiKey} (default; set ENGINE_API_KEY to change it)`
      : `${config.apiKey.slice(0, 4)}… (${config.apiKey.length} chars, from ENGINE_API_KEY)`;
  console.log(`Frame-extraction engine listening at ${engine.url}`);
  console.log(`Send the key as a raw header: Authorization: ${keyHint}`);
  if (!config.webhookUrl) console.log('No ENGINE_WEBHOOK_URL set: task results are not delivered until a webhook is configured.');

  let stopping = false;
  const shutdown = (signal: NodeJS.Signals) => {
    if (stopping) {
      console.error(`${signal} again: exiting without waiting`);
      process.exit(1);
    }
    stopping = true;
    console.log(`${signal}: stopping the engine…`);
    engine.stop().then(
      () => process.exit(0),
      (err: unknown) => {
        console.error('engine stop failed', err);
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', shutdown);
  process.on('SIGTERM', shutdown);
}

main().catch((err: unknown) => {
  console.error(err instanceof EngineConfigError ? err.message : err);
  process.exit(1);
});
