/**
 * Raw softmax, log-softmax and logsumexp along one axis (shaders/softmax.wgsl).
 */
import { bindingsByName, enumValue, packUniformBlock, type KernelDescriptor } from '../../gpu/kernel-descriptor.js';
import { fileKernel } from '../../gpu/pipeline-cache.js';
import { grid } from '../../gpu/runtime.js';
import { empty } from '../../tensor/creation.js';
import { sizeOf } from '../../tensor/shape.js';
import type { Tensor } from '../../tensor/tensor.js';
import { WG } from './util.js';
import { mapLanes, over } from './split.js';

/** The softmax family, in shaders/softmax.wgsl's numbering (MODE_SOFTMAX, ...). */
const MODES = ['softmax', 'logSoftmax', 'logsumexp'] as const;
type SoftmaxMode = (typeof MODES)[number];

/** The contract of shaders/softmax.wgsl: one row of an (outer, len, inner) view per invocation. */
const SOFTMAX: KernelDescriptor = {
  name: 'softmax',
  bindings: [
    { name: 'x', access: 'read', type: 'f32' },
    { name: 'y', access: 'read_write', type: 'f32' },
  ],
  uniforms: [
    { name: 'outer', type: 'u32' },
    { name: 'len', type: 'u32' },
    { name: 'inner', type: 'u32' },
    { name: 'pad', type: 'u32' },
  ],
  constants: { MODE: { type: 'u32' }, WG: { type: 'u32' } },
  enums: { mode: MODES },
};

const kernel = fileKernel(SOFTMAX, 'softmax');

/** Applies `mode` along normalised `axis`; logsumexp drops the axis from the shape. */
export function softmaxFamily(mode: SoftmaxMode, x: Tensor, axis: number): Tensor {
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
    const u = packUniformBlock(SOFTMAX, { outer, len, inner, pad: 0 });
    const buffers = bindingsByName(SOFTMAX, { x: xb, y: y.bufferFor(mode) });
    y.runtime.dispatch(kernel, { MODE: enumValue(SOFTMAX, 'mode', mode), WG }, buffers, new Uint8Array(u), grid(Math.ceil(rows / WG)));
  }
  return y;
}
