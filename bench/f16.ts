/**
 * The f16 path (`runtime().f16`, src/ops/kernels/f16.ts) against f32 in the same run: matmul at 512^3
 * and 1024^3, and the three conv2d shapes of the suite (forward, and the input and weight gradients
 * with those passes switched to f16 too, although by default they stay f32). Each f16 row carries its
 * f32 twin as the peer, so "vs peer" reads f32 ms / f16 ms (above 1: f16 is faster), and a note with
 * the largest difference between the two results relative to the largest f32 value.
 */
import * as w from '../src/index.js';
import { describeConv, type ConvShape } from './conv.js';
import { timeInterleaved, type BenchRow } from './timing.js';

/** The suite's conv2d shapes (bench/run.ts). */
const CONV_SHAPES: readonly ConvShape[] = [
  { n: 8, c: 64, o: 64, hw: 64, k: 3, stride: 1, pad: 1 },
  { n: 8, c: 64, o: 64, hw: 64, k: 1, stride: 1, pad: 0 },
  { n: 8, c: 64, o: 128, hw: 64, k: 3, stride: 2, pad: 1 },
];

/** Runs `fn` with the runtime's f16 switch (and every f16 pass) set to `on`, restoring both after. */
function withF16<T>(on: boolean, fn: () => T): T {
  const rt = w.runtime();
  const was = rt.f16;
  rt.f16 = on;
  try {
    return rt.withKernelOptions({ f16Passes: { matmul: true, 'conv-forward': true, 'conv-input': true, 'conv-weight': true } }, fn);
  } finally {
    rt.f16 = was;
  }
}

/** max |f16 - f32| / max |f32| of one computation's results. */
async function relDiff(compute: () => w.Tensor): Promise<number> {
  const a = withF16(false, compute);
  const b = withF16(true, compute);
  const [x, y] = [await a.data(), await b.data()];
  a.dispose();
  b.dispose();
  let num = 0;
  let den = 0;
  for (let i = 0; i < x.length; i++) {
    num = Math.max(num, Math.abs(x[i]! - y[i]!));
    den = Math.max(den, Math.abs(x[i]!));
  }
  return num / den;
}

/**
 * Times every computation of `cases` in f32 and f16, all round-robin in one call, and returns an f32
 * and an f16 row for each (`flop` per run, for the GFLOP/s column).
 */
async function pairRows(
  cases: readonly { op: string; shape: string; flop: number; compute: () => w.Tensor }[],
  runs: number,
): Promise<BenchRow[]> {
  const rt = w.runtime();
  const fns: Record<string, () => Promise<void>> = {};
  for (const [i, c] of cases.entries()) {
    for (const on of [false, true]) {
      fns[`${i} ${on}`] = async () => {
        withF16(on, () => w.tidy(() => void c.compute()));
        await rt.sync();
      };
    }
  }
  const ms = await timeInterleaved(fns, { warmup: 2, runs });
  const rows: BenchRow[] = [];
  for (const [i, c] of cases.entries()) {
    const t32 = ms[`${i} false`]!;
    const t16 = ms[`${i} true`]!;
    const rel = await relDiff(c.compute);
    const gf = (t: number) => c.flop / t / 1e6;
    rows.push({ op: `${c.op} f32`, shape: c.shape, ms: t32, value: gf(t32), unit: 'GFLOP/s' });
    rows.push({
      op: `${c.op} f16`,
      shape: c.shape,
      ms: t16,
      value: gf(t16),
      unit: 'GFLOP/s',
      peer: 'f32',
      peerMs: t32,
      ratio: t32 / t16,
      note: `max |f16 - f32| / max |f32| = ${rel.toExponential(1)}`,
    });
  }
  return rows;
}

/** f32 and f16 rows for the square products at `sizes`. */
async function matmulRows(sizes: readonly number[]): Promise<BenchRow[]> {
  const held: w.Tensor[] = [];
  const cases = sizes.map((n) => {
    const a = w.randn([n, n], { seed: 1 });
    const b = w.randn([n, n], { seed: 2 });
    held.push(a, b);
    return { op: 'matmul', shape: `${n}x${n}x${n}`, flop: 2 * n ** 3, compute: () => w.matmul(a, b) };
  });
  const rows = await pairRows(cases, 7);
  for (const t of held) t.dispose();
  return rows;
}

/** f32 and f16 rows for one conv2d shape: forward, input gradient, weight gradient. */
async function convRows(s: ConvShape): Promise<BenchRow[]> {
  const oh = Math.floor((s.hw + 2 * s.pad - s.k) / s.stride) + 1;
  const flop = 2 * s.n * s.o * oh * oh * s.c * s.k * s.k;
  const x = w.requireGrad(w.randn([s.n, s.c, s.hw, s.hw], { seed: 1 }));
  const wt = w.requireGrad(w.randn([s.o, s.c, s.k, s.k], { seed: 2, std: 0.05 }));
  const gy = w.randn([s.n, s.o, oh, oh], { seed: 3 });
  const opts = { stride: s.stride, padding: s.pad };
  // The gradients through a kept graph: the forward (recorded in f32) is not part of their time.
  const y = w.conv2d(x, wt, null, opts);
  const shape = describeConv(s);
  const cases = [
    { op: 'conv2d fwd', shape, flop, compute: () => w.noGrad(() => w.conv2d(x, wt, null, opts)) },
    { op: 'conv2d dx', shape, flop, compute: () => w.grad(y, [x], { gradOutputs: [gy], retainGraph: true })[0]! },
    { op: 'conv2d dw', shape, flop, compute: () => w.grad(y, [wt], { gradOutputs: [gy], retainGraph: true })[0]! },
  ];
  const rows = await pairRows(cases, 5);
  for (const t of [y, x, wt, gy]) t.dispose();
  return rows;
}

/**
 * The f16 rows of the suite: matmul 512^3 and 1024^3, then the three conv2d shapes. Returns no rows
 * (and says why) on an adapter without `shader-f16`.
 */
export async function benchF16(): Promise<BenchRow[]> {
  const rt = w.runtime();
  if (!rt.features.has('shader-f16')) {
    console.log(`f16: skipped, the adapter (${rt.adapterName}) lacks 'shader-f16'`);
    return [];
  }
  const rows = await matmulRows([512, 1024]);
  for (const s of CONV_SHAPES) rows.push(...(await convRows(s)));
  return rows;
}
