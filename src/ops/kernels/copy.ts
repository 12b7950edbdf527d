/**
 * Raw strided copies (shaders/copy.wgsl): permute, expand, slice, pad, concat and clone as plain
 * kernel launches without autograd.
 */
import { ArgumentError } from '../../errors.js';
import { grid } from '../../gpu/runtime.js';
import { empty } from '../../tensor/creation.js';
import { sizeOf, stridesOf, type Shape } from '../../tensor/shape.js';
import type { Tensor } from '../../tensor/tensor.js';
import { WG, putDims } from '../util.js';

const kernel = { shader: 'copy', bindings: ['read', 'write', 'uniform'] } as const;

/** One copy: iteration shape, per-dim source mapping and destination strides. */
export interface CopyPlan {
  shape: Shape;
  start: readonly number[];
  step: readonly number[];
  bound: readonly number[];
  srcStride: readonly number[];
  dstStride: readonly number[];
  dstOffset?: number;
  /** Value written where the source index falls outside its bounds (padding). */
  fill?: number;
}

/** Encodes one strided copy from src into dst following `plan`. */
export function stridedCopy(src: Tensor, dst: Tensor, plan: CopyPlan): void {
  const n = sizeOf(plan.shape);
  if (n === 0) return;
  if (plan.shape.length > 8) throw new ArgumentError('copy', `rank ${plan.shape.length} exceeds 8`);
  const u = new ArrayBuffer(16 + 6 * 32);
  const u32 = new Uint32Array(u);
  const i32 = new Int32Array(u);
  u32[0] = n;
  u32[1] = plan.shape.length;
  u32[2] = plan.dstOffset ?? 0;
  if (dst.dtype === 'f32') new Float32Array(u, 12, 1)[0] = plan.fill ?? 0;
  else i32[3] = plan.fill ?? 0;
  putDims(u32, 4, plan.shape);
  plan.start.forEach((v, k) => (i32[12 + k] = v));
  plan.step.forEach((v, k) => (i32[20 + k] = v));
  putDims(u32, 28, plan.bound);
  putDims(u32, 36, plan.srcStride);
  putDims(u32, 44, plan.dstStride);
  dst.runtime.dispatch(kernel, { WG }, [src.bufferFor('copy'), dst.bufferFor('copy')], u32, grid(Math.ceil(n / WG)));
}

/** A copy of `x` in new memory. */
export function clone(x: Tensor): Tensor {
  const y = empty(x.shape, x.dtype);
  if (x.size > 0) y.runtime.copy(x.bufferFor('clone'), 0, y.bufferFor('clone'), 0, Math.ceil(x.size) * 4);
  return y;
}

/** Dims reordered: output dim d is input dim perm[d] (perm already validated). */
export function permute(x: Tensor, perm: readonly number[]): Tensor {
  const shape = perm.map((p) => x.shape[p]!);
  const y = empty(shape, x.dtype);
  const st = stridesOf(x.shape);
  stridedCopy(x, y, {
    shape,
    start: shape.map(() => 0),
    step: shape.map(() => 1),
    bound: shape,
    srcStride: perm.map((p) => st[p]!),
    dstStride: stridesOf(shape),
  });
  return y;
}

/** x broadcast to `shape` (validated by the caller) and materialised. */
export function expand(x: Tensor, shape: Shape): Tensor {
  const y = empty(shape, x.dtype);
  const off = shape.length - x.rank;
  const st = stridesOf(x.shape);
  stridedCopy(x, y, {
    shape,
    start: shape.map(() => 0),
    step: shape.map((_, i) => (i < off || x.shape[i - off] === 1 ? 0 : 1)),
    bound: shape.map(() => 0xffffffff),
    srcStride: shape.map((_, i) => (i < off ? 0 : st[i - off]!)),
    dstStride: stridesOf(shape),
  });
  return y;
}

/** Elements start[d] + k*step[d] for k < size[d] along every dim (validated by the caller). */
export function slice(x: Tensor, start: readonly number[], size: readonly number[], step: readonly number[]): Tensor {
  const y = empty(size, x.dtype);
  stridedCopy(x, y, { shape: size, start, step, bound: x.shape, srcStride: stridesOf(x.shape), dstStride: stridesOf(size) });
  return y;
}

/** The inverse of slice: zeros of `shape` with `g` written at start + k*step. */
export function unslice(g: Tensor, shape: Shape, start: readonly number[], step: readonly number[]): Tensor {
  const y = empty(shape, g.dtype);
  // Fill with zeros by padding the whole output from an empty source region, then scatter g in.
  stridedCopy(g, y, { shape, start: shape.map(() => -1), step: shape.map(() => 0), bound: shape.map(() => 0), srcStride: shape.map(() => 0), dstStride: stridesOf(shape), fill: 0 });
  const dst = stridesOf(shape);
  stridedCopy(g, y, {
    shape: g.shape,
    start: g.shape.map(() => 0),
    step: g.shape.map(() => 1),
    bound: g.shape,
    srcStride: stridesOf(g.shape),
    dstStride: dst.map((s, d) => s * step[d]!),
    dstOffset: start.reduce((acc, s, d) => acc + s * dst[d]!, 0),
  });
  return y;
}

/** x with `before[d]` and `after[d]` elements of `value` added along each dim (negative crops). */
export function pad(x: Tensor, before: readonly number[], after: readonly number[], value = 0): Tensor {
  const shape = x.shape.map((d, i) => d + before[i]! + after[i]!);
  const y = empty(shape, x.dtype);
  stridedCopy(x, y, {
    shape,
    start: before.map((b) => -b),
    step: shape.map(() => 1),
    bound: x.shape,
    srcStride: stridesOf(x.shape),
    dstStride: stridesOf(shape),
    fill: value,
  });
  return y;
}

/** Tensors joined along `axis` (shapes validated by the caller). */
export function concat(xs: readonly Tensor[], axis: number): Tensor {
  const shape = [...xs[0]!.shape];
  shape[axis] = xs.reduce((acc, t) => acc + t.shape[axis]!, 0);
  const y = empty(shape, xs[0]!.dtype);
  const dst = stridesOf(shape);
  let at = 0;
  for (const x of xs) {
    stridedCopy(x, y, {
      shape: x.shape,
      start: x.shape.map(() => 0),
      step: x.shape.map(() => 1),
      bound: x.shape,
      srcStride: stridesOf(x.shape),
      dstStride: dst,
      dstOffset: at * dst[axis]!,
    });
    at += x.shape[axis]!;
  }
  return y;
}
