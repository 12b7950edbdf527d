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
  /** Throughput: GFLOP/s, GB/s, images/s, or microseconds per dispatch, named by `unit`. */
  value: number;
  unit: 'GFLOP/s' | 'GB/s' | 'us/dispatch' | 'images/s';
  /** Extra facts about the row (e.g. peak GPU memory, dispatches per step). */
  note?: string;
  /** The library timed beside us on the same adapter and computation (rows that have one). */
  peer?: string;
  /** The peer's median milliseconds, null when it has no such computation or could not run. */
  peerMs?: number | null;
  /** Our throughput over the peer's (peer ms / our ms); above 1 means faster than the peer. */
  ratio?: number | null;
  /**
   * Our throughput as a fraction of the adapter's measured ceiling (bench/ceiling.ts): GFLOP/s rows
   * over the best FMA kernel's GFLOP/s, GB/s rows over the best vec4 copy's GB/s.
   */
  ofCeiling?: number;
}

/**
 * Medians of several computations timed round-robin, so that load from other jobs on the machine hits
 * all of them alike. Each function does its work and resolves when it is finished. Warm-up rounds first
 * (shader compiles). Every round runs the computations in a new (seeded) random order: JavaScript's
 * garbage collections land in whatever runs next, and a fixed order put the major collection after
 * TF.js's forward+backward (~60 ms) into the same computation every round (our 13 ms 1x1 forward read
 * 72 ms in 5 of 7 rounds). Forcing a collection before each timed run did not help: the runs after it
 * were slower still (probably finalizers and background sweeping).
 */
export async function timeInterleaved(fns: Record<string, () => Promise<void>>, opts: TimingOptions = {}): Promise<Record<string, number>> {
  const names = Object.keys(fns);
  for (let i = 0; i < (opts.warmup ?? 2); i++) for (const k of names) await fns[k]!();
  const times: Record<string, number[]> = Object.fromEntries(names.map((k) => [k, []]));
  let seed = 12345;
  const order = [...names];
  for (let i = 0; i < (opts.runs ?? 7); i++) {
    // Fisher-Yates with a small LCG: the same orders every time the suite runs.
    for (let j = order.length - 1; j > 0; j--) {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      const r = seed % (j + 1);
      [order[j], order[r]] = [order[r]!, order[j]!];
    }
    for (const k of order) {
      const t0 = performance.now();
      await fns[k]!();
      times[k]!.push(performance.now() - t0);
    }
  }
  return Object.fromEntries(names.map((k) => [k, median(times[k]!)]));
}
