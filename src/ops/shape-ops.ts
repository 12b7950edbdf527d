/**
 * Differentiable layout ops: reshape (a view), and permute, transpose, expand, slice, pad, concat,
 * stack (copies through one strided-copy kernel), each beside its derivative.
 */
import { ArgumentError, DTypeError, ShapeError } from '../errors.js';
import { record } from '../autograd/tape.js';
import { broadcastShapes, normAxis, sizeOf, sameShape, checkShape, type Shape } from '../tensor/shape.js';
import type { DType, Tensor } from '../tensor/tensor.js';
import * as k from './kernels/index.js';

/** Throws DisposedError naming `op` for a disposed input, before any output is allocated. */
function alive(op: string, xs: readonly Tensor[]): void {
  for (const x of xs) x.storageFor(op);
}

/** x with a new shape of the same size; one dim may be -1 (inferred). Shares memory with x. */
export function reshape(x: Tensor, shape: Shape): Tensor {
  const infer = shape.indexOf(-1);
  let out = [...shape];
  if (infer >= 0) {
    if (shape.indexOf(-1, infer + 1) >= 0) throw new ShapeError('reshape', [x.shape, shape], 'only one dimension can be -1');
    const known = sizeOf(shape.filter((_, i) => i !== infer));
    if (known === 0 || x.size % known !== 0) throw new ShapeError('reshape', [x.shape, shape], 'cannot infer the -1 dimension');
    out[infer] = x.size / known;
  }
  checkShape('reshape', out);
  if (sizeOf(out) !== x.size) throw new ShapeError('reshape', [x.shape, shape], `${x.size} elements cannot take the new shape`);
  const y = x.view(out);
  return record('reshape', [x], y, [], (gy) => [gy.view(x.shape)]); // d reshape = reshape back
}

/** x as 1-D, or with dims start..end (inclusive) merged. */
export function flatten(x: Tensor, start = 0, end = -1): Tensor {
  if (x.rank === 0) return reshape(x, [1]);
  const s = normAxis('flatten', start, x.shape);
  const e = normAxis('flatten', end, x.shape);
  if (s > e) throw new ArgumentError('flatten', `start dim ${start} comes after end dim ${end} (shape [${x.shape.join(',')}])`);
  return reshape(x, [...x.shape.slice(0, s), sizeOf(x.shape.slice(s, e + 1)), ...x.shape.slice(e + 1)]);
}

/** x with a size-1 dim inserted at `axis`. */
export function unsqueeze(x: Tensor, axis: number): Tensor {
  const a = normAxis('unsqueeze', axis, x.shape, x.rank + 1);
  return reshape(x, [...x.shape.slice(0, a), 1, ...x.shape.slice(a)]);
}

/** x without size-1 dims (all of them, or the one at `axis`). */
export function squeeze(x: Tensor, axis?: number): Tensor {
  if (axis === undefined) return reshape(x, x.shape.filter((d) => d !== 1));
  const a = normAxis('squeeze', axis, x.shape);
  return x.shape[a] === 1 ? reshape(x, x.shape.filter((_, i) => i !== a)) : reshape(x, x.shape);
}

/** Dims reordered: output dim d is input dim perm[d]. */
export function permute(x: Tensor, perm: readonly number[]): Tensor {
  alive('permute', [x]);
  if (perm.length !== x.rank) throw new ShapeError('permute', [x.shape], `permutation [${perm.join(',')}] has the wrong length`);
  const p = perm.map((a) => normAxis('permute', a, x.shape));
  if (new Set(p).size !== p.length) throw new ArgumentError('permute', `[${perm.join(',')}] is not a permutation`);
  const y = k.permute(x, p);
  const inv = new Array<number>(p.length);
  p.forEach((a, i) => (inv[a] = i));
  return record('permute', [x], y, [], (gy) => [k.permute(gy, inv)]); // d permute = inverse permute
}

/** x with dims a and b swapped (default: the last two). */
export function transpose(x: Tensor, a = -2, b = -1): Tensor {
  const perm = x.shape.map((_, i) => i);
  const i = normAxis('transpose', a, x.shape);
  const j = normAxis('transpose', b, x.shape);
  [perm[i], perm[j]] = [perm[j]!, perm[i]!];
  return permute(x, perm);
}

/** x broadcast to `shape` and materialised (-1 keeps a dim). */
export function expand(x: Tensor, shape: Shape): Tensor {
  alive('expand', [x]);
  const off = shape.length - x.rank;
  const target = shape.map((d, i) => (d === -1 && i >= off ? x.shape[i - off]! : d));
  // -1 only keeps an existing dim; a new leading dim needs a size.
  if (off < 0 || target.some((d) => !Number.isInteger(d) || d < 0) || !sameShape(broadcastShapes('expand', x.shape, target), target)) {
    throw new ShapeError('expand', [x.shape, shape], 'the tensor does not broadcast to the target shape');
  }
  const y = k.expand(x, target);
  return record('expand', [x], y, [], (gy) => [k.sumTo(gy, x.shape)]); // d expand = sum over stretched dims
}

/** A range per dim: [start, end?, step?] with Python semantics (negative counts from the end), or null for all. */
export type Range = readonly [number, number?, number?] | null;

/** Elements x[start:end:step] along each dim (missing trailing dims are whole). Copies. */
export function slice(x: Tensor, ranges: readonly Range[]): Tensor {
  alive('slice', [x]);
  if (ranges.length > x.rank) throw new ShapeError('slice', [x.shape], `${ranges.length} ranges for rank ${x.rank}`);
  const start: number[] = [];
  const size: number[] = [];
  const step: number[] = [];
  x.shape.forEach((d, i) => {
    const r = ranges[i] ?? null;
    const st = r?.[2] ?? 1;
    if (!Number.isInteger(st) || st <= 0) throw new ArgumentError('slice', `step ${st} on dim ${i} must be a positive integer`);
    const norm = (v: number) => Math.min(Math.max(v < 0 ? v + d : v, 0), d);
    const s = r ? norm(r[0]) : 0;
    const e = r && r[1] !== undefined ? norm(r[1]) : d;
    start.push(s);
    step.push(st);
    size.push(Math.max(0, Math.ceil((e - s) / st)));
  });
  const y = k.slice(x, start, size, step);
  return record('slice', [x], y, [], (gy) => [k.unslice(gy, x.shape, start, step)]); // d slice = scatter into zeros
}

/** `length` elements of x from `start` along `axis`. */
export function narrow(x: Tensor, axis: number, start: number, length: number): Tensor {
  const a = normAxis('narrow', axis, x.shape);
  const d = x.shape[a]!;
  const s = start < 0 ? start + d : start;
  if (s < 0 || length < 0 || s + length > d) throw new ShapeError('narrow', [x.shape], `range [${start}, ${start + length}) is outside dim ${a} of size ${d}`);
  return slice(x, x.shape.map((_, i) => (i === a ? ([s, s + length] as const) : null)));
}

/**
 * Pads with `value` using PyTorch's F.pad order: [left, right] for the last dim, then [top, bottom]
 * for the one before, and so on. Negative amounts crop.
 */
export function pad(x: Tensor, amounts: readonly number[], value = 0): Tensor {
  alive('pad', [x]);
  if (amounts.length % 2 !== 0 || amounts.length / 2 > x.rank) {
    throw new ArgumentError('pad', `needs an even number of amounts, at most 2 per dim (got ${amounts.length} for rank ${x.rank})`);
  }
  const before = x.shape.map(() => 0);
  const after = x.shape.map(() => 0);
  for (let i = 0; i < amounts.length / 2; i++) {
    before[x.rank - 1 - i] = amounts[2 * i]!;
    after[x.rank - 1 - i] = amounts[2 * i + 1]!;
  }
  if (amounts.some((a) => !Number.isInteger(a))) throw new ArgumentError('pad', `amounts must be integers (got [${amounts.join(',')}])`);
  if (x.dtype === 'i32' && !Number.isInteger(value)) throw new DTypeError('pad', `fill value ${value} is not an integer (dtype i32)`);
  const shape = x.shape.map((d, i) => d + before[i]! + after[i]!);
  if (shape.some((d) => d < 0)) throw new ShapeError('pad', [x.shape, shape], 'cropping more than the tensor holds');
  const y = k.pad(x, before, after, value);
  // d pad = the un-padded window of gy
  return record('pad', [x], y, [], (gy) => [k.pad(gy, before.map((b) => -b), after.map((a) => -a))]);
}

/** Tensors joined along `axis`; all other dims must match. */
export function concat(xs: readonly Tensor[], axis = 0): Tensor {
  if (xs.length === 0) throw new ArgumentError('concat', 'needs at least one tensor');
  alive('concat', xs);
  const first = xs[0]!;
  const a = normAxis('concat', axis, first.shape);
  for (const t of xs) {
    if (t.rank !== first.rank || t.dtype !== first.dtype || t.shape.some((d, i) => i !== a && d !== first.shape[i])) {
      throw new ShapeError('concat', xs.map((u) => u.shape), `tensors differ outside axis ${a} (or in dtype)`);
    }
  }
  const y = k.concat(xs, a);
  return record('concat', xs, y, [], (gy, needs) => {
    let at = 0;
    return xs.map((t, i) => {
      const from = at;
      at += t.shape[a]!;
      if (!needs[i]) return null;
      // d concat = the slice of gy that came from each input
      return k.slice(gy, t.shape.map((_, j) => (j === a ? from : 0)), t.shape, t.shape.map(() => 1));
    });
  });
}

/** Tensors of one shape stacked along a new `axis`. */
export function stack(xs: readonly Tensor[], axis = 0): Tensor {
  if (xs.length === 0) throw new ArgumentError('stack', 'needs at least one tensor');
  const a = normAxis('stack', axis, xs[0]!.shape, xs[0]!.rank + 1);
  for (const t of xs) if (!sameShape(t.shape, xs[0]!.shape)) throw new ShapeError('stack', xs.map((u) => u.shape), 'shapes differ');
  const parts = xs.map((t) => unsqueeze(t, a));
  const y = concat(parts, a);
  if (!y.requiresGrad) for (const t of parts) t.dispose();
  return y;
}

/** A copy of x in new memory (gradient passes through). */
export function clone(x: Tensor): Tensor {
  alive('clone', [x]);
  const y = k.clone(x);
  return record('clone', [x], y, [], (gy) => [k.clone(gy)]);
}

/** x converted to `dtype` (f32 -> i32 truncates toward zero); no gradient. */
export function cast(x: Tensor, dtype: DType): Tensor {
  alive('cast', [x]);
  return k.castRaw(x, dtype);
}
