/**
 * The multi-task model contract shared by every architecture (single-task, shared encoder,
 * Cross-Stitch, NDDR-CNN, MTAN, PAD-Net, MTI-Net, PAP-Net, JTRL): forward maps an image batch to one prediction
 * per task at the input's resolution, and the model tells balancers which parameters are shared,
 * which weight is the last shared layer (GradNorm's W) and which tensor is the shared representation.
 */
import { Module } from '../../nn/module.js';
import type { Tensor } from '../../tensor/tensor.js';

/** Outputs of one forward pass. */
export interface MultiTaskOutput {
  /** Final prediction per task name, [N, channels, H, W] at the input size. */
  readonly outputs: Readonly<Record<string, Tensor>>;
  /**
   * Extra predictions trained with deep supervision (PAD-Net's initial predictions, MTI-Net's
   * per-scale ones), each upsampled to the input size: task name -> list. The trainer adds their
   * losses (same task loss) to the task's loss. Empty for encoder-focused models.
   */
  readonly auxiliary?: Readonly<Record<string, readonly Tensor[]>>;
  /** The shared representation every head reads (with its graph), or null when there is none. */
  readonly representation: Tensor | null;
}

/** Base class of every multi-task architecture. */
export abstract class MultiTaskModel extends Module {
  /** Task names in output order. */
  abstract readonly taskNames: readonly string[];
  /** Predictions for x [N, C, H, W] (see {@link MultiTaskOutput}). */
  abstract forward(x: Tensor): MultiTaskOutput;
  /** Parameters every task's loss depends on (empty when nothing is shared, e.g. single-task). */
  abstract sharedParameters(): Tensor[];
  /** GradNorm's default W: the weight of the last layer shared by all tasks, or null. */
  abstract lastSharedLayer(): Tensor | null;
}
