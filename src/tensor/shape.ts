/**
 * Shape arithmetic shared by every op: sizes, strides, axis normalisation and broadcasting
 * (NumPy/PyTorch rules: align trailing dims, a dim of 1 stretches).
 */
import { AxisError, ShapeError, ArgumentError } from '../errors.js';

export type Shape = readonly number[];

/** Number of elements of a shape (1 for a scalar). */
export function sizeOf(shape: Shape): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

/** Row-major (C-contiguous) strides in elements. */
export function stridesOf(shape: Shape): number[] {
  const s = new Array<number>(shape.length);
  let acc = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    s[i] = acc;
    acc *= shape[i]!;
  }
  return s;
}

/** Checks that every dim is a non-negative integer. */
export function checkShape(op: string, shape: Shape): void {
  for (const d of shape) {
    if (!Number.isInteger(d) || d < 0) throw new ShapeError(op, [shape], `dimension ${d} is not a non-negative integer`);
  }
}

/** Maps a possibly negative axis into [0, rank); throws AxisError when out of range. */
export function normAxis(op: string, axis: number, shape: Shape, rank = shape.length): number {
  if (!Number.isInteger(axis) || axis < -rank || axis >= rank) throw new AxisError(op, axis, shape);
  return axis < 0 ? axis + rank : axis;
}

/** Normalises a list of axes (default: all), sorted and without duplicates. */
export function normAxes(op: string, axes: number | readonly number[] | undefined, shape: Shape): number[] {
  if (axes === undefined) return shape.map((_, i) => i);
  const list = typeof axes === 'number' ? [axes] : axes;
  const out = [...new Set(list.map((a) => normAxis(op, a, shape)))].sort((a, b) => a - b);
  if (out.length !== list.length) throw new ArgumentError(op, `repeated axis in [${list.join(',')}]`);
  return out;
}

/** The broadcast shape of two shapes; throws ShapeError naming the op when they do not broadcast. */
export function broadcastShapes(op: string, a: Shape, b: Shape): number[] {
  const rank = Math.max(a.length, b.length);
  const out = new Array<number>(rank);
  for (let i = 0; i < rank; i++) {
    const da = a[a.length - rank + i] ?? 1;
    const db = b[b.length - rank + i] ?? 1;
    if (da !== db && da !== 1 && db !== 1) {
      throw new ShapeError(op, [a, b], `dimension ${i} (${da} vs ${db}) does not broadcast`);
    }
    out[i] = da === 1 ? db : da;
  }
  return out;
}

/** Strides (in elements) for reading `shape` as if broadcast to `out`: 0 along stretched dims. */
export function broadcastStrides(shape: Shape, out: Shape): number[] {
  const st = stridesOf(shape);
  const off = out.length - shape.length;
  return out.map((_, i) => (i < off || shape[i - off] === 1 ? 0 : st[i - off]!));
}

/** True when two shapes are identical. */
export function sameShape(a: Shape, b: Shape): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}
