/**
 * The `Error` interface, the error object types clients match on, and the one place that maps lower-layer
 * failures (UpstreamError kinds, extraction rejections) to them.
 */
import { GraphQLError } from 'graphql';
import { RegistryUnavailableError } from '../jobs/registry-guard.js';
import { ExtractionRejectedError, IdempotencyKeyInUseError } from '../jobs/tasks.js';
import { QuotaExhaustedError } from '../jobs/quota.js';
import { isUpstreamError } from '../upstream/errors.js';
import { builder } from './builder.js';
import { ErrorCode } from './error-codes.js';

export const ErrorInterface = builder.interfaceRef<DomainError>('Error').implement({
  description: 'Fields every expected failure has. Match `... on Error { message code }` to handle any of them.',
  fields: (t) => ({
    message: t.exposeString('message', { description: 'Human-readable explanation, safe to show.' }),
    code: t.exposeString('code', { description: 'Stable machine-readable code; see the README for the list.' }),
  }),
});

export class DomainError extends Error {
  constructor(
    message: string,
    readonly code: ErrorCode,
  ) {
    super(message);
    this.name = new.target.name;
  }
}

export class InvalidAssetIdError extends DomainError {
  constructor(readonly assetId: string) {
    super(`"${assetId}" is not a video asset id (expected re_<digits>)`, ErrorCode.INVALID_ASSET_ID);
  }
}
export class AssetNotFoundError extends DomainError {
  constructor(readonly assetId: string) {
    super(`Asset ${assetId} does not exist upstream`, ErrorCode.ASSET_NOT_FOUND);
  }
}
export class AssetNotReadyError extends DomainError {
  constructor(
    readonly assetId: string,
    readonly uploadStatus: string | null,
    message: string,
  ) {
    super(message, ErrorCode.ASSET_NOT_READY);
  }
}
export class NotAVideoError extends DomainError {
  constructor(
    readonly assetId: string,
    readonly extension: string | null,
    message: string,
  ) {
    super(message, ErrorCode.NOT_A_VIDEO);
  }
}
export class UpstreamRateLimitedError extends DomainError {
  constructor(readonly retryAfterSeconds: number) {
    super(`The upstream account's rate limit is saturated; retry in ${retryAfterSeconds} s`, ErrorCode.UPSTREAM_RATE_LIMITED);
  }
}
export class UpstreamUnavailableError extends DomainError {
  constructor(message: string, code: ErrorCode = ErrorCode.UPSTREAM_UNAVAILABLE) {
    super(message, code);
  }
}
export class InvalidArgumentError extends DomainError {
  constructor(
    readonly argument: string,
    message: string,
  ) {
    super(message, ErrorCode.INVALID_ARGUMENT);
  }
}
export class UploadRejectedError extends DomainError {
  constructor(message: string) {
    super(message, ErrorCode.UPLOAD_REJECTED);
  }
}
export class IdempotencyKeyConflictError extends DomainError {
  constructor(
    readonly idempotencyKey: string,
    readonly taskId: string,
    message: string,
  ) {
    super(message, ErrorCode.IDEMPOTENCY_KEY_CONFLICT);
  }
}
export class QuotaExceededError extends DomainError {
  constructor(
    message: string,
    readonly retryAfterSeconds: number,
  ) {
    super(message, ErrorCode.QUOTA_EXCEEDED);
  }
}
export class ImportFailedError extends DomainError {
  constructor(
    readonly url: string,
    message: string,
  ) {
    super(message, ErrorCode.IMPORT_FAILED);
  }
}

builder.objectType(InvalidAssetIdError, {
  name: 'InvalidAssetIdError',
  description: 'The asset id is not of the form re_<digits>. No upstream call was made.',
  interfaces: [ErrorInterface],
  fields: (t) => ({ assetId: t.exposeString('assetId', { description: 'The rejected value.' }) }),
});
builder.objectType(AssetNotFoundError, {
  name: 'AssetNotFoundError',
  description: 'The upstream does not know this asset.',
  interfaces: [ErrorInterface],
  fields: (t) => ({ assetId: t.exposeID('assetId', { description: 'The asset that was looked up.' }) }),
});
builder.objectType(AssetNotReadyError, {
  name: 'AssetNotReadyError',
  description: 'The asset exists but its upload has not reached SUCCESS. No extraction was billed.',
  interfaces: [ErrorInterface],
  fields: (t) => ({
    assetId: t.exposeID('assetId', { description: 'The asset.' }),
    uploadStatus: t.exposeString('uploadStatus', { nullable: true, description: 'Its current upload status.' }),
  }),
});
builder.objectType(NotAVideoError, {
  name: 'NotAVideoError',
  description: 'The asset is not a video (frames can only be extracted from videos). No extraction was billed.',
  interfaces: [ErrorInterface],
  fields: (t) => ({
    assetId: t.exposeID('assetId', { description: 'The asset.' }),
    extension: t.exposeString('extension', { nullable: true, description: 'The extension the upstream reports.' }),
  }),
});
builder.objectType(UpstreamRateLimitedError, {
  name: 'UpstreamRateLimitedError',
  description: 'The shared upstream account is at its request rate; the call was not queued.',
  interfaces: [ErrorInterface],
  fields: (t) => ({
    retryAfterSeconds: t.exposeInt('retryAfterSeconds', { description: 'Seconds after which a retry is expected to be served.' }),
  }),
});
builder.objectType(UpstreamUnavailableError, {
  name: 'UpstreamUnavailableError',
  description: 'The upstream failed, timed out, or refused this account (see `code`).',
  interfaces: [ErrorInterface],
});
builder.objectType(InvalidArgumentError, {
  name: 'InvalidArgumentError',
  description: 'An argument is out of range or malformed. Nothing was changed.',
  interfaces: [ErrorInterface],
  fields: (t) => ({ argument: t.exposeString('argument', { description: 'The argument name.' }) }),
});
builder.objectType(UploadRejectedError, {
  name: 'UploadRejectedError',
  description: 'The upload was refused (empty, too large, or not accepted upstream). Nothing was stored.',
  interfaces: [ErrorInterface],
});
builder.objectType(IdempotencyKeyConflictError, {
  name: 'IdempotencyKeyConflictError',
  description:
    'The idempotency key already belongs to a task for another asset. Nothing was submitted; use a new key for this asset.',
  interfaces: [ErrorInterface],
  fields: (t) => ({
    idempotencyKey: t.exposeString('idempotencyKey', { description: 'The key that was sent.' }),
    taskId: t.exposeID('taskId', { description: 'The task the key is bound to (for its own asset).' }),
  }),
});
builder.objectType(QuotaExceededError, {
  name: 'QuotaExceededError',
  description:
    "The caller's tenant used up its hourly budget of this billed work (TENANT_EXTRACTIONS_PER_HOUR, TENANT_UPLOADS_PER_HOUR). " +
    'Nothing was submitted or uploaded. Reused extraction tasks are free and never refused for it.',
  interfaces: [ErrorInterface],
  fields: (t) => ({
    retryAfterSeconds: t.exposeInt('retryAfterSeconds', { description: 'Seconds until the budget refills.' }),
  }),
});
builder.objectType(ImportFailedError, {
  name: 'ImportFailedError',
  description: 'The video at the URL could not be fetched or is not acceptable. Nothing was stored.',
  interfaces: [ErrorInterface],
  fields: (t) => ({ url: t.exposeString('url', { description: 'The URL that was fetched.' }) }),
});

/** Maps a lower-layer failure to the domain error clients see; anything unexpected is rethrown (masked by Yoga). */
export function toDomainError(error: unknown, context: { assetId?: string } = {}): DomainError {
  if (error instanceof DomainError) return error;
  if (error instanceof RegistryUnavailableError) {
    return new UpstreamUnavailableError('The task registry is unreachable; retry shortly', ErrorCode.SERVICE_UNAVAILABLE);
  }
  if (error instanceof ExtractionRejectedError) {
    return error.reason === 'NOT_READY'
      ? new AssetNotReadyError(error.asset.assetId, error.asset.uploadStatus, error.message)
      : new NotAVideoError(error.asset.assetId, error.asset.extension, error.message);
  }
  if (error instanceof IdempotencyKeyInUseError) {
    return new IdempotencyKeyConflictError(error.key, error.task.id, error.message);
  }
  if (error instanceof QuotaExhaustedError) return new QuotaExceededError(error.message, error.retryAfterSeconds);
  if (isUpstreamError(error)) {
    switch (error.kind) {
      case 'NOT_FOUND':
        return new AssetNotFoundError(context.assetId ?? 'unknown');
      case 'RATE_LIMITED':
        return new UpstreamRateLimitedError(error.retryAfterSeconds ?? 1);
      case 'PAYMENT_REQUIRED':
        return new UpstreamUnavailableError('The upstream account is out of credits', ErrorCode.UPSTREAM_PAYMENT_REQUIRED);
      case 'UNAUTHENTICATED':
      case 'FORBIDDEN':
        return new UpstreamUnavailableError('The upstream refused the gateway\'s credentials', ErrorCode.UPSTREAM_UNAUTHORIZED);
      case 'PAYLOAD_TOO_LARGE':
        return new UploadRejectedError('The file is larger than the upstream accepts');
      case 'BAD_REQUEST':
      case 'CONFLICT':
        return new UpstreamUnavailableError(`The upstream rejected the request: ${error.message}`);
      default:
        return new UpstreamUnavailableError('The upstream is unavailable or timed out; try again later');
    }
  }
  throw error;
}

/** A top-level GraphQL error for query arguments (queries return plain types, not result unions). */
export function invalidIdError(kind: 'asset' | 'collection' | 'frame' | 'task', id: string): GraphQLError {
  const expected = { asset: 're_<digits>', collection: 'im_<digits>', frame: 'imc_<digits>_<index>', task: 'a task id' }[kind];
  const code = {
    asset: ErrorCode.INVALID_ASSET_ID,
    collection: ErrorCode.INVALID_COLLECTION_ID,
    frame: ErrorCode.INVALID_FRAME_ID,
    task: ErrorCode.INVALID_TASK_ID,
  }[kind];
  return new GraphQLError(`"${id.slice(0, 80)}" is not a valid ${kind} id (expected ${expected})`, { extensions: { code } });
}

/** Upstream failures on query fields become GraphQL errors with a code (the field resolves to null). */
export function toQueryError(error: unknown): GraphQLError {
  const domain = toDomainError(error);
  return new GraphQLError(domain.message, { extensions: { code: domain.code } });
}

/**
 * For Yoga's `maskError`: a registry outage anywhere in an operation (a query field, a subscription's set-up, an
 * entity reference) reaches the client as SERVICE_UNAVAILABLE instead of the masked "Unexpected error"; null for
 * anything else. One place, so no resolver can forget it.
 */
export function registryOutageError(error: unknown): GraphQLError | null {
  const located = error instanceof GraphQLError ? error : undefined;
  const original = located ? located.originalError : error;
  if (!(original instanceof RegistryUnavailableError)) return null;
  const domain = toDomainError(original);
  return new GraphQLError(domain.message, {
    ...(located ? { nodes: located.nodes, source: located.source, positions: located.positions, path: located.path } : {}),
    extensions: { code: domain.code },
  });
}
