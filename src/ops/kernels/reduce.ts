/**
 * Raw reductions (shaders/reduce.wgsl). Axes are reduced one contiguous block at a time as an
 * (outer, R, inner) view, so no transpose is needed; a long reduction with few outputs is split
 * into chunks and finished by a second pass.
 */
import { bindingsByName, enumValue, packUniformBlock, type KernelDescriptor } from '../../gpu/kernel-descriptor.js';
import { fileKernel } from '../../gpu/pipeline-cache.js';
import { ArgumentError, ShapeError } from '../../errors.js';
import { grid } from '../../gpu/runtime.js';
import { empty } from '../../tensor/creation.js';
import { sizeOf, type Shape } from '../../tensor/shape.js';
import type { Tensor } from '../../tensor/tensor.js';
import { WG } from './util.js';
import { binary, unary } from './elementwise.js';
import { fits, mapRows, sumRows, takeRows } from './split.js';

/** The contract of shaders/reduce.wgsl: bindings, uniforms and op codes by name. */
const REDUCE: KernelDescriptor = {
  name: 'reduce',
  bindings: [
    { name: 'x', access: 'read', type: 'f32' },
    { name: 'y', access: 'read_write', type: 'u32' },
  ],
  uniforms: [
    { name: 'outer', type: 'u32' },
    { name: 'r', type: 'u32' },
    { name: 'inner', type: 'u32' },
    { name: 's', type: 'u32' },
    { name: 'chunk', type: 'u32' },
    { name: 'scale', type: 'f32' },
    { name: 'pad0', type: 'u32' },
    { name: 'pad1', type: 'u32' },
  ],
  constants: { OP: { type: 'u32' }, WG: { type: 'u32' } },
  enums: { reduce: ['sum', 'max', 'min', 'argmax', 'argmin'] },
};
export type ReduceCode = 'sum' | 'max' | 'min' | 'argmax' | 'argmin';

const kernel = fileKernel(REDUCE, 'reduce');

/** Below this many outputs a long reduction is split into chunks. */
const FEW_OUTPUTS = 4096;

function pass(op: ReduceCode, x: Tensor, outer: number, r: number, inner: number, s: number, scale: number): Tensor {
  const chunk = Math.ceil(r / s);
  const y = empty([outer, s, inner], op === 'argmax' || op === 'argmin' ? 'i32' : 'f32');
  const u = packUniformBlock(REDUCE, { outer, r, inner, s, chunk, scale, pad0: 0, pad1: 0 });
  const n = outer * s * inner;
  if (n > 0) {
    const buffers = bindingsByName(REDUCE, { x: x.bufferFor(op), y: y.bufferFor(op) });
    y.runtime.dispatch(kernel, { OP: enumValue(REDUCE, 'reduce', op), WG }, buffers, new Uint8Array(u), grid(Math.ceil(n / WG)));
  }
  return y;
}

/** Reduces the (outer, r, inner) view of x over r; returns shape [outer, inner]. */
function reduceBlock(op: ReduceCode, x: Tensor, outer: number, r: number, inner: number, scale: number): Tensor {
  const outputs = outer * inner;
  const arg = op === 'argmax' || op === 'argmin';
  if (!arg && outputs < FEW_OUTPUTS && r > 64) {
    const s = Math.min(Math.ceil(r / 32), Math.ceil((2 * FEW_OUTPUTS) / Math.max(outputs, 1)));
    const chunk = Math.ceil(r / s);
    const parts = pass(op, x, outer, r, inner, Math.ceil(r / chunk), 1);
    const out = reduceBlock(op, parts, outer, parts.shape[1]!, inner, scale);
    parts.dispose();
    return out;
  }
  const y = pass(op, x, outer, r, inner, 1, scale);
  const out = y.view([outer, inner]);
  y.dispose();
  return out;
}

/**
 * Reduces x over `axes` (normalised, sorted, unique) with `op`; the result has the reduced dims
 * removed (callers reshape for keepdim). `scale` multiplies the final sum (1/n for mean).
 * argmax/argmin take exactly one axis.
 */
export function reduce(op: ReduceCode, x: Tensor, axes: readonly number[], scale = 1): Tensor {
  x.storageFor(op); // a disposed input throws here, before anything is allocated
  const arg = op === 'argmax' || op === 'argmin';
  if (arg && axes.length !== 1) throw new ArgumentError(op, 'reduces exactly one axis (flatten first for a global index)');
  if (op !== 'sum' && axes.some((a) => x.shape[a] === 0)) {
    throw new ShapeError(op, [x.shape], 'cannot reduce over an empty dimension');
  }
  const outShape: number[] = x.shape.filter((_, i) => !axes.includes(i));
  if (!fits(x.runtime, x)) {
    if (axes.length > 0) return reduceSplit(op, x, axes, scale, outShape);
    // Nothing to reduce: sum scales, the others copy.
    return op === 'sum' && scale !== 1 ? unary('affine', x, scale) : x.view(x.shape);
  }
  if (axes.length === 0) {
    return scale === 1 ? x.view(x.shape) : (() => {
      const y = pass(op, x, 1, 1, x.size, 1, scale);
      const v = y.view(x.shape);
      y.dispose();
      return v;
    })();
  }
  // Split the axes into maximal runs of consecutive dims and reduce the innermost run first.
  const runs: number[][] = [];
  for (const a of axes) {
    const last = runs[runs.length - 1];
    if (last && last[last.length - 1] === a - 1) last.push(a);
    else runs.push([a]);
  }
  let cur = x;
  let shape: Shape = x.shape;
  for (let k = runs.length - 1; k >= 0; k--) {
    const run = runs[k]!;
    const first = run[0]!;
    const lastAxis = run[run.length - 1]!;
    const outer = sizeOf(shape.slice(0, first));
    const r = sizeOf(shape.slice(first, lastAxis + 1));
    const inner = sizeOf(shape.slice(lastAxis + 1));
    const next = reduceBlock(op, cur, outer, r, inner, k === 0 ? scale : 1);
    if (cur !== x) cur.dispose();
    cur = next;
    shape = [...shape.slice(0, first), ...shape.slice(lastAxis + 1)];
  }
  const out = cur.view(outShape);
  cur.dispose();
  return out;
}

/**
 * A reduction of an x larger than one binding, by chunks of its leading axis: the partial results
 * add up (max, min: their maximum, minimum) when that axis is reduced, else they are joined. A leading
 * axis of size 1 is dropped, so the split moves inward until a chunk fits.
 */
function reduceSplit(op: ReduceCode, x: Tensor, axes: readonly number[], scale: number, outShape: readonly number[]): Tensor {
  const rest = axes.filter((a) => a !== 0).map((a) => a - 1);
  if (x.shape[0] === 1) {
    const v = x.view(x.shape.slice(1));
    const r = reduce(op, v, rest, scale);
    v.dispose();
    const out = r.view(outShape);
    r.dispose();
    return out;
  }
  const n = x.shape[0]!;
  const row = (x.size / n) * 4;
  const part = (n0: number, nb: number) => {
    const c = takeRows(x, n0, nb);
    const r = reduce(op, c, axes, scale);
    c.dispose();
    return r;
  };
  if (!axes.includes(0)) return mapRows(x.runtime, n, row, part);
  if (op === 'argmax' || op === 'argmin') {
    throw new ArgumentError(op, `over the leading axis of a tensor larger than one binding (${x.runtime.maxBindingBytes} bytes) is not split; reduce a reshaped view`);
  }
  const combine = op === 'sum' ? 'add' : op === 'max' ? 'maximum' : 'minimum';
  return sumRows(x.runtime, n, row, part, (a, b) => binary(combine, a, b));
}

/** Sums `g` down to `shape` (the inverse of broadcasting `shape` to g's shape). */
export function sumTo(g: Tensor, shape: Shape): Tensor {
  if (g.shape.length === shape.length && g.shape.every((d, i) => d === shape[i])) return g.view(shape);
  const off = g.rank - shape.length;
  const axes: number[] = [];
  for (let i = 0; i < g.rank; i++) if (i < off || (shape[i - off] === 1 && g.shape[i] !== 1)) axes.push(i);
  const r = reduce('sum', g, axes);
  const out = r.view(shape);
  r.dispose();
  return out;
}
