/**
 * Differentiable normalisation (PyTorch semantics, NCHW): batchNorm2d, groupNorm, layerNorm and
 * l2Normalize (F.normalize), each beside its backward rule. All three feature norms run the same
 * kernels (src/ops/kernels/norm.ts) over different views:
 *
 *   op          statistics view [A, M, B]   rows x length (apply)   stats of row r     affine index
 *   batchNorm   [N, C, HW]                  N*C x HW                r % C              r % C
 *   groupNorm   [1, N*G, Cg*HW]             N*C x HW                r / Cg             r % C
 *   layerNorm   [1, R, D]                   R x D                   r                  column
 *
 * With xhat = (x - mean) * invstd, y = xhat * w + b, and dyhat = gy * w, the backward rules are
 *   d x = invstd * (dyhat - mean_G(dyhat) - xhat * mean_G(dyhat * xhat))   (batch statistics)
 *   d x = invstd * dyhat                                                  (fixed statistics: eval)
 *   d w = sum gy * xhat,  d b = sum gy                                     (over all but the affine dims)
 */
import { ArgumentError, ShapeError } from '../errors.js';
import { record } from '../autograd/tape.js';
import { normAxis, sameShape, sizeOf, type Shape } from '../tensor/shape.js';
import type { Tensor } from '../tensor/tensor.js';
import {
  l2NormalizeBackward,
  l2NormalizeForward,
  normApply,
  normApplyGrad,
  normGradFold,
  normGradSums,
  normStats,
  runningNormStats,
  type FoldGeom,
  type RedView,
  type RowGeom,
} from './kernels/norm.js';
import { requireF32 } from './util.js';

/** Throws unless `t` (when given) is an f32 tensor of shape `shape`. */
function checkParam(op: string, name: string, t: Tensor | null | undefined, shape: Shape, x: Tensor): void {
  if (!t) return;
  requireF32(op, t);
  t.storageFor(op);
  if (!sameShape(t.shape, shape)) {
    throw new ShapeError(op, [t.shape, x.shape], `${name} must have shape [${shape.join(',')}] to match the input`);
  }
}

function checkEps(op: string, eps: number): void {
  if (!(eps >= 0) || !Number.isFinite(eps)) throw new ArgumentError(op, `eps must be a finite number >= 0, got ${eps}`);
}

/** Inputs list [x, weight?, bias?] and the index of weight and bias in it (-1 when absent). */
function affineInputs(x: Tensor, weight: Tensor | null, bias: Tensor | null): { inputs: Tensor[]; wi: number; bi: number } {
  const inputs = [x];
  const wi = weight ? inputs.push(weight) - 1 : -1;
  const bi = bias ? inputs.push(bias) - 1 : -1;
  return { inputs, wi, bi };
}

/** What the shared backward of batch and group norm needs besides gy. */
interface RowNormGrad {
  x: Tensor;
  stats: Tensor;
  weight: Tensor | null;
  /** The rows the forward pass normalised. */
  geom: RowGeom;
  /** A view whose m are rows of one statistics group and one affine channel, and its stats divisor. */
  sumsView: RedView;
  sdiv: number;
  /** How the per-row sums fold into group coefficients and channel sums. */
  fold: FoldGeom;
  /** Batch statistics (training, group norm): dx includes the terms through mean and variance. */
  batch: boolean;
  /** [x, weight?, bias?] and the positions of weight and bias in it (-1 when absent). */
  inputs: readonly Tensor[];
  wi: number;
  bi: number;
}

/**
 * The shared backward of batch and group norm: per-row sums of (gy, gy * xhat), folded into the
 * group coefficients (when `batch` and dx is wanted) and the channel sums dw, db, then dx from the
 * fused elementwise kernel. Returns the gradients in input order.
 */
function rowNormBackward(gy: Tensor, needs: readonly boolean[], a: RowNormGrad): (Tensor | null)[] {
  const wantDx = needs[0]!;
  const wantW = a.wi >= 0 && needs[a.wi]!;
  const wantB = a.bi >= 0 && needs[a.bi]!;
  let ks: Tensor | null = null;
  let dw: Tensor | null = null;
  let db: Tensor | null = null;
  if ((a.batch && wantDx) || wantW || wantB) {
    const sums = normGradSums(a.x, gy, a.stats, a.sumsView, 0, 1, a.sdiv, null);
    ({ ks, dw, db } = normGradFold(sums, a.weight, { ...a.fold, s: a.batch && wantDx ? a.fold.s : 0, c: wantW || wantB ? a.fold.c : 0 }));
    sums.part.dispose();
  }
  const res: (Tensor | null)[] = a.inputs.map(() => null);
  if (wantDx) res[0] = normApplyGrad(a.x, gy, a.stats, a.batch ? ks : null, a.weight, a.geom);
  ks?.dispose();
  if (wantW) res[a.wi] = dw;
  else dw?.dispose();
  if (wantB) res[a.bi] = db;
  else db?.dispose();
  return res;
}

/** Options of {@link batchNorm2d}. */
export interface BatchNormOptions {
  /** Running mean [C]; updated in place in training mode, used for normalising in eval mode. */
  runningMean?: Tensor | null;
  /** Running variance [C]; updated in place (with the unbiased batch variance) in training mode. */
  runningVar?: Tensor | null;
  /** Normalise with batch statistics (default false, as torch.nn.functional.batch_norm). */
  training?: boolean;
  /** Weight of the new batch statistic in the running update, in [0, 1] (default 0.1). */
  momentum?: number;
  /** Added to the variance before the square root (default 1e-5). */
  eps?: number;
}

/**
 * Batch normalisation of x [N, C, H, W] per channel, as torch.nn.functional.batch_norm. Training
 * mode normalises with the batch mean and biased batch variance over (N, H, W) and, when running
 * statistics are given, overwrites their contents on the GPU (no readback, in stream order) with
 * r = (1 - momentum) r + momentum * s, using the unbiased variance for runningVar; the tensors keep
 * their identity, so a module's buffers stay the same objects. Eval mode normalises with the running
 * statistics (required there), which the backward pass then treats as constants. weight and bias
 * [C] are optional. Training needs more than one value per channel (ShapeError otherwise, as
 * PyTorch); runningMean and runningVar must be two different tensors.
 */
export function batchNorm2d(x: Tensor, weight: Tensor | null, bias: Tensor | null, opts: BatchNormOptions = {}): Tensor {
  const op = 'batchNorm2d';
  requireF32(op, x);
  x.storageFor(op);
  if (x.rank !== 4) throw new ShapeError(op, [x.shape], 'input must be NCHW (rank 4)');
  const [n, c, h, w] = x.shape as [number, number, number, number];
  const training = opts.training ?? false;
  const momentum = opts.momentum ?? 0.1;
  const eps = opts.eps ?? 1e-5;
  checkEps(op, eps);
  if (!(momentum >= 0 && momentum <= 1)) throw new ArgumentError(op, `momentum must be in [0, 1], got ${momentum}`);
  checkParam(op, 'weight', weight, [c], x);
  checkParam(op, 'bias', bias, [c], x);
  const rm = opts.runningMean ?? null;
  const rv = opts.runningVar ?? null;
  checkParam(op, 'runningMean', rm, [c], x);
  checkParam(op, 'runningVar', rv, [c], x);
  if ((rm === null) !== (rv === null)) throw new ArgumentError(op, 'pass both runningMean and runningVar, or neither');
  if (!training && !rm) throw new ArgumentError(op, 'evaluation mode (training: false) needs runningMean and runningVar');
  if (rm && rv && rm.bufferFor(op) === rv.bufferFor(op)) {
    throw new ArgumentError(op, 'runningMean and runningVar must be different tensors (both are updated in place)');
  }
  const hw = h * w;
  const count = n * hw;
  if (training && count <= 1) {
    throw new ShapeError(op, [x.shape], `expected more than 1 value per channel when training (got ${count})`);
  }
  const view: RedView = { a: n, m: c, b: hw };
  const stats = training
    ? normStats(x, view, eps, rm && rv ? { mean: rm, variance: rv, momentum } : null)
    : runningNormStats(rm!, rv!, eps);
  const geom: RowGeom = { rows: n * c, l: hw, sdiv: 1, smod: Math.max(c, 1), c, affCol: false };
  const y = normApply(x, stats, weight, bias, geom);
  const { inputs, wi, bi } = affineInputs(x, weight, bias);
  // Per-channel sums over (N, H, W); in eval mode only dw, db use them (the statistics are constants).
  const fold: FoldGeom = { s: c, cg: 1, c, nrep: 1, count, wmod: c };
  const grad: RowNormGrad = { x, stats, weight, geom, sumsView: view, sdiv: 1, fold, batch: training, inputs, wi, bi };
  const out = record(op, inputs, y, [x, stats, ...(weight ? [weight] : [])], (gy, needs) => rowNormBackward(gy, needs, grad));
  if (!out.requiresGrad) stats.dispose();
  return out;
}

/**
 * Group normalisation of x [N, C, ...] as torch.nn.functional.group_norm: the C channels are split
 * into `numGroups` groups and each (sample, group) is normalised over its channels and all spatial
 * positions (biased variance), then scaled and shifted per channel by weight and bias [C] (optional).
 */
export function groupNorm(x: Tensor, numGroups: number, weight: Tensor | null = null, bias: Tensor | null = null, eps = 1e-5): Tensor {
  const op = 'groupNorm';
  requireF32(op, x);
  x.storageFor(op);
  if (x.rank < 2) throw new ShapeError(op, [x.shape], 'input must be [N, C, ...] (rank >= 2)');
  checkEps(op, eps);
  const [n, c] = x.shape as [number, number];
  if (!Number.isInteger(numGroups) || numGroups < 1) throw new ArgumentError(op, `numGroups must be a positive integer, got ${numGroups}`);
  if (c % numGroups !== 0) throw new ShapeError(op, [x.shape], `${c} channels are not divisible into ${numGroups} groups`);
  checkParam(op, 'weight', weight, [c], x);
  checkParam(op, 'bias', bias, [c], x);
  const hw = sizeOf(x.shape.slice(2));
  const cg = c / numGroups;
  const groups = n * numGroups;
  const stats = normStats(x, { a: 1, m: groups, b: cg * hw }, eps);
  const geom: RowGeom = { rows: n * c, l: hw, sdiv: Math.max(cg, 1), smod: Math.max(groups, 1), c, affCol: false };
  const y = normApply(x, stats, weight, bias, geom);
  const { inputs, wi, bi } = affineInputs(x, weight, bias);
  // Per-(n, c) row sums, folded into per-(n, group) coefficients and per-channel dw, db.
  const grad: RowNormGrad = {
    x,
    stats,
    weight,
    geom,
    sumsView: { a: 1, m: n * c, b: hw },
    sdiv: Math.max(cg, 1),
    fold: { s: groups, cg, c, nrep: n, count: cg * hw, wmod: c },
    batch: true,
    inputs,
    wi,
    bi,
  };
  const out = record(op, inputs, y, [x, stats, ...(weight ? [weight] : [])], (gy, needs) => rowNormBackward(gy, needs, grad));
  if (!out.requiresGrad) stats.dispose();
  return out;
}

/**
 * Layer normalisation as torch.nn.functional.layer_norm: x is normalised over its last dims, which
 * must equal `normalizedShape` (biased variance), then multiplied elementwise by weight and shifted
 * by bias, both of shape `normalizedShape` (optional).
 */
export function layerNorm(
  x: Tensor,
  normalizedShape: number | readonly number[],
  weight: Tensor | null = null,
  bias: Tensor | null = null,
  eps = 1e-5,
): Tensor {
  const op = 'layerNorm';
  requireF32(op, x);
  x.storageFor(op);
  checkEps(op, eps);
  const ns = typeof normalizedShape === 'number' ? [normalizedShape] : [...normalizedShape];
  const tail = x.shape.slice(x.rank - ns.length);
  if (ns.length === 0 || ns.length > x.rank || !sameShape(tail, ns)) {
    throw new ShapeError(op, [x.shape, ns], `the last dims of the input must equal normalizedShape [${ns.join(',')}]`);
  }
  checkParam(op, 'weight', weight, ns, x);
  checkParam(op, 'bias', bias, ns, x);
  const d = sizeOf(ns);
  const r = d === 0 ? 0 : x.size / d;
  const stats = normStats(x, { a: 1, m: r, b: d }, eps);
  const geom: RowGeom = { rows: r, l: d, sdiv: 1, smod: Math.max(r, 1), c: 1, affCol: true };
  const y = normApply(x, stats, weight, bias, geom);
  const { inputs, wi, bi } = affineInputs(x, weight, bias);
  const out = record(op, inputs, y, [x, stats, ...(weight ? [weight] : [])], (gy, needs) => {
    const res: (Tensor | null)[] = inputs.map(() => null);
    if (needs[0]) {
      // Per-row means of (gy * w, gy * w * xhat): the weight varies along the row, so it is applied
      // inside the reduction.
      const sums = normGradSums(x, gy, stats, { a: 1, m: r, b: d }, 0, 1, 1, weight);
      const { ks } = normGradFold(sums, null, { s: r, cg: 1, c: 0, nrep: 0, count: d, wmod: 1 });
      sums.part.dispose();
      res[0] = normApplyGrad(x, gy, stats, ks, weight, geom);
      ks?.dispose();
    }
    const wantW = wi >= 0 && needs[wi]!;
    const wantB = bi >= 0 && needs[bi]!;
    if (wantW || wantB) {
      // Column sums over the rows: x seen as [R, D, 1], the statistics index is the row a.
      const sums = normGradSums(x, gy, stats, { a: r, m: d, b: 1 }, 1, 0, 1, null);
      const { db, dw } = normGradFold(sums, null, { s: 0, cg: 1, c: d, nrep: 1, count: 1, wmod: 1 });
      sums.part.dispose();
      if (wantW) res[wi] = dw!.view(ns);
      if (wantB) res[bi] = db!.view(ns);
      dw?.dispose();
      db?.dispose();
    }
    return res;
  });
  if (!out.requiresGrad) stats.dispose();
  return out;
}

/**
 * x / max(||x||_2, eps) along `axis` (default 1, the channels of NCHW), as
 * torch.nn.functional.normalize with p = 2. Where the norm is below eps the denominator is the
 * constant eps, so the gradient there is gy / eps (PyTorch's clamp_min gradient).
 */
export function l2Normalize(x: Tensor, axis = 1, eps = 1e-12): Tensor {
  const op = 'l2Normalize';
  requireF32(op, x);
  x.storageFor(op);
  checkEps(op, eps);
  const a = normAxis(op, axis, x.shape);
  const { y, norm } = l2NormalizeForward(x, a, eps);
  // d (x / |x|) = (dx - y <y, dx>) / |x|
  const out = record(op, [x], y, [y, norm], (gy) => [l2NormalizeBackward(gy, y, norm, a, eps)]);
  if (!out.requiresGrad) norm.dispose();
  return out;
}
