/**
 * The logger main.ts builds (what `npm start` runs) scrubs every configured secret from every line. The request line
 * logs a path verbatim (only the webhook secret after /webhooks/mavi/ is masked there), so a request whose path holds
 * the secrets puts them on a line: the scrubber, not the request log, must take them out.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { freePort, graphiqlUrl, killStartedMains, logMatching, startMain } from '../helpers/main-process.js';

const secret = (prefix: string) => `${prefix}${randomBytes(18).toString('base64url')}`;

const dirs: string[] = [];
afterEach(async () => {
  await killStartedMains();
  for (const dir of dirs.splice(0)) await rm(dir, { recursive: true, force: true });
});

async function baseEnv() {
  const dir = await mkdtemp(path.join(tmpdir(), 'main-secrets-'));
  dirs.push(dir);
  return {
    PORT: String(await freePort()),
    HOST: '127.0.0.1',
    DATA_DIR: path.join(dir, 'data'),
    MEDIA_CACHE_DIR: path.join(dir, 'media-cache'),
    LOG_LEVEL: 'info',
    MAVI_WEBHOOK_SECRET: secret('whsec_'),
    MEDIA_SIGNING_SECRET: secret('signing_secret_'),
    METRICS_TOKEN: secret('metrics_token_'),
  };
}

/** Starts main with `env`, requests a path made of `secrets`, and returns that request's log line as written. */
async function requestLineFor(env: Record<string, string>, secrets: string[]): Promise<string> {
  const main = startMain(env);
  const endpoint = await graphiqlUrl(main);
  const requestId = `secrets-${randomBytes(6).toString('hex')}`;
  const res = await fetch(new URL(`/probe/${secrets.join('/')}`, endpoint), { headers: { 'x-request-id': requestId } });
  expect(res.status).toBe(404);
  await res.arrayBuffer();
  return main.stderr.waitFor(logMatching({ msg: 'request', request_id: requestId }));
}

describe('main.ts logger', () => {
  it('scrubs MAVI_API_KEY, the webhook secret, the media signing secret and METRICS_TOKEN from a log line', async () => {
    const env = { ...(await baseEnv()), MAVI_API_KEY: secret('sk-mavi-'), MAVI_BASE_URL: 'http://127.0.0.1:9' };
    const secrets = [env.MAVI_API_KEY, env.MAVI_WEBHOOK_SECRET, env.MEDIA_SIGNING_SECRET, env.METRICS_TOKEN];
    const line = await requestLineFor(env, secrets);
    for (const value of secrets) expect(line).not.toContain(value);
    expect(JSON.parse(line).route).toBe('/probe/[redacted]/[redacted]/[redacted]/[redacted]');
  });

  it('scrubs the embedded engine key (ENGINE_API_KEY) too, which becomes the upstream key after the logger exists', async () => {
    const env = { ...(await baseEnv()), ENGINE_PORT: String(await freePort()), ENGINE_API_KEY: secret('engine-key-') };
    const line = await requestLineFor(env, [env.ENGINE_API_KEY, env.METRICS_TOKEN]);
    expect(JSON.parse(line).route).toBe('/probe/[redacted]/[redacted]');
  });
});
