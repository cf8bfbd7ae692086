/**
 * The gateway's configuration: the only module that reads environment variables (through `loadConfig(env)`).
 * Every variable is listed in the README's table. Bad values produce ONE error listing every problem.
 */
import { randomBytes } from 'node:crypto';
import { isIP } from 'node:net';
import { z } from 'zod';

export const DEFAULT_MAVI_BASE_URL = 'https://mavi-backend.memories.ai/serve/api/v2';

const int = (fallback: number, min = 0) => z.coerce.number().int().min(min).default(fallback);
const optionalString = z
  .string()
  .trim()
  .optional()
  .transform((v) => (v === '' ? undefined : v));

const EnvSchema = z.object({
  PORT: int(4000, 0).pipe(z.number().max(65535)),
  HOST: z.string().default('0.0.0.0'),
  PUBLIC_URL: z.url().optional(),
  MAVI_BASE_URL: z.url().default(DEFAULT_MAVI_BASE_URL),
  MAVI_API_KEY: optionalString,
  MAVI_WEBHOOK_SECRET: optionalString.pipe(
    z
      .string()
      .regex(/^[A-Za-z0-9_-]{16,128}$/, 'must be 16-128 characters of [A-Za-z0-9_-]')
      .optional(),
  ),
  UPSTREAM_RPS: z.coerce.number().positive().max(1000).default(1),
  UPSTREAM_RATE_MARGIN_MS: int(50, 0),
  UPSTREAM_TIMEOUT_MS: int(30_000, 100),
  UPSTREAM_MAX_WAIT_MS: int(20_000, 0),
  UPSTREAM_STALL_MS: int(15_000, 100),
  TASK_TIMEOUT_SECONDS: int(1800, 1),
  TASK_RETENTION_SECONDS: int(604_800, 0),
  PENDING_CALLBACK_TTL_SECONDS: int(900, 1),
  SUBSCRIPTION_RECHECK_MS: int(15_000, 10),
  WEBHOOK_MAX_BODY_BYTES: int(1_048_576, 1024),
  EXTRACT_REUSE_SECONDS: int(3600, 0),
  EXTRACT_CLAIM_TTL_MS: int(30_000, 100),
  TASK_LATE_RESULT_GRACE_SECONDS: int(3600, 0),
  DATA_DIR: z.string().min(1).default('./data'),
  SHUTDOWN_TIMEOUT_MS: int(10_000, 0),
  UPLOAD_CONCURRENCY: int(4, 1),
  MEDIA_SIGNING_SECRET: optionalString.pipe(z.string().min(32, 'must be at least 32 characters').optional()),
  MEDIA_URL_TTL_SECONDS: int(3600, 10),
  MEDIA_CACHE_DIR: z.string().default('./data/media-cache'),
  MEDIA_CACHE_MAX_BYTES: int(1_073_741_824, 0),
  MEDIA_IMAGE_CONCURRENCY: int(2, 1),
  UPLOAD_MAX_BYTES: int(104_857_600, 1),
  IMPORT_MAX_BYTES: int(104_857_600, 1),
  IMPORT_TIMEOUT_MS: int(120_000, 100),
  IMPORT_ALLOW_PRIVATE_NETWORKS: z.enum(['true', 'false', '1', '0']).default('false'),
  REDIS_URL: optionalString.pipe(z.url().optional()),
  REDIS_PREFIX: z.string().regex(/^[\w:.-]{1,64}$/, 'must be 1-64 characters of [A-Za-z0-9_:.-]').default('frames:'),
  REDIS_COMMAND_TIMEOUT_MS: int(2_000, 50),
  LOG_LEVEL: z.enum(['debug', 'info', 'warn', 'error', 'silent']).default('info'),
  LOG_PRETTY: z.enum(['true', 'false', '1', '0']).default('false'),
  AUTH_JWT_SECRET: optionalString.pipe(z.string().min(32, 'must be at least 32 characters (HS256 key)').optional()),
  AUTH_JWKS_URL: optionalString.pipe(z.url().optional()),
  AUTH_ISSUER: optionalString,
  AUTH_AUDIENCE: optionalString,
  AUTH_TENANT_CLAIM: z.string().trim().min(1).default('tenant'),
  AUTH_DISABLED: z.enum(['true', 'false', '1', '0']).default('false'),
  TENANT_MAX_QUEUED: int(20, 1),
  TENANT_EXTRACTIONS_PER_HOUR: int(60, 0),
  TENANT_UPLOADS_PER_HOUR: int(60, 0),
  GRAPHIQL: z.enum(['true', 'false', '1', '0']).optional(),
  INTROSPECTION: z.enum(['true', 'false', '1', '0']).optional(),
  DEMO_PAGE: z.enum(['true', 'false', '1', '0']).optional(),
  PERSISTED_OPERATIONS_FILE: optionalString,
  PERSISTED_OPERATIONS_ONLY: z.enum(['true', 'false', '1', '0']).default('false'),
  GRAPHQL_MAX_DEPTH: int(10, 1),
  GRAPHQL_MAX_ALIASES: int(100, 0),
  GRAPHQL_MAX_COST: int(5_000, 1),
  GRAPHQL_MAX_DIRECTIVES: int(50, 0),
  GRAPHQL_MAX_TOKENS: int(5_000, 1),
  GRAPHQL_MAX_BODY_BYTES: int(1_048_576, 1024),
  RESPONSE_CACHE_MAX_BYTES: int(33_554_432, 0),
  METRICS_TOKEN: optionalString.pipe(
    z
      .string()
      .regex(/^[\x21-\x7e]{16,256}$/, 'must be 16-256 printable ASCII characters without spaces')
      .optional(),
  ),
});

export type LogLevel = z.infer<typeof EnvSchema>['LOG_LEVEL'];

/** Every variable `loadConfig` reads; deployment files (compose.yaml) are checked against it. */
export const CONFIG_ENV_NAMES: readonly string[] = Object.freeze(Object.keys(EnvSchema.shape));

export interface Config {
  port: number;
  host: string;
  /** Base URL browsers and the upstream use to reach this gateway (media URLs, webhook URL). */
  publicUrl: string | undefined;
  upstream: {
    /** Undefined in embedded-engine mode: main.ts starts the engine and points the client at it. */
    baseUrl: string;
    apiKey: string | undefined;
    rps: number;
    /** Added to each 1000/rps interval so jitter never makes two requests arrive too close together. */
    rateMarginMs: number;
    timeoutMs: number;
    maxWaitMs: number;
    /** A download (zip, frame, video) that receives no bytes for this long is aborted. */
    stallMs: number;
  };
  webhook: {
    secret: string;
    /** True when the secret was generated at start (embedded mode): it changes on every restart. */
    secretGenerated: boolean;
    maxBodyBytes: number;
    pendingCallbackTtlSeconds: number;
  };
  tasks: {
    timeoutSeconds: number;
    reuseSeconds: number;
    subscriptionRecheckMs: number;
    retentionSeconds: number;
    /** Initial TTL of the cross-instance extract claim on an asset (renewed while the extract call runs). */
    claimTtlMs: number;
    /** How long a subscription stays open after TIMED_OUT for a late SUCCEEDED/FAILED (0 = complete at once). */
    lateResultGraceSeconds: number;
  };
  media: {
    signingSecret: string;
    signingSecretGenerated: boolean;
    urlTtlSeconds: number;
    cacheDir: string;
    cacheMaxBytes: number;
    /** sharp jobs at once for renditions, sprites and previews. */
    imageConcurrency: number;
  };
  /** `uploadVideo` file size cap. */
  uploadMaxBytes: number;
  /** Size of the response cache of immutable reads (http/response-cache.ts); 0 turns it off. */
  responseCacheMaxBytes: number;
  /** Uploads and imports forwarded upstream at once; the rest queue (fail fast past `upstream.maxWaitMs`). */
  uploadConcurrency: number;
  /** Local state of this instance (the webhook spool used while Redis is unreachable). */
  dataDir: string;
  /** How long a graceful shutdown waits for in-flight requests before closing them. */
  shutdownTimeoutMs: number;
  /** `importVideo` limits; private/loopback addresses are refused unless allowed (SSRF guard). */
  import: { maxBytes: number; timeoutMs: number; allowPrivateNetworks: boolean };
  redisUrl: string | undefined;
  /** Prefix of every Redis key and channel (lets environments share one Redis). */
  redisPrefix: string;
  /**
   * How long a registry command waits for Redis' reply before it fails as "registry unavailable". A silent partition
   * (no TCP reset) would otherwise hang every command until the kernel gives up on the socket, minutes later.
   */
  redisCommandTimeoutMs: number;
  logLevel: LogLevel;
  /** Human-readable log lines (pino-pretty, a dev dependency) instead of JSON. */
  logPretty: boolean;
  /** When set, `GET /metrics` requires `Authorization: Bearer <token>`; unset, the metrics are open to anyone. */
  metricsToken: string | undefined;
  /**
   * Who the caller is. `enabled` when a JWT secret or JWKS URL is configured and auth is not disabled; otherwise every
   * caller is the one local tenant.
   */
  auth: {
    enabled: boolean;
    jwtSecret: string | undefined;
    jwksUrl: string | undefined;
    issuer: string | undefined;
    audience: string | undefined;
    /** The JWT claim naming the tenant (falls back to `sub`). */
    tenantClaim: string;
    /** AUTH_DISABLED=true: the explicit opt-out (e.g. behind a router that authenticates). */
    disabled: boolean;
  };
  /** Fair share of the account per tenant. 0 per hour = no billed work allowed. */
  tenants: { maxQueued: number; extractionsPerHour: number; uploadsPerHour: number };
  /** GraphiQL, introspection and the demo app at `/`: on by default only in the embedded default (no MAVI_API_KEY). */
  exposure: { graphiql: boolean; introspection: boolean; demoPage: boolean };
  /** Persisted operations (the JSON map GraphQL Code Generator's client preset writes); `only` refuses other documents. */
  persistedOperations: { file: string | undefined; only: boolean };
  /**
   * Per-operation limits (graphql-armor) and the cap on non-multipart request bodies. Measured against the largest
   * legitimate documents: client operations reach depth 4, cost 38 and 63 tokens; a router's batch of 100 aliased
   * `_entities` fetches reaches cost ~2,600 and ~2,500 tokens; GraphiQL's introspection query is 182 tokens.
   */
  limits: { maxDepth: number; maxAliases: number; maxCost: number; maxDirectives: number; maxTokens: number; maxBodyBytes: number };
}

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
  }
}

/** Parses `env` (default `process.env`) into a frozen {@link Config}; throws {@link ConfigError} listing every problem. */
export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  const parsed = EnvSchema.safeParse(env);
  if (!parsed.success) {
    throw new ConfigError(parsed.error.issues.map((i) => `${i.path.join('.') || 'env'}: ${i.message}`));
  }
  const e = parsed.data;
  const problems: string[] = [];
  if (e.MAVI_API_KEY && !e.MAVI_WEBHOOK_SECRET) {
    problems.push(
      'MAVI_WEBHOOK_SECRET: required when MAVI_API_KEY is set (it is part of the webhook URL registered in the MAVI console)',
    );
  }
  if (e.MAVI_API_KEY && !mayCarryKey(new URL(e.MAVI_BASE_URL))) {
    problems.push('MAVI_BASE_URL: must be https, or http to localhost, 127.0.0.0/8 or [::1] (the API key would travel in clear text)');
  }
  // Fail closed with real money: a reachable gateway without auth would let anyone start billed extractions.
  if (e.MAVI_API_KEY && !e.AUTH_JWT_SECRET && !e.AUTH_JWKS_URL && !isTrue(e.AUTH_DISABLED) && !isLoopbackHost(e.HOST)) {
    problems.push(
      `HOST: ${e.HOST} is reachable from other machines and MAVI_API_KEY is set, but no authentication is configured: ` +
        'set AUTH_JWT_SECRET (HS256) or AUTH_JWKS_URL (RS256/ES256), or AUTH_DISABLED=true when a router in front authenticates',
    );
  }
  if (isTrue(e.PERSISTED_OPERATIONS_ONLY) && !e.PERSISTED_OPERATIONS_FILE) {
    problems.push('PERSISTED_OPERATIONS_ONLY: needs PERSISTED_OPERATIONS_FILE (with no list, every operation would be refused)');
  }
  if (problems.length > 0) throw new ConfigError(problems);

  const webhookSecret = e.MAVI_WEBHOOK_SECRET ?? randomBytes(24).toString('base64url');
  const signingSecret = e.MEDIA_SIGNING_SECRET ?? randomBytes(32).toString('base64url');
  return Object.freeze({
    port: e.PORT,
    host: e.HOST,
    publicUrl: e.PUBLIC_URL?.replace(/\/+$/, ''),
    upstream: Object.freeze({
      baseUrl: e.MAVI_BASE_URL,
      apiKey: e.MAVI_API_KEY,
      rps: e.UPSTREAM_RPS,
      rateMarginMs: e.UPSTREAM_RATE_MARGIN_MS,
      timeoutMs: e.UPSTREAM_TIMEOUT_MS,
      maxWaitMs: e.UPSTREAM_MAX_WAIT_MS,
      stallMs: e.UPSTREAM_STALL_MS,
    }),
    webhook: Object.freeze({
      secret: webhookSecret,
      secretGenerated: e.MAVI_WEBHOOK_SECRET === undefined,
      maxBodyBytes: e.WEBHOOK_MAX_BODY_BYTES,
      pendingCallbackTtlSeconds: e.PENDING_CALLBACK_TTL_SECONDS,
    }),
    tasks: Object.freeze({
      timeoutSeconds: e.TASK_TIMEOUT_SECONDS,
      reuseSeconds: e.EXTRACT_REUSE_SECONDS,
      subscriptionRecheckMs: e.SUBSCRIPTION_RECHECK_MS,
      retentionSeconds: e.TASK_RETENTION_SECONDS,
      claimTtlMs: e.EXTRACT_CLAIM_TTL_MS,
      lateResultGraceSeconds: e.TASK_LATE_RESULT_GRACE_SECONDS,
    }),
    media: Object.freeze({
      signingSecret,
      signingSecretGenerated: e.MEDIA_SIGNING_SECRET === undefined,
      urlTtlSeconds: e.MEDIA_URL_TTL_SECONDS,
      cacheDir: e.MEDIA_CACHE_DIR,
      cacheMaxBytes: e.MEDIA_CACHE_MAX_BYTES,
      imageConcurrency: e.MEDIA_IMAGE_CONCURRENCY,
    }),
    uploadMaxBytes: e.UPLOAD_MAX_BYTES,
    responseCacheMaxBytes: e.RESPONSE_CACHE_MAX_BYTES,
    uploadConcurrency: e.UPLOAD_CONCURRENCY,
    dataDir: e.DATA_DIR,
    shutdownTimeoutMs: e.SHUTDOWN_TIMEOUT_MS,
    import: Object.freeze({
      maxBytes: e.IMPORT_MAX_BYTES,
      timeoutMs: e.IMPORT_TIMEOUT_MS,
      allowPrivateNetworks: e.IMPORT_ALLOW_PRIVATE_NETWORKS === 'true' || e.IMPORT_ALLOW_PRIVATE_NETWORKS === '1',
    }),
    redisUrl: e.REDIS_URL,
    redisPrefix: e.REDIS_PREFIX,
    redisCommandTimeoutMs: e.REDIS_COMMAND_TIMEOUT_MS,
    logLevel: e.LOG_LEVEL,
    logPretty: e.LOG_PRETTY === 'true' || e.LOG_PRETTY === '1',
    metricsToken: e.METRICS_TOKEN,
    auth: Object.freeze({
      enabled: !isTrue(e.AUTH_DISABLED) && (e.AUTH_JWT_SECRET !== undefined || e.AUTH_JWKS_URL !== undefined),
      jwtSecret: e.AUTH_JWT_SECRET,
      jwksUrl: e.AUTH_JWKS_URL,
      issuer: e.AUTH_ISSUER,
      audience: e.AUTH_AUDIENCE,
      tenantClaim: e.AUTH_TENANT_CLAIM,
      disabled: isTrue(e.AUTH_DISABLED),
    }),
    tenants: Object.freeze({
      maxQueued: e.TENANT_MAX_QUEUED,
      extractionsPerHour: e.TENANT_EXTRACTIONS_PER_HOUR,
      uploadsPerHour: e.TENANT_UPLOADS_PER_HOUR,
    }),
    exposure: Object.freeze({
      graphiql: e.GRAPHIQL === undefined ? !e.MAVI_API_KEY : isTrue(e.GRAPHIQL),
      introspection: e.INTROSPECTION === undefined ? !e.MAVI_API_KEY : isTrue(e.INTROSPECTION),
      demoPage: e.DEMO_PAGE === undefined ? !e.MAVI_API_KEY : isTrue(e.DEMO_PAGE),
    }),
    persistedOperations: Object.freeze({ file: e.PERSISTED_OPERATIONS_FILE, only: isTrue(e.PERSISTED_OPERATIONS_ONLY) }),
    limits: Object.freeze({
      maxDepth: e.GRAPHQL_MAX_DEPTH,
      maxAliases: e.GRAPHQL_MAX_ALIASES,
      maxCost: e.GRAPHQL_MAX_COST,
      maxDirectives: e.GRAPHQL_MAX_DIRECTIVES,
      maxTokens: e.GRAPHQL_MAX_TOKENS,
      maxBodyBytes: e.GRAPHQL_MAX_BODY_BYTES,
    }),
  });
}

const isTrue = (v: string | undefined) => v === 'true' || v === '1';

/** Whether binding to `host` keeps the gateway on this machine (`0.0.0.0`, `::` and any other address do not). */
function isLoopbackHost(host: string): boolean {
  const bare = host.trim().toLowerCase().replace(/^\[(.*)\]$/, '$1');
  return bare === 'localhost' || bare === '::1' || (isIP(bare) === 4 && bare.startsWith('127.'));
}

// Compares the PARSED scheme and hostname: a prefix test lets `http://localhost.evil.tld` (or `HTTP://host`) through.
// The URL parser lowercases both and writes IPv4 in dotted form (`127.1` and `0x7f.1` become `127.0.0.1`).
function mayCarryKey(url: URL): boolean {
  if (url.protocol === 'https:') return true;
  if (url.protocol !== 'http:') return false;
  const host = url.hostname;
  return host === 'localhost' || host === '[::1]' || (isIP(host) === 4 && host.startsWith('127.'));
}

/** The webhook path; the secret is the only thing that authenticates callbacks (the upstream signs nothing). */
export function webhookPath(secret: string): string {
  return `/webhooks/mavi/${secret}`;
}

/** For logs: the webhook URL with the secret masked. */
export function maskSecret(secret: string): string {
  return `${secret.slice(0, 3)}${'*'.repeat(8)}`;
}

/**
 * Every configured credential, for the logger to scrub from each line: the API key, the webhook secret (part of the
 * webhook URL), the media signing secret, the metrics token and the JWT secret. The one list, so a new secret cannot
 * be missed by one of the places that build a logger.
 */
export function configSecrets(config: Config): string[] {
  const all = [config.upstream.apiKey, config.webhook.secret, config.media.signingSecret, config.metricsToken, config.auth.jwtSecret];
  return all.filter((secret): secret is string => !!secret);
}
