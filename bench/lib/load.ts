/**
 * Load generation for benches: runs the autocannon CLI in a child process (so the load generator never shares an
 * event loop with the server under test) and returns the figures that matter.
 */
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';

export interface LoadOptions {
  connections: number;
  seconds: number;
  /** POST this JSON body (content-type application/json) instead of a GET. */
  jsonBody?: string;
}

export interface LoadResult {
  /** Mean of the per-second request rates (autocannon's "Req/Sec avg"). */
  requestsPerSecond: number;
  total: number;
  latencyP50Ms: number;
  latencyP99Ms: number;
  non2xx: number;
  errors: number;
  timeouts: number;
}

interface AutocannonJson {
  requests: { average: number; total: number };
  latency: { p50: number; p99: number };
  non2xx: number;
  errors: number;
  timeouts: number;
}

/** Path of the autocannon CLI (a devDependency); throws a readable error when it is not installed. */
function autocannonCli(): string {
  try {
    return createRequire(import.meta.url).resolve('autocannon');
  } catch {
    throw new Error('autocannon is not installed: npm install -D autocannon --no-audit --no-fund');
  }
}

/** Runs `autocannon -j -c <connections> -d <seconds> <url>` (keep-alive, GET or a JSON POST) and parses its JSON report. */
export function runLoad(url: string, options: LoadOptions): Promise<LoadResult> {
  const post = options.jsonBody === undefined ? [] : ['-m', 'POST', '-H', 'content-type=application/json', '-b', options.jsonBody];
  const args = [autocannonCli(), '-j', '-c', String(options.connections), '-d', String(options.seconds), ...post, url];
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (chunk: Buffer) => out.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => err.push(chunk));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code !== 0) {
        reject(new Error(`autocannon exited with ${code}: ${Buffer.concat(err).toString('utf8').slice(0, 2000)}`));
        return;
      }
      try {
        const report = JSON.parse(Buffer.concat(out).toString('utf8')) as AutocannonJson;
        resolve({
          requestsPerSecond: report.requests.average,
          total: report.requests.total,
          latencyP50Ms: report.latency.p50,
          latencyP99Ms: report.latency.p99,
          non2xx: report.non2xx,
          errors: report.errors,
          timeouts: report.timeouts,
        });
      } catch (error) {
        reject(error);
      }
    });
  });
}
