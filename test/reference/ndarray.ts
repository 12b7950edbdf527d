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
