/**
 * Generic tasks for users' own problems: regression (squared or absolute error on any shape) and
 * classification (cross-entropy on [N, C] logits). Anything else implements the Task interface
 * directly (see README, "a custom task").
 */
import { DTypeError, ShapeError } from '../../errors.js';
import { crossEntropy, l1Loss, mseLoss } from '../../ops/losses.js';
import type { Tensor } from '../../tensor/tensor.js';
import { AccuracyMetric, RegressionMetric } from '../metrics/regression.js';
import type { Task, TaskTarget } from '../task.js';
import { positive, taskWeight } from './checks.js';

/** Options of {@link regressionTask}. */
export interface RegressionTaskOptions {
  name: string;
  /** Output channels (the size of dim 1 of the prediction). */
  channels: number;
  /** 'mse' (default) or 'l1'. */
  loss?: 'mse' | 'l1';
  weight?: number;
}

/**
 * A regression task: prediction and f32 target of the same shape [N, channels, ...]; mean squared
 * (or absolute) error, masked when a mask of the target's shape is given; metrics MSE and MAE.
 */
export function regressionTask(opts: RegressionTaskOptions): Task {
  const name = opts.name;
  const weight = taskWeight(name, opts.weight);
  const channels = positive(name, 'channels', opts.channels);
  const kind = opts.loss ?? 'mse';
  return {
    name,
    channels,
    weight,
    check(pred: Tensor, truth: TaskTarget) {
      if (pred.dtype !== 'f32' || truth.target.dtype !== 'f32') throw new DTypeError(`task '${name}'`, 'prediction and target must be f32');
      const same = pred.rank === truth.target.rank && pred.shape.every((d, i) => d === truth.target.shape[i]);
      if (!same || pred.rank < 2 || pred.shape[1] !== channels) {
        throw new ShapeError(`task '${name}'`, [pred.shape, truth.target.shape], `prediction and target must both be [N,${channels},...]`);
      }
    },
    loss: (pred: Tensor, truth: TaskTarget) =>
      (kind === 'mse' ? mseLoss : l1Loss)(pred, truth.target, { mask: truth.mask ?? null }),
    metrics: () => [new RegressionMetric()],
  };
}

/** Options of {@link classificationTask}. */
export interface ClassificationTaskOptions {
  name: string;
  numClasses: number;
  weight?: number;
}

/** A classification task: logits [N, numClasses] against i32 labels [N]; cross-entropy; accuracy. */
export function classificationTask(opts: ClassificationTaskOptions): Task {
  const name = opts.name;
  const weight = taskWeight(name, opts.weight);
  const channels = positive(name, 'numClasses', opts.numClasses);
  return {
    name,
    channels,
    weight,
    check(pred: Tensor, truth: TaskTarget) {
      if (truth.target.dtype !== 'i32') throw new DTypeError(`task '${name}'`, `labels must be i32, got ${truth.target.dtype}`);
      if (pred.rank !== 2 || pred.shape[1] !== channels || truth.target.rank !== 1 || truth.target.shape[0] !== pred.shape[0]) {
        throw new ShapeError(`task '${name}'`, [pred.shape, truth.target.shape], `logits must be [N,${channels}] and labels [N]`);
      }
    },
    loss: (pred: Tensor, truth: TaskTarget) => crossEntropy(pred, truth.target),
    metrics: () => [new AccuracyMetric()],
  };
}
