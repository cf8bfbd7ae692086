/**
 * Signed media URLs: `PUBLIC_URL/media/<id>?exp=<unix seconds>&sig=<base64url HMAC-SHA256 of "<id>\n<exp>">`, or
 * for a variant (a rendition, sprite or preview, see variants.ts)
 * `PUBLIC_URL/media/<id>?<canonical variant query>&exp=…&sig=<HMAC of "<id>\n<variant query>\n<exp>">`: the
 * signature covers the parameters, so none can be edited. A URL without a variant is exactly what it was before
 * variants existed.
 *
 * URL stability: the expiry is rounded UP to the next multiple of `step = max(1, floor(ttlSeconds / 4))`, so every
 * URL minted for an id inside one step window is byte-identical (browsers and CDNs can cache it) and each URL stays
 * valid for at least `ttlSeconds` and at most `ttlSeconds + step`.
 */
import { createHmac, createSecretKey, timingSafeEqual, type KeyObject } from 'node:crypto';
import { mediaPath } from './ids.js';
import { variantQuery, type MediaVariant } from './variants.js';

/** Configuration of {@link createMediaSigner}. */
export interface MediaSignerOptions {
  /** HMAC key; keep it out of logs. */
  secret: string;
  /** Minimum lifetime of a minted URL, in seconds (integer ≥ 1). */
  ttlSeconds: number;
  /** Public origin (and optional path prefix) the browser reaches the gateway at, e.g. `https://gw.example.com`. */
  publicUrl: string;
  /** Clock in epoch MILLISECONDS (like `Date.now`). Injected by tests. */
  now?: () => number;
}

/** `ok`: valid and unexpired; `expired`: authentic but past `exp`; `invalid`: missing, malformed or forged. */
export type MediaSignatureCheck = 'ok' | 'expired' | 'invalid';

/** Mints and checks signed media URLs. */
export interface MediaSigner {
  /** Absolute signed URL for a media id, or a variant of it (stable within one rounding window). */
  url(id: string, variant?: MediaVariant | null): string;
  /** Checks the `exp` and `sig` query values of a request for `id` (or its `variant`). Costs one HMAC. */
  verify(id: string, exp: string | null, sig: string | null, variant?: MediaVariant | null): MediaSignatureCheck;
}

const EXP_PATTERN = /^\d{1,12}$/;
const SIG_PATTERN = /^[A-Za-z0-9_-]{43}$/;
/**
 * URLs remembered per window: a 100-frame page signs 100 URLs per request, and createHmac + digest were 4.5% of the
 * gateway's sampled CPU under bench:graphql before the memo. ~200 bytes each, so the cap keeps it under ~2-3 MB.
 */
const URL_MEMO_MAX = 10_000;

/** Creates a signer/verifier for media URLs. Throws on an empty secret or a non-positive TTL. */
export function createMediaSigner(options: MediaSignerOptions): MediaSigner {
  if (options.secret.length === 0) throw new TypeError('media signer: secret must not be empty');
  if (!Number.isInteger(options.ttlSeconds) || options.ttlSeconds < 1) {
    throw new TypeError('media signer: ttlSeconds must be a positive integer');
  }
  const key = createSecretKey(Buffer.from(options.secret, 'utf8'));
  const now = options.now ?? Date.now;
  const ttl = options.ttlSeconds;
  const step = Math.max(1, Math.floor(ttl / 4));
  const base = options.publicUrl.replace(/\/+$/, '');
  const memo = new Map<string, string>();
  let memoExp = '';

  return {
    url(id, variant) {
      const nowSeconds = Math.floor(now() / 1000);
      const exp = String(Math.ceil((nowSeconds + ttl) / step) * step);
      const query = variant ? variantQuery(variant) : null;
      // Memo of this window's URLs: a URL is a pure function of (id, query, exp), so within one window the memo's
      // answer is byte-identical to a fresh HMAC. A new exp (window rolled, or a test's clock moved) empties it.
      if (exp !== memoExp) {
        memo.clear();
        memoExp = exp;
      }
      const memoKey = query === null ? id : `${id}\n${query}`;
      const known = memo.get(memoKey);
      if (known !== undefined) return known;
      const sig = digest(key, id, query, exp).toString('base64url');
      const url = `${base}${mediaPath(id)}?${query === null ? '' : `${query}&`}exp=${exp}&sig=${sig}`;
      if (memo.size >= URL_MEMO_MAX) memo.clear();
      memo.set(memoKey, url);
      return url;
    },
    verify(id, exp, sig, variant) {
      if (exp === null || sig === null || !EXP_PATTERN.test(exp) || !SIG_PATTERN.test(sig)) return 'invalid';
      // Compare the canonical text, not decoded bytes: base64url has spare bits in its last character.
      const query = variant ? variantQuery(variant) : null;
      const expected = Buffer.from(digest(key, id, query, exp).toString('base64url'), 'latin1');
      if (!timingSafeEqual(Buffer.from(sig, 'latin1'), expected)) return 'invalid';
      return Number(exp) * 1000 <= now() ? 'expired' : 'ok';
    },
  };
}

// Ids and canonical queries contain no newline, so the two-line and three-line texts cannot collide.
function digest(key: KeyObject, id: string, query: string | null, exp: string): Buffer {
  return createHmac('sha256', key)
    .update(query === null ? `${id}\n${exp}` : `${id}\n${query}\n${exp}`)
    .digest();
}
