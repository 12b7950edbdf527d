/**
 * The f16 path: which products store their k-major operands as f16 when `runtime().f16` is on
 * (src/gpu/runtime.ts), and the f16 variants of kernels (compiled from the same WGSL text with its
 * `kvec` alias switched, src/gpu/shader-f16.ts). Operands are rounded to f16 once, where they are
 * packed or im2col'd; the products multiply and accumulate in f32 and write f32, so only the rounding
 * of the inputs (relative 2^-11 each) separates the result from the f32 path's.
 */
import type { Kernel } from '../../gpu/pipeline-cache.js';
import type { F16Pass } from '../../gpu/kernel-options.js';
import type { Runtime } from '../../gpu/runtime.js';

/**
 * Products that can read f16 operands: `matmul` (every matmulRaw product on `outer`/`tiled`, which
 * includes the backward products of matmul and linear: the kernel layer cannot tell them apart),
 * and the three convolution passes run as im2col products. Which of them do is the runtime's
 * `kernelOptions.f16Passes` (src/gpu/kernel-options.ts).
 */
export type { F16Pass } from '../../gpu/kernel-options.js';

/** True when `pass` should run on f16 operands on `rt` (its switch is on and the pass takes part). */
export function useF16(rt: Runtime, pass: F16Pass): boolean {
  return rt.f16 && rt.kernelOptions.f16Passes[pass];
}

const variants = new WeakMap<Kernel, Kernel>();

/**
 * `kernel` itself, or with `f16` its f16 variant (made once per kernel object, so dispatching it
 * allocates nothing). The shader must declare an f16 alias (see src/gpu/shader-f16.ts).
 */
export function f16Kernel(kernel: Kernel, f16: boolean | undefined): Kernel {
  if (!f16) return kernel;
  let v = variants.get(kernel);
  if (!v) variants.set(kernel, (v = { ...kernel, f16: true }));
  return v;
}
