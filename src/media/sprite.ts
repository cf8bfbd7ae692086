/**
 * Collection-wide images made with sharp: a sprite (contact sheet / scrub-bar image, tiles in index order, row by
 * row) and a preview (animated WebP or GIF, one page per frame). Each frame is resized (cover) to the tile / page
 * size as raw RGB through the shared queue; the tiles are then copied into one raw canvas (a sprite) or stacked
 * into one tall raw image with `pageHeight` (a preview), and encoded once.
 *
 * Measured on this 2-core machine under load, 500 tiles of 32×18 (the 500-frame sprite of
 * test/integration/renditions.test.ts): sharp's `join: { across }` over PNG-encoded tiles took ~1 s for the join
 * alone (it takes encoded images only; raw buffers are refused); copying the raw rows in JS took 6 ms and encoding
 * the canvas 4 ms. The canvas costs width × height × 3 bytes (a sprite: ≤ 120 MB at the bounds of variants.ts; a
 * preview: see rendition.ts), which is why these renders run one at a time.
 */
import type { CacheEntry } from './disk-cache.js';
import { encode, formatOfSource, sharp, type Rendered, type RunImageJob, type SharpInput } from './image-ops.js';
import { scaledHeight, spriteLayout, type ImageSize, type PreviewVariant, type SpriteVariant } from './variants.js';

/** What the renders need from the image service. */
export interface RenderDeps {
  input: SharpInput;
  run: RunImageJob;
  /** Tiles resized at once (the queue's concurrency, so other renders interleave). */
  concurrency: number;
}

const CHANNELS = 3;

/** The sprite of `frames` (index order), each resized (cover) to the layout's tile; a short last row is black. */
export async function renderSprite(
  frames: readonly CacheEntry[],
  size: ImageSize,
  variant: SpriteVariant,
  deps: RenderDeps,
): Promise<Rendered> {
  const columns = Math.min(variant.columns, frames.length);
  const layout = spriteLayout({ ...variant, columns }, frames.length, size);
  const { tileWidth, tileHeight, width, height } = layout;
  const tiles = await resizeAll(frames, tileWidth, tileHeight, deps);
  const canvas = Buffer.alloc(width * height * CHANNELS);
  const rowBytes = tileWidth * CHANNELS;
  tiles.forEach((tile, k) => {
    const left = (k % columns) * tileWidth;
    const top = Math.floor(k / columns) * tileHeight;
    for (let row = 0; row < tileHeight; row += 1) {
      tile.copy(canvas, ((top + row) * width + left) * CHANNELS, row * rowBytes, (row + 1) * rowBytes);
    }
  });
  const format = variant.format === 'original' ? formatOfSource(frames[0]?.contentType ?? '') : variant.format;
  return deps.run(async () => {
    const sheet = sharp(canvas, { raw: { width, height, channels: CHANNELS }, limitInputPixels: false });
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
  const pageHeight = scaledHeight(variant.width, size);
  const pages = Buffer.concat(await resizeAll(frames, variant.width, pageHeight, deps));
  const delay = frames.map(() => variant.delayMs);
  return deps.run(async () => {
    const raw = { width: variant.width, height: pageHeight * frames.length, channels: CHANNELS, pageHeight } as const;
    const animation = sharp(pages, { raw, limitInputPixels: false });
    const encoded = variant.format === 'gif' ? animation.gif({ delay, loop: 0 }) : animation.webp({ delay, loop: 0, quality: 80 });
    const { data, info } = await encoded.toBuffer({ resolveWithObject: true });
    return { data, format: info.format };
  });
}

/** Every frame resized (cover) to width × height raw sRGB, at most `deps.concurrency` queued at once, order kept. */
async function resizeAll(frames: readonly CacheEntry[], width: number, height: number, deps: RenderDeps): Promise<Buffer[]> {
  const out = new Array<Buffer>(frames.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < frames.length) {
      const index = next++;
      const frame = frames[index] as CacheEntry;
      out[index] = await deps.run(async () => {
        const { data, info } = await deps
          .input(frame.path)
          .resize(width, height, { fit: 'cover' })
          .removeAlpha()
          .toColourspace('srgb')
          .raw()
          .toBuffer({ resolveWithObject: true });
        if (info.channels !== CHANNELS || data.length !== width * height * CHANNELS) {
          throw new Error(`${frame.key}: unexpected tile of ${info.width}×${info.height}×${info.channels}`);
        }
        return data;
      });
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(deps.concurrency, frames.length)) }, worker));
  return out;
}
