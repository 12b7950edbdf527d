/**
 * Raw elementwise launchers (shaders/unary.wgsl, binary.wgsl, where.wgsl): no autograd, no
 * recording. Differentiable ops and backward rules are both written with these.
 */
import { ShapeError } from '../../errors.js';
import { grid } from '../../gpu/runtime.js';
import { empty } from '../../tensor/creation.js';
import { broadcastShapes, broadcastStrides, sameShape, sizeOf } from '../../tensor/shape.js';
import type { Tensor } from '../../tensor/tensor.js';
import { WG, putDims, requireF32 } from './util.js';
import { fits, flatChunks, mapRows, range, takeRows } from './split.js';

/** Kernel numbering of shaders/unary.wgsl. */
export const UNARY_CODES = {
  neg: 0, exp: 1, log: 2, sqrt: 3, rsqrt: 4, abs: 5, sign: 6, relu: 7, leakyRelu: 8, sigmoid: 9,
  tanh: 10, clamp: 11, powScalar: 12, affine: 13, reciprocal: 14, nonFinite: 15, square: 16,
} as const;
export type UnaryCode = keyof typeof UNARY_CODES;

/** Kernel numbering of shaders/binary.wgsl (the last five are backward helpers). */
export const BINARY_CODES = {
  add: 0, sub: 1, mul: 2, div: 3, pow: 4, maximum: 5, minimum: 6, eq: 7, ne: 8, lt: 9, le: 10,
  gt: 11, ge: 12, reluGrad: 13, leakyReluGrad: 14, sigmoidGrad: 15, tanhGrad: 16, clampGrad: 17,
} as const;
export type BinaryCode = keyof typeof BINARY_CODES;

const unaryKernel = { shader: 'unary', bindings: ['read', 'write', 'uniform'] } as const;
const binaryKernel = { shader: 'binary', bindings: ['read', 'read', 'write', 'uniform'] } as const;
const bcastKernel = { shader: 'binary', entry: 'bcast', bindings: ['read', 'read', 'write', 'uniform'] } as const;
const whereKernel = { shader: 'where', bindings: ['read', 'read', 'read', 'write', 'uniform'] } as const;

/** y = f(x) for unary op `op` with parameters a, b. */
export function unary(op: UnaryCode, x: Tensor, a = 0, b = 0): Tensor {
  requireF32(op, x);
  const xb = x.bufferFor(op); // before allocating, so a disposed input leaks no output buffer
  const y = empty(x.shape);
  const rt = y.runtime;
  const launch = (xr: GPUBuffer | GPUBufferBinding, yr: GPUBuffer | GPUBufferBinding, n: number) => {
    const n4 = Math.ceil(n / 4);
    const u = new ArrayBuffer(16);
    new Uint32Array(u, 0, 1)[0] = n4;
    new Float32Array(u, 4, 2).set([a, b]);
    rt.dispatch(unaryKernel, { OP: UNARY_CODES[op], WG }, [xr, yr], new Uint8Array(u), grid(Math.ceil(n4 / WG)));
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
      const u32 = new Uint32Array(4 + 3 * 8);
      u32[0] = c;
      new Float32Array(u32.buffer, 8, 2).set([p0, p1]);
      rt.dispatch(binaryKernel, { OP: BINARY_CODES[op], WG }, [range(a, s, c, op), range(b, s, c, op), range(y, s, c, op)], u32, grid(Math.ceil(c / 4 / WG)));
    }
    return y;
  }
  const u = new ArrayBuffer(16 + 3 * 32);
  const u32 = new Uint32Array(u);
  u32[0] = y.size;
  new Float32Array(u, 8, 2).set([p0, p1]);
  if (m) {
    u32[1] = m.shape.length;
    putDims(u32, 4, m.shape);
    putDims(u32, 12, m.strides[0]!);
    putDims(u32, 20, m.strides[1]!);
  }
  const groups = grid(Math.ceil(y.size / 4 / WG));
  y.runtime.dispatch(same ? binaryKernel : bcastKernel, { OP: BINARY_CODES[op], WG }, [ab, bb, y.bufferFor(op)], u32, groups);
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
  const bufs = [cond.bufferFor('where'), a.bufferFor('where'), b.bufferFor('where')];
  const n = sizeOf(shape);
  if (n > 0 && (n * 4 > cond.runtime.maxBindingBytes || !fits(cond.runtime, cond, a, b))) {
    return splitBroadcast(shape, [cond, a, b], (c, x, z) => where(c!, x!, z!));
  }
  const m = collapse('where', shape, [cond.shape, a.shape, b.shape]);
  const y = empty(shape);
  if (y.size === 0) return y;
  const u32 = new Uint32Array(4 + 4 * 8);
  u32[0] = y.size;
  u32[1] = m.shape.length;
  putDims(u32, 4, m.shape);
  m.strides.forEach((st, k) => putDims(u32, 12 + 8 * k, st));
  y.runtime.dispatch(
    whereKernel,
    { WG },
    [...bufs, y.bufferFor('where')],
    u32,
    grid(Math.ceil(y.size / WG)),
  );
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
