/**
 * A GPU-side step counter (shaders/counter.wgsl).
 */
import { DTypeError, ShapeError } from '../../errors.js';
import type { Tensor } from '../../tensor/tensor.js';

const incrementKernel = { shader: 'counter', bindings: ['write'] } as const;

/**
 * Adds 1 to the first element of an i32 tensor in place, on the GPU in stream order (no readback):
 * the step counter of BatchNorm2d's `num_batches_tracked`.
 */
export function incrementCounter(t: Tensor): void {
  if (t.dtype !== 'i32') throw new DTypeError('incrementCounter', `needs an i32 tensor, got ${t.dtype}`);
  if (t.size < 1) throw new ShapeError('incrementCounter', [t.shape], 'needs at least one element');
  t.runtime.dispatch(incrementKernel, {}, [t.bufferFor('incrementCounter')], null, [1, 1, 1]);
}
