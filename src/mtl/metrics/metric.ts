/**
 * The metric contract shared by every task: a metric accumulates over a whole
 * dataset with `update`, reports with `compute` and starts over with `reset`. Each declares, per
 * reported value, whether higher is better, so multi-task comparisons (see delta-mtl.ts) need no
 * hand-kept list of directions. Accumulators live on the host in float64: evaluation reads every
 * prediction back anyway, and float64 sums over millions of pixels do not drift.
 */
import type { Tensor } from '../../tensor/tensor.js';

/** A dataset-level evaluation metric with named numeric results `R`. */
export interface Metric<R extends Record<string, number>> {
  /** Short name used in errors and reports, e.g. `SegmentationMetric`. */
  readonly name: string;
  /** For each result key, true when a higher value is better. */
  readonly higherIsBetter: Record<keyof R, boolean>;
  /** Adds one batch (prediction, target and an optional validity mask, non-zero = valid). */
  update(pred: Tensor, target: Tensor, mask?: Tensor): Promise<void>;
  /** The results over everything seen since the last reset (NaN where nothing was counted). */
  compute(): R;
  /** Forgets everything accumulated. */
  reset(): void;
}
