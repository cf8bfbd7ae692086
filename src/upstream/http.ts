/**
 * One HTTP exchange with the upstream: fetch with the API key, a deadline, the caller's signal, and failures turned
 * into {@link UpstreamError}. Retries and rate limiting are the caller's business (client.ts).
 */
import { type ReplyInput, unwrapEnvelope } from './envelope.js';
import { UpstreamError } from './errors.js';
import { parseJsonPreservingBigIds } from './json.js';
import { outcomeOf, type UpstreamEndpoint, type UpstreamObserver, type UpstreamOutcome } from './observer.js';
import { traceUpstreamCall, tracingEnabled } from '../observability/spans.js';

export interface HttpRequest {
  /** Used in messages, e.g. `getMetadata(re_1)`. */
  operation: string;
  /** The metrics label of the call. */
  endpoint: UpstreamEndpoint;
  method: 'GET' | 'POST' | 'DELETE';
  /** Path below the base URL, starting with `/`. */
  path: string;
  headers?: Record<string, string>;
  body?: BodyInit;
  /** Deadline in ms, from the call to the end of `handle` (see {@link HttpSender.send}). */
  timeoutMs: number;
  /** The caller's signal: its abort rejects with its own `reason`, unwrapped. */
  signal?: AbortSignal;
  /** `handle` hands out a body still to be read and reports the outcome itself (through `report`) once it ends. */
  reportsOutcome?: boolean;
}

export interface HttpSender {
  /**
   * Sends the request and runs `handle` on the response. The deadline covers the fetch AND `handle` (reading a JSON
   * body); a body that `handle` hands out unread (a download stream) is no longer subject to it.
   */
  send<T>(
    request: HttpRequest,
    handle: (response: Response, signal: AbortSignal, report: (outcome: UpstreamOutcome) => void) => Promise<T>,
  ): Promise<T>;
  /** Reads a JSON reply and returns the envelope's `data`, or throws the classified error. */
  readData(response: Response, operation: string, signal: AbortSignal): Promise<unknown>;
  /** The reply as {@link ReplyInput} for envelope.ts (body parsed with big ids preserved). */
  replyInput(response: Response, text: string, operation: string): ReplyInput;
  /** Removes the API key from a text. */
  redact(text: string): string;
}

export function createHttpSender(options: {
  baseUrl: string;
  apiKey: string;
  fetch: typeof fetch;
  observer?: UpstreamObserver;
}): HttpSender {
  const base = options.baseUrl.replace(/\/+$/, '');
  const { apiKey } = options;
  const redact = (text: string): string => (apiKey === '' ? text : text.split(apiKey).join('[redacted]'));

  const replyInput = (response: Response, text: string, operation: string): ReplyInput => {
    let body: unknown;
    try {
      body = parseJsonPreservingBigIds(text);
    } catch {
      body = undefined;
    }
    const retryAfter = response.headers.get('retry-after');
    return { status: response.status, body, text, retryAfter, context: operation, redact };
  };

  const send = async <T>(
    request: HttpRequest,
    handle: (response: Response, signal: AbortSignal, report: (outcome: UpstreamOutcome) => void) => Promise<T>,
  ): Promise<T> => {
    let reported = false;
    const report = (outcome: UpstreamOutcome): void => {
      if (reported) return;
      reported = true;
      options.observer?.exchange?.(request.endpoint, outcome);
    };
    // A cancellable timer rather than AbortSignal.timeout: a download must stop being subject to the deadline once
    // its headers are in, and global timers are what fake timers drive in tests.
    const deadline = new AbortController();
    const timer = setTimeout(
      () => deadline.abort(new DOMException(`${request.operation} timed out`, 'TimeoutError')),
      request.timeoutMs,
    );
    const signal = request.signal ? AbortSignal.any([request.signal, deadline.signal]) : deadline.signal;
    const init: RequestInit = {
      method: request.method,
      headers: { ...request.headers, Authorization: apiKey },
      signal,
    };
    if (request.body !== undefined) init.body = request.body;
    try {
      const response = await abortable(options.fetch(`${base}${request.path}`, init), signal);
      const result = await handle(response, signal, report);
      if (!request.reportsOutcome) report('ok');
      return result;
    } catch (error) {
      const failure = toUpstreamError(error, request, deadline.signal, redact);
      // The caller gave up: nothing to say about the upstream.
      if (!request.signal?.aborted) report(outcomeOf(failure));
      throw failure;
    } finally {
      clearTimeout(timer);
    }
  };

  const readData = async (response: Response, operation: string, signal: AbortSignal): Promise<unknown> => {
    const text = await abortable(response.text(), signal);
    return unwrapEnvelope(replyInput(response, text, operation));
  };

  // Each exchange (every retry is one) is a CLIENT span when tracing is on; the trace context goes along, which the
  // memories.ai API ignores and a tracing egress proxy can use. Headers are never recorded: the key is one.
  const tracedSend: HttpSender['send'] = (request, handle) =>
    tracingEnabled()
      ? traceUpstreamCall({ method: request.method, baseUrl: base, path: request.path, endpoint: request.endpoint }, (span) =>
          send({ ...request, headers: { ...request.headers, ...span.headers } }, (response, ...rest) => {
            span.responded(response.status);
            return handle(response, ...rest);
          }),
        )
      : send(request, handle);

  return { send: tracedSend, readData, replyInput, redact };
}

/** The caller's abort reason, an UpstreamError as is, TIMEOUT after the deadline, else a network UPSTREAM_ERROR. */
function toUpstreamError(
  error: unknown,
  request: HttpRequest,
  deadline: AbortSignal,
  redact: (text: string) => string,
): unknown {
  if (error instanceof UpstreamError) return error;
  if (request.signal?.aborted) return request.signal.reason;
  if (deadline.aborted) {
    return new UpstreamError('TIMEOUT', `${request.operation} failed: no reply within ${request.timeoutMs} ms`);
  }
  const nested = findUpstreamError(error);
  if (nested) return nested;
  // Only a summary of the cause is kept (no `cause`): fetch errors may quote header values, i.e. the key.
  return new UpstreamError('UPSTREAM_ERROR', redact(`${request.operation} failed: network error (${describe(error)})`));
}

function findUpstreamError(error: unknown): UpstreamError | null {
  let current: unknown = error;
  for (let depth = 0; depth < 5 && current instanceof Error; depth++) {
    if (current instanceof UpstreamError) return current;
    current = current.cause;
  }
  return null;
}

function describe(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const cause = error.cause;
  if (cause instanceof Error) {
    const code = (cause as Error & { code?: unknown }).code;
    return `${error.message}: ${typeof code === 'string' ? code : cause.message}`;
  }
  return error.message;
}

/** Settles with `promise`, or rejects with `signal.reason` as soon as the signal aborts (even if `promise` hangs). */
export function abortable<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) {
    promise.catch(() => undefined);
    return Promise.reject(signal.reason);
  }
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(error);
      },
    );
  });
}
