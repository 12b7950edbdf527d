/**
 * Normalisation passes whose tensors exceed one binding (Runtime.maxBindingBytes). The reductions
 * (statistics, gradient sums) run per block of their [A, M, B] view and lay the blocks' partials side
 * by side, padded with empty ones (count 0, sums 0), so the unsplit final passes merge them as they
 * merge their own. The row passes (apply and its gradient) run per chunk of rows, with the per-row
 * tables (statistics, weight, bias) rotated so that chunk-local row indices find their entries. A
 * single row (or B run) larger than one binding is not split. src/ops/kernels/norm.ts calls these
 * only when something does not fit.
 */
import { ArgumentError } from '../../errors.js';
import { empty, zeros } from '../../tensor/creation.js';
import type { Tensor } from '../../tensor/tensor.js';
import type { InlineStats, NormEpilogue, RowGeom } from './norm.js';
import { copyBlock, putRows, takeRows } from './split.js';

/** An [A, M, B] view (see norm.ts). */
interface View {
  a: number;
  m: number;
  b: number;
}

/** One block of a view: a0 .. a0+ab, m0 .. m0+mb. */
interface Block {
  a0: number;
  ab: number;
  m0: number;
  mb: number;
}

/** Blocks of whole [M, B] slabs while one fits, else single-a blocks of M; mb a multiple of `mstep`. */
function blocks(limit: number, v: View, mstep: number): Block[] {
  const out: Block[] = [];
  if (v.m * v.b <= limit) {
    const ab = Math.max(1, Math.floor(limit / Math.max(v.m * v.b, 1)));
    for (let a0 = 0; a0 < v.a; a0 += ab) out.push({ a0, ab: Math.min(ab, v.a - a0), m0: 0, mb: v.m });
    return out;
  }
  const mb = Math.floor(limit / v.b / mstep) * mstep;
  if (mb < 1) throw new ArgumentError('norm', `a run of ${v.b * mstep} elements larger than one binding (${limit * 4} bytes) is not split`);
  for (let a0 = 0; a0 < v.a; a0++) for (let m0 = 0; m0 < v.m; m0 += mb) out.push({ a0, ab: 1, m0, mb: Math.min(mb, v.m - m0) });
  return out;
}

/** Block k of tensor t seen as [A, M, B], as a new tensor [ab, mb, B]. */
function cut(t: Tensor, v: View, k: Block): Tensor {
  const view = t.view([v.a, v.m, v.b]);
  const out = empty([k.ab, k.mb, v.b]);
  copyBlock(view, [k.a0, k.m0, 0], out, [0, 0, 0], [k.ab, k.mb, v.b]);
  view.dispose();
  return out;
}

/**
 * Partials [M, P, width] of a reduction too large for one binding: `partial` reduces one block
 * (given as a tensor [ab, mb, B], its view and the most partials per m it may write, so that the
 * whole stays within one binding) into [mb, p, width]; block results go side by side along P, the
 * rest stays zero (an empty partial).
 */
export function splitPartials(
  x: Tensor,
  v: View,
  width: number,
  mstep: number,
  partial: (xb: Tensor, v: View, maxP: number, k: Block) => Tensor,
): Tensor {
  const limit = x.runtime.maxBindingBytes / 4;
  const parts: { k: Block; part: Tensor; at: number }[] = [];
  const used = new Map<number, number>();
  const list = blocks(limit, v, mstep);
  // Blocks that share an m range write their partials side by side.
  const perM = list.filter((k) => k.m0 === 0).length;
  const maxP = Math.max(1, Math.floor(limit / (v.m * width * perM)));
  for (const k of list) {
    const xb = cut(x, v, k);
    const part = partial(xb, { a: k.ab, m: k.mb, b: v.b }, maxP, k);
    xb.dispose();
    const at = used.get(k.m0) ?? 0;
    used.set(k.m0, at + part.shape[1]!);
    parts.push({ k, part, at });
  }
  const p = Math.max(...used.values());
  const whole = zeros([v.m, p, width]);
  for (const { k, part, at } of parts) {
    copyBlock(part, [0, 0, 0], whole, [k.m0, at, 0], part.shape);
    part.dispose();
  }
  return whole;
}

/** Block k of a tensor too, for the gradient sums' other operands (gy, mask). */
export function cutLike(t: Tensor, v: View, k: Block): Tensor {
  return cut(t, v, k);
}

/** t [S, ...] with its rows rotated left by k (row j of the result is row (j + k) % S). */
export function rotated(t: Tensor, k: number): Tensor {
  const s = t.shape[0]!;
  if (k % s === 0) return t;
  const r = empty(t.shape);
  const row = t.size / s;
  const kk = k % s;
  const rt = t.runtime;
  rt.copy(t.bufferFor('norm'), kk * row * 4, r.bufferFor('norm'), 0, (s - kk) * row * 4);
  rt.copy(t.bufferFor('norm'), 0, r.bufferFor('norm'), (s - kk) * row * 4, kk * row * 4);
  return r;
}

/**
 * A row pass (apply, or its gradient) over `rows` rows of `l` elements too large for one binding, by
 * chunks of whole multiples of `rstep` rows: `run(r0, rb, take)` runs the pass on the chunk, where
 * take(t) cuts a row-aligned tensor's chunk; the results are joined.
 */
export function splitRows(
  first: Tensor,
  rows: number,
  l: number,
  rstep: number,
  run: (r0: number, rb: number, take: (t: Tensor) => Tensor) => Tensor,
): Tensor {
  const limit = first.runtime.maxBindingBytes / 4;
  const rb = Math.floor(limit / l / rstep) * rstep;
  if (rb < 1) throw new ArgumentError('norm', `rows of ${l * rstep} elements larger than one binding (${limit * 4} bytes) are not split`);
  const y = empty(first.shape);
  for (let r0 = 0; r0 < rows; r0 += rb) {
    const n = Math.min(rb, rows - r0);
    const made: Tensor[] = [];
    const take = (t: Tensor): Tensor => {
      const v = t.view([rows, l]);
      const c = takeRows(v, r0, n);
      v.dispose();
      made.push(c);
      return c;
    };
    const part = run(r0, n, take);
    const pv = y.view([rows, l]);
    putRows(pv, r0, part);
    pv.dispose();
    part.dispose();
    made.forEach((t) => t.dispose());
  }
  return y;
}

/** normApply (`run`) over row chunks of an x larger than one binding, its per-row tables rotated. */
export function splitApply(
  x: Tensor,
  stats: Tensor | InlineStats,
  w: Tensor | null,
  b: Tensor | null,
  g: RowGeom,
  epi: NormEpilogue | null,
  run: (x: Tensor, stats: Tensor | InlineStats, w: Tensor | null, b: Tensor | null, g: RowGeom, epi: NormEpilogue | null) => Tensor,
): Tensor {
  return splitRows(x, g.rows, g.l, g.sdiv, (r0, rb, take) => {
    const k = Math.floor(r0 / g.sdiv) % g.smod;
    const inl = 'variance' in stats ? stats : null;
    const st = inl ? { mean: rotated(inl.mean, k), variance: rotated(inl.variance, k), eps: inl.eps } : rotated(stats as Tensor, k);
    const wr = w && !g.affCol ? rotated(w, r0 % g.c) : w;
    const br = b && !g.affCol ? rotated(b, r0 % g.c) : b;
    const e = epi && { residual: epi.residual && take(epi.residual), relu: epi.relu };
    const y = run(take(x), st, wr, br, { ...g, rows: rb }, e);
    const made = [wr, br, ...('variance' in st ? [st.mean, st.variance] : [st])];
    const orig = [w, b, ...(inl ? [inl.mean, inl.variance] : [stats as Tensor])];
    made.forEach((t, i) => t && t !== orig[i] && t.dispose());
    return y;
  });
}

/** normGradSums (`run`) over blocks of an x larger than one binding: their partials side by side. */
export function splitGradSums(
  x: Tensor,
  gy: Tensor,
  stats: Tensor,
  v: View,
  sa: number,
  sm: number,
  sdiv: number,
  wCol: Tensor | null,
  mask: Tensor | null,
  run: (x: Tensor, gy: Tensor, stats: Tensor, v: View, sa: number, sm: number, sdiv: number, wCol: Tensor | null, mask: Tensor | null) => { part: Tensor },
): { part: Tensor; p: number } {
  const part = splitPartials(x, v, 2, sm !== 0 ? sdiv : 1, (xc, bv, _maxP, k) => {
    // Block-local statistics indices start at the block's offset (a multiple of sdiv).
    const off = (k.a0 * sa + k.m0 * sm) / sdiv;
    if (!Number.isInteger(off)) throw new ArgumentError('norm', 'a split of the gradient sums must keep statistics groups whole');
    const st = off > 0 ? takeRows(stats, off, stats.shape[0]! - off) : stats;
    const gc = cutLike(gy, v, k);
    const mc = mask && cutLike(mask, v, k);
    const r = run(xc, gc, st, bv, sa, sm, sdiv, wCol, mc).part;
    [gc, mc, st !== stats ? st : null].forEach((t) => t?.dispose());
    return r;
  });
  return { part, p: part.shape[1]! };
}

/** normApplyGrad (`run`) over row chunks of an x larger than one binding, its tables rotated. */
export function splitApplyGrad(
  x: Tensor,
  gy: Tensor,
  stats: Tensor,
  ks: Tensor | null,
  w: Tensor | null,
  g: RowGeom,
  mask: Tensor | null,
  dr: Tensor | null,
  run: (x: Tensor, gy: Tensor, stats: Tensor, ks: Tensor | null, w: Tensor | null, g: RowGeom, mask: Tensor | null, dr: Tensor | null) => Tensor,
): Tensor {
  return splitRows(x, g.rows, g.l, g.sdiv, (r0, rb, take) => {
    const k = Math.floor(r0 / g.sdiv) % g.smod;
    const st = rotated(stats, k);
    const kr = ks && rotated(ks, k);
    const wr = w && !g.affCol ? rotated(w, r0 % g.c) : w;
    const drc = dr && empty([rb, g.l]);
    const dx = run(take(x), take(gy), st, kr, wr, { ...g, rows: rb }, mask && take(mask), drc);
    if (dr && drc) {
      dr.runtime.copy(drc.bufferFor('norm'), 0, dr.bufferFor('norm'), r0 * g.l * 4, drc.size * 4);
      drc.dispose();
    }
    [st !== stats ? st : null, kr !== ks ? kr : null, wr !== w ? wr : null].forEach((t) => t?.dispose());
    return dx;
  });
}
