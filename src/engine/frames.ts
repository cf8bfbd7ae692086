/**
 * Frame extraction with one ffmpeg process. Frames are taken at exact multiples of the interval:
 * a `select` filter keeps the first frame whose timestamp reaches each multiple k*I (t = 0, I, 2I, ... <
 * duration). `fps=1/I` is not used: it picks frames near (k-0.5)*I. This ffmpeg is a 4.1-era build,
 * so `-vsync vfr` (not `-fps_mode`) keeps image2 from duplicating or dropping selected frames.
 */
import { readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { lastLine } from './probe.js';
import type { ProcessRunner } from './processes.js';

/** Slack for timestamps stored as rationals that land a hair below a multiple (e.g. 0.99999). */
const EPSILON_SECONDS = 0.0005;

/**
 * The `select` expression: keep a frame when floor(t/I) moved past the bucket of the previously selected
 * frame (the first frame is always kept). Commas are escaped for the filtergraph parser.
 */
export function frameSelectFilter(intervalSeconds: number): string {
  const i = formatNumber(intervalSeconds);
  const bucket = (v: string) => `floor((${v}+${EPSILON_SECONDS})/${i})`;
  return `select='isnan(prev_selected_t)+gt(${bucket('t')}\\,${bucket('prev_selected_t')})'`;
}

/** Inputs of {@link extractArgs}. */
export interface ExtractArgsInput {
  input: string;
  outputDir: string;
  intervalSeconds: number;
  maxFrames: number;
}

/** The ffmpeg argument list of one extraction (also used by the benchmark for the plain-ffmpeg baseline). */
export function extractArgs({ input, outputDir, intervalSeconds, maxFrames }: ExtractArgsInput): string[] {
  return [
    '-nostdin',
    '-hide_banner',
    '-loglevel', 'error',
    '-i', input,
    // V = video streams that are not attached pictures (cover art).
    '-map', '0:V:0',
    '-an', '-sn', '-dn',
    '-vf', frameSelectFilter(intervalSeconds),
    '-vsync', 'vfr',
    '-frames:v', String(maxFrames),
    '-q:v', '2',
    '-start_number', '0',
    '-f', 'image2',
    '-y',
    path.join(outputDir, '%d.jpg'),
  ];
}

/** Frames written by one extraction, in index order. */
export interface ExtractedFrame {
  index: number;
  path: string;
  size: number;
}

/** Thrown for any failed extraction; `message` is safe to send in the failure callback. */
export class ExtractionError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ExtractionError';
  }
}

/** Options of {@link extractFrames}. */
export interface ExtractFramesOptions extends ExtractArgsInput {
  runner: ProcessRunner;
  ffmpeg: string;
  timeoutMs: number;
  /** Known duration, to tell a truncated/corrupt source (fewer frames than expected plus decode errors). */
  durationSeconds: number | null;
  onSpawn?: (pid: number) => void;
}

/** Runs ffmpeg into `outputDir` (which must exist and be empty) and lists the frames. */
export async function extractFrames(options: ExtractFramesOptions): Promise<ExtractedFrame[]> {
  const { timeoutMs, onSpawn } = options;
  const result = await options.runner.run(options.ffmpeg, extractArgs(options), { timeoutMs, onSpawn });
  if (result.killed) throw new ExtractionError('Extraction was cancelled because the engine stopped');
  if (result.timedOut) throw new ExtractionError(`Extraction timed out after ${Math.round(options.timeoutMs / 1000)} s`);
  const detail = lastLine(result.stderr, options.input);
  if (result.code !== 0) throw new ExtractionError(`ffmpeg failed to extract frames: ${detail || `exit code ${result.code}`}`);
  const frames = await listFrames(options.outputDir);
  if (frames.length === 0) throw new ExtractionError(`No frames could be extracted from the video${detail ? `: ${detail}` : ''}`);
  const expected = expectedFrameCount(options.durationSeconds, options.intervalSeconds, options.maxFrames);
  if (detail && expected !== null && frames.length < expected) {
    throw new ExtractionError(`Video is truncated or corrupt: got ${frames.length} of ${expected} frames (${detail})`);
  }
  return frames;
}

/** ceil(duration / I) capped at maxFrames, or null when the duration is unknown. */
export function expectedFrameCount(durationSeconds: number | null, intervalSeconds: number, maxFrames: number): number | null {
  if (durationSeconds === null) return null;
  return Math.min(maxFrames, Math.ceil(durationSeconds / intervalSeconds - 1e-9));
}

async function listFrames(dir: string): Promise<ExtractedFrame[]> {
  const names = await readdir(dir);
  const indexes = names
    .map((n) => /^(\d+)\.jpg$/.exec(n))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => Number(m[1]))
    .sort((a, b) => a - b);
  // image2 numbers outputs consecutively from 0; a gap would mean a partial write.
  if (indexes.some((n, i) => n !== i)) throw new ExtractionError('ffmpeg wrote an unexpected set of frame files');
  return Promise.all(
    indexes.map(async (index) => {
      const file = path.join(dir, `${index}.jpg`);
      return { index, path: file, size: (await stat(file)).size };
    }),
  );
}

function formatNumber(n: number): string {
  if (!Number.isFinite(n) || n <= 0) throw new RangeError(`frame interval must be a positive number, got ${n}`);
  return String(n);
}
