/**
 * Helpers shared by op implementations: dtype checks, output allocation and uniform packing.
 */
import { grid } from '../../gpu/runtime.js';
import { DTypeError, ShapeError } from '../../errors.js';
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

/**
 * Packs a uniform block: each entry is a u32, an i32 or an f32 at consecutive 4-byte slots.
 * `['u', 3]` writes an unsigned integer, `['i', -1]` a signed one, `['f', 0.5]` a float.
 */
export function packUniforms(entries: readonly (readonly ['u' | 'i' | 'f', number])[], slots = entries.length): ArrayBuffer {
  const buf = new ArrayBuffer(Math.ceil(Math.max(slots, entries.length) / 4) * 16);
  const u = new Uint32Array(buf);
  const i = new Int32Array(buf);
  const f = new Float32Array(buf);
  entries.forEach(([kind, v], k) => {
    if (kind === 'u') u[k] = v;
    else if (kind === 'i') i[k] = v;
    else f[k] = v;
  });
  return buf;
}

/** Writes `values` into `u32` slots [at, at + 8) (the `array<vec4<u32>, 2>` layout used for shapes). */
export function putDims(u32: Uint32Array, at: number, values: readonly number[], max = 8, op = 'copy'): void {
  if (values.length > max) throw new ShapeError(op, [values], `rank ${values.length} exceeds the supported maximum ${max}`);
  values.forEach((v, k) => (u32[at + k] = v));
}
