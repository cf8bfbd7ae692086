/**
 * `npm run webhook-url`: prints the full webhook URL to register in the MAVI console (on demand only; the secret
 * never goes into a log line).
 */
import { ConfigError, loadConfig, webhookPath } from './config.js';

try {
  const config = loadConfig(process.env);
  if (config.webhook.secretGenerated) {
    process.stderr.write('MAVI_WEBHOOK_SECRET is not set: a random one is generated on every start, so there is no stable URL to register.\n');
    process.exit(2);
  }
  const base = config.publicUrl ?? `http://localhost:${config.port}`;
  process.stdout.write(`${base}${webhookPath(config.webhook.secret)}\n`);
} catch (error) {
  process.stderr.write(`${error instanceof ConfigError ? error.message : String(error)}\n`);
  process.exit(2);
}
