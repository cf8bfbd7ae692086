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
    loadConfig({ MAVI_API_KEY: 'sk-mavi-x', MAVI_WEBHOOK_SECRET: 'abcdefghijklmnop', MAVI_BASE_URL, HOST: '127.0.0.1' });

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
      AUTH_JWT_SECRET: 'jwt-secret-0123456789abcdef0123456789',
    };
    expect(configSecrets(loadConfig(env)).sort()).toEqual(Object.values(env).sort());
    const generated = loadConfig({});
    expect(configSecrets(generated).sort()).toEqual([generated.webhook.secret, generated.media.signingSecret].sort());
  });
});

describe('loadConfig: authentication', () => {
  const withRealKey = { MAVI_API_KEY: 'sk-mavi-x', MAVI_WEBHOOK_SECRET: 'abcdefghijklmnop' };
  const problemsOf = (env: Record<string, string | undefined>) => {
    try {
      loadConfig(env);
    } catch (error) {
      if (error instanceof ConfigError) return error.problems;
      throw error;
    }
    return [];
  };

  it.each(['0.0.0.0', '::', '10.0.0.5', 'gateway.internal'])(
    'refuses to start with a real key, no auth and HOST=%s, naming the three ways out',
    (HOST) => {
      const problems = problemsOf({ ...withRealKey, HOST });
      expect(problems).toHaveLength(1);
      expect(problems[0]).toMatch(/^HOST: /);
      for (const name of ['AUTH_JWT_SECRET', 'AUTH_JWKS_URL', 'AUTH_DISABLED=true']) expect(problems[0]).toContain(name);
    },
  );

  it('refuses by default too (HOST defaults to 0.0.0.0), listed with the other problems', () => {
    const problems = problemsOf({ MAVI_API_KEY: 'sk-mavi-x' });
    expect(problems.map((p) => p.slice(0, p.indexOf(':')))).toEqual(['MAVI_WEBHOOK_SECRET', 'HOST']);
  });

  it.each([
    { HOST: '127.0.0.1' },
    { HOST: '127.9.9.9' },
    { HOST: 'localhost' },
    { HOST: '::1' },
    { HOST: '[::1]' },
    { HOST: '0.0.0.0', AUTH_JWT_SECRET: 'j'.repeat(32) },
    { HOST: '0.0.0.0', AUTH_JWKS_URL: 'https://idp.example.com/.well-known/jwks.json' },
    { HOST: '0.0.0.0', AUTH_DISABLED: 'true' },
  ])('starts with a real key when %o', (env) => {
    expect(problemsOf({ ...withRealKey, ...env })).toEqual([]);
  });

  it('keeps the embedded default (no key) open on every interface, as one local tenant', () => {
    const config = loadConfig({ HOST: '0.0.0.0' });
    expect(config.auth).toMatchObject({ enabled: false, disabled: false, tenantClaim: 'tenant' });
  });

  it('turns auth on with a secret or a JWKS URL, and off with AUTH_DISABLED=true', () => {
    expect(loadConfig({ AUTH_JWT_SECRET: 'j'.repeat(32) }).auth.enabled).toBe(true);
    expect(loadConfig({ AUTH_JWKS_URL: 'https://idp.example.com/jwks' }).auth.enabled).toBe(true);
    expect(loadConfig({ AUTH_JWT_SECRET: 'j'.repeat(32), AUTH_DISABLED: 'true' }).auth.enabled).toBe(false);
  });

  it('refuses a short HS256 secret and a JWKS URL that is not a URL, without echoing the secret', () => {
    const problems = problemsOf({ AUTH_JWT_SECRET: 'too-short-secret', AUTH_JWKS_URL: 'not a url' }).join('\n');
    expect(problems).toMatch(/AUTH_JWT_SECRET: must be at least 32 characters/);
    expect(problems).toMatch(/AUTH_JWKS_URL/);
    expect(problems).not.toContain('too-short-secret');
  });
});
