/**
 * Matrix products whose operands or output exceed one binding (Runtime.maxBindingBytes): chunks of
 * the batch while one entry fits, else tiles of one entry's output (rows and columns) and, when a
 * row of the reduction is itself too long, chunks of k whose products add up. Operand tiles are
 * copied out (copyBufferToBuffer: any split point works); src/ops/kernels/matmul.ts calls this only
 * when something does not fit, or when a side of C is longer than one dispatch's grid covers.
 */
import { empty } from '../../tensor/creation.js';
import type { Tensor } from '../../tensor/tensor.js';
import { binary } from './elementwise.js';
import { MATMUL_GRID_SAFE, MAX_GROUPS_PER_DIM, type MatmulPlan, type MatmulVariant } from './matmul.js';
import { copyBlock } from './split.js';

type Run = (a: Tensor, b: Tensor, plan: MatmulPlan, outShape: readonly number[], variant?: MatmulVariant) => Tensor;

/** Elements [start, start + count) of t as a new tensor of shape `shape`. */
function cut(t: Tensor, start: number, shape: readonly number[]): Tensor {
  const out = empty(shape);
  const count = out.size;
  if (count > 0) t.runtime.copy(t.bufferFor('matmul'), start * 4, out.bufferFor('matmul'), 0, count * 4);
  return out;
}

/** Block [r0:r0+rb, c0:c0+cb] of t seen as [rows, cols], as a new tensor (t itself when whole). */
function block(t: Tensor, rows: number, cols: number, r0: number, rb: number, c0: number, cb: number): Tensor {
  if (rb === rows && cb === cols && t.size === rows * cols) return t;
  const v = t.view([t.size / cols, cols]);
  const out = empty([rb, cb]);
  copyBlock(v, [r0, c0], out, [0, 0], [rb, cb]);
  v.dispose();
  return out;
}

/** The product of `plan` (see matmulRaw) split so that every operand and output tile fits one binding. */
export function splitMatmul(a: Tensor, b: Tensor, plan: MatmulPlan, outShape: readonly number[], variant: MatmulVariant | undefined, run: Run): Tensor {
  const rt = a.runtime;
  const L = rt.maxBindingBytes / 4;
  const { batch, m, n, k } = plan;
  const c = empty(outShape);
  // Packed operands round their rows up to multiples of 4.
  const r4 = (x: number) => Math.ceil(x / 4) * 4;
  const entry = Math.max(m * n, r4(m) * k, k * r4(n));
  if (batch > 1 && entry <= L && m <= MATMUL_GRID_SAFE && n <= MATMUL_GRID_SAFE) {
    // Whole entries: an operand broadcast over the batch (stride 0) is passed as it is. At most
    // MAX_GROUPS_PER_DIM entries per dispatch (the batch is the grid's z).
    const per = Math.max(1, Math.min(MAX_GROUPS_PER_DIM, Math.floor(L / entry)));
    for (let b0 = 0; b0 < batch; b0 += per) {
      const bb = Math.min(per, batch - b0);
      const at = plan.strideA ? cut(a, b0 * plan.strideA, [bb * plan.strideA]) : a;
      const bt = plan.strideB ? cut(b, b0 * plan.strideB, [bb * plan.strideB]) : b;
      const part = run(at, bt, { ...plan, batch: bb }, [bb * m * n], variant);
      rt.copy(part.bufferFor('matmul'), 0, c.bufferFor('matmul'), b0 * m * n * 4, part.size * 4);
      [part, at !== a ? at : null, bt !== b ? bt : null].forEach((t) => t?.dispose());
    }
    return c;
  }
  for (let e = 0; e < batch; e++) {
    const ae = batch === 1 ? a : cut(a, e * plan.strideA, [m * k]);
    const be = batch === 1 ? b : cut(b, e * plan.strideB, [k * n]);
    const ce = tiles(ae, be, plan, L, variant, run);
    rt.copy(ce.bufferFor('matmul'), 0, c.bufferFor('matmul'), e * m * n * 4, m * n * 4);
    [ce, ae !== a ? ae : null, be !== b ? be : null].forEach((t) => t?.dispose());
  }
  return c;
}

/** One entry's product [m, n] by tiles of rows, columns and k. */
function tiles(a: Tensor, b: Tensor, plan: MatmulPlan, L: number, variant: MatmulVariant | undefined, run: Run): Tensor {
  const { m, n, k, transA, transB } = plan;
  // Tiles of multiples of 4 rows and columns: packed operands round up to them.
  // Neither side longer than one dispatch's grid covers.
  const kb = Math.min(k, Math.floor(L / 4));
  const nb = Math.max(1, Math.min(n, MATMUL_GRID_SAFE, Math.floor(L / kb / 4) * 4));
  const mb = Math.max(1, Math.min(m, MATMUL_GRID_SAFE, Math.floor(Math.min(L / kb, L / nb) / 4) * 4));
  const c = empty([m, n]);
  for (let m0 = 0; m0 < m; m0 += mb) {
    const mt = Math.min(mb, m - m0);
    for (let n0 = 0; n0 < n; n0 += nb) {
      const nt = Math.min(nb, n - n0);
      let acc: Tensor | null = null;
      for (let k0 = 0; k0 < k; k0 += kb) {
        const kt = Math.min(kb, k - k0);
        const at = transA ? block(a, k, m, k0, kt, m0, mt) : block(a, m, k, m0, mt, k0, kt);
        const bt = transB ? block(b, n, k, n0, nt, k0, kt) : block(b, k, n, k0, kt, n0, nt);
        const part = run(at, bt, { ...plan, batch: 1, m: mt, n: nt, k: kt, strideA: 0, strideB: 0 }, [mt, nt], variant);
        [at !== a ? at : null, bt !== b ? bt : null].forEach((t) => t?.dispose());
        if (acc) {
          const next = binary('add', acc, part);
          acc.dispose();
          part.dispose();
          acc = next;
        } else acc = part;
      }
      copyBlock(acc!, [0, 0], c, [m0, n0], [mt, nt]);
      acc!.dispose();
    }
  }
  return c;
}
