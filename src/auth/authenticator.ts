/**
 * Who the caller is: verifies `Authorization: Bearer <JWT>` with jose (no hand-written crypto) and turns the token's
 * claims into a {@link Caller}. HS256 with AUTH_JWT_SECRET, RS256/ES256 with the keys at AUTH_JWKS_URL; both may be
 * configured at once (the token's `alg` picks the key source). Transport-neutral: the yoga plugin (HTTP, GET, SSE)
 * and graphql-ws' connection_init both call {@link Authenticator.authenticate}.
 */
import {
  createRemoteJWKSet,
  customFetch,
  errors,
  jwtVerify,
  type JWSHeaderParameters,
  type JWTPayload,
  type JWTVerifyGetKey,
  type FlattenedJWSInput,
} from 'jose';
import { LOCAL_TENANT, type Caller } from '../tenancy.js';

/** The `auth` part of the gateway config this module needs. */
export interface AuthenticatorOptions {
  jwtSecret: string | undefined;
  jwksUrl: string | undefined;
  issuer: string | undefined;
  audience: string | undefined;
  /** Claim naming the tenant; `sub` when the token lacks it. */
  tenantClaim: string;
  /** fetch for the JWKS (tests inject nothing: they serve a real JWKS over HTTP). */
  fetch?: typeof fetch;
}

/**
 * Why a request is refused. `unavailable` is the gateway's problem, not the caller's (the JWKS could not be read):
 * it answers 503 so clients retry instead of throwing their token away.
 */
export type AuthFailure = 'missing' | 'malformed' | 'invalid' | 'expired' | 'no-tenant' | 'unavailable';

export class AuthenticationError extends Error {
  override readonly name = 'AuthenticationError';
  constructor(
    readonly reason: AuthFailure,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export interface Authenticator {
  /** Verifies an `Authorization` header value; rejects with {@link AuthenticationError}. */
  authenticate(authorization: string | null | undefined): Promise<Caller>;
}

// Pinned: a token naming any other algorithm (`none`, HS384, or HS256 against a public key) is refused by jose.
const SECRET_ALGORITHMS = ['HS256'];
const JWKS_ALGORITHMS = ['RS256', 'ES256'];
/** The longest tenant id accepted; tenants end up in registry keys and metric-free logs, so they stay bounded. */
const MAX_TENANT_LENGTH = 256;
// A token is a few KB at most; a larger header is refused before any parsing.
const MAX_TOKEN_LENGTH = 8192;

export function createAuthenticator(options: AuthenticatorOptions): Authenticator {
  const getKey = keyResolver(options);
  const algorithms = [...(options.jwtSecret ? SECRET_ALGORITHMS : []), ...(options.jwksUrl ? JWKS_ALGORITHMS : [])];
  if (algorithms.length === 0) throw new Error('createAuthenticator: neither jwtSecret nor jwksUrl is configured');
  return {
    async authenticate(authorization) {
      const token = bearerToken(authorization);
      let payload: JWTPayload;
      try {
        ({ payload } = await jwtVerify(token, getKey, {
          algorithms,
          ...(options.issuer ? { issuer: options.issuer } : {}),
          ...(options.audience ? { audience: options.audience } : {}),
        }));
      } catch (error) {
        throw verificationFailure(error);
      }
      const expiresAt = payload.exp === undefined ? null : payload.exp * 1000;
      return { tenant: tenantOf(payload, options.tenantClaim), authenticated: true, expiresAt };
    },
  };
}

function bearerToken(authorization: string | null | undefined): string {
  if (!authorization?.trim()) throw new AuthenticationError('missing', 'Authentication required: send Authorization: Bearer <token>');
  const match = /^Bearer +([A-Za-z0-9_.~+/=-]+)\s*$/i.exec(authorization);
  if (!match?.[1] || match[1].length > MAX_TOKEN_LENGTH) {
    throw new AuthenticationError('malformed', 'Malformed Authorization header: expected Bearer <token>');
  }
  return match[1];
}

function keyResolver(options: AuthenticatorOptions): JWTVerifyGetKey {
  const secret = options.jwtSecret ? new TextEncoder().encode(options.jwtSecret) : undefined;
  // jose caches the set, refetches it when a token names an unknown `kid` (key rotation), and at most once per
  // cooldown (30 s), so a flood of tokens with made-up kids cannot turn into a flood of JWKS requests.
  const jwks = options.jwksUrl
    ? createRemoteJWKSet(new URL(options.jwksUrl), options.fetch ? { [customFetch]: options.fetch } : {})
    : undefined;
  return async (header: JWSHeaderParameters, token: FlattenedJWSInput) => {
    if (header.alg === 'HS256' && secret) return secret;
    if (!jwks) throw new errors.JOSEAlgNotAllowed(`"alg" (Algorithm) Header Parameter value not allowed`);
    try {
      return await jwks(header, token);
    } catch (error) {
      if (error instanceof errors.JWKSNoMatchingKey || error instanceof errors.JWKSMultipleMatchingKeys) throw error;
      throw new AuthenticationError('unavailable', 'The signing keys (AUTH_JWKS_URL) could not be read; try again', { cause: error });
    }
  };
}

function verificationFailure(error: unknown): AuthenticationError {
  if (error instanceof AuthenticationError) return error;
  if (error instanceof errors.JWTExpired) return new AuthenticationError('expired', 'Token expired', { cause: error });
  if (error instanceof errors.JWTClaimValidationFailed) {
    // jose's message names the claim (iss, aud, nbf, iat), never its value.
    return new AuthenticationError('invalid', `Invalid token: ${error.message}`, { cause: error });
  }
  // Anything else jose threw (bad encoding, signature, algorithm) is the token's fault too: never a 500.
  return new AuthenticationError('invalid', 'Invalid token', { cause: error });
}

function tenantOf(payload: JWTPayload, claim: string): string {
  const named = payload[claim];
  const tenant = named === undefined ? payload.sub : named;
  if (typeof tenant !== 'string' || tenant.length === 0) {
    throw new AuthenticationError('no-tenant', `Token names no tenant: it needs a "${claim}" or "sub" claim (a non-empty string)`);
  }
  // Control characters would let a tenant id forge log lines or registry keys.
  if (tenant.length > MAX_TENANT_LENGTH || /[\p{Cc}]/u.test(tenant)) {
    throw new AuthenticationError('no-tenant', `Token's tenant must be at most ${MAX_TENANT_LENGTH} characters without control characters`);
  }
  // The local tenant owns what was recorded while the gateway ran without auth; a token must not inherit that.
  if (tenant === LOCAL_TENANT) {
    throw new AuthenticationError('no-tenant', `Token's tenant "${LOCAL_TENANT}" is reserved for the gateway without auth`);
  }
  return tenant;
}
