/**
 * The top N self-time functions of a V8 `.cpuprofile` (what `node --cpu-prof` writes), as `bench:graphql --cpu-prof`
 * prints them: `node --import tsx bench/lib/cpu-profile-top.ts <file.cpuprofile | dir> [--top 5]` (a directory:
 * its newest profile). Self time is the sampled time spent in the function's own code, summed over every call site
 * of the same function (name + script + line), so a helper called from many places is one row. `(idle)` is left
 * out: it is the event loop waiting, not work.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number; columnNumber: number };
}

interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

export interface SelfTimeRow {
  /** `name (file:line)`, with the script path shortened to what follows node_modules/ or the repository. */
  name: string;
  selfMs: number;
  /** Share of all non-idle sampled time. */
  share: number;
}

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

function shortUrl(url: string): string {
  if (!url) return '';
  const file = url.startsWith('file://') ? fileURLToPath(url) : url;
  const modules = file.lastIndexOf('node_modules/');
  if (modules >= 0) return file.slice(modules + 'node_modules/'.length);
  return file.startsWith(ROOT) ? file.slice(ROOT.length) : file;
}

/** The `n` functions with the most self time, and the non-idle total they are a share of. */
export function topSelfTime(profile: CpuProfile, n: number): { rows: SelfTimeRow[]; totalMs: number } {
  const byNode = new Map(profile.nodes.map((node) => [node.id, node]));
  const selfUs = new Map<string, number>();
  let totalUs = 0;
  // timeDeltas[i] is the time since the previous sample; it is charged to the node sampled at i (what DevTools does).
  for (let i = 0; i < profile.samples.length; i++) {
    const node = byNode.get(profile.samples[i]!);
    if (!node) continue;
    const { functionName, url, lineNumber } = node.callFrame;
    if (functionName === '(idle)') continue;
    const delta = Math.max(0, profile.timeDeltas[i] ?? 0);
    const where = url ? ` (${shortUrl(url)}:${lineNumber + 1})` : '';
    const key = `${functionName || '(anonymous)'}${where}`;
    selfUs.set(key, (selfUs.get(key) ?? 0) + delta);
    totalUs += delta;
  }
  const rows = [...selfUs]
    .sort((a, b) => b[1] - a[1])
    .slice(0, n)
    .map(([name, us]) => ({ name, selfMs: us / 1000, share: totalUs > 0 ? us / totalUs : 0 }));
  return { rows, totalMs: totalUs / 1000 };
}

/**
 * `file` itself, or the main thread's profile in the directory `file`: node names them
 * `CPU.<date>.<time>.<pid>.<thread>.<seq>.cpuprofile`, and a process with ESM loader hooks (tsx) writes one for the
 * hooks' worker thread too, so the newest is taken among thread 0's.
 */
export function mainThreadProfile(file: string): string {
  if (!statSync(file).isDirectory()) return file;
  const profiles = readdirSync(file)
    .filter((f) => /^CPU\.\d+\.\d+\.\d+\.0\.\d+\.cpuprofile$/.test(f))
    .map((f) => path.join(file, f))
    .sort((a, b) => statSync(b).mtimeMs - statSync(a).mtimeMs);
  if (!profiles[0]) throw new Error(`no .cpuprofile in ${file}`);
  return profiles[0];
}

export function formatTopSelfTime(file: string, n: number): string {
  const { rows, totalMs } = topSelfTime(JSON.parse(readFileSync(file, 'utf8')) as CpuProfile, n);
  const lines = rows.map((r, i) => `${String(i + 1).padStart(2)}. ${r.selfMs.toFixed(0).padStart(7)} ms  ${(r.share * 100).toFixed(1).padStart(5)}%  ${r.name}`);
  return [`top ${n} self time of ${path.basename(file)} (${totalMs.toFixed(0)} ms sampled, idle excluded):`, ...lines].join('\n');
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const { values, positionals } = parseArgs({ allowPositionals: true, options: { top: { type: 'string', default: '5' } } });
  if (!positionals[0]) throw new Error('usage: cpu-profile-top.ts <file.cpuprofile | dir> [--top N]');
  console.log(formatTopSelfTime(mainThreadProfile(positionals[0]), Number(values.top)));
}
