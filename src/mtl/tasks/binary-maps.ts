/**
 * Built-in tasks on binary per-pixel maps, with the survey's class-balanced cross-entropy: edges
 * (positive weight fixed at 0.95) and saliency (positive weight = the batch's fraction of negative
 * pixels, computed on the GPU, no readback).
 */
import { bceWithLogits } from '../../ops/losses.js';
import { add, mul } from '../../ops/binary.js';
import { mean } from '../../ops/reduce.js';
import { sigmoid } from '../../ops/unary.js';
import { tidy } from '../../tensor/scope.js';
import type { Tensor } from '../../tensor/tensor.js';
import { EdgeMetric } from '../metrics/edge.js';
import { SaliencyMetric } from '../metrics/saliency.js';
import type { Task, TaskTarget } from '../task.js';
import { ArgumentError } from '../../errors.js';
import { asNCHW, checkDense, taskWeight } from './checks.js';
import type { TaskOptions } from './dense.js';

/**
 * Balanced BCE on logits x against t in {0, 1}: w t (-log s(x)) + (1 - w)(1 - t)(-log(1 - s(x))),
 * summed and divided by the number of elements (the survey's BalancedCrossEntropyLoss with
 * size_average). The per-element weight (1 - w) + (2w - 1) t reproduces both terms in one
 * bceWithLogits; masked-out pixels (mask 0) weigh 0. `w` is a number or a scalar tensor.
 */
export function balancedBce(x: Tensor, t: Tensor, w: number | Tensor, mask: Tensor | null): Tensor {
  return tidy(() => {
    const perPixel =
      typeof w === 'number' ? add(mul(t, 2 * w - 1), 1 - w) : add(mul(t, add(mul(w, 2), -1)), add(mul(w, -1), 1));
    const weight = mask ? mul(perPixel, mask) : perPixel;
    return bceWithLogits(x, t, { weight });
  });
}

/** Options of {@link edgeTask}. */
export interface EdgeTaskOptions extends TaskOptions {
  /** Weight of the edge (positive) pixels in the balanced BCE (default 0.95, the survey's). */
  posWeight?: number;
  /** ODS F matching radius as a fraction of the image diagonal (default the metric's). */
  maxDist?: number;
}

/**
 * Edge detection (default name 'edge'): logits [N,1,H,W] against {0,1} f32 edges [N,1,H,W] (or
 * [N,H,W]); balanced BCE with posWeight 0.95; metric ODS F; postprocess() = sigmoid.
 */
export function edgeTask(opts: EdgeTaskOptions = {}): Task {
  const name = opts.name ?? 'edge';
  const weight = taskWeight(name, opts.weight);
  const pw = opts.posWeight ?? 0.95;
  if (!(pw >= 0 && pw <= 1)) throw new ArgumentError(`task '${name}'`, `posWeight must be in [0, 1], got ${pw}`);
  return {
    name,
    channels: 1,
    weight,
    check: (pred: Tensor, truth: TaskTarget) => checkDense(name, pred, 1, truth, 'f32', 1),
    loss: (pred: Tensor, truth: TaskTarget) =>
      balancedBce(pred, asNCHW(truth.target), pw, truth.mask ? asNCHW(truth.mask) : null),
    metrics: () => [new EdgeMetric(opts.maxDist === undefined ? {} : { maxDist: opts.maxDist })],
    postprocess: (pred: Tensor) => sigmoid(pred),
  };
}

/**
 * Saliency (default name 'sal'): logits [N,1,H,W] against saliency in [0,1] [N,1,H,W]; balanced BCE
 * whose positive weight is the batch's fraction of non-salient pixels (the survey's pos_weight=None
 * case); metrics maxF and IoU; postprocess() = sigmoid.
 */
export function saliencyTask(opts: TaskOptions = {}): Task {
  const name = opts.name ?? 'sal';
  const weight = taskWeight(name, opts.weight);
  return {
    name,
    channels: 1,
    weight,
    check: (pred: Tensor, truth: TaskTarget) => checkDense(name, pred, 1, truth, 'f32', 1),
    loss: (pred: Tensor, truth: TaskTarget) =>
      tidy(() => {
        const t = asNCHW(truth.target);
        const w = add(mul(mean(t), -1), 1); // fraction of negatives
        return balancedBce(pred, t, w, truth.mask ? asNCHW(truth.mask) : null);
      }),
    metrics: () => [new SaliencyMetric()],
    postprocess: (pred: Tensor) => sigmoid(pred),
  };
}
