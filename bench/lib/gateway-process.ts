/**
 * Runs the real gateway (`node --import tsx src/main.ts`) as a child process, so a bench can read its RSS without
 * the client side's sockets in it, and so several instances really are separate processes.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { GatewayMemory } from './gc-agent.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const AGENT = new URL('./gc-agent.ts', import.meta.url).href;
const OUTPUT_KEPT = 8192;

export type { GatewayMemory };

export interface GatewayProcess {
  pid: number;
  /** http://127.0.0.1:port */
  url: string;
  wsUrl: string;
  webhookUrl: string;
  memory(): Promise<GatewayMemory>;
  /** Writes a V8 heap snapshot of the gateway to `file` (through the gc agent); resolves with its path. */
  heapSnapshot(file: string): Promise<string>;
  /** CPU time (user + system) the process has used so far, in seconds; undefined where /proc is missing. */
  cpuSeconds(): number | undefined;
  /** The last few KB the process wrote (stdout and stderr), for error messages. */
  recentOutput(): string;
  /** SIGTERM, then SIGKILL if it is still running after `graceMs`. */
  stop(graceMs?: number): Promise<void>;
}

const running = new Set<ChildProcess>();
/** Children the bench ended on purpose (their exit is not reported as unexpected). */
const stopped = new WeakSet<ChildProcess>();

/** SIGKILLs every gateway this process started that is still running (including ones still starting). */
export function killAllGateways(): void {
  for (const child of running) {
    stopped.add(child);
    child.kill('SIGKILL');
  }
}
// Last line of defence: a bench that throws must not leave gateways behind.
process.once('exit', killAllGateways);

/**
 * Starts a gateway with `env` (merged over the parent's environment) and resolves once it printed its banner.
 * `env` must set MAVI_WEBHOOK_SECRET: the webhook URL is built from it. `entry` (relative to the repository)
 * defaults to `src/main.ts`, run through tsx as `npm start` does.
 */
export async function startGatewayProcess(
  env: Record<string, string | undefined>,
  options: { entry?: string; nodeArgs?: string[] } = {},
): Promise<GatewayProcess> {
  // tsx stays loaded for the agent; it leaves the production build's plain .js (`entry: 'dist/main.js'`) untouched.
  // `nodeArgs`: extra node flags NODE_OPTIONS refuses (e.g. `--cpu-prof`).
  const args = ['--expose-gc', ...(options.nodeArgs ?? []), '--import', 'tsx', '--import', AGENT, options.entry ?? 'src/main.ts'];
  const child = spawn(process.execPath, args, {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
  });
  running.add(child);
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  void exited.then(() => running.delete(child));
  let output = '';
  const keep = (chunk: Buffer) => {
    output = (output + chunk.toString('utf8')).slice(-OUTPUT_KEPT);
  };
  // Both pipes are always drained: a child blocked on a full pipe would look like a slow gateway.
  child.stderr!.on('data', keep);
  const port = await new Promise<number>((resolve, reject) => {
    child.stdout!.on('data', (chunk: Buffer) => {
      keep(chunk);
      // The banner's endpoint line: `GraphiQL:` when GraphiQL is on, `GraphQL:` when it is off.
      const match = /Graph(?:iQL|QL):\s+https?:\/\/[^\s/]+:(\d+)\//.exec(output);
      if (match) resolve(Number(match[1]));
    });
    void exited.then((code) => reject(new Error(`gateway exited with ${code} before it was ready:\n${output}`)));
  });
  const url = `http://127.0.0.1:${port}`;
  void exited.then((code) => {
    // A gateway dying mid-run shows up as missing events; say why instead of leaving only the symptom.
    if (!stopped.has(child)) process.stderr.write(`gateway ${child.pid} exited unexpectedly (${code ?? child.signalCode}):\n${output}\n`);
  });
  return {
    pid: child.pid!,
    url,
    wsUrl: `${url.replace(/^http/, 'ws')}/graphql`,
    webhookUrl: `${url}/webhooks/mavi/${env.MAVI_WEBHOOK_SECRET}`,
    memory: () =>
      ask<GatewayMemory & { type: string }>(child, { type: 'memory' }).then(({ type: _type, ...memory }) => memory),
    heapSnapshot: (file) => ask<{ file: string }>(child, { type: 'heap-snapshot', file }).then((reply) => reply.file),
    cpuSeconds: () => cpuSecondsOf(child.pid!),
    recentOutput: () => output,
    async stop(graceMs = 15_000) {
      stopped.add(child);
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** Sends `request` to the child's gc agent and resolves with its reply of the same type. */
function ask<T>(child: ChildProcess, request: { type: string; file?: string }): Promise<T> {
  return new Promise((resolve, reject) => {
    const onMessage = (message: unknown) => {
      if ((message as { type?: string }).type !== request.type) return;
      child.off('message', onMessage);
      resolve(message as T);
    };
    child.on('message', onMessage);
    child.send(request, (error) => {
      if (error) reject(error);
    });
  });
}

let ticksPerSecond: number | undefined;

function cpuSecondsOf(pid: number): number | undefined {
  try {
    // Fields after the parenthesised command name; utime and stime are the 14th and 15th of the whole line.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    ticksPerSecond ??= Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    return (Number(fields[11]) + Number(fields[12])) / ticksPerSecond;
  } catch {
    return undefined;
  }
}
