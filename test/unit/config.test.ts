import { describe, expect, it } from 'vitest';
import { ConfigError, configSecrets, DEFAULT_MAVI_BASE_URL, loadConfig, maskSecret, webhookPath } from '../../src/config.js';

describe('loadConfig', () => {
  it('applies the documented defaults', () => {
    const config = loadConfig({});
    expect(config).toMatchObject({
      port: 4000,
      upstream: { baseUrl: DEFAULT_MAVI_BASE_URL, apiKey: undefined, rps: 1 },
      tasks: { timeoutSeconds: 1800 },
      media: { urlTtlSeconds: 3600 },
    });
    expect(config.webhook.secretGenerated).toBe(true);
    expect(config.webhook.secret).toMatch(/^[A-Za-z0-9_-]{32}$/);
    expect(Object.isFrozen(config)).toBe(true);
  });

  it('lists every problem at once', () => {
    let error: unknown;
    try {
      loadConfig({ PORT: '-1', UPSTREAM_RPS: 'abc', TASK_TIMEOUT_SECONDS: '0', PUBLIC_URL: 'not a url' });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const problems = (error as ConfigError).problems.join('\n');
    for (const name of ['PORT', 'UPSTREAM_RPS', 'TASK_TIMEOUT_SECONDS', 'PUBLIC_URL']) expect(problems).toContain(name);
  });

  it('requires a webhook secret when a real key is configured, and https for a remote upstream', () => {
    expect(() => loadConfig({ MAVI_API_KEY: 'sk-mavi-x' })).toThrow(/MAVI_WEBHOOK_SECRET/);
    expect(() =>
      loadConfig({ MAVI_API_KEY: 'sk-mavi-x', MAVI_WEBHOOK_SECRET: 'abcdefghijklmnop', MAVI_BASE_URL: 'http://example.com/v2' }),
    ).toThrow(/https/);
    expect(() => loadConfig({ MAVI_WEBHOOK_SECRET: 'short' })).toThrow(/MAVI_WEBHOOK_SECRET/);
  });

  const withKey = (MAVI_BASE_URL: string) => () =>
    loadConfig({ MAVI_API_KEY: 'sk-mavi-x', MAVI_WEBHOOK_SECRET: 'abcdefghijklmnop', MAVI_BASE_URL });

  it.each([
    'http://localhost.evil.tld/v2',
    'http://127.0.0.1.evil.tld/v2',
    'http://localhost@evil.tld/v2',
    'http://127.0.0.1:80@evil.tld/v2',
    'http://localhostevil.tld/v2',
    'http://[::2]/v2',
    'http://128.0.0.1/v2',
    'HTTP://example.com/v2',
    'ftp://localhost/v2',
  ])('refuses to send the API key in clear text to %s', (url) => {
    expect(withKey(url)).toThrow(/MAVI_BASE_URL: must be https/);
  });

  it.each([
    'https://mavi.example.com/v2',
    'HTTPS://mavi.example.com/v2',
    'http://localhost:4001/v2',
    'http://LOCALHOST:4001',
    'http://127.0.0.1:4001',
    'http://127.42.0.9/v2',
    'http://[::1]:4001/v2',
  ])('accepts %s for the API key (https, or http to a loopback host)', (url) => {
    expect(withKey(url)().upstream.baseUrl).toBe(url);
  });

  it('never echoes the API key in its error message', () => {
    try {
      loadConfig({ MAVI_API_KEY: 'sk-mavi-supersecret', PORT: 'x' });
    } catch (e) {
      expect(String(e)).not.toContain('sk-mavi-supersecret');
    }
    expect.assertions(1);
  });

  it('masks the webhook secret for logs', () => {
    expect(webhookPath(maskSecret('abcdefghijklmnopqrstuvwxyz'))).toBe('/webhooks/mavi/abc********');
  });

  it('lists every configured secret for the log scrubber, and only those set', () => {
    const env = {
      MAVI_API_KEY: 'sk-mavi-0123456789',
      MAVI_WEBHOOK_SECRET: 'whsec_0123456789abcdef',
      MEDIA_SIGNING_SECRET: 's'.repeat(32),
      METRICS_TOKEN: 'metrics-token-0123456789',
    };
    expect(configSecrets(loadConfig(env)).sort()).toEqual(Object.values(env).sort());
    const generated = loadConfig({});
    expect(configSecrets(generated).sort()).toEqual([generated.webhook.secret, generated.media.signingSecret].sort());
  });
});
