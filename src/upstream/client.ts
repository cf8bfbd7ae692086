/**
 * The v2 API client. Both the real memories.ai API and the embedded engine are reached through it, by URL.
 *
 * Every call goes through the shared {@link Scheduler} (one per upstream account) and carries a deadline combined
 * with the caller's signal. Replies are parsed before they leave `upstream/`; failures are {@link UpstreamError}s,
 * except that an abort by the caller's own signal rejects with that signal's `reason`.
 *
 * Retries (exponential backoff with full jitter, each retry queued again through the scheduler):
 * - getMetadata, download, deleteAsset (idempotent): RATE_LIMITED, UPSTREAM_ERROR (5xx, network) and TIMEOUT.
 * - extractFrames, upload, createSignedUpload (billed / not idempotent): only RATE_LIMITED (429 / "0429": the request was refused).
 * - all calls: the ambiguous HTTP 400 "Request has exceeded the limit." gets ONE retry, then fails as BAD_REQUEST.
 * - never: a local refusal (invalid id, scheduler queue full or disposed).
 */
import { readDownload } from './download.js';
import { isAmbiguousRateLimit, truncate } from './envelope.js';
import { UpstreamError, isUpstreamError } from './errors.js';
import { createHttpSender, type HttpRequest } from './http.js';
import { scheduleObserved, type UpstreamObserver } from './observer.js';
import { uploadForm, validateUpload } from './multipart.js';
import { createScheduler, retryWithBackoff, type Scheduler } from './rate-limit.js';
import {
  ASSET_ID_PATTERN,
  COLLECTION_ID_PATTERN,
  FRAME_ID_PATTERN,
  parseExtractReply,
  parseMetadata,
  parseSignedUploadReply,
  parseUploadReply,
  type AssetMetadata,
  type DownloadedFile,
  type SignedUpload,
} from './types.js';

export { defaultContentType } from './download.js';

export interface CallOptions {
  signal?: AbortSignal;
}

export interface UploadInput {
  /** The bytes: a Blob, replayable for a retry (callers pass a file-backed one, so nothing is held in memory). */
  body: Blob;
  filename: string;
  contentType?: string;
}

export interface UpstreamClient {
  /** `GET /{id}/metadata` for `re_`, `im_` or `imc_` ids. Idempotent: retried on 429/5xx. */
  getMetadata(id: string, options?: CallOptions): Promise<AssetMetadata>;
  /** `POST /video/extract-frames`. NOT retried on ambiguous failures (each call is billed). */
  extractFrames(assetId: string, options?: CallOptions): Promise<{ taskId: string }>;
  /** `POST /upload` multipart. */
  upload(input: UploadInput, options?: CallOptions): Promise<{ assetId: string }>;
  /**
   * `POST /upload/signed-url`: a new asset and the URL its bytes go to straight from the client (no key there).
   * Creates an asset, so NOT retried on ambiguous failures, like `upload`.
   */
  createSignedUpload(filename: string, options?: CallOptions): Promise<SignedUpload>;
  /** `GET /{id}/download`: a JSON error on this URL throws, never returns as a file. */
  download(id: string, options?: CallOptions): Promise<DownloadedFile>;
  /** `DELETE /{id}`. */
  deleteAsset(id: string, options?: CallOptions): Promise<void>;
}

export interface UpstreamRetryOptions {
  /** Total attempts including the first. Default 4. */
  attempts?: number;
  /** Default 1000. */
  baseMs?: number;
  /** Default 30000. */
  capMs?: number;
  /** Jitter randomness in [0, 1) (tests). Default Math.random. */
  random?: () => number;
}

export interface UpstreamClientOptions {
  /** e.g. `https://mavi-backend.memories.ai/serve/api/v2`, with or without a trailing `/`. */
  baseUrl: string;
  /** Sent verbatim as `Authorization` (no `Bearer`); never appears in error messages. */
  apiKey: string;
  fetch?: typeof fetch;
  /**
   * Deadline per attempt, from the request until the reply is read. For `download` it only runs until the headers
   * arrive: the body is streamed to the caller for as long as it takes (only the caller's signal or `stallMs` stop
   * it).
   * Default 30000.
   */
  timeoutMs?: number;
  /** Deadline of one upload attempt (sending the whole file included). Default 600000 (10 min). */
  uploadTimeoutMs?: number;
  /**
   * A download that receives no bytes for this long, before its headers (then the header deadline is the smaller of
   * this and `timeoutMs`) or between body chunks, is aborted with `UpstreamError('TIMEOUT')`. Default: no stall limit.
   */
  stallMs?: number;
  scheduler: Scheduler;
  retry?: UpstreamRetryOptions;
  /** Metrics callbacks: each HTTP exchange's outcome, download bytes, time and depth of the scheduler queue. */
  observer?: UpstreamObserver;
}

export const DEFAULT_TIMEOUT_MS = 30_000;
export const DEFAULT_UPLOAD_TIMEOUT_MS = 600_000;
export const DEFAULT_RETRY_ATTEMPTS = 4;

const ANY_ID = [ASSET_ID_PATTERN, COLLECTION_ID_PATTERN, FRAME_ID_PATTERN];
const ANY_ID_TEXT = 'a re_, im_ or imc_ id';
/** Caller-supplied ids and file names echoed in errors are cut to this (they end up in logs). */
const MAX_ID_IN_MESSAGE = 80;

type RetryPolicy = 'idempotent' | 'refused-only';
interface AttemptContext {
  attempt: number;
  /** The error that made the previous attempt fail (undefined on the first attempt). */
  previousError: unknown;
}

export function createUpstreamClient(options: UpstreamClientOptions): UpstreamClient {
  const { apiKey, scheduler } = options;
  // Checked here so a bad key never reaches fetch, whose header errors quote the offending value.
  if (typeof apiKey !== 'string' || apiKey.trim() === '' || /[\r\n\0]/.test(apiKey)) {
    throw new TypeError('upstream apiKey must be a non-empty single-line string');
  }
  new URL(options.baseUrl); // throws on an invalid base URL
  const fetchImpl = options.fetch ?? globalThis.fetch;
  const observer = options.observer ?? {};
  const http = createHttpSender({ baseUrl: options.baseUrl, apiKey, fetch: fetchImpl, observer });
  // Node's fetch tees a request body so it can replay it on a redirect, unless `redirect: 'error'` and `window: null`;
  // the unread branch then holds the whole upload in memory (measured on Node 20, 60 MB file: +63 MB live, +6 MB with
  // these). The API never redirects an upload, and a redirect must not re-send the key elsewhere anyway.
  const uploadHttp = createHttpSender({
    baseUrl: options.baseUrl,
    apiKey,
    fetch: (input, init) => fetchImpl(input, { ...init, redirect: 'error', window: null }),
    observer,
  });
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const uploadTimeoutMs = options.uploadTimeoutMs ?? DEFAULT_UPLOAD_TIMEOUT_MS;
  const { stallMs } = options;
  const headersTimeoutMs = stallMs === undefined ? timeoutMs : Math.min(timeoutMs, stallMs);
  const retry = options.retry ?? {};
  const attempts = retry.attempts ?? DEFAULT_RETRY_ATTEMPTS;

  const run = <T>(
    policy: RetryPolicy,
    callOptions: CallOptions,
    maxAttempts: number,
    attempt: (context: AttemptContext) => Promise<T>,
  ): Promise<T> => {
    let ran = false;
    let ambiguousRetried = false;
    let previousError: unknown;
    const { signal } = callOptions;
    return retryWithBackoff(
      async (n) => {
        ran = false;
        try {
          return await scheduleObserved(
            scheduler,
            observer,
            () => {
              ran = true;
              return attempt({ attempt: n, previousError });
            },
            signal ? { signal } : {},
          );
        } catch (error) {
          previousError = error;
          throw error;
        }
      },
      {
        attempts: maxAttempts,
        ...(retry.baseMs === undefined ? {} : { baseMs: retry.baseMs }),
        ...(retry.capMs === undefined ? {} : { capMs: retry.capMs }),
        ...(retry.random === undefined ? {} : { random: retry.random }),
        ...(signal ? { signal } : {}),
        isRetryable: (error) => {
          // `ran` is false when the scheduler itself refused (queue full, disposed, aborted): never retried.
          if (!ran || !(error instanceof UpstreamError)) return false;
          if (isAmbiguousRateLimit(error)) {
            const first = !ambiguousRetried;
            ambiguousRetried = true;
            return first;
          }
          if (error.kind === 'RATE_LIMITED') return true;
          return policy === 'idempotent' && (error.kind === 'UPSTREAM_ERROR' || error.kind === 'TIMEOUT');
        },
      },
    );
  };

  const jsonCall = (request: Omit<HttpRequest, 'timeoutMs'>): Promise<unknown> =>
    http.send({ ...request, timeoutMs, headers: { Accept: 'application/json', ...request.headers } }, (res, signal) =>
      http.readData(res, request.operation, signal),
    );

  return {
    async getMetadata(id, callOptions = {}) {
      requireId('getMetadata', id, ANY_ID, ANY_ID_TEXT);
      const operation = `getMetadata(${id})`;
      const data = await run('idempotent', callOptions, attempts, () =>
        jsonCall({ operation, endpoint: 'metadata', method: 'GET', path: `/${id}/metadata`, ...signalOf(callOptions) }),
      );
      return parseMetadata(data);
    },

    async extractFrames(assetId, callOptions = {}) {
      requireId('extractFrames', assetId, [ASSET_ID_PATTERN], 'a re_ asset id');
      const operation = `extractFrames(${assetId})`;
      const data = await run('refused-only', callOptions, attempts, () =>
        jsonCall({
          operation,
          endpoint: 'extract',
          method: 'POST',
          path: '/video/extract-frames',
          headers: { 'Content-Type': 'application/json' },
          body: JSON.stringify({ asset_id: assetId }),
          ...signalOf(callOptions),
        }),
      );
      return parseExtractReply(data);
    },

    async upload(input, callOptions = {}) {
      validateUpload(input);
      const operation = `upload(${JSON.stringify(truncate(input.filename, MAX_ID_IN_MESSAGE))})`;
      const data = await run('refused-only', callOptions, attempts, () =>
        uploadHttp.send(
          {
            operation,
            endpoint: 'upload',
            method: 'POST',
            path: '/upload',
            headers: { Accept: 'application/json' },
            body: uploadForm(input),
            timeoutMs: uploadTimeoutMs,
            ...signalOf(callOptions),
          },
          (res, signal) => http.readData(res, operation, signal),
        ),
      );
      return parseUploadReply(data);
    },

    async createSignedUpload(filename, callOptions = {}) {
      if (typeof filename !== 'string' || filename.trim() === '') {
        throw new UpstreamError('BAD_REQUEST', 'createSignedUpload: filename is required');
      }
      const operation = `createSignedUpload(${JSON.stringify(truncate(filename, MAX_ID_IN_MESSAGE))})`;
      const data = await run('refused-only', callOptions, attempts, () =>
        jsonCall({
          operation,
          endpoint: 'signed_url',
          method: 'POST',
          path: '/upload/signed-url',
          headers: { 'Content-Type': 'application/json' },
          body: JSON.stringify({ original_filename: filename }),
          ...signalOf(callOptions),
        }),
      );
      return parseSignedUploadReply(data);
    },

    async download(id, callOptions = {}) {
      requireId('download', id, ANY_ID, ANY_ID_TEXT);
      const operation = `download(${id})`;
      return run('idempotent', callOptions, attempts, () =>
        http.send(
          {
            operation,
            endpoint: 'download',
            method: 'GET',
            path: `/${id}/download`,
            timeoutMs: headersTimeoutMs,
            reportsOutcome: true,
            ...signalOf(callOptions),
          },
          (res, signal, report) => readDownload(res, signal, id, operation, http, stallMs, { observer, report }),
        ),
      );
    },

    async deleteAsset(id, callOptions = {}) {
      requireId('deleteAsset', id, ANY_ID, ANY_ID_TEXT);
      const operation = `deleteAsset(${id})`;
      await run('idempotent', callOptions, attempts, async ({ attempt, previousError }) => {
        try {
          await jsonCall({ operation, endpoint: 'delete', method: 'DELETE', path: `/${id}`, ...signalOf(callOptions) });
        } catch (error) {
          // A retry after a timeout/5xx that finds nothing: the earlier attempt most likely did delete it.
          const earlierMayHaveSucceeded =
            isUpstreamError(previousError, 'TIMEOUT') || isUpstreamError(previousError, 'UPSTREAM_ERROR');
          if (attempt > 1 && earlierMayHaveSucceeded && isUpstreamError(error, 'NOT_FOUND')) return;
          throw error;
        }
      });
    },
  };
}

export interface CreateUpstreamOptions {
  baseUrl: string;
  apiKey: string;
  /** Account rate (the upstream allows 1 per second). */
  rps: number;
  /** Fail fast instead of queueing longer than this (default: no limit). */
  maxWaitMs?: number;
  timeoutMs?: number;
  uploadTimeoutMs?: number;
  fetch?: typeof fetch;
  retry?: UpstreamRetryOptions;
}

/** A scheduler for one upstream account and a client bound to it. Call `scheduler.dispose()` on shutdown. */
export function createUpstream(options: CreateUpstreamOptions): { client: UpstreamClient; scheduler: Scheduler } {
  const scheduler = createScheduler({
    rps: options.rps,
    ...(options.maxWaitMs === undefined ? {} : { maxWaitMs: options.maxWaitMs }),
  });
  const client = createUpstreamClient({
    baseUrl: options.baseUrl,
    apiKey: options.apiKey,
    scheduler,
    ...(options.fetch === undefined ? {} : { fetch: options.fetch }),
    ...(options.timeoutMs === undefined ? {} : { timeoutMs: options.timeoutMs }),
    ...(options.uploadTimeoutMs === undefined ? {} : { uploadTimeoutMs: options.uploadTimeoutMs }),
    ...(options.retry === undefined ? {} : { retry: options.retry }),
  });
  return { client, scheduler };
}

function requireId(operation: string, id: unknown, patterns: RegExp[], expected: string): asserts id is string {
  if (typeof id === 'string' && patterns.some((pattern) => pattern.test(id))) return;
  const shown = typeof id === 'string' ? JSON.stringify(truncate(id, MAX_ID_IN_MESSAGE)) : typeof id;
  throw new UpstreamError('BAD_REQUEST', `${operation}: invalid id ${shown}, expected ${expected}`);
}

function signalOf(callOptions: CallOptions): { signal?: AbortSignal } {
  return callOptions.signal ? { signal: callOptions.signal } : {};
}
