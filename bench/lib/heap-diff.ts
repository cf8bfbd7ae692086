/**
 * Compares two V8 heap snapshots of one process (`.heapsnapshot`, as `v8.writeHeapSnapshot` writes them), like the
 * "Objects allocated between snapshots" view of Chrome DevTools: V8 keeps an object's id across the snapshots of a
 * process, so the objects of the second whose id the first lacks are exactly what was allocated in between and is
 * still reachable. They are grouped by class (constructor name; closures by function name and source line; strings
 * as one group), and for the largest groups the most common retainer chains are shown: which objects hold them.
 *
 * Hand-written rather than memlab: memlab pulls in a browser driver, and this needs only the snapshot's documented
 * flat-array layout (nodes, edges, strings, locations).
 */
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';

interface RawSnapshot {
  snapshot: { meta: { node_fields: string[]; node_types: [string[]]; edge_fields: string[]; edge_types: [string[]]; location_fields: string[] } };
  nodes: number[];
  edges: number[];
  locations: number[];
  strings: string[];
}

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
/** Edges that say nothing about who owns an object. */
const UNINFORMATIVE_EDGES = new Set(['__proto__', 'map', 'constructor', 'prototype', 'shared', 'feedback_cell', 'code']);

/** One parsed snapshot. */
export interface HeapSnapshot {
  count: number;
  ids: Float64Array;
  sizes: Float64Array;
  keys: string[];
  /** Retainers of node `i`: `retainerNodes[retainerStart[i] .. retainerStart[i + 1])`, edge names beside. */
  retainerStart: Uint32Array;
  retainerNodes: Uint32Array;
  retainerEdges: string[];
}

export async function readHeapSnapshot(file: string): Promise<HeapSnapshot> {
  const raw = JSON.parse(await readFile(file, 'utf8')) as RawSnapshot;
  const { meta } = raw.snapshot;
  const nf = meta.node_fields.length;
  const ef = meta.edge_fields.length;
  const field = (name: string) => meta.node_fields.indexOf(name);
  const [typeAt, nameAt, idAt, sizeAt, edgeCountAt] = ['type', 'name', 'id', 'self_size', 'edge_count'].map(field) as number[];
  const count = raw.nodes.length / nf;
  const ids = new Float64Array(count);
  const sizes = new Float64Array(count);
  const firstEdge = new Uint32Array(count + 1);
  for (let n = 0, edge = 0; n < count; n++) {
    ids[n] = raw.nodes[n * nf + idAt!]!;
    sizes[n] = raw.nodes[n * nf + sizeAt!]!;
    firstEdge[n] = edge;
    edge += raw.nodes[n * nf + edgeCountAt!]! * ef;
    firstEdge[n + 1] = edge;
  }
  const edgeName = (edge: number): string => {
    const type = meta.edge_types[0][raw.edges[edge]!]!;
    return type === 'element' || type === 'hidden' ? `[${type}]` : type === 'weak' || type === 'shortcut' ? '' : raw.strings[raw.edges[edge + 1]!]!;
  };
  const typeOf = (n: number) => meta.node_types[0][raw.nodes[n * nf + typeAt!]!]!;
  const nameOf = (n: number) => raw.strings[raw.nodes[n * nf + nameAt!]!]!;
  const targetOf = (edge: number) => raw.edges[edge + 2]! / nf;
  const lines = closureLines(raw, nf);
  const scriptOf = (n: number): string => {
    for (let e = firstEdge[n]!; e < firstEdge[n + 1]!; e += ef) {
      if (edgeName(e) !== 'shared') continue;
      const shared = targetOf(e);
      for (let s = firstEdge[shared]!; s < firstEdge[shared + 1]!; s += ef) {
        if (edgeName(s) === 'script_or_debug_info') return shortScript(nameOf(targetOf(s)));
      }
    }
    return '?';
  };
  const keys = new Array<string>(count);
  for (let n = 0; n < count; n++) {
    const type = typeOf(n);
    keys[n] = type === 'closure' ? `${nameOf(n) || '(anonymous)'} () @ ${scriptOf(n)}:${(lines.get(n) ?? -1) + 1}` : classKey(type, nameOf(n));
  }
  return { count, ids, sizes, keys, ...retainersOf(raw, count, firstEdge, ef, edgeName, targetOf) };
}

function closureLines(raw: RawSnapshot, nf: number): Map<number, number> {
  const lf = raw.snapshot.meta.location_fields;
  const [objectAt, lineAt] = [lf.indexOf('object_index'), lf.indexOf('line')];
  const lines = new Map<number, number>();
  for (let l = 0; l < raw.locations.length; l += lf.length) lines.set(raw.locations[l + objectAt]! / nf, raw.locations[l + lineAt]!);
  return lines;
}

function retainersOf(
  raw: RawSnapshot,
  count: number,
  firstEdge: Uint32Array,
  ef: number,
  edgeName: (edge: number) => string,
  targetOf: (edge: number) => number,
): Pick<HeapSnapshot, 'retainerStart' | 'retainerNodes' | 'retainerEdges'> {
  const retainerStart = new Uint32Array(count + 1);
  for (let e = 0; e < raw.edges.length; e += ef) retainerStart[targetOf(e) + 1]! += 1;
  for (let n = 0; n < count; n++) retainerStart[n + 1]! += retainerStart[n]!;
  const fill = retainerStart.slice(0, count);
  const retainerNodes = new Uint32Array(raw.edges.length / ef);
  const retainerEdges = new Array<string>(raw.edges.length / ef);
  for (let n = 0; n < count; n++) {
    for (let e = firstEdge[n]!; e < firstEdge[n + 1]!; e += ef) {
      const slot = fill[targetOf(e)]!++;
      retainerNodes[slot] = n;
      retainerEdges[slot] = edgeName(e);
    }
  }
  return { retainerStart, retainerNodes, retainerEdges };
}

function shortScript(url: string): string {
  const file = url.startsWith('file://') ? fileURLToPath(url) : url;
  const local = file.startsWith(ROOT) ? file.slice(ROOT.length) : file;
  const modules = local.lastIndexOf('node_modules/');
  return modules >= 0 ? local.slice(modules + 'node_modules/'.length) : local;
}

function classKey(type: string, name: string): string {
  if (type === 'string' || type === 'concatenated string' || type === 'sliced string') return '(string)';
  if (type === 'number') return '(heap number)';
  if (type === 'object' || type === 'native') return name;
  // hidden, array, code, object shape, synthetic …: V8's own names ("(object properties)", "system / Context", …).
  return `(${type}) ${name.length > 60 ? `${name.slice(0, 57)}...` : name}`;
}

export interface ClassGrowth {
  key: string;
  count: number;
  bytes: number;
  /** Most common retainer chains of the new objects of this class (nearest holder first), with their counts. */
  chains: { chain: string; count: number }[];
}

/** Objects in `after` that `before` did not have, by class, largest self size first. */
export function newObjects(before: HeapSnapshot, after: HeapSnapshot, options: { top: number; explained: number; depth: number }): ClassGrowth[] {
  const old = new Set(before.ids);
  const groups = new Map<string, { count: number; bytes: number; members: number[] }>();
  for (let n = 0; n < after.count; n++) {
    if (old.has(after.ids[n]!)) continue;
    const group = groups.get(after.keys[n]!) ?? { count: 0, bytes: 0, members: [] };
    group.count += 1;
    group.bytes += after.sizes[n]!;
    if (group.members.length < 500) group.members.push(n);
    groups.set(after.keys[n]!, group);
  }
  const sorted = [...groups].sort((a, b) => b[1].bytes - a[1].bytes).slice(0, options.top);
  return sorted.map(([key, group], rank) => ({
    key,
    count: group.count,
    bytes: group.bytes,
    chains: rank < options.explained ? commonChains(after, group.members, options.depth) : [],
  }));
}

function commonChains(snapshot: HeapSnapshot, members: number[], depth: number): { chain: string; count: number }[] {
  const chains = new Map<string, number>();
  for (const member of members) {
    const chain = retainerChain(snapshot, member, depth);
    chains.set(chain, (chains.get(chain) ?? 0) + 1);
  }
  return [...chains]
    .map(([chain, count]) => ({ chain, count: (count / members.length) * 100 }))
    .sort((a, b) => b.count - a.count)
    .slice(0, 2);
}

/** `holder.edge ← holder.edge ← …`, following the first informative retainer of each object. */
function retainerChain(snapshot: HeapSnapshot, start: number, depth: number): string {
  const steps: string[] = [];
  const seen = new Set([start]);
  let node = start;
  for (let d = 0; d < depth; d++) {
    let next = -1;
    for (let r = snapshot.retainerStart[node]!; r < snapshot.retainerStart[node + 1]!; r++) {
      const edge = snapshot.retainerEdges[r]!;
      if (edge === '' || UNINFORMATIVE_EDGES.has(edge) || seen.has(snapshot.retainerNodes[r]!)) continue;
      next = snapshot.retainerNodes[r]!;
      steps.push(`${snapshot.keys[next]!.slice(0, 80)} .${edge}`);
      break;
    }
    if (next < 0) break;
    seen.add(next);
    node = next;
  }
  return steps.join('  <-  ');
}
