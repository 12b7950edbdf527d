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
 * Batch norm's fused epilogue y = relu(bn(x) + r) first turns gy into dz = [y > 0] gy (the mask
 * read from the saved output y), which is d r and the gy of the rules above.
 */
import { ArgumentError, ShapeError } from '../errors.js';
import { isGradEnabled, record } from '../autograd/tape.js';
import { empty } from '../tensor/creation.js';
import { normAxis, sameShape, sizeOf, type Shape } from '../tensor/shape.js';
import type { Tensor } from '../tensor/tensor.js';
import { incrementCounter } from './kernels/counter.js';
import { l2NormalizeBackward, l2NormalizeForward } from './kernels/l2-normalize.js';
import { foldConvBatchNorm } from './kernels/norm-fold.js';
import { binary } from './kernels/elementwise.js';
import {
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
import { requireF32 } from './kernels/util.js';

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
  /** [x, weight?, bias?, residual?] and the positions of weight, bias and residual in it (-1 when absent). */
  inputs: readonly Tensor[];
  wi: number;
  bi: number;
  ri: number;
  /** The output of a fused ReLU (its gradient mask), else null. */
  relu: Tensor | null;
}

/**
 * The shared backward of batch and group norm: per-row sums of (gy, gy * xhat), folded into the
 * group coefficients (when `batch` and dx is wanted) and the channel sums dw, db, then dx from the
 * fused elementwise kernel. A fused ReLU's mask is applied inside those passes (or, with
 * the runtime's normFoldMask off, once up front); the masked gy is the residual's gradient, written by the
 * dx pass. Returns the gradients in input order.
 */
function rowNormBackward(gyIn: Tensor, needs: readonly boolean[], a: RowNormGrad): (Tensor | null)[] {
  const wantDx = needs[0]!;
  const wantW = a.wi >= 0 && needs[a.wi]!;
  const wantB = a.bi >= 0 && needs[a.bi]!;
  const wantR = a.ri >= 0 && needs[a.ri]!;
  // d relu(z) = [y > 0] dz, either inside the passes below (mask) or as one pass here (gy).
  const fold = a.relu !== null && a.x.runtime.kernelOptions.normFoldMask;
  const gy = a.relu && !fold ? binary('reluGrad', gyIn, a.relu) : gyIn;
  const mask = fold ? a.relu : null;
  // d residual = dz: gy itself without a ReLU, else the masked gy (from the dx pass when it runs).
  let dr: Tensor | null = null;
  if (wantR) dr = !mask ? gy : wantDx ? empty(a.x.shape) : binary('reluGrad', gyIn, mask);
  let ks: Tensor | null = null;
  let dw: Tensor | null = null;
  let db: Tensor | null = null;
  if ((a.batch && wantDx) || wantW || wantB) {
    const sums = normGradSums(a.x, gy, a.stats, a.sumsView, 0, 1, a.sdiv, null, mask);
    ({ ks, dw, db } = normGradFold(sums, a.weight, { ...a.fold, s: a.batch && wantDx ? a.fold.s : 0, c: wantW || wantB ? a.fold.c : 0 }));
    sums.part.dispose();
  }
  const res: (Tensor | null)[] = a.inputs.map(() => null);
  if (wantDx) res[0] = normApplyGrad(a.x, gy, a.stats, a.batch ? ks : null, a.weight, a.geom, mask, mask && dr ? dr : null);
  if (wantR) res[a.ri] = dr;
  if (gy !== gyIn && gy !== dr) gy.dispose();
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
  /** Fused epilogue: ReLU after the normalisation and the residual (default 'none'). */
  activation?: 'relu' | 'none';
  /** Fused epilogue: a tensor of the input's shape added before the activation. */
  residual?: Tensor | null;
  /** An i32 scalar counter (num_batches_tracked) incremented in place in training mode. */
  numBatchesTracked?: Tensor | null;
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
 *
 * Fused epilogue: `residual` (x's shape, ShapeError otherwise) and `activation: 'relu'` give
 * y = relu(bn(x) + residual) from the normalising pass itself, in training and eval mode, so a
 * ResNet block's add and ReLU cost no passes of their own. The gradients equal those of the
 * composition relu(add(batchNorm2d(x), residual)): the ReLU mask comes from the saved y (y > 0),
 * is applied inside the passes that read gy, and the masked gy, which is the residual's gradient,
 * is written by the dx pass. With `numBatchesTracked` (and running statistics) training mode also
 * adds 1 to that i32 counter in the statistics pass, as BatchNorm2d counts its forwards.
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
  const act = opts.activation ?? 'none';
  if (act !== 'relu' && act !== 'none') throw new ArgumentError(op, `activation must be 'relu' or 'none', got '${String(act)}'`);
  const res = opts.residual ?? null;
  if (res) {
    requireF32(op, res);
    res.storageFor(op);
    if (!sameShape(res.shape, x.shape)) throw new ShapeError(op, [x.shape, res.shape], `residual must have the input's shape [${x.shape.join(',')}]`);
  }
  const counter = opts.numBatchesTracked ?? null;
  if (counter && (counter.dtype !== 'i32' || counter.size !== 1)) {
    throw new ArgumentError(op, `numBatchesTracked must be an i32 tensor of one element, got ${counter.dtype} [${counter.shape.join(',')}]`);
  }
  if (training && counter && !rm) incrementCounter(counter);
  const view: RedView = { a: n, m: c, b: hw };
  const geom: RowGeom = { rows: n * c, l: hw, sdiv: 1, smod: Math.max(c, 1), c, affCol: false };
  const relu = act === 'relu';
  const { inputs, wi, bi } = affineInputs(x, weight, bias);
  const ri = res ? inputs.push(res) - 1 : -1;
  if (!training && x.runtime.kernelOptions.normEvalInline && !(isGradEnabled() && inputs.some((t) => t.requiresGrad))) {
    // Eval mode without a graph: the apply pass reads the running statistics itself.
    return normApply(x, { mean: rm!, variance: rv!, eps }, weight, bias, geom, { residual: res, relu });
  }
  const stats = training
    ? normStats(x, view, eps, rm && rv ? { mean: rm, variance: rv, momentum, counter } : null)
    : runningNormStats(rm!, rv!, eps);
  const y = normApply(x, stats, weight, bias, geom, { residual: res, relu });
  // Per-channel sums over (N, H, W); in eval mode only dw, db use them (the statistics are constants).
  const fold: FoldGeom = { s: c, cg: 1, c, nrep: 1, count, wmod: c };
  const grad: RowNormGrad = { x, stats, weight, geom, sumsView: view, sdiv: 1, fold, batch: training, inputs, wi, bi, ri, relu: relu ? y : null };
  const saved = [x, stats, ...(weight ? [weight] : []), ...(relu ? [y] : [])];
  const out = record(op, inputs, y, saved, (gy, needs) => rowNormBackward(gy, needs, grad));
  if (!out.requiresGrad) stats.dispose();
  return out;
}

/** Batch-norm parameters and running statistics for {@link foldBatchNorm2d}. */
export interface FoldedBatchNorm {
  weight: Tensor | null;
  bias: Tensor | null;
  runningMean: Tensor;
  runningVar: Tensor;
  /** Default 1e-5. */
  eps?: number;
}

/**
 * Eval-mode batch norm folded into the convolution before it: returns the weight and bias of one
 * convolution equal to batchNorm2d(conv2d(x, convWeight, convBias), eval mode): per output channel,
 * s = weight / sqrt(runningVar + eps), weight' = convWeight * s and bias' = bias + (convBias -
 * runningMean) * s, computed on the GPU in one small dispatch (so it follows parameter updates).
 * Run conv2d with them, and its fused residual and ReLU epilogue, for a whole conv-BN-ReLU(+add)
 * unit in one convolution. Nothing is recorded: use it only where no gradient is needed.
 */
export function foldBatchNorm2d(convWeight: Tensor, convBias: Tensor | null, bn: FoldedBatchNorm): { weight: Tensor; bias: Tensor } {
  const op = 'foldBatchNorm2d';
  requireF32(op, convWeight);
  convWeight.storageFor(op);
  if (convWeight.rank < 2) throw new ShapeError(op, [convWeight.shape], 'the conv weight must be [out, in, ...]');
  const o = [convWeight.shape[0]!];
  const eps = bn.eps ?? 1e-5;
  checkEps(op, eps);
  checkParam(op, 'conv bias', convBias, o, convWeight);
  checkParam(op, 'weight', bn.weight, o, convWeight);
  checkParam(op, 'bias', bn.bias, o, convWeight);
  checkParam(op, 'runningMean', bn.runningMean, o, convWeight);
  checkParam(op, 'runningVar', bn.runningVar, o, convWeight);
  return foldConvBatchNorm(convWeight, convBias, bn.weight, bn.bias, bn.runningMean, bn.runningVar, eps);
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
    ri: -1,
    relu: null,
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
