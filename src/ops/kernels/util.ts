/**
 * Helpers shared by op implementations: the elementwise workgroup size and grid, dtype checks.
 */
import { grid } from '../../gpu/runtime.js';
import { DTypeError } from '../../errors.js';
import type { Tensor } from '../../tensor/tensor.js';

/** Invocations per workgroup for elementwise-style kernels. */
export const WG = 64;

/** The workgroup grid for n invocations in workgroups of {@link WG}. */
export function wgGrid(n: number): [number, number, number] {
  return grid(Math.ceil(n / WG));
}

/** Throws DTypeError unless every tensor is f32. */
export function requireF32(op: string, ...ts: Tensor[]): void {
  for (const t of ts) {
    if (t.dtype !== 'f32') throw new DTypeError(op, `needs f32 tensors, got ${t.dtype} of shape [${t.shape.join(',')}]; cast() it first`);
  }
}

