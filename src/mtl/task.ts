/**
 * The task contract (design rule 9): a task names its output, says how many channels a head must
 * produce for it, computes its loss from a prediction and its ground truth, and creates the metrics
 * it is evaluated with. Built-ins live in tasks/; users write their own against the same interface
 * (classification, regression, anything whose loss is a scalar tensor).
 */
import type { Tensor } from '../tensor/tensor.js';
import type { Metric } from './metrics/metric.js';

/** A task's ground truth for one batch: the target and an optional validity mask (f32, 1 = valid). */
export interface TaskTarget {
  readonly target: Tensor;
  readonly mask?: Tensor;
}

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

/** Batch of a multi-task dataset: the input image and the ground truth per task name. */
export interface MultiTaskBatch {
  readonly input: Tensor;
  readonly targets: Readonly<Record<string, TaskTarget>>;
}

/** Frees every tensor of a batch (input, targets, masks). */
export function disposeBatch(b: MultiTaskBatch): void {
  b.input.dispose();
  for (const t of Object.values(b.targets)) {
    t.target.dispose();
    t.mask?.dispose();
  }
}
