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
 * (given as a tensor [ab, mb, B], its view and the block) into [mb, p, width]; block results go side
 * by side along P, the rest stays zero (an empty partial).
 */
export function splitPartials(
  x: Tensor,
  v: View,
  width: number,
  mstep: number,
  partial: (xb: Tensor, v: View, k: Block) => Tensor,
): Tensor {
  const limit = x.runtime.maxBindingBytes / 4;
  const parts: { k: Block; part: Tensor; at: number }[] = [];
  const used = new Map<number, number>();
  for (const k of blocks(limit, v, mstep)) {
    const xb = cut(x, v, k);
    const part = partial(xb, { a: k.ab, m: k.mb, b: v.b }, k);
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
