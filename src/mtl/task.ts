/**
 * The task contract: a task names its output, says how many channels a head must
 * produce for it, computes its loss from a prediction and its ground truth, and creates the metrics
 * it is evaluated with. Built-ins live in tasks/; users write their own against the same interface
 * (classification, regression, anything whose loss is a scalar tensor).
 */
import type { TaskTarget } from '../data/batch-contract.js';
import type { Tensor } from '../tensor/tensor.js';
import type { Metric } from './metrics/metric.js';

// The batch contract is the data layer's; re-exported here for code that reads it with the tasks.
export { disposeBatch, type MultiTaskBatch, type TaskTarget } from '../data/batch-contract.js';

/** Any metric, whatever its result keys. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyMetric = Metric<any>;

/** One task of a multi-task model. */
export interface Task {
  /** Unique name, also the key of the model's output and of the batch's targets (e.g. 'semseg'). */
  readonly name: string;
  /** Output channels a head must produce (classes for segmentation, 1 for depth, 3 for normals). */
  readonly channels: number;
  /** Static loss weight (default 1), used by the fixed-weight balancer. */
  readonly weight: number;
  /**
   * The task's scalar loss for prediction `pred` [N, channels, H, W] (or any shape the task
   * documents) and its ground truth. Differentiable in pred; never reads the GPU back.
   */
  loss(pred: Tensor, truth: TaskTarget): Tensor;
  /**
   * Throws a ShapeError/DTypeError (naming the task) when `pred` and the ground truth cannot belong
   * together: wrong channel count, spatial size or dtype. Called by the trainer on the first batch
   * so a mismatch fails before training starts.
   */
  check(pred: Tensor, truth: TaskTarget): void;
  /** Fresh metric accumulators for evaluating this task over a dataset. */
  metrics(): AnyMetric[];
  /**
   * Optional: the prediction in the form the metrics and reports use (e.g. sigmoid for edge logits,
   * normalised vectors for normals). Default: the raw prediction.
   */
  postprocess?(pred: Tensor): Tensor;
}
