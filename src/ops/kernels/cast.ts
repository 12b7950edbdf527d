/**
 * Raw dtype conversion (shaders/cast.wgsl).
 */
import { bindingsByName, enumValue, packUniformBlock, type KernelDescriptor } from '../../gpu/kernel-descriptor.js';
import { fileKernel } from '../../gpu/pipeline-cache.js';
import { grid } from '../../gpu/runtime.js';
import { empty } from '../../tensor/creation.js';
import type { DType, Tensor } from '../../tensor/tensor.js';
import { WG } from './util.js';
import { fits, flatChunks, range } from './split.js';

/** The contract of shaders/cast.wgsl: 32-bit words in, 32-bit words out, the direction by MODE. */
const CAST: KernelDescriptor = {
  name: 'cast',
  bindings: [
    { name: 'x', access: 'read', type: 'u32' },
    { name: 'y', access: 'read_write', type: 'u32' },
  ],
  uniforms: [
    { name: 'n', type: 'u32' },
    { name: 'pad0', type: 'u32' },
    { name: 'pad1', type: 'u32' },
    { name: 'pad2', type: 'u32' },
  ],
  constants: { MODE: { type: 'u32' }, WG: { type: 'u32' } },
  enums: { mode: ['f32ToI32', 'i32ToF32'] },
};

const kernel = fileKernel(CAST, 'cast');

/** x converted to `dtype` (f32 -> i32 truncates toward zero); a plain copy when dtypes match. */
export function castRaw(x: Tensor, dtype: DType): Tensor {
  const y = empty(x.shape, dtype);
  if (x.size === 0) return y;
  if (x.dtype === dtype) {
    y.runtime.copy(x.bufferFor('cast'), 0, y.bufferFor('cast'), 0, x.size * 4);
    return y;
  }
  const rt = y.runtime;
  const MODE = enumValue(CAST, 'mode', dtype === 'i32' ? 'f32ToI32' : 'i32ToF32');
  const chunks: [number, number][] = fits(rt, x) ? [[0, x.size]] : flatChunks(rt, x.size);
  for (const [s, n] of chunks) {
    const whole = chunks.length === 1;
    const buffers = bindingsByName(CAST, {
      x: whole ? x.bufferFor('cast') : range(x, s, n, 'cast'),
      y: whole ? y.bufferFor('cast') : range(y, s, n, 'cast'),
    });
    const u = packUniformBlock(CAST, { n, pad0: 0, pad1: 0, pad2: 0 });
    rt.dispatch(kernel, { MODE, WG }, buffers, new Uint8Array(u), grid(Math.ceil(n / WG)));
  }
  return y;
}
