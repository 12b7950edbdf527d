/**
 * A GPU-side step counter (shaders/counter.wgsl).
 */
import { DTypeError, ShapeError } from '../../errors.js';
import { bindingsByName, type KernelDescriptor } from '../../gpu/kernel-descriptor.js';
import { fileKernel } from '../../gpu/pipeline-cache.js';
import type { Tensor } from '../../tensor/tensor.js';

/** The contract of shaders/counter.wgsl: one i32 buffer, incremented in place; no uniforms. */
const COUNTER: KernelDescriptor = {
  name: 'counter',
  bindings: [{ name: 'counter', access: 'read_write', type: 'i32' }],
};

const incrementKernel = fileKernel(COUNTER, 'counter');

/**
 * Adds 1 to the first element of an i32 tensor in place, on the GPU in stream order (no readback):
 * the step counter of BatchNorm2d's `num_batches_tracked`.
 */
export function incrementCounter(t: Tensor): void {
  if (t.dtype !== 'i32') throw new DTypeError('incrementCounter', `needs an i32 tensor, got ${t.dtype}`);
  if (t.size < 1) throw new ShapeError('incrementCounter', [t.shape], 'needs at least one element');
  t.runtime.dispatch(incrementKernel, {}, bindingsByName(COUNTER, { counter: t.bufferFor('incrementCounter') }), null, [1, 1, 1]);
}
