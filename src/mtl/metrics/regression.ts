/**
 * Metrics for non-dense tasks: regression (MSE, MAE over every element) and classification
 * (top-1 accuracy), accumulated over a dataset like the dense metrics.
 */
import { ShapeError } from '../../errors.js';
import type { Tensor } from '../../tensor/tensor.js';
import { readAll, requireDType } from './common.js';
import type { Metric } from './metric.js';

/** Results of {@link RegressionMetric}. */
export type RegressionResult = { mse: number; mae: number };

/**
 * Element-wise regression error between f32 `pred` and `target` of the same shape (optionally a
 * mask broadcast over nothing: same shape, non-zero = counted): mse = mean (p - t)^2, mae = mean |p - t|.
 */
export class RegressionMetric implements Metric<RegressionResult> {
  readonly name = 'RegressionMetric';
  readonly higherIsBetter = { mse: false, mae: false };
  private sq = 0;
  private ab = 0;
  private n = 0;

  async update(pred: Tensor, target: Tensor, mask?: Tensor): Promise<void> {
    const op = `${this.name}.update`;
    requireDType(op, 'prediction', pred, 'f32');
    requireDType(op, 'target', target, 'f32');
    if (pred.size !== target.size || (mask && mask.size !== target.size)) {
      throw new ShapeError(op, [pred.shape, target.shape, ...(mask ? [mask.shape] : [])], 'prediction, target (and mask) must have the same size');
    }
    const [p, t, m] = await readAll(pred, target, mask);
    for (let i = 0; i < p!.length; i++) {
      if (m && m[i] === 0) continue;
      const d = p![i]! - t![i]!;
      this.sq += d * d;
      this.ab += Math.abs(d);
      this.n++;
    }
  }

  compute(): RegressionResult {
    return { mse: this.n ? this.sq / this.n : NaN, mae: this.n ? this.ab / this.n : NaN };
  }

  reset(): void {
    this.sq = this.ab = this.n = 0;
  }
}

/** Results of {@link AccuracyMetric}. */
export type AccuracyResult = { accuracy: number };

/** Top-1 accuracy of logits [N, C] against i32 labels [N] (labels equal to ignoreIndex skipped). */
export class AccuracyMetric implements Metric<AccuracyResult> {
  readonly name = 'AccuracyMetric';
  readonly higherIsBetter = { accuracy: true };
  private ok = 0;
  private n = 0;

  constructor(readonly ignoreIndex = -100) {}

  async update(pred: Tensor, target: Tensor): Promise<void> {
    const op = `${this.name}.update`;
    requireDType(op, 'logits', pred, 'f32');
    requireDType(op, 'labels', target, 'i32');
    if (pred.rank !== 2 || target.rank !== 1 || target.shape[0] !== pred.shape[0]) {
      throw new ShapeError(op, [pred.shape, target.shape], 'logits must be [N,C] and labels [N]');
    }
    const [p, t] = await readAll(pred, target);
    const C = pred.shape[1]!;
    for (let i = 0; i < t!.length; i++) {
      if (t![i] === this.ignoreIndex) continue;
      let best = 0;
      for (let c = 1; c < C; c++) if (p![i * C + c]! > p![i * C + best]!) best = c;
      if (best === t![i]) this.ok++;
      this.n++;
    }
  }

  compute(): AccuracyResult {
    return { accuracy: this.n ? this.ok / this.n : NaN };
  }

  reset(): void {
    this.ok = this.n = 0;
  }
}
