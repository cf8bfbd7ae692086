/**
 * `node --import tsx src/main.ts` (what `npm start` runs) as a child process in its own process group, with its
 * output as awaitable lines, so a test can drive the real entry point (signals, exit codes) without sleeps.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { createServer, type AddressInfo } from 'node:net';
import type { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { createDeferred, type Deferred } from './deferred.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const run = promisify(execFile);

export type LineLog = ReturnType<typeof lineLog>;

/** Lines of a stream as they arrive; `waitFor` resolves with the first matching line, rejects if the stream ends first. */
export function lineLog(stream: Readable) {
  const lines: string[] = [];
  const waiters: Array<{ match: (line: string) => boolean; d: Deferred<string> }> = [];
  let buffer = '';
  let ended = false;
  const closed = createDeferred();
  const push = (line: string) => {
    lines.push(line);
    for (const w of waiters.filter((w) => w.match(line))) {
      waiters.splice(waiters.indexOf(w), 1);
      w.d.resolve(line);
    }
  };
  stream.setEncoding('utf8');
  stream.on('data', (chunk: string) => {
    buffer += chunk;
    let end: number;
    while ((end = buffer.indexOf('\n')) >= 0) {
      push(buffer.slice(0, end));
      buffer = buffer.slice(end + 1);
    }
  });
  stream.on('close', () => {
    if (buffer) push(buffer);
    ended = true;
    closed.resolve();
    for (const w of waiters.splice(0)) w.d.reject(new Error(`stream ended without a matching line; got:\n${lines.join('\n')}`));
  });
  return {
    lines,
    text: () => lines.join('\n'),
    /** Resolves once the stream has ended (every line is in `lines`). */
    closed: closed.promise,
    waitFor(match: (line: string) => boolean): Promise<string> {
      const found = lines.find(match);
      if (found !== undefined) return Promise.resolve(found);
      if (ended) return Promise.reject(new Error(`stream ended without a matching line; got:\n${lines.join('\n')}`));
      const d = createDeferred<string>();
      waiters.push({ match, d });
      return d.promise;
    },
  };
}

/** A JSON log line (the gateway logs to stderr) whose fields match `fields`. */
export const logMatching = (fields: Record<string, unknown>) => (line: string) => {
  try {
    const entry = JSON.parse(line) as Record<string, unknown>;
    return Object.entries(fields).every(([k, v]) => entry[k] === v);
  } catch {
    return false;
  }
};

export interface MainProcess {
  child: ChildProcess;
  pid: number;
  stdout: LineLog;
  stderr: LineLog;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

const started: MainProcess[] = [];

/** What `startMain` runs: node's arguments and the working directory. */
export interface MainEntry {
  args: string[];
  cwd: string;
}
const NPM_START: MainEntry = { args: ['--import', 'tsx', 'src/main.ts'], cwd: ROOT };

/**
 * Spawns `node --import tsx src/main.ts` in its own process group, with only `env` (plus PATH and the like).
 * `entry` runs something else the same way, e.g. the production build: `{ args: ['dist/main.js'], cwd }`.
 */
export function startMain(env: Record<string, string>, entry: MainEntry = NPM_START): MainProcess {
  const passthrough = Object.fromEntries(
    ['PATH', 'HOME', 'TMPDIR', 'FFMPEG_PATH', 'FFPROBE_PATH'].flatMap((k) => (process.env[k] ? [[k, process.env[k]!]] : [])),
  );
  const child = spawn(process.execPath, entry.args, {
    cwd: entry.cwd,
    env: { ...passthrough, ...env },
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  const main: MainProcess = { child, pid: child.pid!, stdout: lineLog(child.stdout!), stderr: lineLog(child.stderr!), exited };
  started.push(main);
  return main;
}

/** For `afterEach`: SIGKILLs the group of every process `startMain` started (a failed test may leave an ffmpeg). */
export async function killStartedMains(): Promise<void> {
  for (const main of started.splice(0)) {
    if (groupAlive(main.pid)) process.kill(-main.pid, 'SIGKILL');
    await main.exited;
  }
}

/** The banner's endpoint line: `GraphiQL: <url>`, or `GraphQL: <url> (GraphiQL off: …)` when GraphiQL is off. */
const ENDPOINT_LINE = /^\s*Graph(?:iQL|QL):\s+(\S+)/;

/** Waits for the banner and returns the printed GraphQL endpoint (where GraphiQL is served when it is on). */
export async function graphiqlUrl(main: MainProcess): Promise<string> {
  const line = await main.stdout.waitFor((l) => ENDPOINT_LINE.test(l));
  return ENDPOINT_LINE.exec(line)![1]!;
}

/** A port that was free a moment ago (listen on 0, close). */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** True while any process of the group `pgid` exists. */
export function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ESRCH') return false;
    throw error;
  }
}

/** `ps -eo <columns>` as rows of whitespace-separated fields. */
async function ps(columns: string): Promise<string[][]> {
  const { stdout } = await run('ps', ['-eo', columns]);
  return stdout.split('\n').map((l) => l.trim().split(/\s+/));
}

/** Live (non-zombie) processes of the group `pgid` whose command matches `command`, as "pid comm" lines. */
export async function processesInGroup(pgid: number, command: RegExp): Promise<string[]> {
  return (await ps('pid=,pgid=,stat=,comm='))
    .filter(([, group, stat, comm]) => group === String(pgid) && !stat?.startsWith('Z') && command.test(comm ?? ''))
    .map(([pid, , , comm]) => `${pid} ${comm}`);
}

/** Direct children of `pid` (zombies included) whose command matches `command`, as "pid comm" lines. */
export async function childrenOf(pid: number, command: RegExp): Promise<string[]> {
  return (await ps('pid=,ppid=,comm='))
    .filter(([, ppid, comm]) => ppid === String(pid) && command.test(comm ?? ''))
    .map(([child, , comm]) => `${child} ${comm}`);
}
