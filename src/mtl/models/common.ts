/**
 * Checks and small steps every architecture shares: validating the task list and the input image,
 * resizing a head's logits to the input size (bilinear, align_corners false, as the survey's
 * models do with F.interpolate), and the Sequential that runs its conv - BN (- ReLU) runs fused.
 */
import { ArgumentError, ShapeError } from '../../errors.js';
import { BatchNorm2d, Conv2d, ReLU, Sequential, convBn } from '../../nn/layers.js';
import { interpolate } from '../../ops/interpolate.js';
import type { Tensor } from '../../tensor/tensor.js';
import type { Task } from '../task.js';

/** What an architecture needs to know about a task: its name (the output key) and its channels. */
export type TaskSpec = Pick<Task, 'name' | 'channels'>;

/**
 * Throws an ArgumentError naming `op` unless `tasks` is a non-empty list of tasks with unique names
 * usable as module keys (non-empty, no dots) and positive integer channel counts. Returns the names.
 */
export function checkTasks(op: string, tasks: readonly TaskSpec[]): string[] {
  if (!Array.isArray(tasks) || tasks.length === 0) throw new ArgumentError(op, 'needs at least one task');
  const names: string[] = [];
  for (const t of tasks) {
    if (typeof t?.name !== 'string' || t.name === '' || t.name.includes('.')) {
      throw new ArgumentError(op, `task name ${JSON.stringify(t?.name)} must be a non-empty string without dots (it names modules)`);
    }
    if (names.includes(t.name)) throw new ArgumentError(op, `task '${t.name}' appears twice; task names must be unique`);
    if (!Number.isInteger(t.channels) || t.channels < 1) {
      throw new ArgumentError(op, `task '${t.name}' has ${String(t.channels)} output channels; expected a positive integer`);
    }
    names.push(t.name);
  }
  return names;
}

/** Throws a ShapeError naming `op` unless x is an NCHW batch with `channels` channels. */
export function checkImage(op: string, x: Tensor, channels: number): void {
  if (x.rank !== 4 || x.shape[1] !== channels) {
    throw new ShapeError(op, [x.shape], `expected an image batch [N, ${channels}, H, W]`);
  }
}

/** y resized bilinearly (align_corners false) to [h, w]; y itself when it already has that size. */
export function resizeTo(y: Tensor, h: number, w: number): Tensor {
  if (y.shape[2] === h && y.shape[3] === w) return y;
  return interpolate(y, { size: [h, w], mode: 'bilinear', alignCorners: false });
}

/**
 * A Sequential (children '0', '1', ... as torch.nn.Sequential, so names and state dicts are
 * unchanged) whose forward runs each Conv2d - BatchNorm2d (- ReLU) run as one {@link convBn} unit
 * and each BatchNorm2d - ReLU pair as one batch norm with ReLU fused, instead of separate passes.
 * Values equal the plain Sequential's up to float rounding.
 */
export class ConvBnSequential extends Sequential {
  override forward(x: Tensor): Tensor {
    const ls = this.layers;
    let y = x;
    for (let i = 0; i < ls.length; i++) {
      const l = ls[i]!;
      const next = ls[i + 1];
      if (l instanceof Conv2d && next instanceof BatchNorm2d) {
        const relu = ls[i + 2] instanceof ReLU;
        y = convBn(l, next, y, relu ? { activation: 'relu' } : {});
        i += relu ? 2 : 1;
      } else if (l instanceof BatchNorm2d && next instanceof ReLU) {
        y = l.forward(y, { activation: 'relu' });
        i += 1;
      } else {
        y = l.forward(y);
      }
    }
    return y;
  }
}
