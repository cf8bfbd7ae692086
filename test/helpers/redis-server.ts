/**
 * A private `redis-server` with AOF persistence on a free port, for tests that kill Redis: `kill()` is SIGKILL
 * (no shutdown, no final save), `restart()` starts it again on the same port and data directory. Never the shared
 * Redis on 6379. `close()` (or `await using`) kills it and removes its directory; a process exit kills it too.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface TestRedisServer extends AsyncDisposable {
  url: string;
  port: number;
  /** The data directory (holds `appendonlydir/`). */
  dir: string;
  readonly running: boolean;
  /** SIGKILL; resolves once the process has exited. */
  kill(): Promise<void>;
  /** Starts it again on the same port and directory; resolves once it accepts connections (AOF loaded). */
  restart(): Promise<void>;
  close(): Promise<void>;
}

const live = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of live) child.kill('SIGKILL');
});

export async function startRedisServer(): Promise<TestRedisServer> {
  const dir = await mkdtemp(join(tmpdir(), 'frames-redis-'));
  const port = await freePort();
  let child: ChildProcess | null = null;

  const launch = async () => {
    const proc = spawn(
      'redis-server',
      [
        '--port', String(port),
        '--bind', '127.0.0.1',
        '--dir', dir,
        '--appendonly', 'yes',
        // Every acknowledged write is on disk before the reply, so a SIGKILL right after loses nothing.
        '--appendfsync', 'always',
        '--save', '',
        '--logfile', '',
        '--protected-mode', 'no',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    live.add(proc);
    child = proc;
    proc.once('exit', () => live.delete(proc));
    let output = '';
    await new Promise<void>((resolve, reject) => {
      const onData = (chunk: Buffer) => {
        output += chunk.toString();
        if (output.includes('Ready to accept connections')) {
          proc.stdout?.off('data', onData);
          proc.off('exit', onExit);
          resolve();
        }
      };
      const onExit = (code: number | null) => reject(new Error(`redis-server exited (${code}) before it was ready:\n${output}`));
      proc.stdout?.on('data', onData);
      proc.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
      proc.once('exit', onExit);
      proc.once('error', reject);
    });
    proc.stdout?.resume();
  };

  const kill = async () => {
    const proc = child;
    if (!proc) return;
    child = null;
    if (proc.exitCode !== null || proc.signalCode !== null) return;
    const exited = once(proc, 'exit');
    proc.kill('SIGKILL');
    await exited;
  };

  const close = async () => {
    await kill();
    await rm(dir, { recursive: true, force: true });
  };

  try {
    await launch();
  } catch (error) {
    await close();
    throw error;
  }
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    dir,
    get running() {
      return child !== null;
    },
    kill,
    async restart() {
      if (child) throw new Error('redis-server is still running; kill() it first');
      await launch();
    },
    close,
    [Symbol.asyncDispose]: close,
  };
}

/** A port nothing listens on right now (the kernel picks it; redis-server binds it a moment later). */
async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  server.close();
  await once(server, 'close');
  return port;
}
