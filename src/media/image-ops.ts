/**
 * The sharp building blocks shared by renditions (rendition.ts) and collection images (sprite.ts): output
 * encoders with the defaults the canonical variant form assumes, and the types of the shared job queue.
 */
import type { Sharp } from 'sharp';
import type { ImageFormat } from './variants.js';

type SharpConstructor = typeof import('sharp').default;

let loaded: SharpConstructor | undefined;
let loading: Promise<SharpConstructor> | undefined;

/**
 * Loads sharp (libvips) on first use: imported at start-up it added ~26 MB to the idle RSS of `node dist/main.js`
 * (132 vs 106 MB measured with bench:idle-rss), for a process that may never render an image. Every sharp call runs
 * in a job of the shared queue, which awaits this first (see rendition.ts `run`).
 */
export function loadSharp(): Promise<SharpConstructor> {
  return (loading ??= import('sharp').then((module) => {
    // Files are read once per render; libvips' open-file cache would only keep evicted files open.
    module.default.cache({ files: 0 });
    loaded = module.default;
    return loaded;
  }));
}

/** sharp, once {@link loadSharp} resolved (inside a queued image job it always has). */
export function sharp(...args: Parameters<SharpConstructor>): Sharp {
  if (!loaded) throw new Error('sharp used before loadSharp() resolved');
  return loaded(...args);
}

/** Encoded bytes and sharp's name of their format (`jpeg`, `webp`, `heif` for AVIF, …). */
export interface Rendered {
  data: Buffer;
  format: string;
}

/** Opens an original for reading, with the decode bounds and orientation fix every render uses. */
export type SharpInput = (path: string) => Sharp;

/** Runs one sharp job in the shared queue. */
export type RunImageJob = <T>(job: () => Promise<T>) => Promise<T>;

const MIME: Readonly<Record<string, string>> = {
  jpeg: 'image/jpeg',
  png: 'image/png',
  webp: 'image/webp',
  heif: 'image/avif',
  avif: 'image/avif',
  gif: 'image/gif',
};
const EXTENSION: Readonly<Record<string, string>> = { jpeg: 'jpg', png: 'png', webp: 'webp', heif: 'avif', avif: 'avif', gif: 'gif' };

/** MIME type and file extension of a sharp output format name. */
export function describeFormat(format: string): { contentType: string; extension: string } {
  return { contentType: MIME[format] ?? 'application/octet-stream', extension: EXTENSION[format] ?? 'bin' };
}

/** The output format that keeps a source's own format (`ORIGINAL`); JPEG for anything else. */
export function formatOfSource(contentType: string): Exclude<ImageFormat, 'original'> {
  const bare = contentType.split(';', 1)[0]?.trim().toLowerCase();
  if (bare === 'image/png') return 'png';
  if (bare === 'image/webp') return 'webp';
  if (bare === 'image/avif') return 'avif';
  return 'jpeg';
}

/** Applies an output format with the default qualities variants.ts drops from the canonical form. */
export function encode(image: Sharp, format: Exclude<ImageFormat, 'original'>, quality: number | null): Sharp {
  if (format === 'jpeg') return image.jpeg({ quality: quality ?? 80 });
  if (format === 'webp') return image.webp({ quality: quality ?? 80 });
  // effort 2 of 9: at sharp's default effort 4, a 480 px AVIF of a 720p test-pattern frame took ~5× as long here
  // (911 vs 141 ms) for a 15% smaller file (4296 vs 5056 B); a first hit should not wait a second.
  if (format === 'avif') return image.avif({ quality: quality ?? 50, effort: 2 });
  return image.png();
}
