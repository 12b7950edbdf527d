/**
 * Built-in dense-prediction tasks with the losses of the MTL survey's public code: semantic
 * segmentation and human parts (cross-entropy, 255 ignored), depth (masked L1), surface normals (L1
 * or 1 - cos on L2-normalised predictions, masked). Edges and saliency are in binary-maps.ts.
 */
import { ArgumentError } from '../../errors.js';
import { add } from '../../ops/binary.js';
import { crossEntropy, l1Loss, normalLoss } from '../../ops/losses.js';
import { l2Normalize } from '../../ops/norm.js';
import { tidy } from '../../tensor/scope.js';
import type { Tensor } from '../../tensor/tensor.js';
import { DepthMetric } from '../metrics/depth.js';
import { NormalsMetric } from '../metrics/normals.js';
import { SegmentationMetric, type AbsentClasses } from '../metrics/segmentation.js';
import type { AnyMetric, Task, TaskTarget } from '../task.js';
import { asNCHW, asNHW, checkDense, positive, taskWeight } from './checks.js';

/** Options shared by every built-in task. */
export interface TaskOptions {
  /** Task name (the key of outputs and targets); each built-in has the survey's default. */
  name?: string;
  /** Static loss weight (default 1). */
  weight?: number;
}

/** Options of {@link segmentationTask} and {@link humanPartsTask}. */
export interface SegmentationTaskOptions extends TaskOptions {
  numClasses: number;
  /** Label that adds nothing to loss or metrics (default 255). */
  ignoreIndex?: number;
  /** How mIoU treats classes absent from target and prediction (see SegmentationMetric). */
  absentClasses?: AbsentClasses;
}

class SegmentationTask implements Task {
  readonly name: string;
  readonly channels: number;
  readonly weight: number;
  readonly ignoreIndex: number;
  private readonly absent: AbsentClasses | undefined;

  constructor(defaultName: string, opts: SegmentationTaskOptions) {
    this.name = opts.name ?? defaultName;
    this.weight = taskWeight(this.name, opts.weight);
    this.channels = positive(this.name, 'numClasses', opts.numClasses);
    this.ignoreIndex = opts.ignoreIndex ?? 255;
    this.absent = opts.absentClasses;
  }

  check(pred: Tensor, truth: TaskTarget): void {
    checkDense(this.name, pred, this.channels, truth, 'i32', 1);
  }

  // Survey: nn.CrossEntropyLoss(ignore_index=255), mean over the counted pixels.
  loss(pred: Tensor, truth: TaskTarget): Tensor {
    return tidy(() => crossEntropy(pred, asNHW(truth.target), { ignoreIndex: this.ignoreIndex }));
  }

  metrics(): AnyMetric[] {
    return [new SegmentationMetric(this.channels, this.ignoreIndex, { absentClasses: this.absent })];
  }
}

/**
 * Semantic segmentation (default name 'semseg'): logits [N, numClasses, H, W] against i32 labels
 * [N, H, W] (or [N,1,H,W]); cross-entropy ignoring `ignoreIndex`; metrics mIoU and pixel accuracy.
 */
export function segmentationTask(opts: SegmentationTaskOptions): Task {
  return new SegmentationTask('semseg', opts);
}

/**
 * Human-part segmentation (default name 'human_parts', 7 classes on PASCAL-Context: background and
 * six parts); the same loss and metrics as segmentation.
 */
export function humanPartsTask(opts: Partial<SegmentationTaskOptions> = {}): Task {
  return new SegmentationTask('human_parts', { numClasses: 7, ...opts });
}

/** Options of {@link depthTask}. */
export interface DepthTaskOptions extends TaskOptions {
  /**
   * Metres added to the network's output (default 0): the depth is `pred + offset`. Setting it to
   * the training set's mean depth lets a freshly initialised head start near the right scale
   * instead of spending hundreds of steps moving one bias by metres.
   */
  offset?: number;
}

/**
 * Depth (default name 'depth'): prediction [N,1,H,W] (+ offset) in metres against f32 depth
 * [N,1,H,W] (or [N,H,W]); L1 over the valid pixels (the mask, when given; the survey masks the
 * missing measurements); metrics RMSE, abs-rel, log-RMSE over pixels with depth > 0.
 * postprocess() returns the depth in metres (pred + offset).
 */
export function depthTask(opts: DepthTaskOptions = {}): Task {
  const name = opts.name ?? 'depth';
  const weight = taskWeight(name, opts.weight);
  const offset = opts.offset ?? 0;
  if (!Number.isFinite(offset)) throw new ArgumentError(`task '${name}'`, `offset must be a finite number, got ${offset}`);
  const metres = (pred: Tensor) => (offset === 0 ? pred : add(pred, offset));
  return {
    name,
    channels: 1,
    weight,
    check: (pred, truth) => checkDense(name, pred, 1, truth, 'f32', 1),
    loss: (pred, truth) =>
      tidy(() => l1Loss(metres(pred), asNCHW(truth.target), { mask: truth.mask ? asNCHW(truth.mask) : null })),
    metrics: () => [new DepthMetric()],
    postprocess: (pred) => (offset === 0 ? pred : add(pred, offset)),
  };
}

/** Options of {@link normalsTask}. */
export interface NormalsTaskOptions extends TaskOptions {
  /** 'l1' (survey default: L1 between the normalised prediction and the target) or 'cosine' (1 - cos). */
  loss?: 'l1' | 'cosine';
}

/**
 * Surface normals (default name 'normals'): prediction [N,3,H,W] (normalised inside the loss)
 * against unit normals [N,3,H,W]; masked L1 or 1 - cos; metrics mean/median angle error and the
 * fractions within 11.25, 22.5 and 30 degrees. postprocess() returns the L2-normalised prediction.
 */
export function normalsTask(opts: NormalsTaskOptions = {}): Task {
  const name = opts.name ?? 'normals';
  const weight = taskWeight(name, opts.weight);
  const kind = opts.loss ?? 'l1';
  return {
    name,
    channels: 3,
    weight,
    check: (pred, truth) => checkDense(name, pred, 3, truth, 'f32', 3),
    loss: (pred, truth) => tidy(() => normalLoss(pred, truth.target, { kind, mask: truth.mask ? asNCHW(truth.mask) : null })),
    metrics: () => [new NormalsMetric()],
    postprocess: (pred) => l2Normalize(pred, 1),
  };
}
