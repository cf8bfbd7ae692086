import { describe, expect, it } from 'vitest';
import { createMediaSigner } from '../../../src/media/signing.js';
import {
  parseVariant,
  previewVariant,
  renditionVariant,
  sourceIdOfCacheKey,
  spriteLayout,
  spriteVariant,
  variantCacheKey,
  variantQuery,
  VariantArgumentError,
  type MediaVariant,
} from '../../../src/media/variants.js';

const FRAME = 'imc_666914042514116608_3';
const COLLECTION = 'im_666914042514116608';
const T0 = Date.UTC(2030, 0, 1, 12, 0, 0);

const paramsOf = (query: string) => new Map(new URLSearchParams(query));

describe('renditionVariant', () => {
  it('is null for the original (no size, format or quality), whatever the fit', () => {
    expect(renditionVariant({})).toBeNull();
    expect(renditionVariant({ format: 'original', fit: 'contain' })).toBeNull();
  });

  it('drops what does not change the bytes', () => {
    expect(renditionVariant({ width: 160, fit: 'inside' })).toEqual(renditionVariant({ width: 160 }));
    expect(renditionVariant({ width: 160, format: 'webp', quality: 80 })).toEqual(renditionVariant({ width: 160, format: 'webp' }));
    expect(renditionVariant({ width: 160, format: 'png', quality: 7 })).toEqual(renditionVariant({ width: 160, format: 'png' }));
    expect(renditionVariant({ width: 10, height: 10, fit: 'contain' })?.fit).toBe('contain');
  });

  it.each([
    [{ width: 0 }],
    [{ width: 4097 }],
    [{ height: -3 }],
    [{ width: 1.5 }],
    [{ quality: 0 }],
    [{ quality: 101 }],
  ])('refuses %j', (args) => {
    expect(() => renditionVariant(args)).toThrow(VariantArgumentError);
  });

  it('accepts the bounds themselves', () => {
    expect(renditionVariant({ width: 1, height: 4096, quality: 1 })).toMatchObject({ width: 1, height: 4096, quality: 1 });
    expect(renditionVariant({ quality: 100 })).toMatchObject({ format: 'original', quality: 100 });
  });
});

describe('sprite and preview bounds', () => {
  it('uses no more columns than frames, so every larger column count is the same sprite', () => {
    expect(spriteVariant({ columns: 10, tileWidth: 160, format: 'jpeg' }, 3)).toEqual(spriteVariant({ columns: 50, tileWidth: 160, format: 'jpeg' }, 3));
  });

  it.each([
    [{ columns: 0, tileWidth: 160 }, 10],
    [{ columns: 101, tileWidth: 160 }, 500],
    [{ columns: 10, tileWidth: 15 }, 10],
    [{ columns: 10, tileWidth: 1025 }, 10],
    [{ columns: 100, tileWidth: 100 }, 500], // 10 000 px wide
    [{ columns: 1, tileWidth: 160 }, 60], // 60 rows × 160 = 9 600
    [{ columns: 10, tileWidth: 160 }, 0],
    [{ columns: 50, tileWidth: 160 }, 1000], // 1000 × 160² = 25.6 MP
  ])('refuses sprite %j over %i frames', (args, frames) => {
    expect(() => spriteVariant({ ...args, format: 'jpeg' }, frames)).toThrow(VariantArgumentError);
  });

  it('accepts the default sprite of a 500-frame collection', () => {
    expect(spriteVariant({ columns: 10, tileWidth: 160, format: 'jpeg' }, 500)).toEqual({ kind: 'sprite', columns: 10, tileWidth: 160, format: 'jpeg' });
  });

  it('lays tiles out with the frames aspect ratio, at most twice as tall as wide', () => {
    const v = spriteVariant({ columns: 4, tileWidth: 160, format: 'jpeg' }, 10);
    expect(spriteLayout(v, 10, { width: 1920, height: 1080 })).toEqual({ columns: 4, rows: 3, tileWidth: 160, tileHeight: 90, width: 640, height: 270 });
    expect(spriteLayout(v, 10, { width: 100, height: 1000 }).tileHeight).toBe(320);
  });

  it('turns fps into a delay (10 ms steps for GIF) and refuses out-of-range previews', () => {
    expect(previewVariant({ fps: 4, width: 320, format: 'webp' }, 500)).toEqual({ kind: 'preview', width: 320, delayMs: 250, format: 'webp' });
    expect(previewVariant({ fps: 3, width: 320, format: 'webp' }, 5).delayMs).toBe(333);
    expect(previewVariant({ fps: 3, width: 320, format: 'gif' }, 5).delayMs).toBe(330);
    expect(previewVariant({ fps: 30, width: 320, format: 'gif' }, 5).delayMs).toBe(30);
    for (const args of [{ fps: 0.05, width: 320 }, { fps: 31, width: 320 }, { fps: Number.NaN, width: 320 }, { fps: 4, width: 15 }, { fps: 4, width: 1281 }]) {
      expect(() => previewVariant({ ...args, format: 'webp' }, 5), JSON.stringify(args)).toThrow(VariantArgumentError);
    }
    expect(() => previewVariant({ fps: 4, width: 1280, format: 'webp' }, 100)).toThrow(/frameCount × width²/);
  });
});

describe('canonical query and cache key', () => {
  const variants: [string, MediaVariant][] = [
    [FRAME, renditionVariant({ width: 240, format: 'webp' })!],
    [FRAME, renditionVariant({ width: 100, height: 50, fit: 'contain', format: 'avif', quality: 30 })!],
    [FRAME, renditionVariant({ quality: 55 })!],
    [COLLECTION, spriteVariant({ columns: 10, tileWidth: 160, format: 'jpeg' }, 500)],
    [COLLECTION, previewVariant({ fps: 4, width: 320, format: 'gif' }, 500)],
  ];

  it.each(variants)('round-trips %s %j through its query', (id, variant) => {
    const kind = id === FRAME ? 'frame' : 'collection';
    expect(parseVariant(kind, paramsOf(variantQuery(variant)))).toEqual(variant);
  });

  it('gives every variant its own cache key, within the cache key alphabet, that names its source', () => {
    const keys = variants.map(([id, v]) => variantCacheKey(id, v));
    expect(new Set(keys).size).toBe(keys.length);
    for (const [i, key] of keys.entries()) {
      expect(key).toMatch(/^[A-Za-z0-9_-]{1,128}$/);
      expect(sourceIdOfCacheKey(key)).toBe(variants[i]![0]);
    }
    expect(sourceIdOfCacheKey(FRAME)).toBe(FRAME);
  });

  it('is null without variant parameters and invalid for anything the gateway never signs', () => {
    expect(parseVariant('frame', paramsOf('exp=1&sig=x&utm=1'))).toBeNull();
    for (const query of ['w=0160', 'w=', 'w=abc', 'w=5000', 'fmt=webp&q=80', 'fmt=gif', 'fit=contain&w=10', 'as=sprite&w=10', 'q=80&fmt=jpeg&w=1']) {
      expect(parseVariant('frame', paramsOf(query)), query).toBe('invalid');
    }
    expect(parseVariant('collection', paramsOf('w=10'))).toBe('invalid');
    expect(parseVariant('collection', paramsOf('as=sprite&cols=10&tw=160'))).toBe('invalid');
    expect(parseVariant('video', paramsOf('w=10'))).toBe('invalid');
  });
});

describe('signed variant URLs', () => {
  const signer = createMediaSigner({ secret: 'variant-test-secret', ttlSeconds: 3600, publicUrl: 'https://gw.example.com', now: () => T0 });

  function check(url: string, kind: 'frame' | 'collection'): string {
    const parsed = new URL(url);
    const id = parsed.pathname.slice('/media/'.length);
    const variant = parseVariant(kind, new Map(parsed.searchParams));
    if (variant === 'invalid') return 'invalid';
    return signer.verify(id, parsed.searchParams.get('exp'), parsed.searchParams.get('sig'), variant);
  }

  it('keeps the plain URL of an id exactly as before variants', () => {
    expect(signer.url(FRAME, null)).toBe(signer.url(FRAME));
    expect(new URL(signer.url(FRAME)).search).toMatch(/^\?exp=\d+&sig=[\w-]{43}$/);
  });

  it('verifies a variant URL and refuses it once any parameter is edited, added or removed', () => {
    const url = signer.url(FRAME, renditionVariant({ width: 160, format: 'webp' }));
    expect(url).toMatch(/\/media\/imc_666914042514116608_3\?w=160&fmt=webp&exp=\d+&sig=/);
    expect(check(url, 'frame')).toBe('ok');
    expect(check(url.replace('w=160', 'w=4096'), 'frame')).toBe('invalid');
    expect(check(url.replace('fmt=webp', 'fmt=png'), 'frame')).toBe('invalid');
    expect(check(url.replace('w=160&fmt=webp&', 'w=160&'), 'frame')).toBe('invalid');
    expect(check(url.replace('w=160&fmt=webp&', ''), 'frame')).toBe('invalid');
    expect(check(signer.url(FRAME).replace('?', '?w=160&fmt=webp&'), 'frame')).toBe('invalid');
    const sprite = signer.url(COLLECTION, spriteVariant({ columns: 10, tileWidth: 160, format: 'jpeg' }, 50));
    expect(check(sprite, 'collection')).toBe('ok');
    expect(check(sprite.replace('tw=160', 'tw=1024'), 'collection')).toBe('invalid');
  });

  it('mints the same URL for the same rendition asked differently', () => {
    const a = signer.url(FRAME, renditionVariant({ width: 160, format: 'webp' }));
    const b = signer.url(FRAME, renditionVariant({ format: 'webp', width: 160, quality: 80, fit: 'inside' }));
    expect(b).toBe(a);
  });
});
