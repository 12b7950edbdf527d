/**
 * Raw normalisation kernels (shaders/norm.wgsl), no autograd. Batch, group and layer norm are the
 * same three steps over different views: split statistics over an [A, M, B] view (each m reduced
 * over all a and b), a fused normalise + affine pass over rows, and for the gradient a split
 * reduction of (gy, gy * xhat), a tiny fold into per-group coefficients and weight/bias gradients,
 * and one fused elementwise pass for dx. Batch norm's apply pass can also add a residual and
 * apply ReLU (its fused epilogue), its gradient passes then mask gy with the saved output, and
 * `foldConvBatchNorm` (norm-fold.ts) folds eval-mode batch norm into the convolution before it. See
 * src/ops/norm.ts for the views each op uses.
 */
import { empty } from '../../tensor/creation.js';
import type { Tensor } from '../../tensor/tensor.js';
import { WG, wgGrid } from './util.js';
import { splitApply, splitApplyGrad, splitGradSums, splitPartials } from './norm-split.js';
import { reduce } from './reduce.js';
import { fits } from './split.js';

const statsPartialKernel = { shader: 'norm', entry: 'stats_partial', bindings: ['read', 'write', 'uniform'] } as const;
const statsFinalKernel = { shader: 'norm', entry: 'stats_final', bindings: ['read', 'write', 'uniform'] } as const;
const statsRunningKernel = {
  shader: 'norm',
  entry: 'stats_running',
  bindings: ['read', 'write', 'write', 'write', 'write', 'uniform'],
} as const;
const evalStatsKernel = { shader: 'norm', entry: 'eval_stats', bindings: ['read', 'read', 'write', 'uniform'] } as const;
const applyKernel = { shader: 'norm', entry: 'apply', bindings: ['read', 'read', 'read', 'read', 'read', 'read', 'write', 'uniform'] } as const;
const gradPartialKernel = {
  shader: 'norm',
  entry: 'grad_partial',
  bindings: ['read', 'read', 'read', 'read', 'read', 'write', 'uniform'],
} as const;
const gradFoldKernel = { shader: 'norm', entry: 'grad_fold', bindings: ['read', 'read', 'write', 'write', 'write', 'uniform'] } as const;
const applyGradKernel = {
  shader: 'norm',
  entry: 'apply_grad',
  bindings: ['read', 'read', 'read', 'read', 'read', 'read', 'write', 'write', 'uniform'],
} as const;
const statsPartial4Kernel = { shader: 'norm-vec4', entry: 'stats_partial4', bindings: ['read', 'write', 'uniform'] } as const;
const apply4Kernel = { shader: 'norm-vec4', entry: 'apply4', bindings: ['read', 'read', 'read', 'read', 'read', 'read', 'write', 'uniform'] } as const;
const gradPartial4Kernel = { shader: 'norm-vec4', entry: 'grad_partial4', bindings: ['read', 'read', 'read', 'read', 'write', 'uniform'] } as const;
const applyGrad4Kernel = {
  shader: 'norm-vec4',
  entry: 'apply_grad4',
  bindings: ['read', 'read', 'read', 'read', 'read', 'read', 'write', 'write', 'uniform'],
} as const;

/** Invocations a split reduction aims for (enough to keep both cores' SIMD lanes busy). */
const TARGET_INVOCATIONS = 4096;
/** Fewest elements one reduction invocation should handle before splitting further. */
const MIN_PER_INVOCATION = 64;

/** An [A, M, B] view reduced per m over every (a, b), and its split into P partials per m. */
export interface RedView {
  a: number;
  m: number;
  b: number;
}

interface Split extends RedView {
  sb: number;
  ach: number;
  ac: number;
  p: number;
}

/**
 * Tuning switches for A/B measurements, each defaulting to the faster choice: `vec4` takes the vec4
 * kernels for rows of 4k elements; `foldMask` applies a fused ReLU's gradient mask inside the
 * passes that read gy (off: one separate masking pass, whose output is also the residual's
 * gradient); `evalInline` lets eval-mode batch norm without a graph read the running statistics
 * in its apply pass (off: a separate eval_stats dispatch first).
 */
export const normTuning = { vec4: true, foldMask: true, evalInline: true };

/** Whether rows of `b` elements can go through the vec4 kernels (shaders/norm-vec4.wgsl). */
function vec4Rows(b: number): boolean {
  return normTuning.vec4 && b % 4 === 0 && b > 0;
}

/**
 * Splits each m's A*B elements into interleaved column strides (sb) and row chunks (ac). With
 * `vec4`, B counts vec4s and an invocation's minimum share shrinks by 4 (same elements).
 */
function split(v: RedView, vec4 = false, maxP = Infinity): Split {
  const work = v.a * v.b;
  const minPer = vec4 ? MIN_PER_INVOCATION / 4 : MIN_PER_INVOCATION;
  // p = ac * sb stays below 2 * want (ach rounds up): halve the cap.
  const want = Math.max(1, Math.min(Math.ceil(TARGET_INVOCATIONS / Math.max(v.m, 1)), Math.ceil(work / minPer), Math.floor(maxP / 2)));
  const sb = Math.max(1, Math.min(want, Math.ceil(v.b / 16)));
  const acWant = Math.max(1, Math.min(v.a, Math.ceil(want / sb)));
  const ach = Math.max(1, Math.ceil(v.a / acWant));
  const ac = Math.max(1, Math.ceil(v.a / ach));
  return { ...v, sb, ach, ac, p: ac * sb };
}

function redUniform(s: Split, sa = 0, sm = 1, sdiv = 1): Uint32Array {
  return new Uint32Array([s.a, s.m, s.b, s.sb, s.ach, s.ac, sa, sm, sdiv, 0, 0, 0]);
}

function finalUniform(m: number, p: number, eps: number, momentum: number): Uint8Array {
  const u = new ArrayBuffer(16);
  new Uint32Array(u, 0, 2).set([m, p]);
  new Float32Array(u, 8, 2).set([eps, momentum]);
  return new Uint8Array(u);
}

/** Running statistics updated in place by {@link normStats} (batch norm in training mode). */
export interface RunningStats {
  mean: Tensor;
  variance: Tensor;
  momentum: number;
  /** An i32 counter (num_batches_tracked) incremented by one in the same pass, if given. */
  counter?: Tensor | null;
}

/**
 * Per-m statistics of x seen as [A, M, B]: a tensor [M, 2] of (mean, 1/sqrt(var + eps)) with the
 * biased variance. With `running`, its mean and variance buffers are updated in place in the same
 * pass: r = (1 - momentum) r + momentum * batch value, with the unbiased variance for `variance`
 * (and its `counter`, when given, gets 1 added).
 */
export function normStats(x: Tensor, v: RedView, eps: number, running: RunningStats | null = null): Tensor {
  const part = fits(x.runtime, x) ? statsPartial(x, v) : splitPartials(x, v, 3, 1, (xb, bv, maxP) => statsPartial(xb, bv, maxP));
  const m = v.m;
  const p = part.shape[1]!;
  const rt = part.runtime;
  const stats = empty([m, 2]);
  if (running) {
    const counter = running.counter ?? null;
    const spare = counter ? null : empty([1]);
    rt.dispatch(
      statsRunningKernel,
      { WG, COUNT: counter ? 1 : 0 },
      [
        part.bufferFor('norm'),
        stats.bufferFor('norm'),
        running.mean.bufferFor('batchNorm2d'),
        running.variance.bufferFor('batchNorm2d'),
        (counter ?? spare!).bufferFor('batchNorm2d'),
      ],
      finalUniform(m, p, eps, running.momentum),
      wgGrid(m),
    );
    spare?.dispose();
  } else {
    rt.dispatch(statsFinalKernel, { WG }, [part.bufferFor('norm'), stats.bufferFor('norm')], finalUniform(m, p, eps, 0), wgGrid(m));
  }
  part.dispose();
  return stats;
}

/** Partial (count, mean, M2) [M, P, 3] of x seen as [A, M, B] (x fits one binding), P <= maxP. */
function statsPartial(x: Tensor, v: RedView, maxP = Infinity): Tensor {
  const v4 = vec4Rows(v.b);
  const s = split(v4 ? { ...v, b: v.b / 4 } : v, v4, maxP);
  const part = empty([s.m, s.p, 3]);
  part.runtime.dispatch(v4 ? statsPartial4Kernel : statsPartialKernel, { WG }, [x.bufferFor('norm'), part.bufferFor('norm')], redUniform(s), wgGrid(s.m * s.p));
  return part;
}

/** Statistics [C, 2] of (running mean, 1/sqrt(running var + eps)) for evaluation mode. */
export function runningNormStats(mean: Tensor, variance: Tensor, eps: number): Tensor {
  const c = mean.size;
  const mb = mean.bufferFor('batchNorm2d');
  const vb = variance.bufferFor('batchNorm2d');
  const stats = empty([c, 2]);
  if (c > 0) stats.runtime.dispatch(evalStatsKernel, { WG }, [mb, vb, stats.bufferFor('batchNorm2d')], finalUniform(c, 0, eps, 0), wgGrid(c));
  return stats;
}

/**
 * How a normalised tensor maps to statistics and affine parameters: rows of length `l` (x has
 * rows * l elements); row r uses statistics (r / sdiv) % smod and, unless `affCol`, weight and bias
 * r % c; with `affCol` the weight and bias index is the column (layer norm).
 */
export interface RowGeom {
  rows: number;
  l: number;
  sdiv: number;
  smod: number;
  c: number;
  affCol: boolean;
}

/** Elements one apply invocation handles (every j-th of its row), amortising its divisions. */
const APPLY_PER_INVOCATION = 16;

/** Invocations per row of an apply pass. */
function lanes(g: RowGeom): number {
  return Math.ceil(g.l / APPLY_PER_INVOCATION);
}

function applyUniform(g: RowGeom, eps = 0): Uint32Array {
  const u = new Uint32Array([g.rows, g.l, lanes(g), g.sdiv, g.smod, Math.max(g.c, 1), 0, 0]);
  new Float32Array(u.buffer, 24, 1)[0] = eps;
  return u;
}

/** `g` with its rows counted in vec4s when the vec4 row kernels apply (per-row affine only), else null. */
function rows4(g: RowGeom): RowGeom | null {
  return !g.affCol && vec4Rows(g.l) ? { ...g, l: g.l / 4 } : null;
}

/** A fused epilogue of {@link normApply}: y = relu?(norm(x) + residual?). */
export interface NormEpilogue {
  /** Added after the affine transform (x's shape; the caller checks it). */
  residual: Tensor | null;
  relu: boolean;
}

/** Running statistics read by the apply pass itself (eval mode, when no stats tensor is needed). */
export interface InlineStats {
  mean: Tensor;
  variance: Tensor;
  eps: number;
}

/**
 * y = (x - mean) * invstd * w + b, with w and b optional, over the rows of `g`, then the epilogue.
 * `stats` is a stats tensor [S, 2] or, in one pass without one, running statistics.
 */
export function normApply(
  x: Tensor,
  stats: Tensor | InlineStats,
  w: Tensor | null,
  b: Tensor | null,
  g: RowGeom,
  epi: NormEpilogue | null = null,
): Tensor {
  const xb = x.bufferFor('norm');
  if (!fits(x.runtime, x)) return splitApply(x, stats, w, b, g, epi, normApply);
  const y = empty(x.shape);
  const n = g.rows * lanes(g);
  if (n === 0) return y;
  const inline = 'variance' in stats ? stats : null;
  const sb = (inline ? inline.mean : (stats as Tensor)).bufferFor('norm');
  const r = epi?.residual ?? null;
  // Absent inputs are bound to buffers of a size the binding accepts; the kernel never reads them.
  const bufs = [
    xb,
    sb,
    w ? w.bufferFor('norm') : sb,
    b ? b.bufferFor('norm') : sb,
    r ? r.bufferFor('norm') : xb,
    inline ? inline.variance.bufferFor('norm') : sb,
    y.bufferFor('norm'),
  ];
  const consts = { WG, HAS_W: w ? 1 : 0, HAS_B: b ? 1 : 0, HAS_R: r ? 1 : 0, RELU: epi?.relu ? 1 : 0, EVAL_STATS: inline ? 1 : 0 };
  const eps = inline?.eps ?? 0;
  const g4 = rows4(g);
  if (g4) y.runtime.dispatch(apply4Kernel, consts, bufs, applyUniform(g4, eps), wgGrid(g4.rows * lanes(g4)));
  else y.runtime.dispatch(applyKernel, { ...consts, AFF_COL: g.affCol ? 1 : 0 }, bufs, applyUniform(g, eps), wgGrid(n));
  return y;
}

/** Partial sums [M, P, 2] of (g, g * xhat) per m of an [A, M, B] view, and P. */
export interface GradSums {
  part: Tensor;
  p: number;
}

/**
 * Split sums of (g, g * xhat) per m of x and gy seen as [A, M, B], where g = gy (times w[b] when
 * `wCol` is given; with `mask`, a fused ReLU's saved output, only where mask > 0) and xhat uses
 * statistics (a * sa + m * sm) / sdiv.
 */
export function normGradSums(
  x: Tensor,
  gy: Tensor,
  stats: Tensor,
  v: RedView,
  sa: number,
  sm: number,
  sdiv: number,
  wCol: Tensor | null,
  mask: Tensor | null = null,
): GradSums {
  const xb = x.bufferFor('norm');
  if (!fits(x.runtime, x)) return splitGradSums(x, gy, stats, v, sa, sm, sdiv, wCol, mask, normGradSums);
  const yb = mask ? mask.bufferFor('norm') : xb;
  if (!wCol && vec4Rows(v.b)) {
    const s = split({ ...v, b: v.b / 4 }, true);
    const part = empty([s.m, s.p, 2]);
    part.runtime.dispatch(
      gradPartial4Kernel,
      { WG, MASK: mask ? 1 : 0 },
      [xb, gy.bufferFor('norm'), stats.bufferFor('norm'), yb, part.bufferFor('norm')],
      redUniform(s, sa, sm, sdiv),
      wgGrid(s.m * s.p),
    );
    return { part, p: s.p };
  }
  const s = split(v);
  const part = empty([s.m, s.p, 2]);
  const sb = stats.bufferFor('norm');
  part.runtime.dispatch(
    gradPartialKernel,
    { WG, W_COL: wCol ? 1 : 0, MASK: mask ? 1 : 0 },
    [xb, gy.bufferFor('norm'), sb, wCol ? wCol.bufferFor('norm') : sb, yb, part.bufferFor('norm')],
    redUniform(s, sa, sm, sdiv),
    wgGrid(s.m * s.p),
  );
  return { part, p: s.p };
}

/** What {@link normGradFold} computes. */
export interface FoldGeom {
  /** Groups: ks[s] sums the rows s*cg .. s*cg + cg - 1 (s = 0: no ks). */
  s: number;
  cg: number;
  /** Channels: db[c], dw[c] sum the rows n*c + c for n < nrep (c = 0: none). */
  c: number;
  nrep: number;
  /** Elements per group (ks are means over them). */
  count: number;
  /** Row r is weighted by w[r % wmod]. */
  wmod: number;
}

/**
 * From per-row partial sums: ks [S, 2] = per-group means of (w * g, w * g * xhat) (w[row % wmod]
 * when given) and per-channel db [C] = sum g, dw [C] = sum g * xhat. Absent parts are null.
 */
export function normGradFold(
  sums: GradSums,
  w: Tensor | null,
  g: FoldGeom,
): { ks: Tensor | null; db: Tensor | null; dw: Tensor | null } {
  if (!fits(sums.part.runtime, sums.part)) {
    // The sums are linear: add the partials of each m up first (the reduction splits as it needs).
    const m = sums.part.size / (2 * sums.p);
    const r = reduce('sum', sums.part.view([m, sums.p, 2]), [1]);
    const folded = normGradFold({ part: r, p: 1 }, w, g);
    r.dispose();
    return folded;
  }
  const ks = g.s > 0 ? empty([g.s, 2]) : null;
  const db = g.c > 0 ? empty([g.c]) : null;
  const dw = g.c > 0 ? empty([g.c]) : null;
  const n = Math.max(g.s, g.c);
  if (n === 0) return { ks, db, dw };
  // Unused outputs still need distinct buffers (a buffer may be written through one binding only).
  const spare = [ks, db, dw].map((t) => (t ? null : empty([1])));
  const pb = sums.part.bufferFor('norm');
  const u = new ArrayBuffer(32);
  new Uint32Array(u, 0, 5).set([g.s, g.cg, g.c, g.nrep, sums.p]);
  new Float32Array(u, 20, 1)[0] = 1 / Math.max(g.count, 1);
  new Uint32Array(u, 24, 1)[0] = Math.max(g.wmod, 1);
  const outs = [ks, db, dw].map((t, i) => (t ?? spare[i]!).bufferFor('norm'));
  sums.part.runtime.dispatch(gradFoldKernel, { WG, HAS_W: w ? 1 : 0 }, [pb, w ? w.bufferFor('norm') : pb, ...outs], new Uint8Array(u), wgGrid(n));
  for (const t of spare) t?.dispose();
  return { ks, db, dw };
}

/**
 * dx = invstd * (g * w - k1 - xhat * k2) over the rows of `g`; with ks null (fixed statistics)
 * dx = invstd * g * w. g = gy, or with `mask` (a fused ReLU's saved output) gy where mask > 0;
 * `dr`, when given (x's shape), receives that g in the same pass: the fused residual's gradient.
 */
export function normApplyGrad(
  x: Tensor,
  gy: Tensor,
  stats: Tensor,
  ks: Tensor | null,
  w: Tensor | null,
  g: RowGeom,
  mask: Tensor | null = null,
  dr: Tensor | null = null,
): Tensor {
  if (!fits(x.runtime, x)) return splitApplyGrad(x, gy, stats, ks, w, g, mask, dr, normApplyGrad);
  const dx = empty(x.shape);
  const n = g.rows * lanes(g);
  if (n === 0) return dx;
  const sb = stats.bufferFor('norm');
  const xb = x.bufferFor('norm');
  // An unused output still needs a buffer of its own (a buffer is written through one binding only).
  const spare = dr ? null : empty([4]);
  const bufs = [
    xb,
    gy.bufferFor('norm'),
    sb,
    ks ? ks.bufferFor('norm') : sb,
    w ? w.bufferFor('norm') : sb,
    mask ? mask.bufferFor('norm') : xb,
    dx.bufferFor('norm'),
    (dr ?? spare!).bufferFor('norm'),
  ];
  const consts = { WG, HAS_W: w ? 1 : 0, BATCH: ks ? 1 : 0, MASK: mask ? 1 : 0, WRITE_R: dr ? 1 : 0 };
  const g4 = rows4(g);
  if (g4) dx.runtime.dispatch(applyGrad4Kernel, consts, bufs, applyUniform(g4), wgGrid(g4.rows * lanes(g4)));
  else dx.runtime.dispatch(applyGradKernel, { ...consts, AFF_COL: g.affCol ? 1 : 0 }, bufs, applyUniform(g), wgGrid(n));
  spare?.dispose();
  return dx;
}
