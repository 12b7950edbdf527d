/**
 * Matmul benchmarks: square products through the public op, and the two transposed products that
 * backward runs (dA = G B^T, dB = A^T G) through the raw kernel launcher.
 */
import { rand, matmul } from '../src/index.js';
import { matmulRaw } from '../src/ops/kernels/matmul.js';
import { timeRuns, type BenchRow } from './timing.js';

function row(op: string, n: number, ms: number): BenchRow {
  return { op, shape: `${n}x${n}x${n}`, ms, value: (2 * n ** 3) / (ms * 1e6), unit: 'GFLOP/s' };
}

/** C = A B for square n x n operands. */
export async function benchMatmul(n: number): Promise<BenchRow> {
  const a = rand([n, n], { seed: 1 });
  const b = rand([n, n], { seed: 2 });
  const ms = await timeRuns(() => matmul(a, b).dispose(), { runs: n >= 1024 ? 5 : 7 });
  a.dispose();
  b.dispose();
  return row('matmul', n, ms);
}

/** The backward products at square size n: A^T B (transA) or A B^T (transB). */
export async function benchMatmulTransposed(n: number, which: 'transA' | 'transB'): Promise<BenchRow> {
  const a = rand([n, n], { seed: 1 });
  const b = rand([n, n], { seed: 2 });
  const plan = { batch: 1, m: n, n, k: n, transA: which === 'transA', transB: which === 'transB', strideA: 0, strideB: 0 };
  const ms = await timeRuns(() => matmulRaw(a, b, plan, [n, n]).dispose());
  a.dispose();
  b.dispose();
  return row(which === 'transA' ? 'matmul A^T B' : 'matmul A B^T', n, ms);
}
