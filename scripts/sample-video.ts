/**
 * `npm run sample-video [path]`: writes a 5 s 320x240 test-pattern MP4 (default ./sample.mp4) with ffmpeg's
 * lavfi `testsrc`, H.264 when this ffmpeg has libx264, else MPEG-4 part 2. No network.
 */
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { resolveMediaTools } from '../src/engine/processes.js';

const run = promisify(execFile);

async function main(): Promise<void> {
  const target = path.resolve(process.argv[2] ?? 'sample.mp4');
  const { ffmpeg } = resolveMediaTools({});
  const { stdout } = await run(ffmpeg, ['-hide_banner', '-encoders']);
  const codec = /\blibx264\b/.test(stdout) ? ['-c:v', 'libx264', '-preset', 'veryfast', '-pix_fmt', 'yuv420p'] : ['-c:v', 'mpeg4', '-q:v', '4'];
  await run(ffmpeg, [
    '-hide_banner', '-loglevel', 'error', '-nostdin', '-y',
    '-f', 'lavfi', '-i', 'testsrc=size=320x240:rate=25:duration=5',
    ...codec,
    '-movflags', '+faststart',
    target,
  ]);
  console.log(target);
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
