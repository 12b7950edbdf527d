/**
 * Timing helper for the benchmarks: warm-up runs (shader compiles, pool fills), then the median of
 * several timed runs, each ended by waiting for the GPU to finish, so a run's time covers its work.
 */
import { runtime } from '../src/index.js';

/** Options for {@link timeRuns}. */
export interface TimingOptions {
  /** Untimed runs first (default 2). */
  warmup?: number;
  /** Timed runs; the median is reported (default 7). */
  runs?: number;
}

/** Median wall-clock milliseconds of `fn` (which encodes GPU work) followed by `runtime().sync()`. */
export async function timeRuns(fn: () => void, opts: TimingOptions = {}): Promise<number> {
  const rt = runtime();
  for (let i = 0; i < (opts.warmup ?? 2); i++) {
    fn();
    await rt.sync();
  }
  const times: number[] = [];
  for (let i = 0; i < (opts.runs ?? 7); i++) {
    const t0 = performance.now();
    fn();
    await rt.sync();
    times.push(performance.now() - t0);
  }
  return median(times);
}

/** The median of a non-empty list. */
export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const h = s.length >> 1;
  return s.length % 2 ? s[h]! : (s[h - 1]! + s[h]!) / 2;
}

/** One row of the results table. */
export interface BenchRow {
  op: string;
  shape: string;
  /** Median milliseconds per run. */
  ms: number;
  /** Throughput: GFLOP/s, GB/s, or microseconds per dispatch, named by `unit`. */
  value: number;
  unit: 'GFLOP/s' | 'GB/s' | 'us/dispatch';
}
