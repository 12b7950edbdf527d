/**
 * Saliency: the maximal F-measure over thresholds (beta² = 0.3) and the foreground IoU at 0.5, both
 * from counts summed over the whole dataset.
 */
import type { Tensor } from '../../tensor/tensor.js';
import { checkMask, mapDims, readAll, requireDType, sameDims } from './common.js';
import type { Metric } from './metric.js';
import { countsPerThreshold, thresholdsPassed } from './thresholds.js';

/** Results of {@link SaliencyMetric}: fractions in [0, 1]. */
export type SaliencyResult = { maxF: number; mIoU: number };

/** The 101 thresholds 0, 0.01, ..., 1. */
export const SALIENCY_THRESHOLDS: readonly number[] = Array.from({ length: 101 }, (_, k) => k / 100);

/** beta² of the F-measure, weighting precision over recall as the survey's code does. */
export const SALIENCY_BETA2 = 0.3;

/**
 * Saliency metric. `pred` is an f32 saliency probability map [N,H,W] or [N,1,H,W]; `target` a map of
 * the same size whose pixels >= 0.5 are salient (0/1 labels of either dtype work). At threshold t a
 * pixel is predicted salient when pred > t (strictly, as the survey's `pred > thres`). With TP, FP, FN
 * summed over the dataset per threshold, F = (1 + β²)PR / (β²P + R) with β² = 0.3, and maxF is its
 * maximum over {@link SALIENCY_THRESHOLDS} (precision counts as 0 where nothing is predicted).
 * mIoU is the foreground IoU TP/(TP+FP+FN) at threshold 0.5, from dataset-wide counts (the survey
 * averages a per-image Jaccard index instead). Pixels where the mask is zero are skipped.
 */
export class SaliencyMetric implements Metric<SaliencyResult> {
  readonly name = 'SaliencyMetric';
  readonly higherIsBetter = { maxF: true, mIoU: true };
  private readonly T = SALIENCY_THRESHOLDS.length;
  // Histograms indexed by the number of thresholds a prediction exceeds (0..101).
  private readonly posHist = new Float64Array(this.T + 1);
  private readonly tpHist = new Float64Array(this.T + 1);
  private gtTotal = 0;
  private iou = { tp: 0, fp: 0, fn: 0 };

  async update(pred: Tensor, target: Tensor, mask?: Tensor): Promise<void> {
    const op = `${this.name}.update`;
    requireDType(op, 'prediction', pred, 'f32');
    const dims = mapDims(op, 'target', target);
    sameDims(op, mapDims(op, 'prediction', pred), dims, [pred.shape, target.shape], 'prediction and target');
    checkMask(op, mask, dims, target.shape);
    const [p, t, m] = await readAll(pred, target, mask);
    for (let i = 0; i < t!.length; i++) {
      if (m && m[i] === 0) continue;
      const fg = t![i]! >= 0.5;
      const v = p![i]!;
      const c = thresholdsPassed(SALIENCY_THRESHOLDS, v, true);
      this.posHist[c]! += 1;
      if (fg) {
        this.tpHist[c]! += 1;
        this.gtTotal++;
      }
      const on = v > 0.5;
      if (on && fg) this.iou.tp++;
      else if (on) this.iou.fp++;
      else if (fg) this.iou.fn++;
    }
  }

  /** Precision and recall at each of {@link SALIENCY_THRESHOLDS}. */
  curve(): { precision: Float64Array; recall: Float64Array } {
    const pos = countsPerThreshold(this.posHist, this.T);
    const tp = countsPerThreshold(this.tpHist, this.T);
    return {
      precision: pos.map((c, k) => (c > 0 ? tp[k]! / c : 0)),
      recall: tp.map((v) => (this.gtTotal > 0 ? v / this.gtTotal : NaN)),
    };
  }

  compute(): SaliencyResult {
    const { tp, fp, fn } = this.iou;
    const union = tp + fp + fn;
    const mIoU = union > 0 ? tp / union : NaN;
    if (this.gtTotal === 0) return { maxF: NaN, mIoU };
    const { precision, recall } = this.curve();
    let best = 0;
    for (let k = 0; k < this.T; k++) {
      const P = precision[k]!;
      const R = recall[k]!;
      const d = SALIENCY_BETA2 * P + R;
      if (d > 0) best = Math.max(best, ((1 + SALIENCY_BETA2) * P * R) / d);
    }
    return { maxF: best, mIoU };
  }

  reset(): void {
    this.posHist.fill(0);
    this.tpHist.fill(0);
    this.gtTotal = 0;
    this.iou = { tp: 0, fp: 0, fn: 0 };
  }
}
