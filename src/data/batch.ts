/**
 * Batching: a list of host samples becomes a MultiTaskBatch of GPU tensors in two steps, so the
 * host part can run ahead (or in a worker) while the GPU works: {@link collateHost} stacks the
 * typed arrays and derives the validity masks (no GPU, no Node built-ins), {@link toDevice}
 * uploads them with fromArray. {@link collate} does both.
 *
 * Targets are keyed by the sample task names, with the survey's ignore conventions turned into
 * masks (f32, 1 = valid) so that losses never see the sentinel values:
 * - semseg, human_parts: i32 [N, H, W], 255 kept as the ignore index (no mask);
 * - depth: f32 [N, 1, H, W]; mask [N, 1, H, W] = finite and > 0; invalid depths set to 0;
 * - normals: f32 [N, 3, H, W]; mask [N, 1, H, W] = not all three components 0 (and finite);
 * - edge, sal: f32 [N, 1, H, W]; mask [N, 1, H, W] = value != 255; ignored values set to 0.
 */
import { ArgumentError, ShapeError } from '../errors.js';
import type { MultiTaskBatch, TaskTarget } from './batch-contract.js';
import { fromArray } from '../tensor/creation.js';
import type { Tensor } from '../tensor/tensor.js';
import { SAMPLE_TASKS, type Sample, type SampleTask } from './sample.js';

/** One task's stacked ground truth on the host. */
export interface HostTarget {
  readonly target: Float32Array | Int32Array;
  readonly shape: readonly number[];
  /** f32 validity mask (1 valid), when the task has one. */
  readonly mask?: Float32Array;
  readonly maskShape?: readonly number[];
}

/** A batch on the host: what {@link toDevice} uploads. Transferable to and from worker threads. */
export interface HostBatch {
  /** Ids of the samples, in batch order. */
  readonly ids: readonly string[];
  /** f32 [N, 3, H, W]. */
  readonly input: Float32Array;
  readonly inputShape: readonly [number, number, number, number];
  readonly targets: Readonly<Record<string, HostTarget>>;
}

type MaskRule = 'depth' | 'normals' | 'ignore255';

/** Stacks f32 planes [C, H, W] into [N, C, H, W] with a [N, 1, H, W] validity mask; invalid values become 0. */
function maskedPlane(n: number, hw: number, channels: number, parts: Float32Array[], rule: MaskRule): [Float32Array, Float32Array] {
  const target = new Float32Array(n * channels * hw);
  const mask = new Float32Array(n * hw);
  for (let b = 0; b < n; b++) {
    const v = parts[b]!;
    const m = b * hw;
    const t = b * channels * hw;
    // Plain loops per rule (no per-pixel closures): this runs over every pixel of every batch.
    if (rule === 'normals') {
      for (let p = 0; p < hw; p++) {
        const x = v[p]!, y = v[hw + p]!, z = v[2 * hw + p]!;
        if ((x !== 0 || y !== 0 || z !== 0) && Number.isFinite(x + y + z)) {
          mask[m + p] = 1;
          target[t + p] = x;
          target[t + hw + p] = y;
          target[t + 2 * hw + p] = z;
        }
      }
    } else if (rule === 'depth') {
      for (let p = 0; p < hw; p++) {
        const d = v[p]!;
        if (d > 0 && d < Infinity) (mask[m + p] = 1), (target[t + p] = d);
      }
    } else {
      for (let p = 0; p < hw; p++) {
        const d = v[p]!;
        if (d !== 255) (mask[m + p] = 1), (target[t + p] = d);
      }
    }
  }
  return [target, mask];
}

/**
 * Stacks `samples` (all of one size) into host arrays for the given tasks. Throws a ShapeError when
 * sizes differ (resize or crop them with augment() first) and an ArgumentError naming the sample
 * when one lacks a requested task or holds an array of the wrong length.
 */
export function collateHost(samples: readonly Sample[], tasks: readonly SampleTask[]): HostBatch {
  if (samples.length === 0) throw new ArgumentError('collate', 'needs at least one sample');
  const { height: H, width: W } = samples[0]!;
  const hw = H * W;
  const n = samples.length;
  for (const s of samples) {
    if (s.height !== H || s.width !== W) {
      throw new ShapeError('collate', [[H, W], [s.height, s.width]], `sample '${s.id}' differs in size from '${samples[0]!.id}'; resize or crop samples to one size (see augment())`);
    }
    if (s.image.length !== 3 * hw) throw new ArgumentError('collate', `sample '${s.id}': image has ${s.image.length} values, [3, ${H}, ${W}] needs ${3 * hw}`);
  }
  const input = new Float32Array(n * 3 * hw);
  samples.forEach((s, b) => input.set(s.image, b * 3 * hw));
  const targets: Record<string, HostTarget> = {};
  for (const task of tasks) {
    if (!(SAMPLE_TASKS as readonly string[]).includes(task)) throw new ArgumentError('collate', `unknown task '${task}' (known: ${SAMPLE_TASKS.join(', ')})`);
    const channels = task === 'normals' ? 3 : 1;
    const parts = samples.map((s) => {
      const d = s[task];
      if (!d) throw new ArgumentError('collate', `sample '${s.id}' has no '${task}' ground truth`);
      if (d.length !== channels * hw) throw new ArgumentError('collate', `sample '${s.id}': ${task} has ${d.length} values, expected ${channels * hw}`);
      return d;
    });
    if (task === 'semseg' || task === 'human_parts') {
      const target = new Int32Array(n * hw);
      parts.forEach((d, b) => target.set(d, b * hw));
      targets[task] = { target, shape: [n, H, W] };
      continue;
    }
    const f = parts as Float32Array[];
    const [target, mask] = maskedPlane(n, hw, channels, f, task === 'depth' || task === 'normals' ? task : 'ignore255');
    targets[task] = { target, shape: [n, channels, H, W], mask, maskShape: [n, 1, H, W] };
  }
  return { ids: samples.map((s) => s.id), input, inputShape: [n, 3, H, W], targets };
}

/** Uploads a host batch: input f32 [N, 3, H, W] and each target (and mask) with its dtype. */
export function toDevice(host: HostBatch): MultiTaskBatch {
  const made: Tensor[] = [];
  try {
    const input = fromArray(host.input, host.inputShape);
    made.push(input);
    const targets: Record<string, TaskTarget> = {};
    for (const [task, t] of Object.entries(host.targets)) {
      const target = fromArray(t.target, t.shape, { dtype: t.target instanceof Int32Array ? 'i32' : 'f32' });
      made.push(target);
      const mask = t.mask ? fromArray(t.mask, t.maskShape) : undefined;
      if (mask) made.push(mask);
      targets[task] = mask ? { target, mask } : { target };
    }
    return { input, targets };
  } catch (e) {
    for (const t of made) t.dispose();
    throw e;
  }
}

/** Stacks `samples` and uploads them: {@link collateHost} then {@link toDevice}. */
export function collate(samples: readonly Sample[], tasks: readonly SampleTask[]): MultiTaskBatch {
  return toDevice(collateHost(samples, tasks));
}

/** Disposes every tensor of a batch (input, targets, masks); the same function as the trainer's. */
export { disposeBatch } from './batch-contract.js';
