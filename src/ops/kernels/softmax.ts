/**
 * Raw softmax, log-softmax and logsumexp along one axis (shaders/softmax.wgsl).
 */
import { grid } from '../../gpu/runtime.js';
import { empty } from '../../tensor/creation.js';
import { sizeOf } from '../../tensor/shape.js';
import type { Tensor } from '../../tensor/tensor.js';
import { WG } from './util.js';
import { mapLanes, over } from './split.js';

const MODES = { softmax: 0, logSoftmax: 1, logsumexp: 2 } as const;
const kernel = { shader: 'softmax', bindings: ['read', 'write', 'uniform'] } as const;

/** Applies `mode` along normalised `axis`; logsumexp drops the axis from the shape. */
export function softmaxFamily(mode: keyof typeof MODES, x: Tensor, axis: number): Tensor {
  const xb = x.bufferFor(mode); // before allocating, so a disposed input leaks no output buffer
  const outer = sizeOf(x.shape.slice(0, axis));
  const len = x.shape[axis]!;
  const inner = sizeOf(x.shape.slice(axis + 1));
  const shape = mode === 'logsumexp' ? x.shape.filter((_, i) => i !== axis) : x.shape;
  const rt = x.runtime;
  if (outer * inner * len > 0 && over(rt, x.size)) {
    const [y] = mapLanes([{ t: x, mid: len }], outer, len, inner, [mode === 'logsumexp' ? 1 : len], ([p]) => [softmaxFamily(mode, p!, 1)]);
    const out = y!.view(shape);
    y!.dispose();
    return out;
  }
  const y = empty(shape);
  const rows = outer * inner;
  if (rows > 0 && len > 0) {
    y.runtime.dispatch(kernel, { MODE: MODES[mode], WG }, [xb, y.bufferFor(mode)], new Uint32Array([outer, len, inner, 0]), grid(Math.ceil(rows / WG)));
  }
  return y;
}
