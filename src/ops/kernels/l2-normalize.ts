/**
 * Raw l2-normalisation along one axis (shaders/l2-normalize.wgsl): y = x / max(|x|, eps) and its
 * gradient, one invocation per normalised row; the differentiable op is `l2Normalize` in
 * src/ops/norm.ts.
 */
import { empty } from '../../tensor/creation.js';
import type { Tensor } from '../../tensor/tensor.js';
import { WG, wgGrid } from './util.js';
import { mapLanes, over } from './split.js';

const l2ForwardKernel = { shader: 'l2-normalize', entry: 'l2n_forward', bindings: ['read', 'write', 'write', 'uniform'] } as const;
const l2BackwardKernel = { shader: 'l2-normalize', entry: 'l2n_backward', bindings: ['read', 'read', 'read', 'write', 'uniform'] } as const;

function l2Uniform(outer: number, l: number, inner: number, eps: number): Uint8Array {
  const u = new ArrayBuffer(16);
  new Uint32Array(u, 0, 3).set([outer, l, inner]);
  new Float32Array(u, 12, 1)[0] = eps;
  return new Uint8Array(u);
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
    const bufs = [xb, y.bufferFor('l2Normalize'), norm.bufferFor('l2Normalize')];
    y.runtime.dispatch(l2ForwardKernel, { WG }, bufs, l2Uniform(outer, l, inner, eps), wgGrid(outer * inner));
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
    dx.runtime.dispatch(
      l2BackwardKernel,
      { WG },
      [gy.bufferFor('l2Normalize'), y.bufferFor('l2Normalize'), norm.bufferFor('l2Normalize'), dx.bufferFor('l2Normalize')],
      l2Uniform(outer, l, inner, eps),
      wgGrid(outer * inner),
    );
  }
  return dx;
}
