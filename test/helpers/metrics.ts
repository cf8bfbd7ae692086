/**
 * Scrapes a gateway's `/metrics` and reads samples out of the Prometheus text format, so tests can compare two
 * scrapes (`delta`) instead of absolute values.
 */

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export interface Scrape {
  samples: Sample[];
  /** Metric families declared by `# TYPE` lines, with their type. */
  types: Map<string, string>;
  /** The value of the one sample of `name` whose labels include `labels`; throws unless exactly one matches. */
  value(name: string, labels?: Record<string, string>): number;
}

export async function scrapeMetrics(baseUrl: string, headers: Record<string, string> = {}): Promise<Scrape> {
  const res = await fetch(`${baseUrl}/metrics`, { headers });
  const text = await res.text();
  if (res.status !== 200) throw new Error(`/metrics answered ${res.status}: ${text}`);
  return parseExposition(text);
}

export function parseExposition(text: string): Scrape {
  const samples: Sample[] = [];
  const types = new Map<string, string>();
  for (const line of text.split('\n')) {
    const type = /^# TYPE (\S+) (\S+)$/.exec(line);
    if (type) types.set(type[1]!, type[2]!);
    if (line === '' || line.startsWith('#')) continue;
    const match = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!match) throw new Error(`unparsable exposition line: ${line}`);
    const labels: Record<string, string> = {};
    for (const [, key, value] of (match[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[key!] = value!;
    samples.push({ name: match[1]!, labels, value: Number(match[3]) });
  }
  const value = (name: string, labels: Record<string, string> = {}) => {
    const found = samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
    if (found.length !== 1) throw new Error(`${found.length} samples of ${name}${JSON.stringify(labels)}`);
    return found[0]!.value;
  };
  return { samples, types, value };
}

/**
 * How much every `frames_*` sample changed from `before` to `after`, as `name{k="v",...}` (bare `name` without labels)
 * → difference; unchanged samples, and histogram `_bucket` and `_sum` samples (timings vary), are left out.
 */
export function delta(before: Scrape, after: Scrape): Record<string, number> {
  const key = (s: Sample) => {
    const labels = Object.entries(s.labels).map(([k, v]) => `${k}="${v}"`);
    return labels.length === 0 ? s.name : `${s.name}{${labels.join(',')}}`;
  };
  const old = new Map(before.samples.map((s) => [key(s), s.value]));
  const changes: Record<string, number> = {};
  for (const s of after.samples) {
    if (!s.name.startsWith('frames_') || s.name.endsWith('_bucket') || s.name.endsWith('_sum')) continue;
    const change = s.value - (old.get(key(s)) ?? 0);
    if (change !== 0) changes[key(s)] = change;
  }
  return changes;
}
