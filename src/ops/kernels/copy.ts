/**
 * Raw strided copies (shaders/copy.wgsl): permute, expand, slice, pad, concat and clone as plain
 * kernel launches without autograd.
 */
import { ArgumentError } from '../../errors.js';
import { bindingsByName, packUniformBlock, type KernelDescriptor } from '../../gpu/kernel-descriptor.js';
import { fileKernel } from '../../gpu/pipeline-cache.js';
import { grid } from '../../gpu/runtime.js';
import { empty } from '../../tensor/creation.js';
import { sizeOf, stridesOf, type Shape } from '../../tensor/shape.js';
import type { Tensor } from '../../tensor/tensor.js';
import { WG } from './util.js';
import { fits } from './split.js';

/** The contract of shaders/copy.wgsl: per-dim tables of up to 8 dims, two vec4 each. */
const COPY: KernelDescriptor = {
  name: 'copy',
  bindings: [
    { name: 'src', access: 'read', type: 'u32' },
    { name: 'dst', access: 'read_write', type: 'u32' },
  ],
  uniforms: [
    { name: 'n', type: 'u32' },
    { name: 'rank', type: 'u32' },
    { name: 'dst_offset', type: 'u32' },
    { name: 'fill', type: 'u32' },
    { name: 'shape', type: 'vec4<u32>', count: 2 },
    { name: 'start', type: 'vec4<i32>', count: 2 },
    { name: 'step', type: 'vec4<i32>', count: 2 },
    { name: 'bound', type: 'vec4<u32>', count: 2 },
    { name: 'src_stride', type: 'vec4<u32>', count: 2 },
    { name: 'dst_stride', type: 'vec4<u32>', count: 2 },
    { name: 'src_base', type: 'u32' },
    { name: 'pad0', type: 'u32' },
    { name: 'pad1', type: 'u32' },
    { name: 'pad2', type: 'u32' },
  ],
  constants: { WG: { type: 'u32' } },
};

const kernel = fileKernel(COPY, 'copy');

/** The 32 bits of `value` as the output's dtype stores it (the shader copies words). */
function fillBits(dtype: Tensor['dtype'], value: number): number {
  const w = new Uint32Array(1);
  if (dtype === 'f32') new Float32Array(w.buffer)[0] = value;
  else new Int32Array(w.buffer)[0] = value;
  return w[0]!;
}

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
  if (fits(dst.runtime, src, dst)) launch(dst, src.bufferFor('copy'), dst.bufferFor('copy'), plan, 0, n);
  else splitCopy(src, dst, { ...plan, dstOffset: plan.dstOffset ?? 0 });
}

function launch(out: Tensor, src: GPUBuffer | GPUBufferBinding, dst: GPUBuffer | GPUBufferBinding, plan: CopyPlan, srcBase: number, n: number): void {
  const u = packUniformBlock(COPY, {
    n,
    rank: plan.shape.length,
    dst_offset: plan.dstOffset ?? 0,
    fill: fillBits(out.dtype, plan.fill ?? 0),
    shape: plan.shape,
    start: plan.start,
    step: plan.step,
    bound: plan.bound,
    src_stride: plan.srcStride,
    dst_stride: plan.dstStride,
    src_base: srcBase,
    pad0: 0,
    pad1: 0,
    pad2: 0,
  });
  out.runtime.dispatch(kernel, { WG }, bindingsByName(COPY, { src, dst }), new Uint8Array(u), grid(Math.ceil(n / WG)));
}

/**
 * A copy whose source or destination exceeds one binding: the plan is halved along the dim that
 * widens its spans most until the source elements it reads and the destination elements it writes each
 * span one binding; those spans are bound from an aligned start, the source's passed as srcBase.
 */
function splitCopy(src: Tensor, dst: Tensor, plan: CopyPlan & { dstOffset: number }): void {
  const rt = dst.runtime;
  const limit = rt.maxBindingBytes / 4;
  const align = Math.max(1, rt.limits.minStorageBufferOffsetAlignment / 4);
  const sb = src.bufferFor('copy');
  const db = dst.bufferFor('copy');
  const rank = plan.shape.length;
  const go = (p: CopyPlan & { dstOffset: number }): void => {
    const n = sizeOf(p.shape);
    if (n === 0) return;
    // Destination span: strides are nonnegative.
    const dLo = Math.floor(p.dstOffset / align) * align;
    const dHi = p.dstOffset + p.shape.reduce((acc, s, d) => acc + (s - 1) * p.dstStride[d]!, 0) + 1;
    // Source span over the in-bounds indices only (out-of-bounds ones write the fill).
    let sMin = 0;
    let sMax = 0;
    let reads = true;
    for (let d = 0; d < rank; d++) {
      const [lo, hi] = inBounds(p.start[d]!, p.step[d]!, p.bound[d]!, p.shape[d]!);
      if (lo > hi) reads = false;
      const a = (p.start[d]! + lo * p.step[d]!) * p.srcStride[d]!;
      const b = (p.start[d]! + hi * p.step[d]!) * p.srcStride[d]!;
      sMin += Math.min(a, b);
      sMax += Math.max(a, b);
    }
    const sLo = reads ? Math.floor(sMin / align) * align : 0;
    const sHi = reads ? sMax + 1 : Math.min(align, src.size);
    if ((sHi - sLo <= limit && dHi - dLo <= limit) || n === 1) {
      const sRange = { buffer: sb, offset: sLo * 4, size: Math.min(sb.size - sLo * 4, Math.ceil((sHi - sLo) / 4) * 16) };
      const dRange = { buffer: db, offset: dLo * 4, size: Math.min(db.size - dLo * 4, Math.ceil((dHi - dLo) / 4) * 16) };
      launch(dst, sRange, dRange, { ...p, dstOffset: p.dstOffset - dLo }, sLo, n);
      return;
    }
    // Halve the dim that widens the spans most.
    let d = 0;
    let widest = -1;
    for (let i = 0; i < rank; i++) {
      const w = (p.shape[i]! - 1) * Math.max(Math.abs(p.step[i]!) * p.srcStride[i]!, p.dstStride[i]!, 1);
      if (p.shape[i]! > 1 && w > widest) [d, widest] = [i, w];
    }
    const h = Math.floor(p.shape[d]! / 2);
    const first = { ...p, shape: p.shape.map((s, i) => (i === d ? h : s)) };
    const second = {
      ...p,
      shape: p.shape.map((s, i) => (i === d ? s - h : s)),
      start: p.start.map((s, i) => (i === d ? s + h * p.step[d]! : s)),
      dstOffset: p.dstOffset + h * p.dstStride[d]!,
    };
    go(first);
    go(second);
  };
  go(plan);
}

/** The index range [lo, hi] of k < len with 0 <= start + k * step < bound (lo > hi when empty). */
function inBounds(start: number, step: number, bound: number, len: number): [number, number] {
  if (step === 0) return start >= 0 && start < bound ? [0, len - 1] : [1, 0];
  const a = -start / step;
  const b = (bound - 1 - start) / step;
  const lo = Math.max(0, Math.ceil(Math.min(a, b)));
  const hi = Math.min(len - 1, Math.floor(Math.max(a, b)));
  return [lo, hi];
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
