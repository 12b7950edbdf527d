/**
 * The one-off autotune: times every kernel variant of the products and convolution passes a workload
 * used (the runtime's tuning-table misses, or keys given) and records the fastest in the table, which
 * `saveTuning` stores per adapter (src/gpu/tuning.ts). `webmtl tune` runs it on a preset's training
 * step. It is slow by design (every candidate, several rounds) and never runs inside a test or a step.
 */
import { runtime } from '../tensor/context.js';
import { randn } from '../tensor/creation.js';
import { tidy } from '../tensor/scope.js';
import type { TunedEntry } from '../gpu/tuning.js';
import {
  chooseConvVariant,
  convForward,
  convInputGrad,
  convOut,
  convWeightGrad,
  CONV_VARIANTS,
  parseConvTuneKey,
  type ConvTuneCase,
} from './kernels/conv.js';
import { chooseMatmulVariant, matmulRaw, MATMUL_VARIANTS, parseMatmulTuneKey, type MatmulPlan } from './kernels/matmul.js';

/** Options for {@link autotune}. */
export interface AutotuneOptions {
  /** Keys to tune (default: the runtime's tuning-table misses, in first-seen order). */
  keys?: readonly string[];
  /** Also re-measure keys that already have an entry (default false: they are skipped). */
  retune?: boolean;
  /** Timed rounds per candidate, round-robin over the candidates (default 5; the median counts). */
  rounds?: number;
  /** Calls per timed sample are raised until a sample takes at least this long (default 8 ms). */
  minSampleMs?: number;
  /**
   * A candidate replaces the rule-of-thumb choice only when its median is this fraction faster
   * (default 0.05), so noise does not flip choices.
   */
  margin?: number;
  /** Called after each key with its result. */
  onResult?: (r: AutotuneResult, done: number, total: number) => void;
  /**
   * Times `calls` calls of `run` (one call of candidate `variant` of `key`) and returns milliseconds
   * per call.
   * The default encodes the calls, waits for the GPU and reads the wall clock; tests inject fixed
   * timings here.
   */
  measure?: (run: () => void, calls: number, variant: string, key: string) => Promise<number>;
}

/** What {@link autotune} decided for one key. */
export interface AutotuneResult extends TunedEntry {
  key: string;
  /** The variant the shape rule picks (what ran before tuning). */
  rule: string;
}

/** A tunable job: its candidates, the rule's choice, and a function that runs one candidate once. */
interface Job {
  allowed: readonly string[];
  rule: string;
  run: (variant: string) => void;
  dispose: () => void;
}

async function wallClock(run: () => void, calls: number): Promise<number> {
  const rt = runtime();
  await rt.sync();
  const t0 = performance.now();
  for (let i = 0; i < calls; i++) run();
  await rt.sync();
  return (performance.now() - t0) / calls;
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const h = s.length >> 1;
  return s.length % 2 ? s[h]! : (s[h - 1]! + s[h]!) / 2;
};

/**
 * The winner among measured medians: the fastest candidate if it beats the rule's choice by more than
 * `margin` (a fraction), else the rule's choice.
 */
export function pickVariant(ms: Record<string, number>, rule: string, margin: number): string {
  let best = rule;
  for (const [v, t] of Object.entries(ms)) if (t < (ms[best] ?? Infinity)) best = v;
  const base = ms[rule];
  if (base === undefined) return best;
  return ms[best]! < base * (1 - margin) ? best : rule;
}

function matmulJob(plan: MatmulPlan): Job {
  const { batch, m, n, k } = plan;
  const a = randn(plan.strideA === 0 ? (plan.transA ? [k, m] : [m, k]) : plan.transA ? [batch, k, m] : [batch, m, k]);
  const b = randn(plan.strideB === 0 ? (plan.transB ? [n, k] : [k, n]) : plan.transB ? [batch, n, k] : [batch, k, n]);
  return {
    allowed: MATMUL_VARIANTS,
    rule: chooseMatmulVariant(plan, runtime().adapterName),
    run: (v) => matmulRaw(a, b, plan, [batch, m, n], v as 'general').dispose(),
    dispose: () => {
      a.dispose();
      b.dispose();
    },
  };
}

function convJob(c: ConvTuneCase): Job {
  const g = { groups: 1, kh: c.kh, kw: c.kw, sh: c.sh, sw: c.sw, dh: c.dh, dw: c.dw };
  const w = randn([c.o, c.c, c.kh, c.kw]);
  const oh = c.pass === 'input' ? c.oh : convOut(c.h, c.kh, c.sh, c.dh);
  const ow = c.pass === 'input' ? c.ow : convOut(c.w, c.kw, c.sw, c.dw);
  const x = c.pass === 'input' ? null : randn([c.n, c.c, c.h, c.w]);
  const dy = c.pass === 'forward' ? null : randn([c.n, c.o, oh, ow]);
  const once = (): void => {
    if (c.pass === 'forward') convForward(x!, w, g, null, null, false).dispose();
    else if (c.pass === 'weight') convWeightGrad(x!, dy!, g).dispose();
    else convInputGrad(dy!, w, g, c.pt, c.pl, c.h, c.w).dispose();
  };
  return {
    allowed: CONV_VARIANTS,
    rule: chooseConvVariant(c.pass, g, c.o, c.c * c.kh * c.kw, c.n * oh * ow, runtime().adapterName, runtime().kernelOptions.convForwardRow),
    run: (v) => runtime().withKernelOptions({ convVariant: v as 'direct' }, once),
    dispose: () => {
      for (const t of [w, x, dy]) t?.dispose();
    },
  };
}

function jobFor(key: string): Job | null {
  const plan = parseMatmulTuneKey(key);
  if (plan) return matmulJob(plan);
  const conv = parseConvTuneKey(key);
  if (conv) return convJob(conv);
  return null;
}

/**
 * Measures every candidate of each key (the runtime's tuning-table misses unless `keys` are given),
 * records the winners in `runtime().tuning` and returns them. Call `saveTuning(runtime().tuning)` to
 * keep the result for later processes. Keys of unknown form are skipped.
 */
export async function autotune(opts: AutotuneOptions = {}): Promise<AutotuneResult[]> {
  const rt = runtime();
  const table = rt.tuning;
  const rounds = opts.rounds ?? 5;
  const minSample = opts.minSampleMs ?? 8;
  const margin = opts.margin ?? 0.05;
  const measure = opts.measure ?? wallClock;
  const keys = (opts.keys ?? [...table.misses.keys()]).filter((k) => opts.retune || !table.get(k));
  const results: AutotuneResult[] = [];
  for (const key of keys) {
    const job = jobFor(key);
    if (!job) continue;
    const { rule } = job;
    try {
      const calls: Record<string, number> = {};
      for (const v of job.allowed) {
        // The first call compiles the pipelines; then find how many calls make one sample long enough.
        const once = () => tidy(() => job.run(v));
        await measure(once, 1, v, key);
        let n = 1;
        for (let t = await measure(once, 1, v, key); t * n < minSample && n < 64; ) n *= 2;
        calls[v] = n;
      }
      const samples: Record<string, number[]> = Object.fromEntries(job.allowed.map((v) => [v, []]));
      for (let r = 0; r < rounds; r++) {
        for (const v of job.allowed) samples[v]!.push(await measure(() => tidy(() => job.run(v)), calls[v]!, v, key));
      }
      const ms = Object.fromEntries(job.allowed.map((v) => [v, median(samples[v]!)]));
      const variant = pickVariant(ms, rule, margin);
      table.set(key, { variant, ms });
      const res = { key, rule, variant, ms };
      results.push(res);
      opts.onResult?.(res, results.length, keys.length);
    } finally {
      job.dispose();
    }
  }
  return results;
}
