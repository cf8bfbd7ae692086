/**
 * Every error code a client can see, in one place (greppable contract; the README lists them).
 * Typed mutation errors carry these in `Error.code`; top-level GraphQL errors in `extensions.code`.
 */
export const ErrorCode = {
  INVALID_ASSET_ID: 'INVALID_ASSET_ID',
  INVALID_COLLECTION_ID: 'INVALID_COLLECTION_ID',
  INVALID_FRAME_ID: 'INVALID_FRAME_ID',
  INVALID_TASK_ID: 'INVALID_TASK_ID',
  INVALID_ARGUMENT: 'INVALID_ARGUMENT',
  ASSET_NOT_FOUND: 'ASSET_NOT_FOUND',
  ASSET_NOT_READY: 'ASSET_NOT_READY',
  NOT_A_VIDEO: 'NOT_A_VIDEO',
  TASK_NOT_FOUND: 'TASK_NOT_FOUND',
  UPLOAD_REJECTED: 'UPLOAD_REJECTED',
  IMPORT_FAILED: 'IMPORT_FAILED',
  UPSTREAM_RATE_LIMITED: 'UPSTREAM_RATE_LIMITED',
  UPSTREAM_UNAVAILABLE: 'UPSTREAM_UNAVAILABLE',
  UPSTREAM_PAYMENT_REQUIRED: 'UPSTREAM_PAYMENT_REQUIRED',
  UPSTREAM_UNAUTHORIZED: 'UPSTREAM_UNAUTHORIZED',
  IDEMPOTENCY_KEY_CONFLICT: 'IDEMPOTENCY_KEY_CONFLICT',
  /** The shared registry (Redis) is unreachable: retry, possibly on another instance. */
  SERVICE_UNAVAILABLE: 'SERVICE_UNAVAILABLE',
  /** Missing, expired, forged or unsigned token (HTTP 401; graphql-ws close 4401). */
  UNAUTHENTICATED: 'UNAUTHENTICATED',
  /** The tenant's hourly budget of billed work is used up. */
  QUOTA_EXCEEDED: 'QUOTA_EXCEEDED',
  /** A non-multipart GraphQL body over GRAPHQL_MAX_BODY_BYTES (HTTP 413; yoga uses the same code for uploads). */
  REQUEST_ENTITY_TOO_LARGE: 'REQUEST_ENTITY_TOO_LARGE',
  /** The persisted operation hash is not in PERSISTED_OPERATIONS_FILE. */
  PERSISTED_QUERY_NOT_IN_LIST: 'PERSISTED_QUERY_NOT_IN_LIST',
  /** Neither a document nor a persisted operation hash was sent. */
  PERSISTED_QUERY_ID_REQUIRED: 'PERSISTED_QUERY_ID_REQUIRED',
  /** PERSISTED_OPERATIONS_ONLY=true and the request carried a document instead of a hash. */
  PERSISTED_QUERY_ONLY: 'PERSISTED_QUERY_ONLY',
} as const;

export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];
