/**
 * Differentiable reductions over any axes (sum, mean, max, min, var), index reductions (argmax,
 * argmin) and the numerically stable softmax family, each beside its derivative.
 */
import { NonFiniteError } from '../errors.js';
import { record } from '../autograd/tape.js';
import { full } from '../tensor/creation.js';
import { normAxes, normAxis, sizeOf, type Shape } from '../tensor/shape.js';
import type { Tensor } from '../tensor/tensor.js';
import { sub, mul } from './binary.js';
import * as k from './kernels/index.js';
import { square } from './unary.js';
import { requireF32 } from './kernels/util.js';

type Axes = number | readonly number[];

/** The shape with reduced axes kept as 1. */
function keptShape(shape: Shape, axes: readonly number[]): number[] {
  return shape.map((d, i) => (axes.includes(i) ? 1 : d));
}

/** gy (reduced shape) broadcast back to x's shape, scaled by s. */
function spread(gy: Tensor, x: Tensor, axes: readonly number[], s = 1): Tensor {
  const g = gy.view(keptShape(x.shape, axes));
  const e = k.expand(g, x.shape);
  g.dispose();
  if (s === 1) return e;
  const out = k.affine(e, s);
  e.dispose();
  return out;
}

function finish(y: Tensor, x: Tensor, axes: readonly number[], keepdim: boolean): Tensor {
  if (!keepdim) return y;
  const v = y.view(keptShape(x.shape, axes));
  y.dispose();
  return v;
}

/**
 * Sum over `axes` (default: all); keepdim keeps reduced axes as size 1. An empty axes list
 * reduces nothing (NumPy's convention; older PyTorch summed everything for dim=[]).
 */
export function sum(x: Tensor, axes?: Axes, keepdim = false): Tensor {
  requireF32('sum', x);
  const ax = normAxes('sum', axes, x.shape);
  const y = finish(k.reduce('sum', x, ax), x, ax, keepdim);
  return record('sum', [x], y, [], (gy) => [spread(gy, x, ax)]); // d sum x = 1
}

/** Mean over `axes` (default: all); the mean of no elements is NaN, as in PyTorch. */
export function mean(x: Tensor, axes?: Axes, keepdim = false): Tensor {
  requireF32('mean', x);
  x.storageFor('mean');
  const ax = normAxes('mean', axes, x.shape);
  const n = sizeOf(ax.map((a) => x.shape[a]!));
  const y = finish(k.reduce('sum', x, ax, 1 / n), x, ax, keepdim);
  return record('mean', [x], y, [], (gy) => [spread(gy, x, ax, 1 / n)]); // d mean x = 1/n
}

function extreme(op: 'max' | 'min', x: Tensor, axes: Axes | undefined, keepdim: boolean): Tensor {
  requireF32(op, x);
  const ax = normAxes(op, axes, x.shape);
  const y = finish(k.reduce(op, x, ax), x, ax, keepdim);
  // d max x: the gradient is shared evenly by the elements equal to the maximum (like torch.amax).
  return record(op, [x], y, [x, y], (gy) => {
    const yk = y.view(keptShape(x.shape, ax));
    const hit = k.binary('eq', x, yk);
    yk.dispose();
    const count = k.reduce('sum', hit, ax);
    const gv = gy.view(count.shape);
    const share = k.div(gv, count);
    gv.dispose();
    count.dispose();
    const g = spread(share, x, ax);
    share.dispose();
    const out = k.mul(g, hit);
    g.dispose();
    hit.dispose();
    return [out];
  });
}

/** Maximum over `axes` (default all); NaN propagates. Ties share the gradient evenly. */
export const max = (x: Tensor, axes?: Axes, keepdim = false) => extreme('max', x, axes, keepdim);
/** Minimum over `axes` (default all); NaN propagates. Ties share the gradient evenly. */
export const min = (x: Tensor, axes?: Axes, keepdim = false) => extreme('min', x, axes, keepdim);

function argExtreme(op: 'argmax' | 'argmin', x: Tensor, axis: number | undefined, keepdim: boolean): Tensor {
  requireF32(op, x);
  if (axis === undefined) {
    const flat = x.view([x.size]);
    const r = k.reduce(op, flat, [0]);
    flat.dispose();
    if (!keepdim) return r;
    const v = r.view(x.shape.map(() => 1));
    r.dispose();
    return v;
  }
  const a = normAxis(op, axis, x.shape);
  return finish(k.reduce(op, x, [a]), x, [a], keepdim);
}

/**
 * Index (i32) of the first maximum along `axis`, or in the flattened tensor when axis is omitted
 * (then keepdim gives all dims size 1, as PyTorch). A NaN counts as the maximum (its first index).
 */
export const argmax = (x: Tensor, axis?: number, keepdim = false) => argExtreme('argmax', x, axis, keepdim);
/** Index (i32) of the first minimum along `axis`, like {@link argmax}; a NaN counts as the minimum. */
export const argmin = (x: Tensor, axis?: number, keepdim = false) => argExtreme('argmin', x, axis, keepdim);

/**
 * Variance over `axes` (default all) with Bessel's correction by default (correction 1), as
 * torch.var: sum((x - mean)^2) / max(n - correction, 0), so n <= correction gives NaN or inf.
 */
export function variance(x: Tensor, axes?: Axes, opts: { correction?: number; keepdim?: boolean } = {}): Tensor {
  requireF32('variance', x);
  x.storageFor('variance');
  const ax = normAxes('variance', axes, x.shape);
  const n = sizeOf(ax.map((a) => x.shape[a]!));
  const m = mean(x, ax, true);
  const d = sub(x, m);
  const d2 = square(d);
  const s = sum(d2, ax, opts.keepdim ?? false);
  const y = mul(s, 1 / Math.max(n - (opts.correction ?? 1), 0));
  if (!y.requiresGrad) for (const t of [m, d, d2, s]) t.dispose();
  return y;
}

/** Softmax along `axis` (max-subtracted, so large logits do not overflow). */
export function softmax(x: Tensor, axis = -1): Tensor {
  requireF32('softmax', x);
  const a = normAxis('softmax', axis, x.shape);
  const y = k.softmaxFamily('softmax', x, a);
  // dx = y * (gy - sum(gy * y))
  return record('softmax', [x], y, [y], (gy) => {
    const gyy = k.mul(gy, y);
    const s = k.reduce('sum', gyy, [a]);
    gyy.dispose();
    const sk = s.view(keptShape(x.shape, [a]));
    s.dispose();
    const d = k.sub(gy, sk);
    sk.dispose();
    const out = k.mul(y, d);
    d.dispose();
    return [out];
  });
}

/** log(softmax(x)) along `axis`, computed stably in one kernel. */
export function logSoftmax(x: Tensor, axis = -1): Tensor {
  requireF32('logSoftmax', x);
  const a = normAxis('logSoftmax', axis, x.shape);
  const y = k.softmaxFamily('logSoftmax', x, a);
  // dx = gy - softmax(x) * sum(gy)
  return record('logSoftmax', [x], y, [y], (gy) => {
    const s = k.reduce('sum', gy, [a]);
    const sk = s.view(keptShape(x.shape, [a]));
    s.dispose();
    const p = k.unary('exp', y);
    const ps = k.mul(p, sk);
    p.dispose();
    sk.dispose();
    const out = k.sub(gy, ps);
    ps.dispose();
    return [out];
  });
}

/**
 * log(sum(exp(x))) over `axes` (default all), stable for large values; as PyTorch, it is -inf
 * over no elements or all -inf, and +inf when an element is +inf.
 */
export function logsumexp(x: Tensor, axes?: Axes, keepdim = false): Tensor {
  requireF32('logsumexp', x);
  x.storageFor('logsumexp');
  const ax = normAxes('logsumexp', axes, x.shape);
  if (ax.some((a) => x.shape[a] === 0)) return full(keepdim ? keptShape(x.shape, ax) : x.shape.filter((_, i) => !ax.includes(i)), -Infinity);
  let y: Tensor;
  if (ax.length === 1) {
    y = finish(k.softmaxFamily('logsumexp', x, ax[0]!), x, ax, keepdim);
  } else {
    // Several axes: move them together at the end, then one row per remaining index.
    const rest = x.shape.map((_, i) => i).filter((i) => !ax.includes(i));
    const p = k.permute(x, [...rest, ...ax]);
    const flat = p.view([...rest.map((i) => x.shape[i]!), sizeOf(ax.map((a) => x.shape[a]!))]);
    p.dispose();
    const r = k.softmaxFamily('logsumexp', flat, rest.length);
    flat.dispose();
    y = finish(r, x, ax, keepdim);
  }
  // dx = gy * exp(x - y)
  return record('logsumexp', [x], y, [x, y], (gy) => {
    const yk = y.view(keptShape(x.shape, ax));
    const d = k.sub(x, yk);
    yk.dispose();
    const e = k.unary('exp', d);
    d.dispose();
    const g = spread(gy, x, ax);
    const out = k.mul(g, e);
    g.dispose();
    e.dispose();
    return [out];
  });
}

/**
 * Throws NonFiniteError naming `op` and x's shape when x holds NaN or infinity. This reads a single
 * number back, so call it where a check is wanted (it waits for the GPU), not inside every step.
 * i32 tensors always pass; a disposed tensor throws DisposedError naming `op`.
 */
export async function assertFinite(x: Tensor, op = 'assertFinite'): Promise<void> {
  x.storageFor(op);
  if (x.size === 0 || x.dtype === 'i32') return; // integers are always finite
  const bad = k.unary('nonFinite', x);
  const flat = bad.view([bad.size]);
  const count = k.reduce('sum', flat, [0]);
  bad.dispose();
  flat.dispose();
  const n = (await count.data())[0]!;
  count.dispose();
  if (n > 0) throw new NonFiniteError(op, x.shape, `${n} of ${x.size} values are NaN or infinite`);
}
