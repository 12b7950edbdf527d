/**
 * Work larger than one storage binding. The runtime caps what a dispatch may bind
 * (Runtime.maxBindingBytes: the adapter's maxStorageBufferBindingSize, or lower by option); tensors may
 * be larger. Ops then split their work with the helpers here, and only then: the unsplit path costs
 * one size comparison.
 *
 * Two mechanisms cover every op family. Flat ops whose operands are all indexed alike (elementwise,
 * fill, cast, optimiser updates) bind aligned sub-ranges of each buffer ({@link flatChunks},
 * {@link range}): chunks start at multiples of the limit, itself a multiple of 256 bytes, so every
 * offset meets minStorageBufferOffsetAlignment and nothing is copied. Ops with a leading axis that
 * their outputs keep or reduce (batch for convolutions, pooling, resizing, norms; rows for matmul,
 * reductions and losses) run once per chunk of that axis on copies of the chunk ({@link takeRows},
 * copyBufferToBuffer, which needs only 4-byte alignment, so any split point works) and join the
 * results ({@link mapRows}) or add them up ({@link sumRows}).
 */
import { ArgumentError } from '../../errors.js';
import type { Runtime } from '../../gpu/runtime.js';
import { empty } from '../../tensor/creation.js';
import { sizeOf } from '../../tensor/shape.js';
import type { Tensor } from '../../tensor/tensor.js';

/** True when every given tensor fits one binding of runtime `rt` (nulls are skipped). */
export function fits(rt: Runtime, ...ts: readonly (Tensor | null | undefined)[]): boolean {
  const max = rt.maxBindingBytes;
  for (const t of ts) if (t && t.size * 4 > max) return false;
  return true;
}

/**
 * Element ranges [start, start + count) that cover n elements, each at most one binding long and
 * starting at a multiple of the binding limit (so byte offsets are aligned for every buffer).
 */
export function flatChunks(rt: Runtime, n: number): [number, number][] {
  const step = rt.maxBindingBytes / 4;
  const out: [number, number][] = [];
  for (let s = 0; s < n; s += step) out.push([s, Math.min(step, n - s)]);
  return out;
}

/**
 * The binding of elements [start, start + count) of t's buffer; `start * 4` must be a multiple of
 * the offset alignment (flatChunks' starts are). The size is rounded up to 16 bytes within the
 * buffer, as vec4 kernels read whole vectors.
 */
export function range(t: Tensor, start: number, count: number, op: string): GPUBufferBinding {
  const buffer = t.bufferFor(op);
  const offset = start * 4;
  return { buffer, offset, size: Math.min(Math.ceil((count * 4) / 16) * 16, buffer.size - offset) };
}

/**
 * Copies the block `block` (a shape) at `srcStart` in src to `dstStart` in dst, both contiguous
 * tensors of the block's rank, with one copyBufferToBuffer per contiguous run.
 */
export function copyBlock(src: Tensor, srcStart: readonly number[], dst: Tensor, dstStart: readonly number[], block: readonly number[]): void {
  const rank = block.length;
  if (sizeOf(block) === 0) return;
  // The innermost dims that every tensor holds whole are one run with the dim before them.
  let k = rank - 1;
  while (k > 0 && block[k] === src.shape[k] && block[k] === dst.shape[k]) k--;
  const run = sizeOf(block.slice(k));
  const ss = strides(src.shape);
  const ds = strides(dst.shape);
  const outer = block.slice(0, k);
  const rt = dst.runtime;
  const sb = src.bufferFor('copy');
  const db = dst.bufferFor('copy');
  const idx = outer.map(() => 0);
  for (let left = sizeOf(outer); left > 0; left--) {
    let so = srcStart[k]! * ss[k]!;
    let d = dstStart[k]! * ds[k]!;
    for (let i = 0; i < k; i++) {
      so += (srcStart[i]! + idx[i]!) * ss[i]!;
      d += (dstStart[i]! + idx[i]!) * ds[i]!;
    }
    rt.copy(sb, so * 4, db, d * 4, run * 4);
    for (let i = k - 1; i >= 0 && ++idx[i]! === outer[i]!; i--) idx[i] = 0;
  }
}

function strides(shape: readonly number[]): number[] {
  const s = new Array<number>(shape.length);
  let acc = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    s[i] = acc;
    acc *= shape[i]!;
  }
  return s;
}

/** Rows n0 .. n0 + nb - 1 of x (along axis 0) as a new tensor. */
export function takeRows(x: Tensor, n0: number, nb: number): Tensor {
  const shape = [nb, ...x.shape.slice(1)];
  const y = empty(shape, x.dtype);
  const row = sizeOf(x.shape.slice(1));
  if (y.size > 0) y.runtime.copy(x.bufferFor('split'), n0 * row * 4, y.bufferFor('split'), 0, y.size * 4);
  return y;
}

/** Writes `part` into rows n0 .. of y (along axis 0). */
export function putRows(y: Tensor, n0: number, part: Tensor): void {
  const row = sizeOf(y.shape.slice(1));
  if (part.size > 0) y.runtime.copy(part.bufferFor('split'), 0, y.bufferFor('split'), n0 * row * 4, part.size * 4);
}

/** How many rows of `rowBytes` bytes fit one binding (at least 1). */
export function rowsPerChunk(rt: Runtime, rowBytes: number): number {
  return Math.max(1, Math.floor(rt.maxBindingBytes / Math.max(rowBytes, 1)));
}

/** The chunks [n0, nb] of n rows, `per` rows at a time. */
export function rowChunks(n: number, per: number): [number, number][] {
  const out: [number, number][] = [];
  for (let n0 = 0; n0 < n; n0 += per) out.push([n0, Math.min(per, n - n0)]);
  return out;
}

/**
 * Runs `fn(n0, nb)` over chunks of n rows, `rowBytes` bytes a row (the most any operand, output or
 * temporary of the op binds per row), and joins the results along axis 0. fn returns a tensor of nb
 * rows; its other dims fix the output's.
 */
export function mapRows(rt: Runtime, n: number, rowBytes: number, fn: (n0: number, nb: number) => Tensor): Tensor {
  let y: Tensor | null = null;
  for (const [n0, nb] of rowChunks(n, rowsPerChunk(rt, rowBytes))) {
    const part = fn(n0, nb);
    y ??= empty([n, ...part.shape.slice(1)], part.dtype);
    putRows(y, n0, part);
    part.dispose();
  }
  return y!;
}

/**
 * Runs `fn(n0, nb)` over chunks of n rows as {@link mapRows} does and combines the partial results
 * with `combine` (a sum, or a maximum): for ops that reduce over the split axis.
 */
export function sumRows(
  rt: Runtime,
  n: number,
  rowBytes: number,
  fn: (n0: number, nb: number) => Tensor,
  combine: (a: Tensor, b: Tensor) => Tensor,
): Tensor {
  let acc: Tensor | null = null;
  for (const [n0, nb] of rowChunks(n, rowsPerChunk(rt, rowBytes))) {
    const part = fn(n0, nb);
    if (!acc) {
      acc = part;
      continue;
    }
    const next = combine(acc, part);
    acc.dispose();
    part.dispose();
    acc = next;
  }
  return acc!;
}

/** True when any of the given element counts exceeds one binding of runtime `rt`. */
export function over(rt: Runtime, ...counts: readonly number[]): boolean {
  const max = rt.maxBindingBytes / 4;
  for (const c of counts) if (c > max) return true;
  return false;
}

/**
 * For ops that treat each (n, c) plane of NCHW tensors on its own (pooling, resizing, padding): runs
 * `fn` on chunks of planes, each input viewed as [planes, 1, h, w], and joins every output along the
 * planes; outputs come back as [n, c, ...]. `planeBytes` is the most any input or output holds per
 * plane.
 */
export function mapPlanes(xs: readonly Tensor[], planeBytes: number, fn: (parts: Tensor[]) => Tensor[]): Tensor[] {
  const [n, c] = xs[0]!.shape as [number, number];
  const rt = xs[0]!.runtime;
  const views = xs.map((x) => x.view([n * c, 1, ...x.shape.slice(2)]));
  let outs: Tensor[] | null = null;
  for (const [p0, pb] of rowChunks(n * c, rowsPerChunk(rt, planeBytes))) {
    const parts = views.map((v) => takeRows(v, p0, pb));
    const ys = fn(parts);
    parts.forEach((p) => p.dispose());
    outs ??= ys.map((y) => empty([n * c, ...y.shape.slice(1)], y.dtype));
    ys.forEach((y, i) => {
      putRows(outs![i]!, p0, y);
      y.dispose();
    });
  }
  views.forEach((v) => v.dispose());
  return outs!.map((o) => {
    const v = o.view([n, c, ...o.shape.slice(2)]);
    o.dispose();
    return v;
  });
}

/**
 * For ops that treat each (outer, inner) lane along one axis of length `len` on its own (softmax,
 * l2-normalize): runs `fn` on tiles [ob, mid, ib] of every input (mid: its length along the axis,
 * `len` or 1), whole outer rows while one fits, else inner ranges of one row, and joins each output
 * (also [ob, mid, ib] per tile) into [outer, mid, inner].
 */
export function mapLanes(
  xs: readonly { t: Tensor; mid: number }[],
  outer: number,
  len: number,
  inner: number,
  outMids: readonly number[],
  fn: (parts: Tensor[], ob: number, ib: number) => Tensor[],
): Tensor[] {
  const rt = xs[0]!.t.runtime;
  const L = rt.maxBindingBytes / 4;
  const tiles: [number, number, number, number][] = [];
  if (len * inner <= L) {
    const ob = Math.max(1, Math.floor(L / (len * inner)));
    for (let o0 = 0; o0 < outer; o0 += ob) tiles.push([o0, Math.min(ob, outer - o0), 0, inner]);
  } else {
    const ib = Math.max(1, Math.floor(L / len));
    for (let o0 = 0; o0 < outer; o0++) for (let i0 = 0; i0 < inner; i0 += ib) tiles.push([o0, 1, i0, Math.min(ib, inner - i0)]);
  }
  const outs = outMids.map((mid) => empty([outer, mid, inner]));
  for (const [o0, ob, i0, ib] of tiles) {
    const parts = xs.map(({ t, mid }) => {
      const v = t.view([outer, mid, inner]);
      const p = empty([ob, mid, ib]);
      copyBlock(v, [o0, 0, i0], p, [0, 0, 0], [ob, mid, ib]);
      v.dispose();
      return p;
    });
    const ys = fn(parts, ob, ib);
    ys.forEach((y, k) => {
      const yv = y.view([ob, outMids[k]!, ib]);
      copyBlock(yv, [0, 0, 0], outs[k]!, [o0, 0, i0], [ob, outMids[k]!, ib]);
      yv.dispose();
      y.dispose();
    });
    parts.forEach((p) => p.dispose());
  }
  return outs;
}

/** Invocations [i0, i1) of a tile and the source elements [s0, s1) they read. */
export interface RowWindow {
  i0: number;
  i1: number;
  s0: number;
  s1: number;
}

/**
 * For kernels whose invocations walk one plane row by row (pooling and resizing of a plane larger
 * than one binding): tiles of `rows` rows of `cols` invocations, each with the source rows
 * (`srcRows(r0, r1)`, of `srcCols` elements) its rows read, such that both, bound from an aligned
 * start, fit one binding.
 */
export function rowWindows(rt: Runtime, rows: number, cols: number, srcCols: number, srcRows: (r0: number, r1: number) => [number, number]): RowWindow[] {
  const align = rt.limits.minStorageBufferOffsetAlignment / 4;
  const L = rt.maxBindingBytes / 4 - align;
  const most = Math.floor(L / cols);
  const out: RowWindow[] = [];
  for (let r0 = 0; r0 < rows; ) {
    let rb = Math.min(most, rows - r0);
    let [a, b] = srcRows(r0, r0 + rb);
    while (rb > 1 && (b - a) * srcCols > L) {
      rb = Math.floor(rb / 2);
      [a, b] = srcRows(r0, r0 + rb);
    }
    if (rb < 1 || (b - a) * srcCols > L) {
      throw new ArgumentError('split', `one row of ${cols} invocations reading ${(b - a) * srcCols} elements exceeds one binding (${rt.maxBindingBytes} bytes)`);
    }
    out.push({ i0: r0 * cols, i1: (r0 + rb) * cols, s0: a * srcCols, s1: Math.max(b, a + 1) * srcCols });
    r0 += rb;
  }
  return out;
}

/** The binding of elements [lo', hi) of t, lo' = lo rounded down to the offset alignment, and lo'. */
export function windowOf(t: Tensor, lo: number, hi: number, op: string): { binding: GPUBufferBinding; base: number } {
  const align = t.runtime.limits.minStorageBufferOffsetAlignment / 4;
  const base = Math.floor(lo / align) * align;
  const buffer = t.bufferFor(op);
  return { binding: { buffer, offset: base * 4, size: Math.min(buffer.size - base * 4, Math.ceil(((hi - base) * 4) / 16) * 16) }, base };
}
