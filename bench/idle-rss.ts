/**
 * `npm run bench:idle-rss [-- --seconds 30]`: idle resident memory of the production build (`node dist/main.js`)
 * next to `npm start` (`node --import tsx src/main.ts`), both in embedded mode (engine in-process, no Redis).
 * Each runs alone: started, sampled once a second from its banner on, stopped with SIGTERM. "Settled" is the mean
 * of the last 5 samples: V8 shrinks the young generation left over from start-up only after some idle seconds.
 * Prints both, their children (tsx may run an esbuild service) and the ratio. Goal: dist settled <= 100 MB.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const { values } = parseArgs({ options: { seconds: { type: 'string', default: '30' } } });
const seconds = Number(values.seconds);
if (!Number.isInteger(seconds) || seconds < 5) throw new RangeError('--seconds must be an integer >= 5');

interface Sample {
  self: number;
  children: number;
}
interface Measured {
  atReady: Sample;
  settled: Sample;
  peak: number;
}

/** VmRSS of `pid` in MB, 0 once it is gone. */
async function rssOf(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => '');
  const kb = /^VmRSS:\s+(\d+) kB/m.exec(status)?.[1];
  return kb ? Number(kb) / 1024 : 0;
}

/** Direct children of `pid`, over every thread (a child belongs to the thread that spawned it). */
async function childrenOf(pid: number): Promise<number[]> {
  const tasks = await readdir(`/proc/${pid}/task`).catch(() => [] as string[]);
  const lists = await Promise.all(tasks.map((t) => readFile(`/proc/${pid}/task/${t}/children`, 'utf8').catch(() => '')));
  return lists.flatMap((l) => l.trim().split(/\s+/).filter(Boolean).map(Number));
}

async function sample(pid: number): Promise<Sample> {
  const kids = await childrenOf(pid);
  const childRss = await Promise.all(kids.map(rssOf));
  return { self: await rssOf(pid), children: childRss.reduce((a, b) => a + b, 0) };
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

async function measure(args: string[]): Promise<Measured> {
  const dir = await mkdtemp(path.join(tmpdir(), 'idle-rss-'));
  const env = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    PORT: String(await freePort()),
    ENGINE_PORT: String(await freePort()),
    DATA_DIR: path.join(dir, 'data'),
    MEDIA_CACHE_DIR: path.join(dir, 'media-cache'),
    LOG_LEVEL: 'warn',
  };
  const child = spawn(process.execPath, args, { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'inherit'] });
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  try {
    await new Promise<void>((resolve, reject) => {
      let out = '';
      child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
        out += chunk;
        if (out.includes('GraphiQL:')) resolve();
      });
      void exited.then((code) => reject(new Error(`${args.join(' ')} exited with ${code} before its banner:\n${out}`)));
    });
    const samples: Sample[] = [await sample(child.pid!)];
    for (let s = 0; s < seconds; s++) {
      await sleep(1_000); // a bench, not a test: wall-clock sampling is the point
      samples.push(await sample(child.pid!));
    }
    const last = samples.slice(-5);
    const mean = (pick: (s: Sample) => number) => last.reduce((a, s) => a + pick(s), 0) / last.length;
    return { atReady: samples[0]!, settled: { self: mean((s) => s.self), children: mean((s) => s.children) }, peak: Math.max(...samples.map((s) => s.self)) };
  } finally {
    child.kill('SIGTERM');
    const code = await exited;
    if (code !== 0) process.stderr.write(`warning: ${args.join(' ')} exited with ${code} on SIGTERM\n`);
    await rm(dir, { recursive: true, force: true });
  }
}

const mb = (n: number) => `${n.toFixed(1).padStart(6)} MB`;
const row = (name: string, m: Measured) =>
  `${name.padEnd(34)} ${mb(m.atReady.self)}   ${mb(m.settled.self)}   ${mb(m.peak)}   ${mb(m.settled.children)}`;

console.log(`idle RSS, embedded mode, ${seconds} s after the banner (node ${process.version}, ${process.platform}/${process.arch})`);
const dist = await measure(['dist/main.js']);
const dev = await measure(['--import', 'tsx', 'src/main.ts']);
console.log(`${''.padEnd(34)} ${'at ready'.padStart(9)}   ${'settled'.padStart(9)}   ${'peak'.padStart(9)}   ${'children'.padStart(9)}`);
console.log(row('node dist/main.js', dist));
console.log(row('npm start (node --import tsx)', dev));
console.log(`ratio dist / npm start (settled): ${(dist.settled.self / dev.settled.self).toFixed(2)}`);
console.log(`goal dist settled <= 100 MB: ${dist.settled.self <= 100 ? 'met' : 'NOT met'}`);
