/**
 * Depth estimation: RMSE, mean absolute relative error and RMSE of log depth, accumulated as sums
 * over every valid pixel of the dataset (not averaged per image first).
 */
import type { Tensor } from '../../tensor/tensor.js';
import { checkMask, mapDims, readAll, requireDType, sameDims } from './common.js';
import type { Metric } from './metric.js';

/** Results of {@link DepthMetric}, in the target's units (absRel and logRmse are unitless). */
export type DepthResult = { rmse: number; absRel: number; logRmse: number };

/**
 * Depth metric. `pred` and `target` are f32 maps [N,H,W] or [N,1,H,W]. A pixel is valid when its
 * target is > 0 (missing depth is stored as 0) and, when a mask is given, its mask is non-zero.
 * Over the valid pixels of everything seen: rmse = sqrt(mean (p - t)^2), absRel = mean |p - t| / t,
 * logRmse = sqrt(mean (ln p - ln t)^2) with p clamped to >= 1e-9 so the log stays finite.
 */
export class DepthMetric implements Metric<DepthResult> {
  readonly name = 'DepthMetric';
  readonly higherIsBetter = { rmse: false, absRel: false, logRmse: false };
  private count = 0;
  private sqSum = 0;
  private relSum = 0;
  private logSqSum = 0;

  async update(pred: Tensor, target: Tensor, mask?: Tensor): Promise<void> {
    const op = `${this.name}.update`;
    requireDType(op, 'prediction', pred, 'f32');
    requireDType(op, 'target', target, 'f32');
    const dims = mapDims(op, 'target', target);
    sameDims(op, mapDims(op, 'prediction', pred), dims, [pred.shape, target.shape], 'prediction and target');
    checkMask(op, mask, dims, target.shape);
    const [p, t, m] = await readAll(pred, target, mask);
    for (let i = 0; i < t!.length; i++) {
      const tv = t![i]!;
      if (!(tv > 0) || (m && m[i] === 0)) continue;
      const pv = p![i]!;
      const d = pv - tv;
      const ld = Math.log(Math.max(pv, 1e-9)) - Math.log(tv);
      this.count++;
      this.sqSum += d * d;
      this.relSum += Math.abs(d) / tv;
      this.logSqSum += ld * ld;
    }
  }

  compute(): DepthResult {
    const n = this.count;
    if (n === 0) return { rmse: NaN, absRel: NaN, logRmse: NaN };
    return { rmse: Math.sqrt(this.sqSum / n), absRel: this.relSum / n, logRmse: Math.sqrt(this.logSqSum / n) };
  }

  reset(): void {
    this.count = this.sqSum = this.relSum = this.logSqSum = 0;
  }
}
