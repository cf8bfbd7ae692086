/** Latency summaries for benches: nearest-rank percentiles over raw samples (no interpolation, no binning). */

export interface LatencySummary {
  count: number;
  p50: number;
  p99: number;
  max: number;
}

/** Nearest-rank percentile `q` (0..100) of `sorted` (ascending); NaN for no samples. */
export function percentile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.ceil((q / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))]!;
}

export function summarize(samples: readonly number[]): LatencySummary {
  const sorted = Float64Array.from(samples).sort();
  const list = Array.from(sorted);
  return { count: list.length, p50: percentile(list, 50), p99: percentile(list, 99), max: list.at(-1) ?? Number.NaN };
}

/** "12.3 ms" with one decimal under 100 ms, whole milliseconds above. */
export function ms(value: number): string {
  if (!Number.isFinite(value)) return 'n/a';
  return `${value < 100 ? value.toFixed(1) : Math.round(value)} ms`;
}
