import { describe, expect, it } from 'vitest';
import {
  classifyFailure,
  classifyKind,
  isAmbiguousRateLimit,
  isSuccessReply,
  readEnvelope,
  unwrapEnvelope,
} from '../../../src/upstream/envelope.js';
import { UpstreamError } from '../../../src/upstream/errors.js';

const envelope = (code: unknown, msg: string, extra: Record<string, unknown> = {}) => ({ code, msg, data: null, ...extra });

function failureOf(status: number, body: unknown, text?: string): UpstreamError {
  try {
    unwrapEnvelope({ status, body, ...(text === undefined ? {} : { text }) });
  } catch (error) {
    if (error instanceof UpstreamError) return error;
    throw error;
  }
  throw new Error('expected a failure');
}

describe('envelope success forms', () => {
  it.each([
    ['int 200 with success', { code: 200, msg: 'success', data: { a: 1 }, success: true, failed: false }],
    ['string "200"', { code: '200', msg: 'success', data: { a: 1 } }],
    ['legacy "0000" with success', { code: '0000', msg: 'success', data: { a: 1 }, success: true }],
    ['"0000" without success field', { code: '0000', data: { a: 1 } }],
    ['int 200 with message instead of msg', { code: 200, message: 'SUCCESS', data: { a: 1 } }],
  ])('accepts %s', (_, body) => {
    expect(isSuccessReply(200, body)).toBe(true);
    expect(unwrapEnvelope({ status: 200, body })).toEqual({ a: 1 });
  });

  it('returns null data for a success without data (delete)', () => {
    expect(unwrapEnvelope({ status: 200, body: { code: 200, msg: 'success', data: null, success: true } })).toBeNull();
  });

  it('rejects success:false even with a success code', () => {
    const error = failureOf(200, { code: 200, msg: 'weird', success: false });
    expect(error.kind).toBe('UPSTREAM_ERROR');
  });

  it('rejects a success body on a non-2xx status', () => {
    expect(isSuccessReply(500, { code: 200, success: true })).toBe(false);
    expect(failureOf(500, { code: 200, success: true }).kind).toBe('UPSTREAM_ERROR');
  });

  it('rejects a 2xx without a code', () => {
    expect(failureOf(200, { msg: 'success', data: {} }).kind).toBe('UPSTREAM_ERROR');
  });

  it('reads msg before message', () => {
    expect(readEnvelope({ code: 400, msg: 'from msg', message: 'from message' })?.message).toBe('from msg');
    expect(readEnvelope({ code: 400, message: 'from message' })?.message).toBe('from message');
    expect(readEnvelope('nope')).toBeNull();
  });
});

describe('envelope error classification', () => {
  it.each([
    [400, envelope(400, 'Asset not found'), 'NOT_FOUND'],
    [400, envelope(400, 'Resource does not exist'), 'NOT_FOUND'],
    [400, envelope(400, 'asset_id is required'), 'BAD_REQUEST'],
    [200, envelope('0001', 'bad parameter'), 'BAD_REQUEST'],
    [200, envelope('0003', 'missing parameter'), 'BAD_REQUEST'],
    [401, { code: 401, msg: 'Unauthorized', data: null }, 'UNAUTHENTICATED'],
    [200, envelope('0401', 'bad credentials'), 'UNAUTHENTICATED'],
    [402, envelope(402, 'Insufficient balance'), 'PAYMENT_REQUIRED'],
    [200, envelope('0402', 'not enough credits'), 'PAYMENT_REQUIRED'],
    [403, envelope(403, 'account disabled'), 'FORBIDDEN'],
    [200, envelope('0403', 'developer account disabled'), 'FORBIDDEN'],
    [200, envelope('9009', 'no permission'), 'FORBIDDEN'],
    [409, envelope(409, 'duplicate request'), 'CONFLICT'],
    [200, envelope('0409', 'repeated operation'), 'CONFLICT'],
    [413, envelope(413, 'too large'), 'PAYLOAD_TOO_LARGE'],
    [429, envelope(429, 'Too many requests'), 'RATE_LIMITED'],
    [200, envelope('0429', 'Too many requests', { success: false, failed: true }), 'RATE_LIMITED'],
    [400, envelope(429, 'Too many requests'), 'RATE_LIMITED'],
    [500, envelope(500, 'Internal server error'), 'UPSTREAM_ERROR'],
    [503, envelope(503, 'unavailable'), 'UPSTREAM_ERROR'],
    [502, envelope(429, 'gateway says 429 in body'), 'UPSTREAM_ERROR'],
    [200, envelope(500, 'internal'), 'UPSTREAM_ERROR'],
    [405, envelope(405, 'method not allowed'), 'BAD_REQUEST'],
    [415, envelope(415, 'unsupported media type'), 'BAD_REQUEST'],
    [200, envelope('16', 'stream capacity reached'), 'UPSTREAM_ERROR'],
  ])('HTTP %i %j → %s', (status, body, kind) => {
    const error = failureOf(status, body);
    expect(error.kind).toBe(kind);
    expect(error.status).toBe(status);
    expect(error.code).toBe(String(body.code));
  });

  it('treats an unparseable 2xx body as UPSTREAM_ERROR', () => {
    const error = failureOf(200, undefined, '<html>oops</html>');
    expect(error.kind).toBe('UPSTREAM_ERROR');
    expect(error.message).toContain('unparseable reply');
  });

  it('classifies a non-JSON error body by its HTTP status', () => {
    expect(failureOf(502, undefined, '<html>Bad gateway</html>').kind).toBe('UPSTREAM_ERROR');
    expect(failureOf(429, undefined, 'slow down').kind).toBe('RATE_LIMITED');
    expect(failureOf(401, undefined, '').kind).toBe('UNAUTHENTICATED');
  });

  it('builds a message from msg/message, status and code', () => {
    const error = classifyFailure({ status: 400, body: envelope(400, 'Asset not found'), context: 'getMetadata(re_1)' });
    expect(error.message).toBe('getMetadata(re_1) failed: Asset not found (HTTP 400, code 400)');
    const viaMessage = classifyFailure({ status: 200, body: { code: '0429', message: 'busy' } });
    expect(viaMessage.message).toBe('upstream call failed: busy (HTTP 200, code 0429)');
  });

  it('reads Retry-After for RATE_LIMITED only', () => {
    const limited = classifyFailure({ status: 429, body: envelope(429, 'x'), retryAfter: '7' });
    expect(limited.retryAfterSeconds).toBe(7);
    const other = classifyFailure({ status: 400, body: envelope(400, 'x'), retryAfter: '7' });
    expect(other.retryAfterSeconds).toBeUndefined();
  });

  it('applies redact to the final message', () => {
    const error = classifyFailure({
      status: 401,
      body: envelope(401, 'invalid key sk-secret'),
      redact: (text) => text.replaceAll('sk-secret', '[redacted]'),
    });
    expect(error.message).not.toContain('sk-secret');
    expect(error.message).toContain('[redacted]');
  });
});

describe('the 400 "Request has exceeded the limit." ambiguity', () => {
  it('is a BAD_REQUEST flagged as an ambiguous rate limit (JSON body)', () => {
    const error = failureOf(400, envelope(400, 'Request has exceeded the limit.'));
    expect(error.kind).toBe('BAD_REQUEST');
    expect(isAmbiguousRateLimit(error)).toBe(true);
  });

  it('is recognised in a plain-text body too', () => {
    const error = failureOf(400, undefined, 'Request has exceeded the limit.');
    expect(error.kind).toBe('BAD_REQUEST');
    expect(isAmbiguousRateLimit(error)).toBe(true);
  });

  it('does not flag other errors', () => {
    expect(isAmbiguousRateLimit(failureOf(400, envelope(400, 'asset_id is required')))).toBe(false);
    expect(isAmbiguousRateLimit(failureOf(429, envelope(429, 'Request has exceeded the limit.')))).toBe(false);
    expect(isAmbiguousRateLimit(new UpstreamError('BAD_REQUEST', 'Request has exceeded the limit.'))).toBe(false);
  });

  it('classifyKind exposes the flag', () => {
    expect(classifyKind(400, '400', 'Request has exceeded the limit.')).toEqual({
      kind: 'BAD_REQUEST',
      ambiguousRateLimit: true,
    });
  });
});
