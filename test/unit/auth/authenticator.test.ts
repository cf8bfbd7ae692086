import { exportJWK, generateKeyPair, SignJWT, type JWK, type JWTPayload } from 'jose';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { AuthenticationError, createAuthenticator, type AuthenticatorOptions } from '../../../src/auth/authenticator.js';

const SECRET = 'unit-jwt-secret-0123456789abcdef01234';
const JWKS_URL = 'https://idp.example.test/.well-known/jwks.json';
const base: AuthenticatorOptions = { jwtSecret: SECRET, jwksUrl: undefined, issuer: undefined, audience: undefined, tenantClaim: 'tenant' };

const hs256 = (claims: JWTPayload, secret = SECRET, expiresIn: string | number = '10m') =>
  new SignJWT(claims).setProtectedHeader({ alg: 'HS256' }).setIssuedAt().setExpirationTime(expiresIn).sign(new TextEncoder().encode(secret));

const b64url = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

/** What authenticate rejected with, as `reason: message`. */
async function refusal(promise: Promise<unknown>): Promise<string> {
  const error = await promise.then(
    () => new Error('expected a refusal'),
    (e: unknown) => e,
  );
  if (!(error instanceof AuthenticationError)) throw error;
  return `${error.reason}: ${error.message}`;
}

afterEach(() => {
  vi.useRealTimers();
});

describe('createAuthenticator (HS256)', () => {
  const auth = createAuthenticator(base);

  it('returns the tenant claim and the expiry of a valid token', async () => {
    const token = await hs256({ tenant: 'acme', sub: 'user-1' });
    const exp = JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString()).exp as number;
    expect(await auth.authenticate(`Bearer ${token}`)).toEqual({ tenant: 'acme', authenticated: true, expiresAt: exp * 1000 });
    expect((await auth.authenticate(`bearer   ${token}`)).tenant).toBe('acme');
  });

  it('falls back to sub, and reads the claim AUTH_TENANT_CLAIM names', async () => {
    expect((await auth.authenticate(`Bearer ${await hs256({ sub: 'user-1' })}`)).tenant).toBe('user-1');
    const custom = createAuthenticator({ ...base, tenantClaim: 'https://example.com/org' });
    const token = await hs256({ 'https://example.com/org': 'org-9', tenant: 'ignored', sub: 'user-1' });
    expect((await custom.authenticate(`Bearer ${token}`)).tenant).toBe('org-9');
  });

  it('accepts a token without exp, with no expiry', async () => {
    const token = await new SignJWT({ tenant: 'acme' }).setProtectedHeader({ alg: 'HS256' }).sign(new TextEncoder().encode(SECRET));
    expect(await auth.authenticate(`Bearer ${token}`)).toEqual({ tenant: 'acme', authenticated: true, expiresAt: null });
  });

  it.each([
    [undefined, 'missing'],
    ['', 'missing'],
    ['Basic dXNlcjpwYXNz', 'malformed'],
    ['Bearer', 'malformed'],
    ['Bearer a b', 'malformed'],
    [`Bearer ${'a'.repeat(9000)}`, 'malformed'],
    ['Bearer not-a-jwt', 'invalid'],
  ])('refuses the header %j as %s', async (header, reason) => {
    expect(await refusal(auth.authenticate(header))).toMatch(new RegExp(`^${reason}: `));
  });

  it('refuses an expired token, a wrong secret and a token signed with alg none', async () => {
    expect(await refusal(auth.authenticate(`Bearer ${await hs256({ tenant: 'acme' }, SECRET, Math.floor(Date.now() / 1000) - 1)}`))).toBe(
      'expired: Token expired',
    );
    expect(await refusal(auth.authenticate(`Bearer ${await hs256({ tenant: 'acme' }, 'another-secret-0123456789abcdef0123')}`))).toBe(
      'invalid: Invalid token',
    );
    const unsigned = `${b64url({ alg: 'none', typ: 'JWT' })}.${b64url({ tenant: 'acme', exp: Math.floor(Date.now() / 1000) + 600 })}.`;
    expect(await refusal(auth.authenticate(`Bearer ${unsigned}`))).toBe('invalid: Invalid token');
  });

  it('refuses a token naming no usable tenant, without echoing the claim', async () => {
    expect(await refusal(auth.authenticate(`Bearer ${await hs256({ name: 'x' })}`))).toMatch(/^no-tenant: .*"tenant" or "sub"/);
    expect(await refusal(auth.authenticate(`Bearer ${await hs256({ tenant: 42 })}`))).toMatch(/^no-tenant: /);
    expect(await refusal(auth.authenticate(`Bearer ${await hs256({ tenant: '', sub: 'user-1' })}`))).toMatch(/^no-tenant: /);
    const forged = await refusal(auth.authenticate(`Bearer ${await hs256({ tenant: 'acme\nlevel=error msg=forged' })}`));
    expect(forged).toMatch(/^no-tenant: .*control characters/);
    expect(forged).not.toContain('forged');
    expect(await refusal(auth.authenticate(`Bearer ${await hs256({ tenant: 't'.repeat(257) })}`))).toMatch(/^no-tenant: /);
    // "local" is the tenant of the gateway without auth: a token naming it would inherit what was recorded then.
    expect(await refusal(auth.authenticate(`Bearer ${await hs256({ tenant: 'local' })}`))).toMatch(/^no-tenant: .*reserved/);
    expect(await refusal(auth.authenticate(`Bearer ${await hs256({ sub: 'local' })}`))).toMatch(/^no-tenant: .*reserved/);
  });

  it('checks AUTH_ISSUER and AUTH_AUDIENCE when configured', async () => {
    const strict = createAuthenticator({ ...base, issuer: 'https://idp.example.com/', audience: 'frames-gateway' });
    const sign = (iss: string, aud: string) =>
      new SignJWT({ tenant: 'acme' })
        .setProtectedHeader({ alg: 'HS256' })
        .setIssuer(iss)
        .setAudience(aud)
        .setExpirationTime('5m')
        .sign(new TextEncoder().encode(SECRET));
    expect((await strict.authenticate(`Bearer ${await sign('https://idp.example.com/', 'frames-gateway')}`)).tenant).toBe('acme');
    expect(await refusal(strict.authenticate(`Bearer ${await sign('https://evil.example.com/', 'frames-gateway')}`))).toMatch(
      /^invalid: Invalid token: .*"iss"/,
    );
    expect(await refusal(strict.authenticate(`Bearer ${await sign('https://idp.example.com/', 'other-api')}`))).toMatch(
      /^invalid: Invalid token: .*"aud"/,
    );
    expect(await refusal(strict.authenticate(`Bearer ${await hs256({ tenant: 'acme' })}`))).toMatch(/^invalid: /);
  });

  it('refuses RS256 tokens when only a secret is configured', async () => {
    const { privateKey } = await generateKeyPair('RS256');
    const token = await new SignJWT({ tenant: 'acme' }).setProtectedHeader({ alg: 'RS256' }).setExpirationTime('5m').sign(privateKey);
    expect(await refusal(auth.authenticate(`Bearer ${token}`))).toBe('invalid: Invalid token');
  });
});

describe('createAuthenticator (JWKS)', () => {
  async function signingKey(alg: 'RS256' | 'ES256', kid: string) {
    const { privateKey, publicKey } = await generateKeyPair(alg);
    const jwk: JWK = { ...(await exportJWK(publicKey)), kid, alg, use: 'sig' };
    const sign = (claims: JWTPayload) =>
      new SignJWT(claims).setProtectedHeader({ alg, kid }).setIssuedAt().setExpirationTime('10m').sign(privateKey);
    return { jwk, sign };
  }

  /** A JWKS "server" behind an injected fetch (no socket in unit tests); the integration test serves a real one. */
  function jwksFetch(keys: JWK[]) {
    const state = { keys, requests: 0, failing: false };
    const fetchImpl = (async () => {
      state.requests += 1;
      if (state.failing) return new Response('down', { status: 503 });
      return Response.json({ keys: state.keys });
    }) as typeof fetch;
    return { state, fetchImpl };
  }

  it('verifies RS256 and ES256 tokens, caches the set, and refetches it for a new kid after the cooldown', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    const a = await signingKey('RS256', 'key-a');
    const b = await signingKey('ES256', 'key-b');
    const jwks = jwksFetch([a.jwk]);
    const auth = createAuthenticator({ ...base, jwtSecret: undefined, jwksUrl: JWKS_URL, fetch: jwks.fetchImpl });

    expect((await auth.authenticate(`Bearer ${await a.sign({ tenant: 'acme' })}`)).tenant).toBe('acme');
    expect((await auth.authenticate(`Bearer ${await a.sign({ tenant: 'acme' })}`)).tenant).toBe('acme');
    expect(jwks.state.requests).toBe(1);

    jwks.state.keys = [b.jwk];
    // Within jose's 30 s cooldown an unknown kid is refused without a refetch (no JWKS flood from made-up kids).
    expect(await refusal(auth.authenticate(`Bearer ${await b.sign({ tenant: 'acme' })}`))).toBe('invalid: Invalid token');
    expect(jwks.state.requests).toBe(1);

    vi.setSystemTime(Date.now() + 31_000);
    expect((await auth.authenticate(`Bearer ${await b.sign({ tenant: 'globex' })}`)).tenant).toBe('globex');
    expect(jwks.state.requests).toBe(2);
  });

  it('refuses HS256 tokens when only a JWKS is configured (no algorithm confusion)', async () => {
    const a = await signingKey('RS256', 'key-a');
    const jwks = jwksFetch([a.jwk]);
    const auth = createAuthenticator({ ...base, jwtSecret: undefined, jwksUrl: JWKS_URL, fetch: jwks.fetchImpl });
    const confused = await new SignJWT({ tenant: 'acme' })
      .setProtectedHeader({ alg: 'HS256', kid: 'key-a' })
      .setExpirationTime('5m')
      .sign(new TextEncoder().encode(JSON.stringify(a.jwk)));
    expect(await refusal(auth.authenticate(`Bearer ${confused}`))).toBe('invalid: Invalid token');
  });

  it('reports an unreadable JWKS as unavailable (the token may be fine), not as a bad token', async () => {
    const a = await signingKey('RS256', 'key-a');
    const jwks = jwksFetch([a.jwk]);
    jwks.state.failing = true;
    const auth = createAuthenticator({ ...base, jwtSecret: undefined, jwksUrl: JWKS_URL, fetch: jwks.fetchImpl });
    expect(await refusal(auth.authenticate(`Bearer ${await a.sign({ tenant: 'acme' })}`))).toMatch(/^unavailable: .*AUTH_JWKS_URL/);
  });

  it('accepts both kinds when a secret and a JWKS are configured', async () => {
    const a = await signingKey('ES256', 'key-a');
    const auth = createAuthenticator({ ...base, jwksUrl: JWKS_URL, fetch: jwksFetch([a.jwk]).fetchImpl });
    expect((await auth.authenticate(`Bearer ${await a.sign({ tenant: 'acme' })}`)).tenant).toBe('acme');
    expect((await auth.authenticate(`Bearer ${await hs256({ tenant: 'globex' })}`)).tenant).toBe('globex');
  });
});
