/**
 * Media variants: a frame rendition (resized / re-encoded), a collection sprite (contact sheet) or a collection
 * preview (animated flip-book). Pure functions, no I/O.
 *
 * One variant has exactly one canonical form, used three ways: the query string of its URL (`w=160&fmt=webp`), the
 * text its signature covers (so a URL for 160 px cannot be edited into 4096 px), and its disk-cache key
 * (`imc_1_0-w160-webp`). Parameters that do not change the bytes are dropped (`fit` with one dimension, `quality`
 * for PNG or at the encoder's default, a preview's fps folded into its frame delay), so the same image always gets
 * the same URL and browsers / CDNs can cache it.
 */

export type ImageFit = 'cover' | 'contain' | 'inside';
export type ImageFormat = 'original' | 'jpeg' | 'webp' | 'avif' | 'png';
export type PreviewFormat = 'webp' | 'gif';

/** A resized / re-encoded frame. `width` and `height` null: the frame's own size. */
export interface RenditionVariant {
  kind: 'rendition';
  width: number | null;
  height: number | null;
  /** Only meaningful with both dimensions; canonically `cover` otherwise. */
  fit: ImageFit;
  format: ImageFormat;
  /** Encoder quality; null: the encoder's default. */
  quality: number | null;
}

/** A contact sheet of every frame of a collection, `columns` tiles per row. */
export interface SpriteVariant {
  kind: 'sprite';
  columns: number;
  tileWidth: number;
  format: ImageFormat;
}

/** An animated image of every frame of a collection. */
export interface PreviewVariant {
  kind: 'preview';
  width: number;
  /** Per-frame delay in milliseconds (from fps; GIF delays are centiseconds, so multiples of 10 there). */
  delayMs: number;
  format: PreviewFormat;
}

export type MediaVariant = RenditionVariant | SpriteVariant | PreviewVariant;

/** Bounds of the GraphQL arguments; the field descriptions quote them. */
export const LIMITS = Object.freeze({
  renditionMaxSide: 4096,
  qualityMin: 1,
  qualityMax: 100,
  spriteMaxColumns: 100,
  spriteTileWidthMin: 16,
  spriteTileWidthMax: 1024,
  /** columns × tileWidth and rows × tileWidth (tiles are at most 2 × tileWidth tall, so ≤ 16384 px). */
  spriteMaxSide: 8192,
  /** frames × tileWidth² (the raw canvas is ≤ 2 × this × 3 bytes, see sprite.ts) */
  spriteMaxTilePixels: 20_000_000,
  previewWidthMin: 16,
  previewWidthMax: 1280,
  previewFpsMin: 0.1,
  previewFpsMax: 30,
  /** frames × width² */
  previewMaxPixels: 64_000_000,
});

/** Encoder default qualities (sharp's): a quality equal to these is dropped from the canonical form. */
const DEFAULT_QUALITY: Readonly<Record<ImageFormat, number | null>> = {
  original: null,
  jpeg: 80,
  webp: 80,
  avif: 50,
  png: null,
};

const FITS: readonly ImageFit[] = ['cover', 'contain', 'inside'];
const FORMATS: readonly ImageFormat[] = ['original', 'jpeg', 'webp', 'avif', 'png'];
const PREVIEW_FORMATS: readonly PreviewFormat[] = ['webp', 'gif'];

/** A rejected argument, with a message fit for a GraphQL `INVALID_ARGUMENT` error. */
export class VariantArgumentError extends RangeError {
  override readonly name = 'VariantArgumentError';
}

const intIn = (name: string, value: number, min: number, max: number): number => {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new VariantArgumentError(`${name} must be an integer between ${min} and ${max}`);
  }
  return value;
};

/**
 * The canonical rendition for `Frame.url` arguments, or null when they ask for the original bytes (no size, no
 * format, no quality), whose URL stays the plain one. Throws {@link VariantArgumentError}.
 */
export function renditionVariant(args: {
  width?: number | null;
  height?: number | null;
  fit?: ImageFit | null;
  format?: ImageFormat | null;
  quality?: number | null;
}): RenditionVariant | null {
  const width = args.width == null ? null : intIn('width', args.width, 1, LIMITS.renditionMaxSide);
  const height = args.height == null ? null : intIn('height', args.height, 1, LIMITS.renditionMaxSide);
  const format = args.format ?? 'original';
  let quality = args.quality == null ? null : intIn('quality', args.quality, LIMITS.qualityMin, LIMITS.qualityMax);
  if (format === 'png' || quality === DEFAULT_QUALITY[format]) quality = null;
  if (width === null && height === null && format === 'original' && quality === null) return null;
  // With one dimension every fit scales to it keeping the aspect ratio: the same image.
  const fit = width !== null && height !== null ? (args.fit ?? 'cover') : 'cover';
  return { kind: 'rendition', width, height, fit, format, quality };
}

/** The canonical sprite for `FrameCollection.sprite` arguments over `frameCount` frames. Throws {@link VariantArgumentError}. */
export function spriteVariant(
  args: { columns: number; tileWidth: number; format: ImageFormat },
  frameCount: number,
): SpriteVariant {
  const asked = intIn('columns', args.columns, 1, LIMITS.spriteMaxColumns);
  const tileWidth = intIn('tileWidth', args.tileWidth, LIMITS.spriteTileWidthMin, LIMITS.spriteTileWidthMax);
  if (frameCount < 1) throw new VariantArgumentError('the collection has no frames to put in a sprite');
  // Fewer frames than columns: one row of exactly the frames (same image, so the same URL, for any larger count).
  const columns = Math.min(asked, frameCount);
  const rows = Math.ceil(frameCount / columns);
  if (columns * tileWidth > LIMITS.spriteMaxSide || rows * tileWidth > LIMITS.spriteMaxSide) {
    throw new VariantArgumentError(
      `columns × tileWidth and rows × tileWidth must be at most ${LIMITS.spriteMaxSide} (here ${columns * tileWidth} and ${rows * tileWidth})`,
    );
  }
  if (frameCount * tileWidth * tileWidth > LIMITS.spriteMaxTilePixels) {
    throw new VariantArgumentError(`frameCount × tileWidth² must be at most ${LIMITS.spriteMaxTilePixels}`);
  }
  return { kind: 'sprite', columns, tileWidth, format: args.format };
}

/** The canonical preview for `FrameCollection.preview` arguments over `frameCount` frames. Throws {@link VariantArgumentError}. */
export function previewVariant(
  args: { fps: number; width: number; format: PreviewFormat },
  frameCount: number,
): PreviewVariant {
  const width = intIn('width', args.width, LIMITS.previewWidthMin, LIMITS.previewWidthMax);
  const { fps } = args;
  if (!Number.isFinite(fps) || fps < LIMITS.previewFpsMin || fps > LIMITS.previewFpsMax) {
    throw new VariantArgumentError(`fps must be between ${LIMITS.previewFpsMin} and ${LIMITS.previewFpsMax}`);
  }
  if (frameCount < 1) throw new VariantArgumentError('the collection has no frames to animate');
  if (frameCount * width * width > LIMITS.previewMaxPixels) {
    throw new VariantArgumentError(`frameCount × width² must be at most ${LIMITS.previewMaxPixels}`);
  }
  const exact = 1000 / fps;
  const delayMs = args.format === 'gif' ? Math.max(20, Math.round(exact / 10) * 10) : Math.max(1, Math.round(exact));
  return { kind: 'preview', width, delayMs, format: args.format };
}

/** The canonical query string of a variant (no leading `?`); the signature covers exactly this text. */
export function variantQuery(variant: MediaVariant): string {
  const parts: string[] = [];
  if (variant.kind === 'rendition') {
    if (variant.width !== null) parts.push(`w=${variant.width}`);
    if (variant.height !== null) parts.push(`h=${variant.height}`);
    if (variant.width !== null && variant.height !== null && variant.fit !== 'cover') parts.push(`fit=${variant.fit}`);
    if (variant.format !== 'original') parts.push(`fmt=${variant.format}`);
    if (variant.quality !== null) parts.push(`q=${variant.quality}`);
    return parts.join('&');
  }
  if (variant.kind === 'sprite') return `as=sprite&cols=${variant.columns}&tw=${variant.tileWidth}&fmt=${variant.format}`;
  return `as=preview&w=${variant.width}&d=${variant.delayMs}&fmt=${variant.format}`;
}

/** The disk-cache key of a variant of `id`: `<id>-<parameters>`, within the cache's `[A-Za-z0-9_-]` alphabet. */
export function variantCacheKey(id: string, variant: MediaVariant): string {
  if (variant.kind === 'sprite') return `${id}-sprite-c${variant.columns}-t${variant.tileWidth}-${variant.format}`;
  if (variant.kind === 'preview') return `${id}-preview-w${variant.width}-d${variant.delayMs}-${variant.format}`;
  const parts = [id];
  if (variant.width !== null) parts.push(`w${variant.width}`);
  if (variant.height !== null) parts.push(`h${variant.height}`);
  if (variant.width !== null && variant.height !== null) parts.push(variant.fit);
  parts.push(variant.format);
  if (variant.quality !== null) parts.push(`q${variant.quality}`);
  return parts.join('-');
}

/** The media id a cache key belongs to (the part before the first `-`; ids contain none). */
export function sourceIdOfCacheKey(key: string): string {
  const dash = key.indexOf('-');
  return dash === -1 ? key : key.slice(0, dash);
}

const NUMBER = /^[1-9]\d{0,4}$/;

/**
 * Reads a variant back from a URL's parameters (everything but `exp` and `sig`; unknown names are ignored).
 * `null`: no variant parameter (the original); `'invalid'`: present but malformed, out of range, or not canonical
 * for this kind of id (a URL the gateway never signs, answered like a bad signature).
 */
export function parseVariant(
  kind: 'frame' | 'collection' | 'video',
  params: ReadonlyMap<string, string>,
): MediaVariant | null | 'invalid' {
  const as = params.get('as');
  const relevant = ['w', 'h', 'fit', 'fmt', 'q', 'as', 'cols', 'tw', 'd'].some((name) => params.has(name));
  if (!relevant) return null;
  try {
    const variant = readVariant(kind, as, params);
    // Canonical values or nothing (`w=0160`, a default spelled out): the gateway signs only canonical URLs.
    return variant !== null && variantQuery(variant) === canonicalOrder(params) ? variant : 'invalid';
  } catch (error) {
    if (error instanceof VariantArgumentError) return 'invalid';
    throw error;
  }
}

function readVariant(
  kind: 'frame' | 'collection' | 'video',
  as: string | undefined,
  params: ReadonlyMap<string, string>,
): MediaVariant | null {
  const num = (name: string): number | null => {
    const value = params.get(name);
    if (value === undefined) return null;
    if (!NUMBER.test(value)) throw new VariantArgumentError(`${name} is not a number`);
    return Number(value);
  };
  const oneOf = <T extends string>(name: string, allowed: readonly T[]): T | null => {
    const value = params.get(name);
    if (value === undefined) return null;
    if (!(allowed as readonly string[]).includes(value)) throw new VariantArgumentError(`${name} is not known`);
    return value as T;
  };
  if (kind === 'frame' && as === undefined) {
    return renditionVariant({ width: num('w'), height: num('h'), fit: oneOf('fit', FITS), format: oneOf('fmt', FORMATS), quality: num('q') });
  }
  if (kind !== 'collection') return null;
  if (as === 'sprite') {
    const columns = num('cols');
    const tileWidth = num('tw');
    const format = oneOf('fmt', FORMATS);
    if (columns === null || tileWidth === null || format === null) return null;
    intIn('columns', columns, 1, LIMITS.spriteMaxColumns);
    intIn('tileWidth', tileWidth, LIMITS.spriteTileWidthMin, LIMITS.spriteTileWidthMax);
    return { kind: 'sprite', columns, tileWidth, format };
  }
  if (as === 'preview') {
    const width = num('w');
    const delayMs = num('d');
    const format = oneOf('fmt', PREVIEW_FORMATS);
    if (width === null || delayMs === null || format === null) return null;
    intIn('width', width, LIMITS.previewWidthMin, LIMITS.previewWidthMax);
    intIn('delay', delayMs, 1, Math.ceil(1000 / LIMITS.previewFpsMin));
    return { kind: 'preview', width, delayMs, format };
  }
  return null;
}

/** The variant parameters of a URL in the order {@link variantQuery} writes them. */
function canonicalOrder(params: ReadonlyMap<string, string>): string {
  return ['as', 'cols', 'tw', 'w', 'h', 'd', 'fit', 'fmt', 'q']
    .filter((name) => params.has(name))
    .map((name) => `${name}=${params.get(name)}`)
    .join('&');
}

/** Pixel size of an image. */
export interface ImageSize {
  width: number;
  height: number;
}

/** Where the tiles of a sprite go. Tile k (frames in index order) is at column k % columns, row ⌊k / columns⌋. */
export interface SpriteLayout {
  columns: number;
  rows: number;
  tileWidth: number;
  tileHeight: number;
  width: number;
  height: number;
}

/** Height of a tile / preview page `width` wide that keeps `frame`'s aspect ratio, at most 2 × `width`. */
export function scaledHeight(width: number, frame: ImageSize): number {
  return Math.min(2 * width, Math.max(1, Math.round((width * frame.height) / frame.width)));
}

/** The layout of `variant` over `frameCount` frames of size `frame`. */
export function spriteLayout(variant: SpriteVariant, frameCount: number, frame: ImageSize): SpriteLayout {
  const { columns, tileWidth } = variant;
  const rows = Math.ceil(frameCount / columns);
  const tileHeight = scaledHeight(tileWidth, frame);
  return { columns, rows, tileWidth, tileHeight, width: columns * tileWidth, height: rows * tileHeight };
}
