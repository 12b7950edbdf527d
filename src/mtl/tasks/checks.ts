/**
 * Shape and dtype checks shared by the built-in tasks: each names the task, so a mismatched head or
 * dataset fails with a message that says which task and what was expected.
 */
import { ArgumentError, DTypeError, ShapeError } from '../../errors.js';
import { reshape } from '../../ops/shape-ops.js';
import type { Tensor } from '../../tensor/tensor.js';
import { mapDims } from '../metrics/common.js';
import type { TaskTarget } from '../task.js';

/** [N, H, W] of a per-pixel map given as [N,H,W] or [N,1,H,W], or a ShapeError naming the task. */
export function pixelDims(task: string, what: string, t: Tensor): [number, number, number] {
  const d = mapDims(`task '${task}'`, what, t);
  return [d.n, d.h, d.w];
}

/** Checks pred is [N, channels, H, W] f32 and returns [N, H, W]. */
export function predDims(task: string, pred: Tensor, channels: number): [number, number, number] {
  if (pred.dtype !== 'f32') throw new DTypeError(`task '${task}'`, `prediction must be f32, got ${pred.dtype}`);
  const s = pred.shape;
  if (s.length !== 4 || s[1] !== channels) {
    throw new ShapeError(`task '${task}'`, [s], `prediction must have shape [N,${channels},H,W] (the head must output ${channels} channels)`);
  }
  return [s[0]!, s[2]!, s[3]!];
}

/** Throws unless the target (and mask) have the prediction's N, H, W and the target has `dtype`. */
export function checkDense(
  task: string,
  pred: Tensor,
  channels: number,
  truth: TaskTarget,
  dtype: 'f32' | 'i32',
  targetChannels: number,
): void {
  const [n, h, w] = predDims(task, pred, channels);
  const t = truth.target;
  if (t.dtype !== dtype) {
    throw new DTypeError(`task '${task}'`, `target must be ${dtype}, got ${t.dtype}${dtype === 'i32' ? " (cast() the labels to 'i32')" : ''}`);
  }
  const dims =
    targetChannels === 1
      ? pixelDims(task, 'target', t)
      : t.rank === 4 && t.shape[1] === targetChannels
        ? [t.shape[0]!, t.shape[2]!, t.shape[3]!]
        : null;
  if (!dims) throw new ShapeError(`task '${task}'`, [t.shape], `target must have shape [N,${targetChannels},H,W]`);
  if (dims[0] !== n || dims[1] !== h || dims[2] !== w) {
    throw new ShapeError(`task '${task}'`, [pred.shape, t.shape], 'prediction and target differ in batch or spatial size');
  }
  if (truth.mask) {
    const m = pixelDims(task, 'mask', truth.mask);
    if (m[0] !== n || m[1] !== h || m[2] !== w) {
      throw new ShapeError(`task '${task}'`, [t.shape, truth.mask.shape], 'mask must have the target\'s batch and spatial size');
    }
    if (truth.mask.dtype !== 'f32') throw new DTypeError(`task '${task}'`, `mask must be f32 (1 valid, 0 invalid), got ${truth.mask.dtype}`);
  }
}

/** The map as [N, 1, H, W] (a differentiable view when reshaped; the input itself otherwise). */
export function asNCHW(t: Tensor): Tensor {
  return t.rank === 3 ? reshape(t, [t.shape[0]!, 1, t.shape[1]!, t.shape[2]!]) : t;
}

/** The map as [N, H, W] (a differentiable view when reshaped; the input itself otherwise). */
export function asNHW(t: Tensor): Tensor {
  return t.rank === 4 ? reshape(t, [t.shape[0]!, t.shape[2]!, t.shape[3]!]) : t;
}

/** Validates a task's common options and returns its weight. */
export function taskWeight(task: string, weight: number | undefined): number {
  if (!task || typeof task !== 'string') throw new ArgumentError('task', `a task needs a non-empty name, got '${String(task)}'`);
  const w = weight ?? 1;
  if (!Number.isFinite(w) || w < 0) throw new ArgumentError(`task '${task}'`, `weight must be a finite number >= 0, got ${w}`);
  return w;
}

/** Validates a positive integer option. */
export function positive(task: string, name: string, v: number): number {
  if (!Number.isInteger(v) || v < 1) throw new ArgumentError(`task '${task}'`, `${name} must be a positive integer, got ${v}`);
  return v;
}
