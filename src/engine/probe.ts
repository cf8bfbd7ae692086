/** ffprobe of an upload: decides SUCCESS (readable video/audio/image) or FAILED, and the media kind. */
import type { ProcessRunner } from './processes.js';
import type { MediaKind } from './types.js';

/** What the probe found. */
export type ProbeResult =
  | { ok: true; kind: MediaKind; formatName: string; durationSeconds: number | null }
  | { ok: false; reason: string; interrupted?: boolean };

interface FfprobeJson {
  format?: { format_name?: string; duration?: string };
  streams?: Array<{ codec_type?: string; codec_name?: string; disposition?: { attached_pic?: number } }>;
}

// Single-image demuxers: image2 (by extension), the *_pipe family (by content), gif/apng.
const IMAGE_FORMAT = /^(image2|[a-z0-9]+_pipe|gif|apng)$/;

/** Probes `file`; never throws for bad media (returns `ok: false` with a reason). */
export async function probeMedia(runner: ProcessRunner, ffprobe: string, file: string, timeoutMs = 60_000): Promise<ProbeResult> {
  const args = ['-v', 'error', '-hide_banner', '-show_format', '-show_streams', '-of', 'json', file];
  const result = await runner.run(ffprobe, args, { timeoutMs, captureStdout: true });
  if (result.killed) return { ok: false, reason: 'Probe was interrupted', interrupted: true };
  if (result.timedOut) return { ok: false, reason: 'Probe timed out' };
  if (result.code !== 0) return { ok: false, reason: `Unreadable media: ${lastLine(result.stderr, file) || 'ffprobe failed'}` };
  let info: FfprobeJson;
  try {
    info = JSON.parse(result.stdout) as FfprobeJson;
  } catch {
    return { ok: false, reason: 'Unreadable media: ffprobe output was not JSON' };
  }
  return classify(info);
}

function classify(info: FfprobeJson): ProbeResult {
  const formatName = info.format?.format_name ?? '';
  const streams = info.streams ?? [];
  const video = streams.filter((s) => s.codec_type === 'video' && s.disposition?.attached_pic !== 1);
  const audio = streams.filter((s) => s.codec_type === 'audio');
  const duration = Number(info.format?.duration);
  const durationSeconds = Number.isFinite(duration) && duration > 0 ? duration : null;
  if (video.length > 0 && IMAGE_FORMAT.test(formatName.split(',')[0] ?? '')) {
    return { ok: true, kind: 'image', formatName, durationSeconds: null };
  }
  if (video.length > 0) return { ok: true, kind: 'video', formatName, durationSeconds };
  if (audio.length > 0) return { ok: true, kind: 'audio', formatName, durationSeconds };
  return { ok: false, reason: 'Unreadable media: no audio or video stream found' };
}

/** Last meaningful stderr line, with the server-side path replaced so it can be shown to clients. */
export function lastLine(stderr: string, file: string): string {
  const lines = stderr
    .split('\n')
    .map((l) => l.split(file).join('input').trim())
    .filter(Boolean);
  return lines.at(-1) ?? '';
}
