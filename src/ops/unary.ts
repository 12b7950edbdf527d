/**
 * Differentiable elementwise unary ops, each beside its derivative. The rules table is typed over
 * every op name, so an op without a backward rule does not compile.
 */
import { record } from '../autograd/tape.js';
import { zeros } from '../tensor/creation.js';
import type { Tensor } from '../tensor/tensor.js';
import * as k from './kernels/index.js';
import { requireF32 } from './kernels/util.js';

type UnaryOp = Exclude<k.UnaryCode, 'nonFinite'>;

/** Input gradient from x, y = f(x), the output gradient and the op's parameters (a, b). */
type UnaryGrad = (x: Tensor, y: Tensor, gy: Tensor, a: number, b: number) => Tensor;

/** gy * f(t) * scale, freeing the temporaries. */
function chain(t: Tensor, f: (t: Tensor) => Tensor, gy: Tensor, scale = 1): Tensor {
  const d = f(t);
  const g = k.mul(gy, d);
  d.dispose();
  if (scale === 1) return g;
  const out = k.affine(g, scale);
  g.dispose();
  return out;
}

const RULES: { [K in UnaryOp]: UnaryGrad } = {
  neg: (_x, _y, gy) => k.unary('neg', gy), // d(-x) = -dx
  exp: (_x, y, gy) => k.mul(gy, y), // d(e^x) = e^x dx
  log: (x, _y, gy) => k.div(gy, x), // d(log x) = dx / x
  sqrt: (_x, y, gy) => chain(y, (t) => k.unary('reciprocal', t), gy, 0.5), // d sqrt x = dx / (2 sqrt x)
  rsqrt: (_x, y, gy) => chain(y, (t) => k.unary('powScalar', t, 3), gy, -0.5), // d x^-1/2 = -1/2 x^-3/2 dx
  abs: (x, _y, gy) => chain(x, (t) => k.unary('sign', t), gy), // d|x| = sign(x) dx
  sign: (x) => zeros(x.shape), // d sign(x) = 0 (exactly, even where gy is not finite)
  relu: (x, _y, gy) => k.binary('reluGrad', gy, x), // d relu(x) = [x > 0] dx
  leakyRelu: (x, _y, gy, a) => k.binary('leakyReluGrad', gy, x, a), // [x > 0] dx + a [x <= 0] dx
  sigmoid: (_x, y, gy) => k.binary('sigmoidGrad', gy, y), // d s(x) = s (1 - s) dx
  tanh: (_x, y, gy) => k.binary('tanhGrad', gy, y), // d tanh x = (1 - tanh^2 x) dx
  clamp: (x, _y, gy, a, b) => k.binary('clampGrad', gy, x, a, b), // [lo <= x <= hi] dx
  // d x^a = a x^(a-1) dx, and exactly 0 for a = 0 (also at x = 0, as PyTorch)
  powScalar: (x, _y, gy, a) => (a === 0 ? zeros(x.shape) : chain(x, (t) => k.unary('powScalar', t, a - 1), gy, a)),
  affine: (_x, _y, gy, a) => k.affine(gy, a, 0), // d(a x + b) = a dx
  reciprocal: (_x, y, gy) => chain(y, (t) => k.unary('square', t), gy, -1), // d(1/x) = -dx / x^2
  square: (x, _y, gy) => chain(x, (t) => k.affine(t, 2), gy), // d x^2 = 2x dx
};

/** Runs unary op `op` with parameters (a, b) on `x`, recording its backward rule. */
export function unary(op: UnaryOp, x: Tensor, a = 0, b = 0): Tensor {
  // Errors name the public op (pow, not the kernel's powScalar).
  const name = op === 'powScalar' ? 'pow' : op;
  requireF32(name, x);
  x.storageFor(name);
  const y = k.unary(op, x, a, b);
  const rule = RULES[op];
  return record(op, [x], y, [x, y], (gy) => [rule(x, y, gy, a, b)]);
}

/** -x */
export const neg = (x: Tensor) => unary('neg', x);
/** e^x */
export const exp = (x: Tensor) => unary('exp', x);
/** Natural logarithm. */
export const log = (x: Tensor) => unary('log', x);
/** Square root. */
export const sqrt = (x: Tensor) => unary('sqrt', x);
/** 1 / sqrt(x) */
export const rsqrt = (x: Tensor) => unary('rsqrt', x);
/** |x|; its gradient at 0 is 0, as in PyTorch. */
export const abs = (x: Tensor) => unary('abs', x);
/** -1, 0 or 1 by the sign of x; sign(NaN) is 0, as in PyTorch (gradient 0). */
export const sign = (x: Tensor) => unary('sign', x);
/** max(x, 0); NaN stays NaN and the gradient at 0 is 0, as in PyTorch. */
export const relu = (x: Tensor) => unary('relu', x);
/** x for x > 0, slope * x otherwise (default slope 0.01, as in PyTorch); the gradient at 0 is slope. */
export const leakyRelu = (x: Tensor, slope = 0.01) => unary('leakyRelu', x, slope);
/** 1 / (1 + e^-x) */
export const sigmoid = (x: Tensor) => unary('sigmoid', x);
/** Hyperbolic tangent (accurate near 0, no overflow for large |x|). */
export const tanh = (x: Tensor) => unary('tanh', x);
/** x * x */
export const square = (x: Tensor) => unary('square', x);
/** 1 / x */
export const reciprocal = (x: Tensor) => unary('reciprocal', x);
/** x * a + b with scalars a and b, in one kernel. */
export const affine = (x: Tensor, a: number, b = 0) => unary('affine', x, a, b);

/**
 * Limits x to [min, max] as torch.clamp: min(max(x, min), max), so min > max gives max everywhere;
 * NaN in x stays NaN and a NaN bound makes every value NaN. The gradient flows where
 * min <= x <= max. A bound of -Infinity or Infinity means no bound on that side.
 */
export function clamp(x: Tensor, min = -Infinity, max = Infinity): Tensor {
  if (Number.isNaN(min) || Number.isNaN(max)) return unary('affine', x, 0, NaN); // x * 0 + NaN, gradient 0
  return unary('clamp', x, min, max);
}

/** 1 where x is NaN or +-infinity, else 0; no gradient. */
export function nonFinite(x: Tensor): Tensor {
  return k.unary('nonFinite', x);
}
