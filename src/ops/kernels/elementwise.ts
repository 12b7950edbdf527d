/**
 * Raw elementwise launchers (shaders/unary.wgsl, binary.wgsl, where.wgsl): no autograd, no
 * recording. Differentiable ops and backward rules are both written with these.
 */
import { ShapeError } from '../../errors.js';
import { grid } from '../../gpu/runtime.js';
import { empty } from '../../tensor/creation.js';
import { broadcastShapes, broadcastStrides, sameShape, sizeOf } from '../../tensor/shape.js';
import type { Tensor } from '../../tensor/tensor.js';
import { WG, requireF32 } from './util.js';
import { fits, flatChunks, mapRows, range, takeRows } from './split.js';
import { bindingsByName, enumValue, packUniformBlock } from '../../gpu/kernel-descriptor.js';
import { fileKernel } from '../../gpu/pipeline-cache.js';
import { BINARY, UNARY, WHERE, type BinaryCode, type UnaryCode } from './elementwise-descriptors.js';

export type { BinaryCode, UnaryCode } from './elementwise-descriptors.js';

const unaryKernel = fileKernel(UNARY, 'unary');
const binaryKernel = fileKernel(BINARY, 'binary');
const bcastKernel = fileKernel(BINARY, 'binary', 'bcast');
const whereKernel = fileKernel(WHERE, 'where');

/** The rank limit of the broadcast kernels (two vec4 per shape and stride table). */
function checkRank(op: string, dims: readonly number[]): void {
  if (dims.length > 8) throw new ShapeError(op, [dims], `rank ${dims.length} exceeds the supported maximum 8`);
}

/** y = f(x) for unary op `op` with parameters a, b. */
export function unary(op: UnaryCode, x: Tensor, a = 0, b = 0): Tensor {
  requireF32(op, x);
  const xb = x.bufferFor(op); // before allocating, so a disposed input leaks no output buffer
  const y = empty(x.shape);
  const rt = y.runtime;
  const launch = (xr: GPUBuffer | GPUBufferBinding, yr: GPUBuffer | GPUBufferBinding, n: number) => {
    const n4 = Math.ceil(n / 4);
    const u = packUniformBlock(UNARY, { n4, alpha: a, beta: b, pad: 0 });
    rt.dispatch(unaryKernel, { OP: enumValue(UNARY, 'unary', op), WG }, bindingsByName(UNARY, { x: xr, y: yr }), new Uint8Array(u), grid(Math.ceil(n4 / WG)));
  };
  if (x.size === 0) return y;
  if (fits(rt, x)) launch(xb, y.bufferFor(op), x.size);
  else for (const [s, n] of flatChunks(rt, x.size)) launch(range(x, s, n, op), range(y, s, n, op), n);
  return y;
}

/**
 * The broadcast op `fn` over operands too large for one binding, one chunk of the output's leading
 * axis at a time: an operand that spans that axis gives its rows, one broadcast along it (size 1, or
 * of lower rank) is passed whole. A leading axis of size 1 is dropped instead, so the split moves
 * inward until the chunks fit.
 */
function splitBroadcast(shape: readonly number[], xs: readonly Tensor[], fn: (...xs: Tensor[]) => Tensor): Tensor {
  const rank = shape.length;
  const spans = (t: Tensor) => t.rank === rank && t.shape[0] === shape[0];
  if (shape[0] === 1) {
    const views = xs.map((t) => (t.rank === rank ? t.view(t.shape.slice(1)) : t));
    const r = fn(...views);
    views.forEach((v, i) => v !== xs[i] && v.dispose());
    const out = r.view(shape);
    r.dispose();
    return out;
  }
  const row = Math.max(sizeOf(shape.slice(1)), ...xs.map((t) => (spans(t) ? t.size / shape[0]! : 0))) * 4;
  return mapRows(xs[0]!.runtime, shape[0]!, row, (n0, nb) => {
    const parts = xs.map((t) => (spans(t) ? takeRows(t, n0, nb) : t));
    const r = fn(...parts);
    parts.forEach((p, i) => p !== xs[i] && p.dispose());
    return r;
  });
}

/** The kernels index at most this many dims. */
const MAX_RANK = 8;

/**
 * The broadcast iteration over `shape` with fewer dims: size-1 dims are dropped and adjacent dims
 * that every operand reads contiguously (or all with stride 0) are merged. That saves index
 * arithmetic in the kernels and lets tensors of rank above 8 broadcast whenever their pattern
 * collapses to 8 dims; otherwise a ShapeError names the op.
 */
function collapse(op: string, shape: readonly number[], inputs: readonly (readonly number[])[]): { shape: number[]; strides: number[][] } {
  const full = inputs.map((s) => broadcastStrides(s, shape));
  const dims: number[] = [];
  const strides: number[][] = inputs.map(() => []);
  shape.forEach((d, i) => {
    if (d === 1) return;
    const n = dims.length;
    if (n > 0 && full.every((st, k) => strides[k]![n - 1] === st[i]! * d)) {
      dims[n - 1]! *= d;
      full.forEach((st, k) => (strides[k]![n - 1] = st[i]!));
    } else {
      dims.push(d);
      full.forEach((st, k) => strides[k]!.push(st[i]!));
    }
  });
  if (dims.length === 0) {
    dims.push(1);
    strides.forEach((st) => st.push(0));
  }
  if (dims.length > MAX_RANK) {
    throw new ShapeError(op, inputs, `broadcasting needs ${dims.length} dims after merging, more than the ${MAX_RANK} supported`);
  }
  return { shape: dims, strides };
}

/** y = f(a, b) with broadcasting; `p0`, `p1` are the op's scalar parameters. */
export function binary(op: BinaryCode, a: Tensor, b: Tensor, p0 = 0, p1 = 0): Tensor {
  requireF32(op, a, b);
  const shape = sameShape(a.shape, b.shape) ? a.shape : broadcastShapes(op, a.shape, b.shape);
  const ab = a.bufferFor(op);
  const bb = b.bufferFor(op);
  const same = sameShape(a.shape, shape) && sameShape(b.shape, shape);
  const rt = a.runtime;
  const n = sizeOf(shape);
  if (!same && n > 0 && (n * 4 > rt.maxBindingBytes || !fits(rt, a, b))) {
    return splitBroadcast(shape, [a, b], (x, z) => binary(op, x!, z!, p0, p1));
  }
  const m = same ? null : collapse(op, shape, [a.shape, b.shape]);
  const y = empty(shape);
  if (y.size === 0) return y;
  if (same && !fits(rt, y)) {
    for (const [s, c] of flatChunks(rt, n)) {
      const u = packUniformBlock(BINARY, { n: c, rank: 0, alpha: p0, beta: p1, shape: [], sa: [], sb: [] });
      const buffers = bindingsByName(BINARY, { a: range(a, s, c, op), b: range(b, s, c, op), y: range(y, s, c, op) });
      rt.dispatch(binaryKernel, { OP: enumValue(BINARY, 'binary', op), WG }, buffers, new Uint8Array(u), grid(Math.ceil(c / 4 / WG)));
    }
    return y;
  }
  if (m) checkRank(op, m.shape);
  const u = packUniformBlock(BINARY, {
    n: y.size,
    rank: m ? m.shape.length : 0,
    alpha: p0,
    beta: p1,
    shape: m ? m.shape : [],
    sa: m ? m.strides[0]! : [],
    sb: m ? m.strides[1]! : [],
  });
  const groups = grid(Math.ceil(y.size / 4 / WG));
  const buffers = bindingsByName(BINARY, { a: ab, b: bb, y: y.bufferFor(op) });
  y.runtime.dispatch(same ? binaryKernel : bcastKernel, { OP: enumValue(BINARY, 'binary', op), WG }, buffers, new Uint8Array(u), groups);
  return y;
}

/** Picks a where cond != 0 (NaN counts as true), else b, with broadcasting over all three. */
export function where(cond: Tensor, a: Tensor, b: Tensor): Tensor {
  requireF32('where', cond, a, b);
  let shape: number[];
  try {
    shape = broadcastShapes('where', broadcastShapes('where', cond.shape, a.shape), b.shape);
  } catch (e) {
    if (!(e instanceof ShapeError)) throw e;
    throw new ShapeError('where', [cond.shape, a.shape, b.shape], 'cond, a and b do not broadcast together');
  }
  const bufs = { c: cond.bufferFor('where'), a: a.bufferFor('where'), b: b.bufferFor('where') };
  const n = sizeOf(shape);
  if (n > 0 && (n * 4 > cond.runtime.maxBindingBytes || !fits(cond.runtime, cond, a, b))) {
    return splitBroadcast(shape, [cond, a, b], (c, x, z) => where(c!, x!, z!));
  }
  const m = collapse('where', shape, [cond.shape, a.shape, b.shape]);
  const y = empty(shape);
  if (y.size === 0) return y;
  const u = packUniformBlock(WHERE, {
    n: y.size,
    rank: m.shape.length,
    pad0: 0,
    pad1: 0,
    shape: m.shape,
    sc: m.strides[0]!,
    sa: m.strides[1]!,
    sb: m.strides[2]!,
  });
  const buffers = bindingsByName(WHERE, { ...bufs, y: y.bufferFor('where') });
  y.runtime.dispatch(whereKernel, { WG }, buffers, new Uint8Array(u), grid(Math.ceil(y.size / WG)));
  return y;
}

/** a + b */
export const add = (a: Tensor, b: Tensor) => binary('add', a, b);
/** a - b */
export const sub = (a: Tensor, b: Tensor) => binary('sub', a, b);
/** a * b */
export const mul = (a: Tensor, b: Tensor) => binary('mul', a, b);
/** a / b */
export const div = (a: Tensor, b: Tensor) => binary('div', a, b);
/** x * s + t with scalars s, t. */
export const affine = (x: Tensor, s: number, t = 0) => unary('affine', x, s, t);
