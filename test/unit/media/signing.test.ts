import { describe, expect, it } from 'vitest';
import { createMediaSigner } from '../../../src/media/signing.js';

const T0 = Date.UTC(2030, 0, 1, 12, 0, 0); // ms

function signerAt(clock: { now: number }, ttlSeconds = 3600) {
  const publicUrl = 'https://gw.example.com/';
  return createMediaSigner({ secret: 's3cret', ttlSeconds, publicUrl, now: () => clock.now });
}

function parts(url: string): { path: string; exp: string | null; sig: string | null } {
  const parsed = new URL(url);
  return { path: parsed.pathname, exp: parsed.searchParams.get('exp'), sig: parsed.searchParams.get('sig') };
}

describe('createMediaSigner', () => {
  it('mints /media/<id> URLs under the public URL that verify as ok', () => {
    const clock = { now: T0 };
    const signer = signerAt(clock);
    const url = signer.url('imc_666914042514116608_0');
    expect(url.startsWith('https://gw.example.com/media/imc_666914042514116608_0?exp=')).toBe(true);
    const { path, exp, sig } = parts(url);
    expect(path).toBe('/media/imc_666914042514116608_0');
    expect(sig).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(signer.verify('imc_666914042514116608_0', exp, sig)).toBe('ok');
  });

  it('rounds the expiry up to a ttl/4 boundary so URLs are stable within a window', () => {
    const clock = { now: T0 };
    const signer = signerAt(clock);
    const first = signer.url('im_1');
    const exp = Number(parts(first).exp);
    expect(exp % 900).toBe(0);
    expect(exp).toBeGreaterThanOrEqual(T0 / 1000 + 3600);
    expect(exp).toBeLessThanOrEqual(T0 / 1000 + 3600 + 900);
    clock.now = (exp - 3600 - 1) * 1000; // last second of the same window
    expect(signer.url('im_1')).toBe(first);
    clock.now = (exp - 3600 + 1) * 1000; // next window
    expect(signer.url('im_1')).not.toBe(first);
  });

  it('keeps a URL valid for at least ttl and reports expired afterwards', () => {
    const clock = { now: T0 };
    const signer = signerAt(clock);
    const { exp, sig } = parts(signer.url('re_5'));
    clock.now = T0 + 3600 * 1000 - 1;
    expect(signer.verify('re_5', exp, sig)).toBe('ok');
    clock.now = Number(exp) * 1000;
    expect(signer.verify('re_5', exp, sig)).toBe('expired');
  });

  it('rejects a signature used for another id', () => {
    const signer = signerAt({ now: T0 });
    const { exp, sig } = parts(signer.url('imc_1_0'));
    expect(signer.verify('imc_1_1', exp, sig)).toBe('invalid');
  });

  it('rejects a tampered signature, including the spare bits of its last character', () => {
    const signer = signerAt({ now: T0 });
    const { exp, sig } = parts(signer.url('imc_1_0'));
    const s = sig as string;
    const flip = (c: string) => (c === 'A' ? 'B' : 'A');
    expect(signer.verify('imc_1_0', exp, flip(s[0] as string) + s.slice(1))).toBe('invalid');
    expect(signer.verify('imc_1_0', exp, s.slice(0, -1) + flip(s.at(-1) as string))).toBe('invalid');
    expect(signer.verify('imc_1_0', exp, s.slice(1))).toBe('invalid');
  });

  it('rejects a tampered (extended) expiry', () => {
    const signer = signerAt({ now: T0 });
    const { exp, sig } = parts(signer.url('imc_1_0'));
    expect(signer.verify('imc_1_0', String(Number(exp) + 900), sig)).toBe('invalid');
  });

  it('rejects missing or malformed parameters', () => {
    const signer = signerAt({ now: T0 });
    const { exp, sig } = parts(signer.url('imc_1_0'));
    expect(signer.verify('imc_1_0', null, sig)).toBe('invalid');
    expect(signer.verify('imc_1_0', exp, null)).toBe('invalid');
    expect(signer.verify('imc_1_0', null, null)).toBe('invalid');
    expect(signer.verify('imc_1_0', `${exp}.0`, sig)).toBe('invalid');
    expect(signer.verify('imc_1_0', exp, `${sig}=`)).toBe('invalid');
  });

  it('rejects URLs signed with another secret', () => {
    const other = createMediaSigner({ secret: 'other', ttlSeconds: 3600, publicUrl: 'https://x', now: () => T0 });
    const { exp, sig } = parts(other.url('imc_1_0'));
    expect(signerAt({ now: T0 }).verify('imc_1_0', exp, sig)).toBe('invalid');
  });

  it('refuses an empty secret or a non-positive ttl', () => {
    expect(() => createMediaSigner({ secret: '', ttlSeconds: 60, publicUrl: 'https://x' })).toThrow(TypeError);
    expect(() => createMediaSigner({ secret: 'k', ttlSeconds: 0, publicUrl: 'https://x' })).toThrow(TypeError);
  });
});
