/**
 * The batch contract between data and models: what a loader yields and a trainer consumes. It
 * belongs to the data layer, which knows nothing of models; src/mtl imports it from here.
 */
import type { Tensor } from '../tensor/tensor.js';

/** A task's ground truth for one batch: the target and an optional validity mask (f32, 1 = valid). */
export interface TaskTarget {
  readonly target: Tensor;
  readonly mask?: Tensor;
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
