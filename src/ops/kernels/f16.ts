/**
 * The f16 path: which products store their k-major operands as f16 when `runtime().f16` is on
 * (src/gpu/runtime.ts), and the f16 variants of kernels (compiled from the same WGSL text with its
 * `kvec` alias switched, src/gpu/shader-f16.ts). Operands are rounded to f16 once, where they are
 * packed or im2col'd; the products multiply and accumulate in f32 and write f32, so only the rounding
 * of the inputs (relative 2^-11 each) separates the result from the f32 path's.
 */
import type { Kernel } from '../../gpu/pipeline-cache.js';
import type { Runtime } from '../../gpu/runtime.js';

/**
 * Products that can read f16 operands: `matmul` (every matmulRaw product on `outer`/`tiled`, which
 * includes the backward products of matmul and linear: the kernel layer cannot tell them apart),
 * and the three convolution passes run as im2col products.
 */
export type F16Pass = 'matmul' | 'conv-forward' | 'conv-input' | 'conv-weight';

/**
 * Which passes use f16 when the switch is on. The convolution gradients stay f32: both read the
 * output gradient, whose values (a loss averaged over many pixels) often lie below f16's normal
 * range (6.1e-5), where f16 keeps few significant bits or flushes to zero; using them safely needs
 * loss scaling, which webmtl does not do.
 */
let passes: Record<F16Pass, boolean> = { matmul: true, 'conv-forward': true, 'conv-input': false, 'conv-weight': false };

/** True when `pass` should run on f16 operands on `rt` (its switch is on and the pass takes part). */
export function useF16(rt: Runtime, pass: F16Pass): boolean {
  return rt.f16 && passes[pass];
}

/**
 * Sets which passes use f16 while the runtime's switch is on and returns the previous setting; for
 * tests and benchmarks that measure the gradient passes on f16 too.
 */
export function setF16Passes(p: Partial<Record<F16Pass, boolean>>): Record<F16Pass, boolean> {
  const old = passes;
  passes = { ...passes, ...p };
  return old;
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
