/**
 * Test videos made locally with ffmpeg's lavfi sources (no network, no fixtures on disk).
 * Reused by other suites: keep `generateVideo` and `ffmpegPath` stable.
 */
import { execFile } from 'node:child_process';
import { chmod, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
const require = createRequire(import.meta.url);

/** ffmpeg binary: env FFMPEG_PATH, else the one bundled by `@ffmpeg-installer/ffmpeg`. */
export function ffmpegPath(): string {
  return process.env.FFMPEG_PATH || (require('@ffmpeg-installer/ffmpeg') as { path: string }).path;
}

/** ffprobe binary: env FFPROBE_PATH, else the one bundled by `@ffprobe-installer/ffprobe`. */
export function ffprobePath(): string {
  return process.env.FFPROBE_PATH || (require('@ffprobe-installer/ffprobe') as { path: string }).path;
}

let x264: Promise<boolean> | undefined;

/** Whether this ffmpeg build has libx264 (else mpeg4 is used). */
export function hasLibx264(): Promise<boolean> {
  x264 ??= run(ffmpegPath(), ['-hide_banner', '-encoders']).then(
    ({ stdout }) => /\blibx264\b/.test(stdout),
    () => false,
  );
  return x264;
}

/** Options of {@link generateVideo}. */
export interface GenerateVideoOptions {
  /** Directory to write into (e.g. a per-test temp dir). */
  dir: string;
  seconds: number;
  /** Default 160x120. */
  width?: number;
  height?: number;
  /** Default 10. */
  fps?: number;
  /** File name; default `video-<seconds>s-<fps>fps.mp4`. */
  name?: string;
  /**
   * `testsrc` (default) or `frame-luma`: a flat gray frame whose luma is 16 + 5*N for frame number N, so the
   * frame number can be read back from an extracted JPEG ({@link frameNumberFromLuma}). Needs < 44 frames.
   */
  pattern?: 'testsrc' | 'frame-luma';
  /** Put the moov atom first (then a truncated copy still probes as valid). Default false. */
  faststart?: boolean;
}

/** Writes an MP4 (H.264 if available, else MPEG-4 part 2) and returns its path. */
export async function generateVideo(options: GenerateVideoOptions): Promise<string> {
  const { dir, seconds, width = 160, height = 120, fps = 10, pattern = 'testsrc' } = options;
  const file = path.join(dir, options.name ?? `video-${seconds}s-${fps}fps.mp4`);
  const size = `${width}x${height}`;
  const source =
    pattern === 'testsrc'
      ? `testsrc=size=${size}:rate=${fps}:duration=${seconds}`
      : `color=c=black:s=${size}:r=${fps}:d=${seconds},format=gray,geq=lum='16+5*N',format=yuv420p`;
  const codec = (await hasLibx264())
    ? ['-c:v', 'libx264', '-preset', 'ultrafast', ...(pattern === 'frame-luma' ? ['-qp', '0'] : [])]
    : ['-c:v', 'mpeg4', '-q:v', pattern === 'frame-luma' ? '1' : '5'];
  await run(ffmpegPath(), [
    '-hide_banner', '-loglevel', 'error', '-nostdin', '-y',
    '-f', 'lavfi', '-i', source,
    ...codec,
    '-pix_fmt', 'yuv420p',
    ...(options.faststart ? ['-movflags', '+faststart'] : []),
    file,
  ]);
  return file;
}

/**
 * Reads back N from a JPEG extracted from a `frame-luma` video: decodes it to its raw (full-range) Y plane
 * and inverts luma = 16 + 5*N.
 */
export async function frameNumberFromLuma(jpeg: string | Buffer, width = 160, height = 120): Promise<number> {
  const y = await decodeLuma(jpeg, width * height);
  let sum = 0;
  for (const v of y) sum += v;
  return Math.round((sum / y.length - 16) / 5);
}

async function decodeLuma(jpeg: string | Buffer, pixels: number): Promise<Buffer> {
  const args = ['-hide_banner', '-loglevel', 'error', '-nostdin', '-i', typeof jpeg === 'string' ? jpeg : 'pipe:0', '-f', 'rawvideo', '-pix_fmt', 'yuvj420p', 'pipe:1'];
  const child = execFile(ffmpegPath(), args, { encoding: 'buffer', maxBuffer: 64 * 1024 * 1024 });
  const out: Buffer[] = [];
  child.stdout?.on('data', (d: Buffer) => out.push(d));
  if (typeof jpeg !== 'string') child.stdin?.end(jpeg);
  await new Promise<void>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code) => (code === 0 ? resolve() : reject(new Error(`ffmpeg decode exited with ${code}`))));
  });
  return Buffer.concat(out).subarray(0, pixels);
}

/**
 * A stand-in ffprobe that waits until `open()` is called, then runs the real one: lets a test hold upload probes
 * (and observe WAITING / UPLOADING) for as long as it needs. The waiting happens in the stand-in, not the test.
 */
export async function gatedFfprobe(dir: string): Promise<{ path: string; open(): Promise<void> }> {
  const gate = path.join(dir, 'probe-gate');
  const file = path.join(dir, 'ffprobe');
  await writeFile(file, `#!/bin/sh\nwhile [ ! -e '${gate}' ]; do sleep 0.02; done\nexec '${ffprobePath()}' "$@"\n`);
  await chmod(file, 0o755);
  return { path: file, open: () => writeFile(gate, '') };
}
