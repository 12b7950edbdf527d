/**
 * Raw normalisation kernels (shaders/norm.wgsl), no autograd. Batch, group and layer norm are the
 * same three steps over different views: split statistics over an [A, M, B] view (each m reduced
 * over all a and b), a fused normalise + affine pass over rows, and for the gradient a split
 * reduction of (gy, gy * xhat), a tiny fold into per-group coefficients and weight/bias gradients,
 * and one fused elementwise pass for dx. Batch norm's apply pass can also add a residual and
 * apply ReLU (its fused epilogue), its gradient passes then mask gy with the saved output, and
 * `foldConvBatchNorm` (norm-fold.ts) folds eval-mode batch norm into the convolution before it. See
 * src/ops/norm.ts for the views each op uses, and norm-descriptors.ts for the kernels' contracts.
 */
import { bindingsByName, packUniformBlock, type KernelDescriptor } from '../../gpu/kernel-descriptor.js';
import type { Runtime } from '../../gpu/runtime.js';
import { empty } from '../../tensor/creation.js';
import type { Tensor } from '../../tensor/tensor.js';
import { WG, wgGrid } from './util.js';
import { splitApply, splitApplyGrad, splitGradSums, splitPartials } from './norm-split.js';
import { reduce } from './reduce.js';
import { fits } from './split.js';
import { EVAL_STATS, GRAD_FOLD, NORM, NORM4, normKernel, STATS_FINAL, STATS_RUNNING } from './norm-descriptors.js';

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
 * Whether rows of `b` elements go through the vec4 kernels (shaders/norm-vec4.wgsl): they must come
 * in fours, and the runtime's `normVec4` switch must be on.
 */
function vec4Rows(rt: Runtime, b: number): boolean {
  return rt.kernelOptions.normVec4 && b % 4 === 0 && b > 0;
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

/** The uniform block (struct Red) of a split reduction under descriptor d. */
function redUniform(d: KernelDescriptor, s: Split, sa = 0, sm = 1, sdiv = 1): Uint8Array {
  return new Uint8Array(packUniformBlock(d, { a: s.a, m: s.m, b: s.b, sb: s.sb, ach: s.ach, ac: s.ac, sa, sm, sdiv, pad0: 0, pad1: 0, pad2: 0 }));
}

/** The uniform block (struct Final) of the per-group passes under descriptor d. */
function finalUniform(d: KernelDescriptor, m: number, p: number, eps: number, momentum: number): Uint8Array {
  return new Uint8Array(packUniformBlock(d, { m, p, eps, momentum }));
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
      normKernel(STATS_RUNNING),
      { WG, COUNT: counter ? 1 : 0 },
      bindingsByName(STATS_RUNNING, {
        sf_part: part.bufferFor('norm'),
        sf_stats: stats.bufferFor('norm'),
        sf_rmean: running.mean.bufferFor('batchNorm2d'),
        sf_rvar: running.variance.bufferFor('batchNorm2d'),
        sf_count: (counter ?? spare!).bufferFor('batchNorm2d'),
      }),
      finalUniform(STATS_RUNNING, m, p, eps, running.momentum),
      wgGrid(m),
    );
    spare?.dispose();
  } else {
    const bufs = bindingsByName(STATS_FINAL, { sf_part: part.bufferFor('norm'), sf_stats: stats.bufferFor('norm') });
    rt.dispatch(normKernel(STATS_FINAL), { WG }, bufs, finalUniform(STATS_FINAL, m, p, eps, 0), wgGrid(m));
  }
  part.dispose();
  return stats;
}

/** Partial (count, mean, M2) [M, P, 3] of x seen as [A, M, B] (x fits one binding), P <= maxP. */
function statsPartial(x: Tensor, v: RedView, maxP = Infinity): Tensor {
  const v4 = vec4Rows(x.runtime, v.b);
  const s = split(v4 ? { ...v, b: v.b / 4 } : v, v4, maxP);
  const part = empty([s.m, s.p, 3]);
  const d = (v4 ? NORM4 : NORM).statsPartial;
  const bufs = bindingsByName(d, { sp_x: x.bufferFor('norm'), sp_part: part.bufferFor('norm') });
  part.runtime.dispatch(normKernel(d), { WG }, bufs, redUniform(d, s), wgGrid(s.m * s.p));
  return part;
}

/** Statistics [C, 2] of (running mean, 1/sqrt(running var + eps)) for evaluation mode. */
export function runningNormStats(mean: Tensor, variance: Tensor, eps: number): Tensor {
  const c = mean.size;
  const mb = mean.bufferFor('batchNorm2d');
  const vb = variance.bufferFor('batchNorm2d');
  const stats = empty([c, 2]);
  if (c > 0) {
    const bufs = bindingsByName(EVAL_STATS, { es_rmean: mb, es_rvar: vb, es_stats: stats.bufferFor('batchNorm2d') });
    stats.runtime.dispatch(normKernel(EVAL_STATS), { WG }, bufs, finalUniform(EVAL_STATS, c, 0, eps, 0), wgGrid(c));
  }
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

/** The uniform block (struct Apply) of a row pass under descriptor d. */
function applyUniform(d: KernelDescriptor, g: RowGeom, eps = 0): Uint8Array {
  return new Uint8Array(packUniformBlock(d, { rows: g.rows, l: g.l, j: lanes(g), sdiv: g.sdiv, smod: g.smod, c: Math.max(g.c, 1), eps, pad0: 0 }));
}

/** `g` with its rows counted in vec4s when the vec4 row kernels apply on rt (per-row affine only), else null. */
function rows4(rt: Runtime, g: RowGeom): RowGeom | null {
  return !g.affCol && vec4Rows(rt, g.l) ? { ...g, l: g.l / 4 } : null;
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
  const g4 = rows4(x.runtime, g);
  const d = (g4 ? NORM4 : NORM).apply;
  const bufs = bindingsByName(d, {
    ap_x: xb,
    ap_stats: sb,
    ap_w: w ? w.bufferFor('norm') : sb,
    ap_b: b ? b.bufferFor('norm') : sb,
    ap_r: r ? r.bufferFor('norm') : xb,
    ap_rvar: inline ? inline.variance.bufferFor('norm') : sb,
    ap_y: y.bufferFor('norm'),
  });
  const consts = { WG, HAS_W: w ? 1 : 0, HAS_B: b ? 1 : 0, HAS_R: r ? 1 : 0, RELU: epi?.relu ? 1 : 0, EVAL_STATS: inline ? 1 : 0 };
  const eps = inline?.eps ?? 0;
  if (g4) y.runtime.dispatch(normKernel(d), consts, bufs, applyUniform(d, g4, eps), wgGrid(g4.rows * lanes(g4)));
  else y.runtime.dispatch(normKernel(d), { ...consts, AFF_COL: g.affCol ? 1 : 0 }, bufs, applyUniform(d, g, eps), wgGrid(n));
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
  const v4 = !wCol && vec4Rows(x.runtime, v.b);
  const s = v4 ? split({ ...v, b: v.b / 4 }, true) : split(v);
  const part = empty([s.m, s.p, 2]);
  const sb = stats.bufferFor('norm');
  const d = (v4 ? NORM4 : NORM).gradPartial;
  const bufs = bindingsByName(d, {
    gp_x: xb,
    gp_gy: gy.bufferFor('norm'),
    gp_stats: sb,
    gp_w: wCol ? wCol.bufferFor('norm') : sb,
    gp_y: mask ? mask.bufferFor('norm') : xb,
    gp_part: part.bufferFor('norm'),
  });
  // The vec4 kernels never weight by column (W_COL): v4 needs !wCol.
  const consts: Record<string, number> = v4 ? { WG, MASK: mask ? 1 : 0 } : { WG, W_COL: wCol ? 1 : 0, MASK: mask ? 1 : 0 };
  part.runtime.dispatch(normKernel(d), consts, bufs, redUniform(d, s, sa, sm, sdiv), wgGrid(s.m * s.p));
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
  const u = packUniformBlock(GRAD_FOLD, { s: g.s, cg: g.cg, c: g.c, nrep: g.nrep, p: sums.p, inv_cnt: 1 / Math.max(g.count, 1), wmod: Math.max(g.wmod, 1), pad0: 0 });
  const [gfKs, gfDb, gfDw] = [ks, db, dw].map((t, i) => (t ?? spare[i]!).bufferFor('norm'));
  const bufs = bindingsByName(GRAD_FOLD, { gf_part: pb, gf_w: w ? w.bufferFor('norm') : pb, gf_ks: gfKs!, gf_db: gfDb!, gf_dw: gfDw! });
  sums.part.runtime.dispatch(normKernel(GRAD_FOLD), { WG, HAS_W: w ? 1 : 0 }, bufs, new Uint8Array(u), wgGrid(n));
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
  const g4 = rows4(x.runtime, g);
  const d = (g4 ? NORM4 : NORM).applyGrad;
  const bufs = bindingsByName(d, {
    ag_x: xb,
    ag_gy: gy.bufferFor('norm'),
    ag_stats: sb,
    ag_ks: ks ? ks.bufferFor('norm') : sb,
    ag_w: w ? w.bufferFor('norm') : sb,
    ag_y: mask ? mask.bufferFor('norm') : xb,
    ag_dx: dx.bufferFor('norm'),
    ag_dr: (dr ?? spare!).bufferFor('norm'),
  });
  const consts = { WG, HAS_W: w ? 1 : 0, BATCH: ks ? 1 : 0, MASK: mask ? 1 : 0, WRITE_R: dr ? 1 : 0 };
  if (g4) dx.runtime.dispatch(normKernel(d), consts, bufs, applyUniform(d, g4), wgGrid(g4.rows * lanes(g4)));
  else dx.runtime.dispatch(normKernel(d), { ...consts, AFF_COL: g.affCol ? 1 : 0 }, bufs, applyUniform(d, g), wgGrid(n));
  spare?.dispose();
  return dx;
}
