/**
 * Raw l2-normalisation along one axis (shaders/l2-normalize.wgsl): y = x / max(|x|, eps) and its
 * gradient, one invocation per normalised row; the differentiable op is `l2Normalize` in
 * src/ops/norm.ts.
 */
import { bindingsByName, packUniformBlock, type KernelDescriptor, type StorageBinding, type UniformField } from '../../gpu/kernel-descriptor.js';
import { fileKernel } from '../../gpu/pipeline-cache.js';
import { empty } from '../../tensor/creation.js';
import type { Tensor } from '../../tensor/tensor.js';
import { WG, wgGrid } from './util.js';
import { mapLanes, over } from './split.js';

/** f32 storage bindings of one access, in order. */
const f32s = (access: 'read' | 'read_write', ...names: string[]): StorageBinding[] => names.map((name) => ({ name, access, type: 'f32' }));

/** The uniform block (struct L2) both entry points share: the (outer, L, inner) view and eps. */
const L2_UNIFORMS: readonly UniformField[] = [...(['outer', 'l', 'inner'] as const).map((name) => ({ name, type: 'u32' as const })), { name: 'eps', type: 'f32' }];

/** y = x / max(|x|, eps) and norm = |x| per row (shaders/l2-normalize.wgsl, l2n_forward). */
const L2N_FORWARD: KernelDescriptor = {
  name: 'l2-normalize.forward',
  entry: 'l2n_forward',
  bindings: [...f32s('read', 'lf_x'), ...f32s('read_write', 'lf_y', 'lf_norm')],
  uniforms: L2_UNIFORMS,
  constants: { WG: { type: 'u32', default: 64 } },
};

/** dx from gy, the saved y and norms (shaders/l2-normalize.wgsl, l2n_backward). */
const L2N_BACKWARD: KernelDescriptor = {
  name: 'l2-normalize.backward',
  entry: 'l2n_backward',
  bindings: [...f32s('read', 'lb_gy', 'lb_y', 'lb_norm'), ...f32s('read_write', 'lb_dx')],
  uniforms: L2_UNIFORMS,
  constants: { WG: { type: 'u32', default: 64 } },
};

const l2ForwardKernel = fileKernel(L2N_FORWARD, 'l2-normalize', L2N_FORWARD.entry);
const l2BackwardKernel = fileKernel(L2N_BACKWARD, 'l2-normalize', L2N_BACKWARD.entry);

function l2Uniform(d: KernelDescriptor, outer: number, l: number, inner: number, eps: number): Uint8Array {
  return new Uint8Array(packUniformBlock(d, { outer, l, inner, eps }));
}

/** y = x / max(|x|, eps) along `axis` (normalised) and the norms |x| (shape without the axis). */
export function l2NormalizeForward(x: Tensor, axis: number, eps: number): { y: Tensor; norm: Tensor } {
  const xb = x.bufferFor('l2Normalize');
  const outer = x.shape.slice(0, axis).reduce((a, b) => a * b, 1);
  const l = x.shape[axis]!;
  const inner = x.shape.slice(axis + 1).reduce((a, b) => a * b, 1);
  if (outer * inner > 0 && over(x.runtime, x.size)) {
    const [y, norm] = mapLanes([{ t: x, mid: l }], outer, l, inner, [l, 1], ([p]) => {
      const r = l2NormalizeForward(p!, 1, eps);
      return [r.y, r.norm];
    });
    const out = { y: y!.view(x.shape), norm: norm!.view(x.shape.filter((_, i) => i !== axis)) };
    y!.dispose();
    norm!.dispose();
    return out;
  }
  const y = empty(x.shape);
  const norm = empty(x.shape.filter((_, i) => i !== axis));
  if (outer * inner > 0) {
    const bufs = bindingsByName(L2N_FORWARD, { lf_x: xb, lf_y: y.bufferFor('l2Normalize'), lf_norm: norm.bufferFor('l2Normalize') });
    y.runtime.dispatch(l2ForwardKernel, { WG }, bufs, l2Uniform(L2N_FORWARD, outer, l, inner, eps), wgGrid(outer * inner));
  }
  return { y, norm };
}

/** dx of y = x / max(|x|, eps) given gy, the saved y and norms. */
export function l2NormalizeBackward(gy: Tensor, y: Tensor, norm: Tensor, axis: number, eps: number): Tensor {
  const outer = y.shape.slice(0, axis).reduce((a, b) => a * b, 1);
  const l = y.shape[axis]!;
  const inner = y.shape.slice(axis + 1).reduce((a, b) => a * b, 1);
  if (outer * inner > 0 && over(y.runtime, y.size)) {
    const [dx] = mapLanes([{ t: gy, mid: l }, { t: y, mid: l }, { t: norm, mid: 1 }], outer, l, inner, [l], ([g, yy, nn]) => [
      l2NormalizeBackward(g!, yy!, nn!, 1, eps),
    ]);
    const out = dx!.view(y.shape);
    dx!.dispose();
    return out;
  }
  const dx = empty(y.shape);
  if (outer * inner > 0) {
    const bufs = bindingsByName(L2N_BACKWARD, {
      lb_gy: gy.bufferFor('l2Normalize'),
      lb_y: y.bufferFor('l2Normalize'),
      lb_norm: norm.bufferFor('l2Normalize'),
      lb_dx: dx.bufferFor('l2Normalize'),
    });
    dx.runtime.dispatch(l2BackwardKernel, { WG }, bufs, l2Uniform(L2N_BACKWARD, outer, l, inner, eps), wgGrid(outer * inner));
  }
  return dx;
}
