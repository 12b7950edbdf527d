/**
 * Raw dtype conversion (shaders/cast.wgsl).
 */
import { grid } from '../../gpu/runtime.js';
import { empty } from '../../tensor/creation.js';
import type { DType, Tensor } from '../../tensor/tensor.js';
import { WG } from './util.js';
import { fits, flatChunks, range } from './split.js';

const kernel = { shader: 'cast', bindings: ['read', 'write', 'uniform'] } as const;

/** x converted to `dtype` (f32 -> i32 truncates toward zero); a plain copy when dtypes match. */
export function castRaw(x: Tensor, dtype: DType): Tensor {
  const y = empty(x.shape, dtype);
  if (x.size === 0) return y;
  if (x.dtype === dtype) {
    y.runtime.copy(x.bufferFor('cast'), 0, y.bufferFor('cast'), 0, x.size * 4);
    return y;
  }
  const rt = y.runtime;
  const chunks: [number, number][] = fits(rt, x) ? [[0, x.size]] : flatChunks(rt, x.size);
  for (const [s, n] of chunks) {
    const bufs = chunks.length === 1 ? [x.bufferFor('cast'), y.bufferFor('cast')] : [range(x, s, n, 'cast'), range(y, s, n, 'cast')];
    rt.dispatch(kernel, { MODE: dtype === 'i32' ? 0 : 1, WG }, bufs, new Uint32Array([n, 0, 0, 0]), grid(Math.ceil(n / WG)));
  }
  return y;
}
