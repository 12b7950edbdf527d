/**
 * Raw dtype conversion (shaders/cast.wgsl).
 */
import { grid } from '../../gpu/runtime.js';
import { empty } from '../../tensor/creation.js';
import type { DType, Tensor } from '../../tensor/tensor.js';
import { WG } from '../util.js';

const kernel = { shader: 'cast', bindings: ['read', 'write', 'uniform'] } as const;

/** x converted to `dtype` (f32 -> i32 truncates toward zero); a plain copy when dtypes match. */
export function castRaw(x: Tensor, dtype: DType): Tensor {
  const y = empty(x.shape, dtype);
  if (x.size === 0) return y;
  if (x.dtype === dtype) {
    y.runtime.copy(x.bufferFor('cast'), 0, y.bufferFor('cast'), 0, x.size * 4);
    return y;
  }
  y.runtime.dispatch(kernel, { MODE: dtype === 'i32' ? 0 : 1, WG }, [x.bufferFor('cast'), y.bufferFor('cast')], new Uint32Array([x.size, 0, 0, 0]), grid(Math.ceil(x.size / WG)));
  return y;
}
