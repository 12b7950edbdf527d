/**
 * Float64 reference arrays: plain TypeScript written for clarity, not speed. Every op test
 * compares the GPU result against a function built from these.
 */

export class ND {
  constructor(
    readonly shape: number[],
    readonly data: Float64Array,
  ) {
    if (data.length !== size(shape)) throw new Error(`reference: ${data.length} values for shape [${shape}]`);
  }
  static from(data: ArrayLike<number>, shape: readonly number[]): ND {
    return new ND([...shape], Float64Array.from(data));
  }
  static fill(shape: readonly number[], v: number): ND {
    return new ND([...shape], new Float64Array(size(shape)).fill(v));
  }
  get rank(): number {
    return this.shape.length;
  }
  get size(): number {
    return this.data.length;
  }
  /** Element at a multi-index. */
  at(idx: readonly number[]): number {
    return this.data[offset(this.shape, idx)]!;
  }
}

export function size(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

export function strides(shape: readonly number[]): number[] {
  const s = shape.map(() => 1);
  for (let i = shape.length - 2; i >= 0; i--) s[i] = s[i + 1]! * shape[i + 1]!;
  return s;
}

export function offset(shape: readonly number[], idx: readonly number[]): number {
  const st = strides(shape);
  return idx.reduce((acc, v, i) => acc + v * st[i]!, 0);
}

/** Multi-index of linear position i. */
export function unravel(shape: readonly number[], i: number): number[] {
  const idx = shape.map(() => 0);
  for (let d = shape.length - 1; d >= 0; d--) {
    idx[d] = i % shape[d]!;
    i = Math.floor(i / shape[d]!);
  }
  return idx;
}

export function broadcastShape(a: readonly number[], b: readonly number[]): number[] {
  const r = Math.max(a.length, b.length);
  const out: number[] = [];
  for (let i = 0; i < r; i++) {
    const da = a[a.length - r + i] ?? 1;
    const db = b[b.length - r + i] ?? 1;
    if (da !== db && da !== 1 && db !== 1) throw new Error(`reference: [${a}] and [${b}] do not broadcast`);
    out.push(da === 1 ? db : da);
  }
  return out;
}

/** Value of `x` read at output index `idx` under broadcasting. */
function bcastAt(x: ND, idx: readonly number[]): number {
  const off = idx.length - x.rank;
  return x.at(x.shape.map((d, i) => (d === 1 ? 0 : idx[i + off]!)));
}

export function map(x: ND, f: (v: number) => number): ND {
  return new ND([...x.shape], x.data.map(f));
}

export function map2(a: ND, b: ND, f: (u: number, v: number) => number): ND {
  const shape = broadcastShape(a.shape, b.shape);
  const out = new Float64Array(size(shape));
  for (let i = 0; i < out.length; i++) {
    const idx = unravel(shape, i);
    out[i] = f(bcastAt(a, idx), bcastAt(b, idx));
  }
  return new ND(shape, out);
}

export function map3(c: ND, a: ND, b: ND, f: (x: number, u: number, v: number) => number): ND {
  const shape = broadcastShape(broadcastShape(c.shape, a.shape), b.shape);
  const out = new Float64Array(size(shape));
  for (let i = 0; i < out.length; i++) {
    const idx = unravel(shape, i);
    out[i] = f(bcastAt(c, idx), bcastAt(a, idx), bcastAt(b, idx));
  }
  return new ND(shape, out);
}

/** Reduces over `axes` with an initial value and a combiner (then an optional finaliser). */
export function reduce(
  x: ND,
  axes: readonly number[],
  init: number,
  f: (acc: number, v: number) => number,
  keepdim = false,
  fin: (acc: number, n: number) => number = (a) => a,
): ND {
  const ax = axes.map((a) => (a < 0 ? a + x.rank : a));
  const kept = x.shape.map((d, i) => (ax.includes(i) ? 1 : d));
  const acc = new Float64Array(size(kept)).fill(init);
  for (let i = 0; i < x.size; i++) {
    const idx = unravel(x.shape, i);
    const o = offset(kept, idx.map((v, d) => (ax.includes(d) ? 0 : v)));
    acc[o] = f(acc[o]!, x.data[i]!);
  }
  const n = size(ax.map((a) => x.shape[a]!));
  const out = acc.map((v) => fin(v, n));
  return new ND(keepdim ? kept : x.shape.filter((_, i) => !ax.includes(i)), out);
}

export function permute(x: ND, perm: readonly number[]): ND {
  const shape = perm.map((p) => x.shape[p]!);
  const out = new Float64Array(x.size);
  for (let i = 0; i < out.length; i++) {
    const idx = unravel(shape, i);
    const src = x.shape.map(() => 0);
    perm.forEach((p, d) => (src[p] = idx[d]!));
    out[i] = x.at(src);
  }
  return new ND(shape, out);
}

/** Batched matmul with broadcasting over batch dims (both operands at least 2-D). */
export function matmul(a: ND, b: ND): ND {
  const m = a.shape[a.rank - 2]!;
  const k = a.shape[a.rank - 1]!;
  const n = b.shape[b.rank - 1]!;
  if (b.shape[b.rank - 2] !== k) throw new Error('reference matmul: inner dims differ');
  const batch = broadcastShape(a.shape.slice(0, -2), b.shape.slice(0, -2));
  const shape = [...batch, m, n];
  const out = new Float64Array(size(shape));
  for (let i = 0; i < out.length; i++) {
    const idx = unravel(shape, i);
    const bi = idx.slice(0, -2);
    const r = idx[idx.length - 2]!;
    const c = idx[idx.length - 1]!;
    let s = 0;
    for (let t = 0; t < k; t++) s += bcastAt(a, [...bi, r, t]) * bcastAt(b, [...bi, t, c]);
    out[i] = s;
  }
  return new ND(shape, out);
}

/** softmax / logSoftmax along one axis. */
export function softmax(x: ND, axis: number, log = false): ND {
  const a = axis < 0 ? axis + x.rank : axis;
  const mx = reduce(x, [a], -Infinity, Math.max, true);
  const e = map2(x, mx, (v, m) => Math.exp(v - m));
  const s = reduce(e, [a], 0, (p, v) => p + v, true);
  if (!log) return map2(e, s, (v, t) => v / t);
  return map2(map2(x, mx, (v, m) => v - m), s, (v, t) => v - Math.log(t));
}

/** The same values under another shape of equal size (row-major). */
export function reshape(x: ND, shape: readonly number[]): ND {
  return ND.from(x.data, shape);
}

/** Sums `x` down to `shape` (the inverse of broadcasting `shape` up to x.shape). */
export function sumTo(x: ND, shape: readonly number[]): ND {
  const lead = x.rank - shape.length;
  const axes = x.shape.map((_, i) => i).filter((i) => i < lead || (shape[i - lead] === 1 && x.shape[i] !== 1));
  const s = reduce(x, axes, 0, (p, v) => p + v, true);
  return reshape(s, shape);
}

/** `x` broadcast up to `shape` (NumPy rules: trailing dims aligned, size-1 dims stretch). */
export function broadcastTo(x: ND, shape: readonly number[]): ND {
  const out = new Float64Array(size(shape));
  for (let i = 0; i < out.length; i++) out[i] = bcastAt(x, unravel(shape, i));
  return new ND([...shape], out);
}

/** Python's `range(len)[start:stop:step]` for a positive step, as a list of indices. */
export function sliceIndices(len: number, start?: number, stop?: number, step = 1): number[] {
  const clampIdx = (v: number) => (v < 0 ? Math.max(v + len, 0) : Math.min(v, len));
  const s = start === undefined ? 0 : clampIdx(start);
  const e = stop === undefined ? len : clampIdx(stop);
  const out: number[] = [];
  for (let i = s; i < e; i += step) out.push(i);
  return out;
}

/** Picks the given indices along every dim (one index list per dim). */
export function gather(x: ND, picks: readonly (readonly number[])[]): ND {
  const shape = picks.map((p) => p.length);
  const out = new Float64Array(size(shape));
  for (let i = 0; i < out.length; i++) out[i] = x.at(unravel(shape, i).map((v, d) => picks[d]![v]!));
  return new ND(shape, out);
}

/** `x[r0, r1, ...]` with Python slice semantics; `null` (or a missing trailing entry) keeps a dim whole. */
export function slice(x: ND, ranges: readonly (readonly [number, number?, number?] | null)[]): ND {
  return gather(
    x,
    x.shape.map((d, i) => {
      const r = ranges[i] ?? null;
      return r ? sliceIndices(d, r[0], r[1], r[2] ?? 1) : sliceIndices(d);
    }),
  );
}

/** PyTorch's F.pad(x, amounts, value=value): pairs (before, after) from the last dim backwards; negative crops. */
export function pad(x: ND, amounts: readonly number[], value = 0): ND {
  const before = x.shape.map(() => 0);
  const after = x.shape.map(() => 0);
  for (let i = 0; 2 * i < amounts.length; i++) {
    before[x.rank - 1 - i] = amounts[2 * i]!;
    after[x.rank - 1 - i] = amounts[2 * i + 1]!;
  }
  const shape = x.shape.map((d, i) => d + before[i]! + after[i]!);
  const out = new Float64Array(size(shape));
  for (let i = 0; i < out.length; i++) {
    const src = unravel(shape, i).map((v, d) => v - before[d]!);
    out[i] = src.every((v, d) => v >= 0 && v < x.shape[d]!) ? x.at(src) : value;
  }
  return new ND(shape, out);
}

/** Tensors joined along `axis`. */
export function concat(xs: readonly ND[], axis: number): ND {
  const a = axis < 0 ? axis + xs[0]!.rank : axis;
  const shape = [...xs[0]!.shape];
  shape[a] = xs.reduce((acc, x) => acc + x.shape[a]!, 0);
  const out = new Float64Array(size(shape));
  for (let i = 0; i < out.length; i++) {
    const idx = unravel(shape, i);
    let k = 0;
    let at = idx[a]!;
    while (at >= xs[k]!.shape[a]!) at -= xs[k++]!.shape[a]!;
    idx[a] = at;
    out[i] = xs[k]!.at(idx);
  }
  return new ND(shape, out);
}

/** Tensors of one shape stacked along a new `axis`. */
export function stack(xs: readonly ND[], axis: number): ND {
  const a = axis < 0 ? axis + xs[0]!.rank + 1 : axis;
  return concat(
    xs.map((x) => reshape(x, [...x.shape.slice(0, a), 1, ...x.shape.slice(a)])),
    a,
  );
}

/** Axes normalised (negative counted from the end); all axes when omitted. */
export function axesOf(x: ND, axes?: number | readonly number[]): number[] {
  if (axes === undefined) return x.shape.map((_, i) => i);
  const list = typeof axes === 'number' ? [axes] : axes;
  return list.map((a) => (a < 0 ? a + x.rank : a));
}

/** Sum over `axes` (default all). */
export function sum(x: ND, axes?: number | readonly number[], keepdim = false): ND {
  return reduce(x, axesOf(x, axes), 0, (a, v) => a + v, keepdim);
}

/** Mean over `axes` (default all). */
export function mean(x: ND, axes?: number | readonly number[], keepdim = false): ND {
  return reduce(x, axesOf(x, axes), 0, (a, v) => a + v, keepdim, (a, n) => a / n);
}

/** Maximum over `axes`; NaN wins (Math.max propagates it), as torch.amax. */
export function amax(x: ND, axes?: number | readonly number[], keepdim = false): ND {
  return reduce(x, axesOf(x, axes), -Infinity, Math.max, keepdim);
}

/** Minimum over `axes`; NaN wins, as torch.amin. */
export function amin(x: ND, axes?: number | readonly number[], keepdim = false): ND {
  return reduce(x, axesOf(x, axes), Infinity, Math.min, keepdim);
}

/** Variance over `axes` with `correction` subtracted from the count (torch.var). */
export function variance(x: ND, axes?: number | readonly number[], correction = 1, keepdim = false): ND {
  const ax = axesOf(x, axes);
  const m = mean(x, ax, true);
  const d2 = map2(x, m, (v, mu) => (v - mu) * (v - mu));
  return reduce(d2, ax, 0, (a, v) => a + v, keepdim, (a, n) => a / Math.max(n - correction, 0));
}

/**
 * Index of the first maximum (or minimum) along `axis`, or of the flattened array when axis is
 * omitted; a NaN counts as the extreme (its first index wins), as torch.argmax.
 */
export function argExtreme(x: ND, which: 'max' | 'min', axis?: number, keepdim = false): ND {
  if (axis === undefined) return argExtreme(new ND([x.size], x.data), which, 0);
  const a = axis < 0 ? axis + x.rank : axis;
  const outShape = x.shape.map((d, i) => (i === a ? 1 : d));
  const out = new Float64Array(size(outShape));
  for (let o = 0; o < out.length; o++) {
    const idx = unravel(outShape, o);
    let best = NaN;
    let arg = -1;
    for (let k = 0; k < x.shape[a]!; k++) {
      idx[a] = k;
      const v = x.at(idx);
      if (Number.isNaN(v)) {
        arg = k;
        break;
      }
      if (arg < 0 || (which === 'max' ? v > best : v < best)) {
        best = v;
        arg = k;
      }
    }
    out[o] = arg;
  }
  return new ND(keepdim ? outShape : x.shape.filter((_, i) => i !== a), out);
}

/** log(sum(exp(x))) over `axes`, shifted by the (finite) maximum; +-inf maxima shift by 0, as PyTorch. */
export function logsumexp(x: ND, axes?: number | readonly number[], keepdim = false): ND {
  const ax = axesOf(x, axes);
  const m = map(amax(x, ax, true), (v) => (Number.isFinite(v) ? v : 0));
  const s = reduce(map2(x, m, (v, mu) => Math.exp(v - mu)), ax, 0, (a, v) => a + v, true);
  const out = map2(s, m, (v, mu) => Math.log(v) + mu);
  return new ND(keepdim ? out.shape : x.shape.filter((_, i) => !ax.includes(i)), out.data);
}

/**
 * Gradient of sum(amax(x, axes) * gy) with respect to x: gy shared evenly by the elements equal
 * to the extreme (torch.amax / amin). `gy` has the kept (size-1) shape.
 */
export function extremeGrad(x: ND, which: 'max' | 'min', axes: readonly number[], gy: ND): ND {
  const ax = axesOf(x, axes);
  const e = which === 'max' ? amax(x, ax, true) : amin(x, ax, true);
  const hit = map2(x, e, (v, m) => (v === m ? 1 : 0));
  const count = sum(hit, ax, true);
  return map2(hit, map2(gy, count, (g, c) => g / c), (h, s) => h * s);
}
