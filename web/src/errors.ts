/**
 * Human messages for every error code the gateway can return (src/schema/error-codes.ts), plus the few failures
 * that only the browser sees (network, the direct upload, a closed socket). The page shows the message, with the
 * server's own text as detail. test/integration/demo.test.ts checks that every code has an entry.
 */
export const ERROR_MESSAGES: Record<string, string> = {
  INVALID_ASSET_ID: 'That is not a video asset id (they look like re_ followed by digits).',
  INVALID_COLLECTION_ID: 'That is not a frame collection id (they look like im_ followed by digits).',
  INVALID_FRAME_ID: 'That is not a frame id.',
  INVALID_TASK_ID: 'That is not an extraction task id.',
  INVALID_ARGUMENT: 'One of the values sent was not accepted.',
  ASSET_NOT_FOUND: 'This video does not exist, or it belongs to someone else.',
  ASSET_NOT_READY: 'The video is still being processed; try again in a moment.',
  NOT_A_VIDEO: 'This file is not a video, so no frames can be extracted from it.',
  TASK_NOT_FOUND: 'This extraction is not known (it may have expired).',
  UPLOAD_REJECTED: 'The upload was refused: the file is empty, too large or not accepted.',
  IMPORT_FAILED: 'The video at that URL could not be fetched, or it is not a video.',
  UPSTREAM_RATE_LIMITED: 'The service is busy right now; try again in a few seconds.',
  UPSTREAM_UNAVAILABLE: 'The frames service is unavailable right now; try again later.',
  UPSTREAM_PAYMENT_REQUIRED: 'The frames account is out of credits.',
  UPSTREAM_UNAUTHORIZED: 'The gateway is not allowed to use the frames service (its API key was refused).',
  IDEMPOTENCY_KEY_CONFLICT: 'This request key was already used for another video.',
  SERVICE_UNAVAILABLE: 'The gateway cannot reach its registry right now; try again shortly.',
  UNAUTHENTICATED: 'Your access token is missing, expired or not valid. Enter a token to continue.',
  QUOTA_EXCEEDED: 'You have used up your hourly allowance; try again later.',
  REQUEST_ENTITY_TOO_LARGE: 'The request is too large.',
  PERSISTED_QUERY_NOT_IN_LIST: 'This gateway only runs approved operations, and this page is not one of them.',
  PERSISTED_QUERY_ID_REQUIRED: 'This gateway only runs approved operations, and this page is not one of them.',
  PERSISTED_QUERY_ONLY: 'This gateway only runs approved operations, and this page is not one of them.',
  // Browser-side failures.
  NETWORK: 'The gateway could not be reached. Check your connection and try again.',
  DIRECT_UPLOAD_FAILED: 'Sending the file to storage failed.',
  UPLOAD_FAILED: 'The video could not be processed after upload (its upload status is FAILED).',
  EXTRACTION_FAILED: 'The frame extraction failed.',
  EXTRACTION_TIMED_OUT: 'The extraction is taking longer than expected; its result may still arrive later.',
  INTERNAL: 'Something went wrong on the gateway.',
};

/** The message for `code`, or a generic one for a code this page does not know yet. */
export function humanMessage(code: string): string {
  return ERROR_MESSAGES[code] ?? `Unexpected error (${code}).`;
}

/** A failure with a gateway error code (typed mutation errors, `extensions.code`, or one of the browser-side codes). */
export class DemoError extends Error {
  constructor(
    readonly code: string,
    readonly detail: string,
    readonly retryAfterSeconds?: number,
  ) {
    super(humanMessage(code));
    this.name = 'DemoError';
  }
}
