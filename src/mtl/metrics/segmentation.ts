/**
 * Semantic segmentation: a confusion matrix accumulated over the dataset, from which mIoU and
 * pixel accuracy are read. Pixels whose target is `ignoreIndex`, or whose mask is zero, are skipped.
 */
import { ArgumentError, LabelError } from '../../errors.js';
import type { Tensor } from '../../tensor/tensor.js';
import { channelDims, checkMask, mapDims, readAll, requireDType, sameDims } from './common.js';
import type { Metric } from './metric.js';

/**
 * How mIoU treats a class absent from both the target and the prediction of everything evaluated
 * (its IoU is 0/0): 'zero' counts it as IoU 0, as the MTL survey's evaluation code does
 * (tp / max(tp + fp + fn, 1e-8) averaged over all classes); 'exclude' leaves it out of the mean.
 */
export type AbsentClasses = 'zero' | 'exclude';

/** Results of {@link SegmentationMetric}; both are fractions in [0, 1]. */
export type SegmentationResult = { mIoU: number; pixelAcc: number };

/**
 * Confusion-matrix segmentation metric. `pred` is either logits [N,C,H,W] f32 (C = numClasses,
 * argmax over C, the first maximum wins ties) or labels [N,H,W] / [N,1,H,W] i32; `target` is i32
 * labels [N,H,W] or [N,1,H,W]. Labels outside [0, numClasses) other than `ignoreIndex` raise a
 * LabelError (in the prediction as well). mIoU is the mean of TP/(TP+FP+FN) over the classes; a
 * class absent from both target and prediction has an undefined IoU, counted as 0 by default (the
 * survey's convention, so numbers compare with its tables) or left out with
 * `absentClasses: 'exclude'`. On a full benchmark split every class occurs and both agree.
 */
export class SegmentationMetric implements Metric<SegmentationResult> {
  readonly name = 'SegmentationMetric';
  readonly higherIsBetter = { mIoU: true, pixelAcc: true };
  /** confusion[t * numClasses + p] counts pixels of target class t predicted as p. */
  readonly confusion: Float64Array;
  readonly absentClasses: AbsentClasses;

  constructor(
    readonly numClasses: number,
    readonly ignoreIndex = 255,
    opts: { absentClasses?: AbsentClasses } = {},
  ) {
    this.confusion = new Float64Array(numClasses * numClasses);
    this.absentClasses = opts.absentClasses ?? 'zero';
    if (this.absentClasses !== 'zero' && this.absentClasses !== 'exclude') {
      throw new ArgumentError(this.name, `absentClasses must be 'zero' or 'exclude', got '${String(this.absentClasses)}'`);
    }
  }

  async update(pred: Tensor, target: Tensor, mask?: Tensor): Promise<void> {
    const op = `${this.name}.update`;
    const C = this.numClasses;
    requireDType(op, 'target labels', target, 'i32');
    const dims = mapDims(op, 'target', target);
    const logits = pred.dtype === 'f32';
    const pdims = logits ? channelDims(op, 'logits', pred, C) : mapDims(op, 'predicted labels', pred);
    sameDims(op, pdims, dims, [pred.shape, target.shape], 'prediction and target');
    checkMask(op, mask, dims, target.shape);
    const [p, t, m] = await readAll(pred, target, mask);
    const hw = dims.h * dims.w;
    const labelError = (what: string, i: number, v: number, data: ArrayLike<number>): LabelError => {
      let count = 0;
      for (let j = 0; j < data.length; j++) {
        const u = data[j]!;
        if (u !== this.ignoreIndex && (u < 0 || u >= C)) count++;
      }
      const b = Math.floor(i / hw);
      const r = i % hw;
      return new LabelError(`${op} (${what})`, count, [b, Math.floor(r / dims.w), r % dims.w], v, C, this.ignoreIndex);
    };
    for (let i = 0; i < dims.n * hw; i++) {
      if (m && m[i] === 0) continue;
      const tv = t![i]!;
      if (tv === this.ignoreIndex) continue;
      if (tv < 0 || tv >= C) throw labelError('target', i, tv, t!);
      let pv: number;
      if (logits) {
        const b = Math.floor(i / hw);
        const base = b * C * hw + (i % hw);
        pv = 0;
        let best = p![base]!;
        for (let c = 1; c < C; c++) {
          const v = p![base + c * hw]!;
          if (v > best) {
            best = v;
            pv = c;
          }
        }
      } else {
        pv = p![i]!;
        if (pv < 0 || pv >= C) throw labelError('prediction', i, pv, p!);
      }
      this.confusion[tv * C + pv]! += 1;
    }
  }

  /** IoU per class (NaN for classes absent from both target and prediction). */
  classIoU(): Float64Array {
    const C = this.numClasses;
    const out = new Float64Array(C);
    for (let c = 0; c < C; c++) {
      let row = 0;
      let col = 0;
      for (let k = 0; k < C; k++) {
        row += this.confusion[c * C + k]!;
        col += this.confusion[k * C + c]!;
      }
      const tp = this.confusion[c * C + c]!;
      const union = row + col - tp;
      out[c] = union > 0 ? tp / union : NaN;
    }
    return out;
  }

  compute(): SegmentationResult {
    let sum = 0;
    let n = 0;
    for (const v of this.classIoU()) {
      if (!Number.isNaN(v)) {
        sum += v;
        n++;
      } else if (this.absentClasses === 'zero') n++;
    }
    let total = 0;
    let correct = 0;
    const C = this.numClasses;
    for (let i = 0; i < C * C; i++) total += this.confusion[i]!;
    for (let c = 0; c < C; c++) correct += this.confusion[c * C + c]!;
    return { mIoU: n > 0 && total > 0 ? sum / n : NaN, pixelAcc: total > 0 ? correct / total : NaN };
  }

  reset(): void {
    this.confusion.fill(0);
  }
}
