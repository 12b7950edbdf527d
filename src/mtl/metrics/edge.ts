/**
 * Edge detection: the optimal-dataset-scale F-measure (ODS F) of the BSDS benchmark, with matched
 * counts summed over the whole dataset at each of 99 thresholds.
 */
import type { Tensor } from '../../tensor/tensor.js';
import { checkMask, mapDims, readAll, requireDType, sameDims } from './common.js';
import type { Metric } from './metric.js';
import { countsPerThreshold, thresholdsPassed } from './thresholds.js';

/** Results of {@link EdgeMetric}: ODS F in [0, 1]. */
export type EdgeResult = { odsF: number };

/** Options of {@link EdgeMetric}. */
export interface EdgeMetricOptions {
  /** Match tolerance as a fraction of the image diagonal (BSDS default 0.0075). */
  maxDist?: number;
}

/** The 99 thresholds 0.01, 0.02, ..., 0.99. */
export const EDGE_THRESHOLDS: readonly number[] = Array.from({ length: 99 }, (_, k) => (k + 1) / 100);

/**
 * ODS F for edge maps. `pred` is an f32 edge probability map [N,H,W] or [N,1,H,W]; `target` a map of
 * the same size whose non-zero pixels are ground-truth edges. At threshold t the predicted edges are
 * the pixels with pred >= t. With radius r = maxDist · sqrt(H² + W²) pixels, a predicted edge pixel
 * is a true positive when some ground-truth edge pixel lies within Euclidean distance r, and a
 * ground-truth pixel is recalled when some predicted edge pixel lies within r. Precision and recall
 * use counts summed over the dataset per threshold, and ODS F = max over thresholds of 2PR/(P+R).
 *
 * This approximates the BSDS benchmark: BSDS matches pixels one-to-one by a min-cost bipartite
 * assignment (so one ground-truth pixel can justify only one prediction), thins the predicted edges
 * first and interpolates between thresholds; here matching is many-to-one within the radius (as a
 * distance transform would give), nothing is thinned and the best sampled threshold is taken, so
 * thick predictions score higher than under BSDS. Pixels where the mask is zero are neither
 * predictions nor ground truth and cannot match anything.
 */
export class EdgeMetric implements Metric<EdgeResult> {
  readonly name = 'EdgeMetric';
  readonly higherIsBetter = { odsF: true };
  readonly maxDist: number;
  private readonly T = EDGE_THRESHOLDS.length;
  // Histograms indexed by the number of thresholds a value passes (0..99).
  private readonly predHist = new Float64Array(this.T + 1);
  private readonly predMatchHist = new Float64Array(this.T + 1);
  private readonly gtMatchHist = new Float64Array(this.T + 1);
  private gtTotal = 0;

  constructor(opts: EdgeMetricOptions = {}) {
    this.maxDist = opts.maxDist ?? 0.0075;
  }

  async update(pred: Tensor, target: Tensor, mask?: Tensor): Promise<void> {
    const op = `${this.name}.update`;
    requireDType(op, 'prediction', pred, 'f32');
    const dims = mapDims(op, 'target', target);
    sameDims(op, mapDims(op, 'prediction', pred), dims, [pred.shape, target.shape], 'prediction and target');
    checkMask(op, mask, dims, target.shape);
    const [p, t, m] = await readAll(pred, target, mask);
    const { n, h, w } = dims;
    const r = this.maxDist * Math.hypot(h, w);
    const offsets: [number, number][] = [];
    const ri = Math.floor(r);
    for (let dy = -ri; dy <= ri; dy++) for (let dx = -ri; dx <= ri; dx++) if (dy * dy + dx * dx <= r * r) offsets.push([dy, dx]);
    const hw = h * w;
    for (let b = 0; b < n; b++) {
      const o = b * hw;
      const valid = (i: number): boolean => !m || m[o + i] !== 0;
      for (let y = 0; y < h; y++) {
        for (let x = 0; x < w; x++) {
          const i = y * w + x;
          if (!valid(i)) continue;
          const isGt = t![o + i] !== 0;
          const v = p![o + i]!;
          // Best prediction near a ground-truth pixel, and whether a prediction has one near it.
          let best = -Infinity;
          let nearGt = false;
          for (const [dy, dx] of offsets) {
            const yy = y + dy;
            const xx = x + dx;
            if (yy < 0 || yy >= h || xx < 0 || xx >= w) continue;
            const j = yy * w + xx;
            if (!valid(j)) continue;
            if (isGt) best = Math.max(best, p![o + j]!);
            if (t![o + j] !== 0) nearGt = true;
          }
          const c = thresholdsPassed(EDGE_THRESHOLDS, v, false);
          this.predHist[c]! += 1;
          if (nearGt) this.predMatchHist[c]! += 1;
          if (isGt) {
            this.gtTotal++;
            this.gtMatchHist[thresholdsPassed(EDGE_THRESHOLDS, best, false)]! += 1;
          }
        }
      }
    }
  }

  /** Precision and recall at each of {@link EDGE_THRESHOLDS} (NaN where undefined). */
  curve(): { precision: Float64Array; recall: Float64Array } {
    const pc = countsPerThreshold(this.predHist, this.T);
    const pm = countsPerThreshold(this.predMatchHist, this.T);
    const gm = countsPerThreshold(this.gtMatchHist, this.T);
    const precision = pc.map((c, k) => (c > 0 ? pm[k]! / c : NaN));
    const recall = gm.map((g) => (this.gtTotal > 0 ? g / this.gtTotal : NaN));
    return { precision, recall };
  }

  compute(): EdgeResult {
    const { precision, recall } = this.curve();
    if (this.gtTotal === 0) return { odsF: NaN };
    let best = 0;
    for (let k = 0; k < this.T; k++) {
      const P = Number.isNaN(precision[k]!) ? 0 : precision[k]!;
      const R = recall[k]!;
      if (P + R > 0) best = Math.max(best, (2 * P * R) / (P + R));
    }
    return { odsF: best };
  }

  reset(): void {
    this.predHist.fill(0);
    this.predMatchHist.fill(0);
    this.gtMatchHist.fill(0);
    this.gtTotal = 0;
  }
}
