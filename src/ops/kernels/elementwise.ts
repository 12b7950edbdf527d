/**
 * Raw elementwise launchers (shaders/unary.wgsl, binary.wgsl, where.wgsl): no autograd, no
 * recording. Differentiable ops and backward rules are both written with these.
 */
import { grid } from '../../gpu/runtime.js';
import { empty } from '../../tensor/creation.js';
import { broadcastShapes, broadcastStrides, sameShape } from '../../tensor/shape.js';
import type { Tensor } from '../../tensor/tensor.js';
import { WG, putDims, requireF32 } from '../util.js';

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
  const y = empty(x.shape);
  const n4 = Math.ceil(x.size / 4);
  if (n4 > 0) {
    const u = new ArrayBuffer(16);
    new Uint32Array(u, 0, 1)[0] = n4;
    new Float32Array(u, 4, 2).set([a, b]);
    y.runtime.dispatch(unaryKernel, { OP: UNARY_CODES[op], WG }, [x.bufferFor(op), y.bufferFor(op)], new Uint8Array(u), grid(Math.ceil(n4 / WG)));
  }
  return y;
}

/** y = f(a, b) with broadcasting; `p0`, `p1` are the op's scalar parameters. */
export function binary(op: BinaryCode, a: Tensor, b: Tensor, p0 = 0, p1 = 0): Tensor {
  requireF32(op, a, b);
  const shape = sameShape(a.shape, b.shape) ? a.shape : broadcastShapes(op, a.shape, b.shape);
  const y = empty(shape);
  if (y.size === 0) return y;
  const u = new ArrayBuffer(16 + 3 * 32);
  const u32 = new Uint32Array(u);
  u32[0] = y.size;
  u32[1] = shape.length;
  new Float32Array(u, 8, 2).set([p0, p1]);
  const same = sameShape(a.shape, shape) && sameShape(b.shape, shape);
  if (!same) {
    putDims(u32, 4, shape);
    putDims(u32, 12, broadcastStrides(a.shape, shape));
    putDims(u32, 20, broadcastStrides(b.shape, shape));
  }
  const groups = grid(Math.ceil(y.size / 4 / WG));
  y.runtime.dispatch(same ? binaryKernel : bcastKernel, { OP: BINARY_CODES[op], WG }, [a.bufferFor(op), b.bufferFor(op), y.bufferFor(op)], u32, groups);
  return y;
}

/** Picks a where cond != 0, else b, with broadcasting over all three. */
export function where(cond: Tensor, a: Tensor, b: Tensor): Tensor {
  requireF32('where', cond, a, b);
  const shape = broadcastShapes('where', broadcastShapes('where', cond.shape, a.shape), b.shape);
  const y = empty(shape);
  if (y.size === 0) return y;
  const u32 = new Uint32Array(4 + 4 * 8);
  u32[0] = y.size;
  u32[1] = shape.length;
  putDims(u32, 4, shape);
  putDims(u32, 12, broadcastStrides(cond.shape, shape));
  putDims(u32, 20, broadcastStrides(a.shape, shape));
  putDims(u32, 28, broadcastStrides(b.shape, shape));
  y.runtime.dispatch(
    whereKernel,
    { WG },
    [cond.bufferFor('where'), a.bufferFor('where'), b.bufferFor('where'), y.bufferFor('where')],
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
