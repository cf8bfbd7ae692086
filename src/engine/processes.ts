/**
 * Child-process runner for ffmpeg/ffprobe: args arrays only (never a shell), bounded stderr capture,
 * per-run timeout, and a registry so stop() can kill every child (no orphans).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createRequire } from 'node:module';

/** Outcome of one child process. */
export interface ProcessResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  /** Last ~64 KiB of stderr. */
  stderr: string;
  timedOut: boolean;
  /** Killed by {@link ProcessRunner.killAll}. */
  killed: boolean;
}

/** Options of one run. */
export interface RunOptions {
  /** SIGKILL after this long; the result then has `timedOut: true`. */
  timeoutMs: number;
  captureStdout?: boolean;
  onSpawn?: (pid: number) => void;
}

/** Runs and tracks child processes. */
export interface ProcessRunner {
  run(command: string, args: string[], options: RunOptions): Promise<ProcessResult>;
  /** SIGKILLs every running child, refuses new ones (they resolve as killed), and resolves once all have exited. */
  killAll(): Promise<void>;
}

const STDERR_LIMIT = 64 * 1024;

/** Creates a runner; each engine has its own. */
export function createProcessRunner(): ProcessRunner {
  const children = new Map<ChildProcess, Promise<unknown>>();
  const killedByUs = new WeakSet<ChildProcess>();
  let closed = false;

  const run: ProcessRunner['run'] = (command, args, options) => {
    if (closed) return Promise.resolve({ code: null, signal: 'SIGKILL', stdout: '', stderr: '', timedOut: false, killed: true });
    const child = spawn(command, args, { stdio: ['ignore', options.captureStdout ? 'pipe' : 'ignore', 'pipe'], windowsHide: true });
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    child.stdout?.setEncoding('utf8').on('data', (d: string) => {
      if (stdout.length < 4 * 1024 * 1024) stdout += d;
    });
    child.stderr?.setEncoding('utf8').on('data', (d: string) => {
      stderr += d;
      if (stderr.length > STDERR_LIMIT * 2) stderr = stderr.slice(-STDERR_LIMIT);
    });
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, options.timeoutMs);
    const done = new Promise<ProcessResult>((resolve, reject) => {
      child.once('error', (err) => {
        clearTimeout(timer);
        children.delete(child);
        reject(err);
      });
      child.once('close', (code, signal) => {
        clearTimeout(timer);
        children.delete(child);
        resolve({ code, signal, stdout, stderr: stderr.slice(-STDERR_LIMIT), timedOut, killed: killedByUs.has(child) });
      });
    });
    children.set(child, done.catch(() => undefined));
    if (child.pid !== undefined) options.onSpawn?.(child.pid);
    return done;
  };

  return {
    run,
    async killAll() {
      closed = true;
      const waits = [...children.entries()].map(([child, done]) => {
        killedByUs.add(child);
        child.kill('SIGKILL');
        return done;
      });
      await Promise.all(waits);
    },
  };
}

/** Paths of the two binaries. */
export interface MediaTools {
  ffmpeg: string;
  ffprobe: string;
}

const require = createRequire(import.meta.url);

/** Option, else env (FFMPEG_PATH / FFPROBE_PATH), else the binaries bundled by the npm installers. */
export function resolveMediaTools(
  options: { ffmpegPath?: string; ffprobePath?: string },
  env: NodeJS.ProcessEnv = process.env,
): MediaTools {
  return {
    ffmpeg: options.ffmpegPath || env.FFMPEG_PATH || (require('@ffmpeg-installer/ffmpeg') as { path: string }).path,
    ffprobe: options.ffprobePath || env.FFPROBE_PATH || (require('@ffprobe-installer/ffprobe') as { path: string }).path,
  };
}
