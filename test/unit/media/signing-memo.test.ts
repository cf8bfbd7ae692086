/**
 * The signer's per-window URL memo (media/signing.ts): whatever the clock does, a memoized URL is byte-identical to
 * what a signer without any memo mints at the same instant, so the memo never hands out a URL with less lifetime
 * left than a fresh one would have.
 */
import { describe, expect, it } from 'vitest';
import { createMediaSigner } from '../../../src/media/signing.js';

const T0 = Date.UTC(2030, 0, 1, 12, 0, 0);
const IDS = ['im_1', 'imc_1_0', 'imc_1_1', 're_2'];

const signer = (clock: { now: number }, ttlSeconds = 3600) =>
  createMediaSigner({ secret: 's3cret', ttlSeconds, publicUrl: 'https://gw.example.com', now: () => clock.now });

describe('media URL memo', () => {
  it('answers every instant across several windows (forwards, backwards) exactly like a fresh signer', () => {
    const clock = { now: T0 };
    const memoized = signer(clock);
    // Steps of 7 s across three 900 s windows, then the clock set back: each URL equals a brand-new signer's.
    const instants = [...Array.from({ length: 400 }, (_, i) => T0 + i * 7_000), T0 - 86_400_000, T0 + 901_000, T0];
    for (const at of instants) {
      clock.now = at;
      for (const id of IDS) expect(memoized.url(id)).toBe(signer({ now: at }).url(id));
    }
  });

  // The signer counts whole seconds (a URL minted at s + 0.9 s has 0.9 s less than ttl): so are these instants.
  it('keeps the lifetime guarantee at the last second of a window and the first of the next', () => {
    const clock = { now: T0 };
    const memoized = signer(clock);
    const exp = Number(new URL(memoized.url('im_1')).searchParams.get('exp'));
    for (const at of [(exp - 3600 - 1) * 1000, (exp - 3600) * 1000, (exp - 3600 + 1) * 1000]) {
      clock.now = at;
      const left = Number(new URL(memoized.url('im_1')).searchParams.get('exp')) * 1000 - at;
      expect(left).toBeGreaterThanOrEqual(3600 * 1000);
    }
  });
});
