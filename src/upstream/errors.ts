/**
 * Classified failures of the memories.ai v2 API (or the embedded engine, which speaks the same contract).
 * `upstream/` only ever throws {@link UpstreamError}; the schema layer maps `kind` to GraphQL error types.
 */
export const UPSTREAM_ERROR_KINDS = [
  'NOT_FOUND',
  'RATE_LIMITED',
  'UNAUTHENTICATED',
  'PAYMENT_REQUIRED',
  'FORBIDDEN',
  'BAD_REQUEST',
  'CONFLICT',
  'PAYLOAD_TOO_LARGE',
  'UPSTREAM_ERROR',
  'TIMEOUT',
] as const;

export type UpstreamErrorKind = (typeof UPSTREAM_ERROR_KINDS)[number];

export interface UpstreamErrorOptions {
  /** HTTP status of the reply, when there was one. */
  status?: number;
  /** The envelope `code` as received (200, "0000", "0429", ...), stringified. */
  code?: string;
  /** Seconds the caller should wait before trying again (RATE_LIMITED only). */
  retryAfterSeconds?: number;
  cause?: unknown;
}

export class UpstreamError extends Error {
  override readonly name = 'UpstreamError';
  readonly kind: UpstreamErrorKind;
  readonly status: number | undefined;
  readonly code: string | undefined;
  readonly retryAfterSeconds: number | undefined;

  constructor(kind: UpstreamErrorKind, message: string, options: UpstreamErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.kind = kind;
    this.status = options.status;
    this.code = options.code;
    this.retryAfterSeconds = options.retryAfterSeconds;
  }
}

export function isUpstreamError(error: unknown, kind?: UpstreamErrorKind): error is UpstreamError {
  return error instanceof UpstreamError && (kind === undefined || error.kind === kind);
}

/**
 * The refusal of a queue that was disposed (shutdown) before it started the caller's work: `what` names the queue,
 * `work` what never started ("upstream scheduler", "the call").
 */
export function disposedError(what: string, work: string): UpstreamError {
  return new UpstreamError('UPSTREAM_ERROR', `${what} disposed before ${work} started`);
}
