/**
 * In-place re-initialisation of parameters that the layers created with PyTorch's layer defaults,
 * for models whose PyTorch definition re-initialises them (torchvision's ResNet: kaiming normal,
 * fan_out; its FPN: kaiming uniform a = 1, zero bias). Values are drawn on the host from the given
 * generator and written into the parameter's own buffer, so the tensor keeps its identity.
 */
import { fromArray } from '../../tensor/creation.js';
import type { Tensor } from '../../tensor/tensor.js';
import type { Generator } from '../../tensor/random.js';
import { defaultGenerator } from '../../tensor/random.js';
import { fans, gain } from '../init.js';

/**
 * Copies `values` (one per element) into t's buffer in stream order: after the work already
 * encoded (e.g. the fill kernel that made a batch-norm weight), before the work encoded later.
 * (A direct queue write would land ahead of not-yet-submitted kernels and be overwritten by them.)
 */
export function overwrite(t: Tensor, values: Float32Array): void {
  const src = fromArray(values, t.shape);
  t.runtime.copy(src.bufferFor('reinit'), 0, t.bufferFor('reinit'), 0, t.size * 4);
  src.dispose();
}

/** Fills t with `value`. */
export function fillConstant(t: Tensor, value: number): void {
  overwrite(t, new Float32Array(t.size).fill(value));
}

/** torch.nn.init.kaiming_normal_(w, mode='fan_out', nonlinearity='relu'): N(0, 2 / fan_out). */
export function kaimingNormalFanOut(w: Tensor, generator: Generator = defaultGenerator): void {
  const std = gain('relu') / Math.sqrt(fans(w.shape).fanOut);
  overwrite(w, generator.normal(w.size, 0, std));
}

/** torch.nn.init.kaiming_uniform_(w, a): U(+-gain(leaky_relu, a) * sqrt(3 / fan_in)). */
export function kaimingUniformFanIn(w: Tensor, a: number, generator: Generator = defaultGenerator): void {
  const bound = gain('leakyRelu', a) * Math.sqrt(3 / fans(w.shape).fanIn);
  overwrite(w, generator.uniform(w.size, -bound, bound));
}
