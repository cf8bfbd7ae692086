/**
 * The JSON envelope every v2 reply uses (`{ code, msg, data, success, failed }`), read tolerantly across the three
 * doc generations, and the classification of failures into {@link UpstreamError} kinds.
 *
 * Success iff HTTP 2xx, `success === true` when the field is present, and `code` ∈ {200, "200", "0000"}.
 * Errors are classified from BOTH the HTTP status and the body code: v2 mirrors the code in the status, the legacy
 * generation sends HTTP 200 with an error code in the body.
 */
import { UpstreamError, type UpstreamErrorKind } from './errors.js';

/** An envelope with its fields normalised; `null` fields were absent or of an unusable type. */
export interface Envelope {
  /** `code` stringified (`200` → "200"; "0000" stays "0000"). */
  code: string | null;
  /** `msg ?? message` (sync replies use `msg`, callbacks use `message`). */
  message: string | null;
  data: unknown;
  /** The raw `success` field (`undefined` when absent). */
  success: unknown;
}

/** What the client knows about one reply, for {@link unwrapEnvelope} and {@link classifyFailure}. */
export interface ReplyInput {
  status: number;
  /** The parsed body; `undefined` when the body was not JSON. */
  body: unknown;
  /** The raw body text, used for the message when the body is not an envelope (a plain-text 400, an HTML 502). */
  text?: string;
  /** Value of the `Retry-After` header, if any (undocumented upstream, honoured when sent). */
  retryAfter?: string | null;
  /** Prefix of the error message, e.g. `getMetadata(re_1)`. Never put headers or URLs with secrets here. */
  context?: string;
  /** Applied to the final message (the client removes its API key in case the upstream echoes it). */
  redact?: (text: string) => string;
}

const SUCCESS_CODES: ReadonlySet<string> = new Set(['200', '0000']);

/** Body codes (v2 ints and legacy strings) that identify an error kind on their own. */
const CODE_KINDS: Readonly<Record<string, UpstreamErrorKind>> = {
  '400': 'BAD_REQUEST',
  '0001': 'BAD_REQUEST',
  '0003': 'BAD_REQUEST',
  '405': 'BAD_REQUEST',
  '415': 'BAD_REQUEST',
  '401': 'UNAUTHENTICATED',
  '0401': 'UNAUTHENTICATED',
  '402': 'PAYMENT_REQUIRED',
  '0402': 'PAYMENT_REQUIRED',
  '403': 'FORBIDDEN',
  '0403': 'FORBIDDEN',
  '9009': 'FORBIDDEN',
  '404': 'NOT_FOUND',
  '0404': 'NOT_FOUND',
  '409': 'CONFLICT',
  '0409': 'CONFLICT',
  '413': 'PAYLOAD_TOO_LARGE',
  '429': 'RATE_LIMITED',
  '0429': 'RATE_LIMITED',
};

const STATUS_KINDS: Readonly<Record<number, UpstreamErrorKind>> = {
  400: 'BAD_REQUEST',
  401: 'UNAUTHENTICATED',
  402: 'PAYMENT_REQUIRED',
  403: 'FORBIDDEN',
  404: 'NOT_FOUND',
  408: 'TIMEOUT',
  409: 'CONFLICT',
  413: 'PAYLOAD_TOO_LARGE',
  429: 'RATE_LIMITED',
};

/** v2 reports "Asset not found" / "Resource does not exist" as 400, never 404. */
const NOT_FOUND_TEXT = /not\s*found|does not exist/i;
/** The upload page: HTTP 400 with this text means rate limiting OR one of several validation failures. */
const LIMIT_EXCEEDED_TEXT = /request has exceeded the limit/i;
const MAX_TEXT_IN_MESSAGE = 200;

/** Errors carrying the ambiguous "Request has exceeded the limit." text (kind BAD_REQUEST, worth ONE retry). */
const ambiguousErrors = new WeakSet<UpstreamError>();

/** `code` as a string: finite integers are stringified, strings trimmed; anything else is `null`. */
export function normalizeCode(code: unknown): string | null {
  if (typeof code === 'number') return Number.isInteger(code) ? String(code) : null;
  if (typeof code === 'string') return code.trim() === '' ? null : code.trim();
  return null;
}

export function isSuccessCode(code: unknown): boolean {
  const normalized = normalizeCode(code);
  return normalized !== null && SUCCESS_CODES.has(normalized);
}

/** Reads the envelope fields of a JSON object; `null` when `body` is not a plain object. */
export function readEnvelope(body: unknown): Envelope | null {
  if (!isRecord(body)) return null;
  const msg = typeof body.msg === 'string' ? body.msg : null;
  const message = typeof body.message === 'string' ? body.message : null;
  return { code: normalizeCode(body.code), message: msg ?? message, data: body.data, success: body.success };
}

/** True iff HTTP 2xx, the body is an envelope, `success` is absent/null or `true`, and the code is a success code. */
export function isSuccessReply(status: number, body: unknown): boolean {
  const envelope = readEnvelope(body);
  if (!is2xx(status) || envelope === null) return false;
  const successOk = envelope.success === undefined || envelope.success === null || envelope.success === true;
  return successOk && envelope.code !== null && SUCCESS_CODES.has(envelope.code);
}

/** Returns `data` of a successful reply, or throws the classified {@link UpstreamError}. */
export function unwrapEnvelope(input: ReplyInput): unknown {
  if (isSuccessReply(input.status, input.body)) return readEnvelope(input.body)?.data ?? null;
  throw classifyFailure(input);
}

/**
 * Resolves the error kind from the HTTP status and the body code:
 * - a 5xx status is UPSTREAM_ERROR whatever the body says;
 * - any other mapped status except a plain 400 wins (v2: the status mirrors the code);
 * - otherwise (HTTP 2xx with an error code, or a 400 whose code is more specific) the body code decides,
 *   then the status; unknown combinations are UPSTREAM_ERROR;
 * - BAD_REQUEST with "not found"/"does not exist" text becomes NOT_FOUND.
 */
export function classifyKind(
  status: number,
  code: string | null,
  text: string | null,
): { kind: UpstreamErrorKind; ambiguousRateLimit: boolean } {
  const statusKind = kindFromStatus(status);
  const codeKind = kindFromCode(code);
  let kind: UpstreamErrorKind;
  if (statusKind !== null && statusKind !== 'BAD_REQUEST') kind = statusKind;
  else kind = codeKind ?? statusKind ?? 'UPSTREAM_ERROR';
  if (kind !== 'BAD_REQUEST' || text === null) return { kind, ambiguousRateLimit: false };
  if (NOT_FOUND_TEXT.test(text)) return { kind: 'NOT_FOUND', ambiguousRateLimit: false };
  return { kind, ambiguousRateLimit: LIMIT_EXCEEDED_TEXT.test(text) };
}

/** Builds the {@link UpstreamError} for a reply that is not a success (see {@link classifyKind}). */
export function classifyFailure(input: ReplyInput): UpstreamError {
  const envelope = readEnvelope(input.body);
  const plainText = envelope === null ? oneLine(input.text ?? '') : '';
  const upstreamText = envelope?.message ?? (plainText === '' ? null : plainText);
  const code = envelope?.code ?? null;
  const { kind, ambiguousRateLimit } = classifyKind(input.status, code, upstreamText);

  let detail: string;
  if (is2xx(input.status) && envelope === null) detail = 'unparseable reply';
  else if (is2xx(input.status) && code !== null && SUCCESS_CODES.has(code)) detail = 'inconsistent success envelope';
  else detail = upstreamText ?? 'no message';
  const where = `HTTP ${input.status}${code === null ? '' : `, code ${code}`}`;
  const raw = `${input.context ?? 'upstream call'} failed: ${truncate(detail)} (${where})`;
  const message = input.redact ? input.redact(raw) : raw;

  const error = new UpstreamError(kind, message, {
    status: input.status,
    ...(code === null ? {} : { code }),
    ...(kind === 'RATE_LIMITED' ? retryAfterOption(input.retryAfter) : {}),
  });
  if (ambiguousRateLimit) ambiguousErrors.add(error);
  return error;
}

/**
 * True for a BAD_REQUEST that carried "Request has exceeded the limit.": it may be a rate limit, so the client retries
 * it exactly once after a delay, then lets the BAD_REQUEST through.
 */
export function isAmbiguousRateLimit(error: unknown): boolean {
  return error instanceof UpstreamError && ambiguousErrors.has(error);
}

function kindFromStatus(status: number): UpstreamErrorKind | null {
  if (status >= 500) return 'UPSTREAM_ERROR';
  if (status >= 400) return STATUS_KINDS[status] ?? 'BAD_REQUEST';
  return null;
}

function kindFromCode(code: string | null): UpstreamErrorKind | null {
  if (code === null) return null;
  if (/^5\d\d$/.test(code)) return 'UPSTREAM_ERROR';
  return CODE_KINDS[code] ?? null;
}

/** `Retry-After` as whole seconds (delta-seconds or an HTTP date); nothing when absent or unusable. */
function retryAfterOption(header: string | null | undefined): { retryAfterSeconds?: number } {
  if (header == null || header.trim() === '') return {};
  const value = header.trim();
  if (/^\d+$/.test(value)) return { retryAfterSeconds: Number(value) };
  const date = Date.parse(value);
  if (Number.isNaN(date)) return {};
  return { retryAfterSeconds: Math.max(0, Math.ceil((date - Date.now()) / 1000)) };
}

function is2xx(status: number): boolean {
  return status >= 200 && status < 300;
}

function oneLine(text: string): string {
  return text.replace(/\s+/g, ' ').trim();
}

/** `text` cut to `max` characters with an ellipsis, for echoing untrusted input in messages and logs. */
export function truncate(text: string, max = MAX_TEXT_IN_MESSAGE): string {
  return text.length > max ? `${text.slice(0, max)}…` : text;
}

/** A plain JSON object (not null, not an array). */
export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
