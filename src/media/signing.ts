/**
 * Signed media URLs: `PUBLIC_URL/media/<id>?exp=<unix seconds>&sig=<base64url HMAC-SHA256 of "<id>\n<exp>">`.
 *
 * URL stability: the expiry is rounded UP to the next multiple of `step = max(1, floor(ttlSeconds / 4))`, so every
 * URL minted for an id inside one step window is byte-identical (browsers and CDNs can cache it) and each URL stays
 * valid for at least `ttlSeconds` and at most `ttlSeconds + step`.
 */
import { createHmac, createSecretKey, timingSafeEqual, type KeyObject } from 'node:crypto';
import { mediaPath } from './ids.js';

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
  /** Absolute signed URL for a media id (stable within one rounding window). */
  url(id: string): string;
  /** Checks the `exp` and `sig` query values of a request for `id`. Costs one HMAC. */
  verify(id: string, exp: string | null, sig: string | null): MediaSignatureCheck;
}

const EXP_PATTERN = /^\d{1,12}$/;
const SIG_PATTERN = /^[A-Za-z0-9_-]{43}$/;

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

  return {
    url(id) {
      const nowSeconds = Math.floor(now() / 1000);
      const exp = String(Math.ceil((nowSeconds + ttl) / step) * step);
      return `${base}${mediaPath(id)}?exp=${exp}&sig=${digest(key, id, exp).toString('base64url')}`;
    },
    verify(id, exp, sig) {
      if (exp === null || sig === null || !EXP_PATTERN.test(exp) || !SIG_PATTERN.test(sig)) return 'invalid';
      // Compare the canonical text, not decoded bytes: base64url has spare bits in its last character.
      const expected = Buffer.from(digest(key, id, exp).toString('base64url'), 'latin1');
      if (!timingSafeEqual(Buffer.from(sig, 'latin1'), expected)) return 'invalid';
      return Number(exp) * 1000 <= now() ? 'expired' : 'ok';
    },
  };
}

function digest(key: KeyObject, id: string, exp: string): Buffer {
  return createHmac('sha256', key).update(`${id}\n${exp}`).digest();
}
