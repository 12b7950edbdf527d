/**
 * A host-side check of every batch's class labels before upload: the loader already holds them as
 * typed arrays, so catching a label outside [0, classes) costs one pass over the pixels and no GPU
 * readback, and the error names the task and the sample instead of a NaN loss steps later.
 */
import type { HostBatch } from '../data/batch.js';
import { LabelError } from '../errors.js';
import type { Task } from '../mtl/task.js';

/** Throws a LabelError naming the task and sample for a label outside [0, channels) other than 255. */
export function checkHostLabels(batch: HostBatch, tasks: readonly Task[], ignoreIndex = 255): void {
  for (const task of tasks) {
    const t = batch.targets[task.name];
    if (!t || !(t.target instanceof Int32Array)) continue;
    const labels = t.target;
    const C = task.channels;
    let first = -1;
    let count = 0;
    for (let i = 0; i < labels.length; i++) {
      const v = labels[i]!;
      if (v !== ignoreIndex && (v < 0 || v >= C)) {
        if (first < 0) first = i;
        count++;
      }
    }
    if (first < 0) continue;
    const [n, h, w] = [t.shape[0]!, t.shape[t.shape.length - 2]!, t.shape[t.shape.length - 1]!];
    const per = labels.length / n;
    const b = Math.floor(first / per);
    const r = first % per;
    void h;
    throw new LabelError(`task '${task.name}', sample '${batch.ids[b]}'`, count, [b, Math.floor(r / w), r % w], labels[first]!, C, ignoreIndex);
  }
}
