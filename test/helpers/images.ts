/**
 * Frames with real pixels for image tests: solid-colour JPEGs whose colour tells which frame a tile or page came
 * from, and a reader that decodes served bytes (sharp, from the bytes, never from headers).
 */
import sharp from 'sharp';

/** A distinct, JPEG-robust colour per index (channels far apart, so chroma subsampling cannot confuse two). */
export function colourOf(index: number): { r: number; g: number; b: number } {
  const levels = [0, 128, 255];
  return { r: levels[index % 3]!, g: levels[Math.floor(index / 3) % 3]!, b: levels[Math.floor(index / 9) % 3]! };
}

/** `count` solid-colour JPEGs of `width` × `height`, frame n in {@link colourOf}(n). */
export async function solidJpegs(count: number, width = 64, height = 36): Promise<Buffer[]> {
  return Promise.all(
    Array.from({ length: count }, (_, n) =>
      sharp({ create: { width, height, channels: 3, background: colourOf(n) } }).jpeg({ quality: 95 }).toBuffer(),
    ),
  );
}

/** What the bytes decode to: format, size, page count (animations) and per-page height. */
export async function decode(bytes: Buffer): Promise<{ format: string; width: number; height: number; pages: number; pageHeight: number }> {
  const meta = await sharp(bytes, { animated: true }).metadata();
  const pages = meta.pages ?? 1;
  return {
    format: meta.format ?? 'unknown',
    width: meta.width ?? 0,
    height: meta.height ?? 0,
    pages,
    pageHeight: meta.pageHeight ?? meta.height ?? 0,
  };
}

/** Mean RGB of a region (of page `page` for animations). */
export async function meanColour(
  bytes: Buffer,
  region: { left: number; top: number; width: number; height: number },
  page = 0,
): Promise<{ r: number; g: number; b: number }> {
  const { data, info } = await sharp(bytes, { page }).extract(region).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  const sums = [0, 0, 0];
  for (let i = 0; i < data.length; i += info.channels) for (let c = 0; c < 3; c += 1) sums[c]! += data[i + c]!;
  const n = data.length / info.channels;
  return { r: sums[0]! / n, g: sums[1]! / n, b: sums[2]! / n };
}

/** Whether two colours are within `tolerance` on every channel. */
export function near(a: { r: number; g: number; b: number }, b: { r: number; g: number; b: number }, tolerance = 24): boolean {
  return Math.abs(a.r - b.r) <= tolerance && Math.abs(a.g - b.g) <= tolerance && Math.abs(a.b - b.b) <= tolerance;
}
