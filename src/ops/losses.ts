/**
 * Dense-prediction losses with PyTorch semantics: crossEntropy (segmentation, NCHW logits and
 * i32 labels with an ignore index), l1Loss and mseLoss with an optional validity mask (depth),
 * bceWithLogits (edges, saliency) and normalLoss (surface normals). Each is a fused kernel pair
 * (shaders/loss.wgsl): one forward and one backward kernel per pixel for cross-entropy and the
 * cosine normal loss, one per element for the pointwise losses (masks and weights read broadcast);
 * the L1 normal loss composes l2Normalize with l1Loss.
 *
 * Reductions: 'none' keeps one value per element (pixel for crossEntropy), 'sum' adds them, 'mean'
 * divides by the number of elements, except where a definition below says otherwise (class weights,
 * masks). Every mean is computed on the GPU: nothing here reads back.
 */
import { ArgumentError, DTypeError, LabelError, ShapeError } from '../errors.js';
import { record } from '../autograd/tape.js';
import { broadcastShapes, sameShape, sizeOf, type Shape } from '../tensor/shape.js';
import type { Tensor } from '../tensor/tensor.js';
import * as k from './kernels/index.js';
import {
  broadcastGroups,
  cosineNormalBackward,
  cosineNormalForward,
  crossEntropyBackward,
  crossEntropyForward,
  labelFlags,
  pointwiseLossBackward,
  pointwiseLossForward,
  ratio,
  type CeGeom,
  type PointwiseExtras,
  type PointwiseLoss,
} from './kernels/loss.js';
import { l2Normalize } from './norm.js';
import { requireF32 } from './kernels/util.js';

/** How a loss reduces its per-element values. */
export type Reduction = 'mean' | 'sum' | 'none';

function checkReduction(op: string, r: Reduction): void {
  if (r !== 'mean' && r !== 'sum' && r !== 'none') throw new ArgumentError(op, `reduction must be 'mean', 'sum' or 'none', got '${String(r)}'`);
}


/** Options of {@link crossEntropy}. */
export interface CrossEntropyOptions {
  /** Pixels with this label add nothing to the loss, the gradient or the mean's denominator (default 255). */
  ignoreIndex?: number;
  /** Per-class weights [C] (a rescaling of each class's loss, as PyTorch's `weight`). */
  weight?: Tensor | null;
  /** Default 'mean'. */
  reduction?: Reduction;
}

function ceGeom(op: string, logits: Tensor, target: Tensor): { g: CeGeom; pixShape: Shape } {
  requireF32(op, logits);
  if (target.dtype !== 'i32') {
    throw new DTypeError(op, `target must hold i32 class indices, got ${target.dtype}; cast() the labels to 'i32'`);
  }
  logits.storageFor(op);
  target.storageFor(op);
  if (logits.rank === 0) throw new ShapeError(op, [logits.shape], 'logits must be [C] or [N, C, ...]');
  const unbatched = logits.rank === 1;
  const pixShape = unbatched ? [] : [logits.shape[0]!, ...logits.shape.slice(2)];
  if (!sameShape(target.shape, pixShape)) {
    throw new ShapeError(op, [logits.shape, target.shape], `target must have shape [${pixShape.join(',')}] (the logits without the class dim)`);
  }
  const c = logits.shape[unbatched ? 0 : 1]!;
  const n = unbatched ? 1 : logits.shape[0]!;
  return { g: { n, c, s: unbatched ? 1 : sizeOf(logits.shape.slice(2)) }, pixShape };
}

/**
 * Cross-entropy between logits [N, C, d1, ...] (or [N, C], or [C]) and i32 class labels
 * [N, d1, ...], as torch.nn.functional.cross_entropy: a numerically stable log-softmax over C, loss
 * = weight[t] * (logsumexp(x) - x[t]) per pixel. 'mean' divides by the sum of the weights of the
 * non-ignored pixels (their count without weights), so all-ignored gives NaN (0/0), as PyTorch;
 * 'none' gives 0 at ignored pixels. NaN in the logits of a counted pixel propagates to the loss.
 *
 * Labels outside [0, C) (other than ignoreIndex) cannot be detected without a readback, which this
 * function never does; instead such a pixel makes its loss, its weight and its logits' gradient NaN,
 * so any reduction is NaN: the step is visibly poisoned, never silently trained on a wrong class
 * (PyTorch would raise). Call {@link validateLabels} (async) once per dataset or batch to get a
 * {@link LabelError} that names the first bad label, or use {@link crossEntropyChecked}.
 */
export function crossEntropy(logits: Tensor, target: Tensor, opts: CrossEntropyOptions = {}): Tensor {
  const op = 'crossEntropy';
  const { g, pixShape } = ceGeom(op, logits, target);
  const reduction = opts.reduction ?? 'mean';
  checkReduction(op, reduction);
  const ignore = opts.ignoreIndex ?? 255;
  if (!Number.isInteger(ignore)) throw new ArgumentError(op, `ignoreIndex must be an integer, got ${ignore}`);
  const weight = opts.weight ?? null;
  if (weight) {
    requireF32(op, weight);
    weight.storageFor(op);
    if (!sameShape(weight.shape, [g.c])) throw new ShapeError(op, [weight.shape, logits.shape], `weight must have shape [${g.c}] (one per class)`);
  }
  const mean = reduction === 'mean';
  const { loss, lse } = crossEntropyForward(logits, target, weight, g, ignore, mean);
  let y: Tensor;
  let sums: Tensor | null = null;
  if (reduction === 'none') y = loss.view(pixShape);
  else if (reduction === 'sum') y = k.reduce('sum', loss, [0]);
  else {
    sums = k.reduce('sum', loss, [1]);
    // The weights may be negative, so the denominator is not clamped: -inf is no floor.
    y = ratio(sums, 0, sums, 1, -Infinity);
  }
  loss.dispose();
  const saved = [logits, target, lse, ...(weight ? [weight] : []), ...(sums ? [sums] : [])];
  // d/dx = g * w[t] * (softmax(x) - onehot(t)), g = gy (/ sum of weights for 'mean')
  const out = record(op, [logits], y, saved, (gy) => {
    const gs = sums ? ratio(gy, 0, sums, 1, -Infinity) : gy;
    const dx = crossEntropyBackward(logits, target, weight, lse, gs, reduction === 'none', g, ignore);
    if (gs !== gy) gs.dispose();
    return [dx];
  });
  if (!out.requiresGrad) {
    lse.dispose();
    sums?.dispose();
  }
  return out;
}

/**
 * Checks on the GPU that every label is in [0, numClasses) or equals ignoreIndex (default 255) and
 * throws a {@link LabelError} (count, first offending multi-index and value) otherwise. It reads one
 * number back (and, only on failure, the labels to locate the first bad one), so it waits for the
 * GPU: call it where a check is wanted, e.g. once per loaded batch, not inside the training step.
 */
export async function validateLabels(target: Tensor, numClasses: number, ignoreIndex = 255): Promise<void> {
  const op = 'validateLabels';
  if (target.dtype !== 'i32') throw new DTypeError(op, `labels must be i32, got ${target.dtype}`);
  if (!Number.isInteger(numClasses) || numClasses < 1) throw new ArgumentError(op, `numClasses must be a positive integer, got ${numClasses}`);
  target.storageFor(op);
  if (target.size === 0) return;
  const flags = labelFlags(target, numClasses, ignoreIndex);
  const flat = flags.view([flags.size]);
  flags.dispose();
  const count = k.reduce('sum', flat, [0]);
  flat.dispose();
  const n = (await count.data())[0]!;
  count.dispose();
  if (n === 0) return;
  const labels = await target.data();
  let at = 0;
  while (at < labels.length && (labels[at] === ignoreIndex || (labels[at]! >= 0 && labels[at]! < numClasses))) at++;
  const index: number[] = [];
  let rem = at;
  for (let d = target.rank - 1; d >= 0; d--) {
    index.unshift(rem % target.shape[d]!);
    rem = Math.floor(rem / target.shape[d]!);
  }
  throw new LabelError('crossEntropy', n, index, labels[at]!, numClasses, ignoreIndex);
}

/**
 * {@link crossEntropy} after {@link validateLabels}: throws a LabelError instead of returning a NaN
 * loss when a label is out of range. It waits for the GPU (one readback), so it suits evaluation
 * and debugging more than the training step.
 */
export async function crossEntropyChecked(logits: Tensor, target: Tensor, opts: CrossEntropyOptions = {}): Promise<Tensor> {
  const { g } = ceGeom('crossEntropy', logits, target);
  await validateLabels(target, g.c, opts.ignoreIndex ?? 255);
  return crossEntropy(logits, target, opts);
}

/** Throws unless `t` is f32 and broadcasts to exactly `shape` (it may not enlarge it). */
function checkBroadcast(op: string, name: string, t: Tensor, shape: Shape): void {
  requireF32(op, t);
  t.storageFor(op);
  let out: number[] = [];
  try {
    out = broadcastShapes(op, t.shape, shape);
  } catch (e) {
    if (!(e instanceof ShapeError)) throw e;
  }
  if (!sameShape(out, shape)) {
    throw new ShapeError(op, [t.shape, shape], `${name} is not broadcastable to the input's shape [${shape.join(',')}]`);
  }
}

/**
 * `t` checked to broadcast to `shape`: t itself when the loss kernel can read it broadcast (at most
 * three alternating kept/broadcast dim groups, e.g. [N, 1, H, W] or [C, 1, 1] against [N, C, H, W]),
 * else an expanded copy.
 */
function spreadTo(op: string, name: string, t: Tensor, shape: Shape): Tensor {
  checkBroadcast(op, name, t, shape);
  return broadcastGroups(t.shape, shape) ? t : k.expand(t, shape);
}

interface PointwiseArgs {
  mask?: Tensor | null;
  weight?: Tensor | null;
  posWeight?: number | Tensor | null;
  reduction?: Reduction;
}

/** The shared body of l1Loss, mseLoss and bceWithLogits. */
function pointwise(op: string, kind: PointwiseLoss, x: Tensor, t: Tensor, a: PointwiseArgs): Tensor {
  requireF32(op, x, t);
  x.storageFor(op);
  t.storageFor(op);
  if (!sameShape(x.shape, t.shape)) throw new ShapeError(op, [x.shape, t.shape], 'input and target must have the same shape');
  const reduction = a.reduction ?? 'mean';
  checkReduction(op, reduction);
  const temps: Tensor[] = [];
  const spread = (name: string, v: Tensor | null | undefined): Tensor | null => {
    if (!v) return null;
    const s = spreadTo(op, name, v, x.shape);
    if (s !== v) temps.push(s);
    return s;
  };
  let e: PointwiseExtras;
  try {
    const pw = a.posWeight ?? null;
    if (typeof pw === 'number' && !Number.isFinite(pw)) throw new ArgumentError(op, `posWeight must be finite, got ${pw}`);
    e = { mask: spread('mask', a.mask), weight: spread('weight', a.weight), posWeight: typeof pw === 'number' ? pw : spread('posWeight', pw) };
  } catch (err) {
    for (const s of temps) s.dispose();
    throw err;
  }
  const n = x.size;
  const masked = reduction === 'mean' && e.mask !== null;
  const out = pointwiseLossForward(kind, x, t, e, masked);
  let y: Tensor;
  let sums: Tensor | null = null;
  if (reduction === 'none') y = out.view(x.shape);
  else if (masked) {
    sums = k.reduce('sum', out, [1]);
    y = ratio(sums, 0, sums, 1, 1); // sum(mask * loss) / max(sum(mask), 1)
  } else y = k.reduce('sum', out, [0], reduction === 'mean' ? 1 / n : 1);
  out.dispose();
  const saved = [x, t, ...temps, ...[e.mask, e.weight].filter((v): v is Tensor => v !== null), ...(sums ? [sums] : [])];
  if (e.posWeight !== null && typeof e.posWeight !== 'number') saved.push(e.posWeight);
  const result = record(op, [x, t], y, saved, (gy, needs) => {
    const g = sums ? ratio(gy, 0, sums, 1, 1) : gy;
    const scale = reduction === 'mean' && !sums ? 1 / n : 1;
    const { dx, dt } = pointwiseLossBackward(kind, x, t, e, g, reduction === 'none', scale, needs[1]!);
    if (g !== gy) g.dispose();
    if (!needs[0]) dx.dispose();
    return [needs[0] ? dx : null, dt];
  });
  if (!result.requiresGrad) {
    for (const s of temps) s.dispose();
    sums?.dispose();
  }
  return result;
}

/** Options of {@link l1Loss} and {@link mseLoss}. */
export interface RegressionLossOptions {
  /**
   * Validity mask (1 valid, 0 invalid; other values act as weights), f32, broadcastable to the
   * input (e.g. [N, 1, H, W] for [N, C, H, W]). 'mean' becomes the masked mean
   * sum(mask * loss) / max(sum(mask), 1), with the mask counted after broadcasting; 'sum' and
   * 'none' multiply by the mask. A masked-out element contributes exactly 0, even where the input
   * or target is NaN or infinite (invalid depth pixels often are).
   */
  mask?: Tensor | null;
  /** Default 'mean'. */
  reduction?: Reduction;
}

/**
 * Mean absolute error |pred - target| (torch.nn.functional.l1_loss), with an optional validity mask
 * (see {@link RegressionLossOptions}). Gradients flow to pred and target; the gradient at
 * pred == target is 0, as PyTorch.
 */
export function l1Loss(pred: Tensor, target: Tensor, opts: RegressionLossOptions = {}): Tensor {
  return pointwise('l1Loss', 'l1', pred, target, opts);
}

/**
 * Mean squared error (pred - target)^2 (torch.nn.functional.mse_loss), with an optional validity
 * mask (see {@link RegressionLossOptions}). Gradients flow to pred and target.
 */
export function mseLoss(pred: Tensor, target: Tensor, opts: RegressionLossOptions = {}): Tensor {
  return pointwise('mseLoss', 'mse', pred, target, opts);
}

/** Options of {@link bceWithLogits}. */
export interface BceWithLogitsOptions {
  /** Weight of the positive term: a number, or a tensor broadcastable to the input (e.g. [C, 1, 1]). */
  posWeight?: number | Tensor | null;
  /** Per-element rescaling weight, broadcastable to the input. */
  weight?: Tensor | null;
  /** Default 'mean' (over all elements, whatever the weights). */
  reduction?: Reduction;
}

/**
 * Binary cross-entropy on logits, as torch.nn.functional.binary_cross_entropy_with_logits:
 * weight * [(1 - t) x + (1 + (posWeight - 1) t) log(1 + e^-x)], with log(1 + e^-x) computed as
 * log1p(e^-|x|) + max(-x, 0) so large logits neither overflow nor lose the small terms. Targets may
 * be soft (in [0, 1]). Gradients flow to the logits and the target.
 */
export function bceWithLogits(logits: Tensor, target: Tensor, opts: BceWithLogitsOptions = {}): Tensor {
  return pointwise('bceWithLogits', 'bce', logits, target, opts);
}

/** F.normalize's default eps, used by normalLoss. */
const NORMAL_EPS = 1e-12;

/** Options of {@link normalLoss}. */
export interface NormalLossOptions {
  /** Validity mask [N, 1, H, W] (or anything broadcastable to it), f32, 1 valid and 0 invalid. */
  mask?: Tensor | null;
  /** 'l1': L1 between the normalised prediction and the target; 'cosine': 1 - cos per pixel. */
  kind: 'l1' | 'cosine';
  /** Default 'mean' (the masked mean). */
  reduction?: Reduction;
}

/**
 * Surface-normal loss between pred [N, C, ...] (C = 3 usually, not normalised) and unit-length
 * target normals of the same shape. pred is normalised along C first (x / max(|x|, 1e-12), as
 * F.normalize); the target is used as given. 'l1': mean |n - t| over the valid elements, i.e.
 * sum(mask * |n - t|) / max(C * sum(mask), 1) for a [N, 1, H, W] mask (gradients to pred and
 * target); 'cosine': mean of 1 - sum_c(n * t) over the valid pixels, sum(mask * (1 - cos)) /
 * max(sum(mask), 1), one fused kernel per pixel each way (gradient to pred only). 'none' gives
 * mask * |n - t| per element (l1) or mask * (1 - cos) per pixel [N, H, W] (cosine); 'sum' their sum.
 */
export function normalLoss(pred: Tensor, target: Tensor, opts: NormalLossOptions): Tensor {
  const op = 'normalLoss';
  requireF32(op, pred, target);
  if (pred.rank < 2) throw new ShapeError(op, [pred.shape], 'pred must be [N, C, ...] (rank >= 2)');
  if (!sameShape(pred.shape, target.shape)) throw new ShapeError(op, [pred.shape, target.shape], 'pred and target must have the same shape');
  if (opts.kind !== 'l1' && opts.kind !== 'cosine') throw new ArgumentError(op, `kind must be 'l1' or 'cosine', got '${String(opts.kind)}'`);
  const reduction = opts.reduction ?? 'mean';
  checkReduction(op, reduction);
  const pixShape = [pred.shape[0]!, 1, ...pred.shape.slice(2)];
  const mask = opts.mask ?? null;
  // Validate the mask against the per-pixel shape before any work (spreadTo throws ShapeError).
  if (mask) checkBroadcast(op, 'mask', mask, pixShape);
  if (opts.kind === 'l1') {
    const n = l2Normalize(pred, 1);
    const y = pointwise(op, 'l1', n, target, { mask, reduction });
    if (!y.requiresGrad) n.dispose();
    return y;
  }
  return cosineNormalLoss(pred, target, mask, pixShape, reduction);
}

/** The fused cosine branch of {@link normalLoss} (one kernel per pixel each way). */
function cosineNormalLoss(pred: Tensor, target: Tensor, mask: Tensor | null, pixShape: Shape, reduction: Reduction): Tensor {
  const op = 'normalLoss';
  const geom: CeGeom = { n: pred.shape[0]!, c: pred.shape[1]!, s: sizeOf(pred.shape.slice(2)) };
  const pixels = geom.n * geom.s;
  // The kernel reads one mask value per pixel; a mask that broadcasts over pixels is expanded.
  const m = mask && !sameShape(mask.shape, pixShape) ? k.expand(mask, pixShape) : mask;
  const masked = reduction === 'mean' && m !== null;
  const out = cosineNormalForward(pred, target, m, geom, NORMAL_EPS, masked);
  let y: Tensor;
  let sums: Tensor | null = null;
  if (reduction === 'none') y = out.view([geom.n, ...pred.shape.slice(2)]);
  else if (masked) {
    sums = k.reduce('sum', out, [1]);
    y = ratio(sums, 0, sums, 1, 1); // sum(mask * (1 - cos)) / max(sum(mask), 1)
  } else y = k.reduce('sum', out, [0], reduction === 'mean' ? 1 / pixels : 1);
  out.dispose();
  const saved = [pred, target, ...(m ? [m] : []), ...(sums ? [sums] : [])];
  // d(1 - <u, t>) with u = x / |x|: -(t - u <u, t>) / |x| (see shaders/loss.wgsl)
  const result = record(op, [pred], y, saved, (gy) => {
    const g = sums ? ratio(gy, 0, sums, 1, 1) : gy;
    const scale = reduction === 'mean' && !sums ? 1 / pixels : 1;
    const dx = cosineNormalBackward(pred, target, m, g, reduction === 'none', scale, geom, NORMAL_EPS);
    if (g !== gy) g.dispose();
    return [dx];
  });
  if (!result.requiresGrad) {
    if (m !== mask) m?.dispose();
    sums?.dispose();
  }
  return result;
}
