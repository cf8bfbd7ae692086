/**
 * Collection-wide images made with sharp: a sprite (contact sheet / scrub-bar image, tiles in index order, row by
 * row) and a preview (animated WebP or GIF, one page per frame). Both resize every frame to one tile / page size,
 * then let libvips join them (`join.across` for the grid, `join.animated` for the pages), which builds the result
 * in one pass instead of compositing hundreds of overlays.
 *
 * Intermediate tiles are uncompressed PNG buffers: sharp's `join` takes encoded images only (raw buffers are
 * refused), and level 0 costs the least CPU per tile.
 */
import sharp from 'sharp';
import type { CacheEntry } from './disk-cache.js';
import { encode, formatOfSource, type Rendered, type RunImageJob, type SharpInput } from './image-ops.js';
import { scaledHeight, spriteLayout, type ImageSize, type PreviewVariant, type SpriteVariant } from './variants.js';

/** What the renders need from the image service. */
export interface RenderDeps {
  input: SharpInput;
  run: RunImageJob;
  /** Tiles resized at once (the queue's concurrency, so other renders interleave). */
  concurrency: number;
}

/** The sprite of `frames` (index order), each resized (cover) to the layout's tile. */
export async function renderSprite(
  frames: readonly CacheEntry[],
  size: ImageSize,
  variant: SpriteVariant,
  deps: RenderDeps,
): Promise<Rendered> {
  const columns = Math.min(variant.columns, frames.length);
  const layout = spriteLayout({ ...variant, columns }, frames.length, size);
  const tiles = await resizeAll(frames, layout.tileWidth, layout.tileHeight, deps);
  const format = variant.format === 'original' ? formatOfSource(frames[0]?.contentType ?? '') : variant.format;
  return deps.run(async () => {
    const sheet = sharp(tiles, { join: { across: columns, background: '#000000' }, limitInputPixels: false });
    const { data, info } = await encode(sheet, format, null).toBuffer({ resolveWithObject: true });
    return { data, format: info.format };
  });
}

/** The animated preview of `frames`: `variant.width` wide, one page per frame, `variant.delayMs` each, looping. */
export async function renderPreview(
  frames: readonly CacheEntry[],
  size: ImageSize,
  variant: PreviewVariant,
  deps: RenderDeps,
): Promise<Rendered> {
  const pages = await resizeAll(frames, variant.width, scaledHeight(variant.width, size), deps);
  const delay = pages.map(() => variant.delayMs);
  return deps.run(async () => {
    const animation = sharp(pages, { join: { animated: true }, limitInputPixels: false });
    const encoded = variant.format === 'gif' ? animation.gif({ delay, loop: 0 }) : animation.webp({ delay, loop: 0, quality: 80 });
    const { data, info } = await encoded.toBuffer({ resolveWithObject: true });
    return { data, format: info.format };
  });
}

/** Every frame resized (cover) to width × height, at most `deps.concurrency` queued at once, order kept. */
async function resizeAll(frames: readonly CacheEntry[], width: number, height: number, deps: RenderDeps): Promise<Buffer[]> {
  const out = new Array<Buffer>(frames.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < frames.length) {
      const index = next++;
      const frame = frames[index] as CacheEntry;
      out[index] = await deps.run(() =>
        deps.input(frame.path).resize(width, height, { fit: 'cover' }).png({ compressionLevel: 0 }).toBuffer(),
      );
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(deps.concurrency, frames.length)) }, worker));
  return out;
}
