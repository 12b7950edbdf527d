/**
 * Surface normals: angular error in degrees between predicted and ground-truth normals, summarised
 * over every valid pixel of the dataset as mean, median and the fraction within 11.25, 22.5 and 30.
 */
import type { Tensor } from '../../tensor/tensor.js';
import { channelDims, checkMask, readAll, requireDType, sameDims } from './common.js';
import type { Metric } from './metric.js';

/** Results of {@link NormalsMetric}: angles in degrees, `within*` as fractions in [0, 1]. */
export type NormalsResult = { mean: number; median: number; within11_25: number; within22_5: number; within30: number };

/** Width in degrees of one bin of the median histogram. */
export const NORMALS_HISTOGRAM_BIN = 0.001;
const BINS = Math.round(180 / NORMALS_HISTOGRAM_BIN);

/**
 * Normals metric. `pred` and `target` are f32 [N,3,H,W]; both are L2-normalised per pixel before the
 * angle is taken as 2·atan2(|p - t|, |p + t|) (accurate near 0° and 180°, unlike acos of the dot).
 * A pixel is valid when the target has a non-zero norm and, when a mask is given, the mask is
 * non-zero. Mean and the `within` fractions (error strictly below the threshold) are exact. Keeping
 * every error of a dataset would take gigabytes, so the median is read from a histogram of
 * {@link NORMALS_HISTOGRAM_BIN}-degree bins (bin centres, averaging the two middle ranks for an even
 * count): it is within half a bin, 0.0005°, of the exact median.
 */
export class NormalsMetric implements Metric<NormalsResult> {
  readonly name = 'NormalsMetric';
  readonly higherIsBetter = { mean: false, median: false, within11_25: true, within22_5: true, within30: true };
  private readonly hist = new Float64Array(BINS);
  private count = 0;
  private sum = 0;
  private within = [0, 0, 0];

  async update(pred: Tensor, target: Tensor, mask?: Tensor): Promise<void> {
    const op = `${this.name}.update`;
    requireDType(op, 'prediction', pred, 'f32');
    requireDType(op, 'target', target, 'f32');
    const dims = channelDims(op, 'target', target, 3);
    sameDims(op, channelDims(op, 'prediction', pred, 3), dims, [pred.shape, target.shape], 'prediction and target');
    checkMask(op, mask, dims, target.shape);
    const [p, t, m] = await readAll(pred, target, mask);
    const hw = dims.h * dims.w;
    for (let i = 0; i < dims.n * hw; i++) {
      if (m && m[i] === 0) continue;
      const base = Math.floor(i / hw) * 3 * hw + (i % hw);
      const t0 = t![base]!, t1 = t![base + hw]!, t2 = t![base + 2 * hw]!;
      const tn = Math.hypot(t0, t1, t2);
      if (tn === 0) continue;
      const p0 = p![base]!, p1 = p![base + hw]!, p2 = p![base + 2 * hw]!;
      const pn = Math.max(Math.hypot(p0, p1, p2), 1e-12);
      const a0 = p0 / pn, a1 = p1 / pn, a2 = p2 / pn;
      const b0 = t0 / tn, b1 = t1 / tn, b2 = t2 / tn;
      const deg = (2 * Math.atan2(Math.hypot(a0 - b0, a1 - b1, a2 - b2), Math.hypot(a0 + b0, a1 + b1, a2 + b2)) * 180) / Math.PI;
      this.count++;
      this.sum += deg;
      if (deg < 11.25) this.within[0]!++;
      if (deg < 22.5) this.within[1]!++;
      if (deg < 30) this.within[2]!++;
      this.hist[Math.min(BINS - 1, Math.floor(deg / NORMALS_HISTOGRAM_BIN))]! += 1;
    }
  }

  compute(): NormalsResult {
    const n = this.count;
    if (n === 0) return { mean: NaN, median: NaN, within11_25: NaN, within22_5: NaN, within30: NaN };
    return {
      mean: this.sum / n,
      median: (this.valueAtRank(Math.floor((n - 1) / 2)) + this.valueAtRank(Math.ceil((n - 1) / 2))) / 2,
      within11_25: this.within[0]! / n,
      within22_5: this.within[1]! / n,
      within30: this.within[2]! / n,
    };
  }

  /** Centre of the histogram bin holding the error of 0-based rank `r` in sorted order. */
  private valueAtRank(r: number): number {
    let seen = 0;
    for (let b = 0; b < BINS; b++) {
      seen += this.hist[b]!;
      if (seen > r) return (b + 0.5) * NORMALS_HISTOGRAM_BIN;
    }
    return 180;
  }

  reset(): void {
    this.hist.fill(0);
    this.count = this.sum = 0;
    this.within = [0, 0, 0];
  }
}
