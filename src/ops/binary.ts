/**
 * Differentiable elementwise binary ops with broadcasting, each beside its derivative, plus
 * comparisons (no gradient) and where. A number as second operand runs a one-kernel scalar form.
 */
import { record } from '../autograd/tape.js';
import { scalar } from '../tensor/creation.js';
import type { Shape } from '../tensor/shape.js';
import type { Tensor } from '../tensor/tensor.js';
import * as k from './kernels/index.js';
import { affine, unary } from './unary.js';
import { requireF32 } from './kernels/util.js';

type Arith = 'add' | 'sub' | 'mul' | 'div' | 'pow' | 'maximum' | 'minimum';

/** Sums t down to `shape` (undoing broadcasting) and frees t. */
function reduceTo(t: Tensor, shape: Shape): Tensor {
  const r = k.sumTo(t, shape);
  t.dispose();
  return r;
}

/** Temporaries for a rule: everything made inside is freed except the returned gradients. */
function grads(fn: (tmp: (t: Tensor) => Tensor) => (Tensor | null)[]): (Tensor | null)[] {
  const temps: Tensor[] = [];
  const out = fn((t) => (temps.push(t), t));
  for (const t of temps) if (!out.includes(t)) t.dispose();
  return out;
}

/** Input gradients (da, db) of y = f(a, b) given gy, before undoing broadcasting. */
type BinaryGrad = (a: Tensor, b: Tensor, y: Tensor, gy: Tensor, needs: readonly boolean[]) => (Tensor | null)[];

const RULES: { [K in Arith]: BinaryGrad } = {
  // d(a + b) = da + db
  add: (_a, _b, _y, gy) => [k.affine(gy, 1), k.affine(gy, 1)],
  // d(a - b) = da - db
  sub: (_a, _b, _y, gy) => [k.affine(gy, 1), k.affine(gy, -1)],
  // d(a b) = b da + a db
  mul: (a, b, _y, gy, n) => [n[0] ? k.mul(gy, b) : null, n[1] ? k.mul(gy, a) : null],
  // d(a / b) = da / b - (a / b) db / b
  div: (_a, b, y, gy, n) =>
    grads((tmp) => [n[0] ? k.div(gy, b) : null, n[1] ? k.affine(tmp(k.div(tmp(k.mul(gy, y)), b)), -1) : null]),
  // d(a^b) = b a^(b-1) da + a^b log(a) db; as PyTorch, the da term is 0 where b == 0 and the db
  // term is 0 where a == 0 and b >= 0 (instead of the NaN that 0 * inf would give).
  pow: (a, b, y, gy, n) =>
    grads((tmp) => {
      const zero = tmp(scalar(0));
      const da = () => {
        const t = tmp(k.mul(b, tmp(k.binary('pow', a, tmp(k.affine(b, 1, -1))))));
        return k.mul(gy, tmp(k.where(tmp(k.binary('eq', b, zero)), zero, t)));
      };
      const db = () => {
        const t = tmp(k.mul(y, tmp(k.unary('log', a))));
        const mask = tmp(k.mul(tmp(k.binary('eq', a, zero)), tmp(k.binary('ge', b, zero))));
        return k.mul(gy, tmp(k.where(mask, zero, t)));
      };
      return [n[0] ? da() : null, n[1] ? db() : null];
    }),
  // d max(a, b) = [a > b] da + [b > a] db, ties split evenly (as PyTorch)
  maximum: (a, b, _y, gy) => tieSplit(a, b, gy, 'gt'),
  minimum: (a, b, _y, gy) => tieSplit(a, b, gy, 'lt'),
};

function tieSplit(a: Tensor, b: Tensor, gy: Tensor, win: 'gt' | 'lt'): (Tensor | null)[] {
  return grads((tmp) => {
    const share = tmp(k.affine(tmp(k.binary('eq', a, b)), 0.5));
    const wa = tmp(k.add(tmp(k.binary(win, a, b)), share));
    const wb = tmp(k.add(tmp(k.binary(win, b, a)), share));
    return [k.mul(gy, wa), k.mul(gy, wb)];
  });
}

function arith(op: Arith, a: Tensor, b: Tensor): Tensor {
  const y = k.binary(op, a, b);
  const rule = RULES[op];
  return record(op, [a, b], y, [a, b, y], (gy, needs) => {
    const [da, db] = rule(a, b, y, gy, needs);
    return [needs[0] && da ? reduceTo(da, a.shape) : (da?.dispose(), null), needs[1] && db ? reduceTo(db, b.shape) : (db?.dispose(), null)];
  });
}

/** a + b (broadcasting; b may be a number). */
export function add(a: Tensor, b: Tensor | number): Tensor {
  return typeof b === 'number' ? (requireF32('add', a), affine(a, 1, b)) : arith('add', a, b);
}

/** a - b (broadcasting; b may be a number). */
export function sub(a: Tensor, b: Tensor | number): Tensor {
  return typeof b === 'number' ? (requireF32('sub', a), affine(a, 1, -b)) : arith('sub', a, b);
}

/** a * b (broadcasting; b may be a number). */
export function mul(a: Tensor, b: Tensor | number): Tensor {
  return typeof b === 'number' ? (requireF32('mul', a), affine(a, b, 0)) : arith('mul', a, b);
}

/** a / b (broadcasting; b may be a number, then a is multiplied by 1 / b in one kernel). */
export function div(a: Tensor, b: Tensor | number): Tensor {
  return typeof b === 'number' ? (requireF32('div', a), affine(a, 1 / b, 0)) : arith('div', a, b);
}

/**
 * a ^ b (broadcasting; b may be a number), with C's and PyTorch's conventions: x^0 = 1, 0^b is 0
 * for b > 0 and inf for b < 0, a finite negative base with a fractional exponent gives NaN.
 * Unlike torch.pow, an exponent of 0.5 is not turned into sqrt (so (-inf)^0.5 is inf, as in C).
 */
export function pow(a: Tensor, b: Tensor | number): Tensor {
  return typeof b === 'number' ? (requireF32('pow', a), unary('powScalar', a, b)) : arith('pow', a, b);
}

/** Elementwise maximum; NaN propagates and where a == b the gradient is split evenly (as PyTorch). */
export function maximum(a: Tensor, b: Tensor): Tensor {
  return arith('maximum', a, b);
}

/** Elementwise minimum; NaN propagates and where a == b the gradient is split evenly (as PyTorch). */
export function minimum(a: Tensor, b: Tensor): Tensor {
  return arith('minimum', a, b);
}

type Compare = 'eq' | 'ne' | 'lt' | 'le' | 'gt' | 'ge';

function compare(op: Compare, a: Tensor, b: Tensor | number): Tensor {
  if (typeof b !== 'number') return k.binary(op, a, b);
  requireF32(op, a);
  const s = scalar(b);
  try {
    return k.binary(op, a, s);
  } finally {
    s.dispose();
  }
}

/** 1 where a == b else 0 (f32, no gradient). Comparisons with NaN are false, except ne. */
export const eq = (a: Tensor, b: Tensor | number) => compare('eq', a, b);
/** 1 where a != b else 0 (f32, no gradient). */
export const ne = (a: Tensor, b: Tensor | number) => compare('ne', a, b);
/** 1 where a < b else 0 (f32, no gradient). */
export const lt = (a: Tensor, b: Tensor | number) => compare('lt', a, b);
/** 1 where a <= b else 0 (f32, no gradient). */
export const le = (a: Tensor, b: Tensor | number) => compare('le', a, b);
/** 1 where a > b else 0 (f32, no gradient). */
export const gt = (a: Tensor, b: Tensor | number) => compare('gt', a, b);
/** 1 where a >= b else 0 (f32, no gradient). */
export const ge = (a: Tensor, b: Tensor | number) => compare('ge', a, b);

/**
 * a where cond != 0, else b; all three broadcast. cond is an f32 mask (NaN counts as true, as
 * bool(nan) in PyTorch). Gradients flow to the chosen side only.
 */
export function where(cond: Tensor, a: Tensor, b: Tensor): Tensor {
  const y = k.where(cond, a, b);
  return record('where', [cond, a, b], y, [cond], (gy, needs) =>
    grads((tmp) => {
      const zero = tmp(scalar(0));
      return [
        null,
        needs[1] ? reduceTo(k.where(cond, gy, zero), a.shape) : null, // d where = [c] da + [!c] db
        needs[2] ? reduceTo(k.where(cond, zero, gy), b.shape) : null,
      ];
    }),
  );
}
