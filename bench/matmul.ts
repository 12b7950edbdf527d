/**
 * Matmul benchmarks: square products through the public op (with TF.js's WebGPU backend as peer), and the two transposed products that
 * backward runs (dA = G B^T, dB = A^T G) through the raw kernel launcher.
 */
import type * as TFNS from '@tensorflow/tfjs';
import { rand, matmul, runtime } from '../src/index.js';
import { matmulRaw } from '../src/ops/kernels/matmul.js';
import { loadTfjs, tfRun } from './peers/tfjs.js';
import { timeInterleaved, timeRuns, type BenchRow } from './timing.js';

function row(op: string, n: number, ms: number): BenchRow {
  return { op, shape: `${n}x${n}x${n}`, ms, value: (2 * n ** 3) / (ms * 1e6), unit: 'GFLOP/s' };
}

/**
 * C = A B for square n x n operands, timed round-robin with TF.js's `tf.matMul` on its WebGPU backend
 * (same adapter, its own device) when it can start. Fewer runs at 2048 (TF.js takes seconds there).
 */
export async function benchMatmul(n: number): Promise<BenchRow> {
  const rt = runtime();
  const a = rand([n, n], { seed: 1 });
  const b = rand([n, n], { seed: 2 });
  const fns: Record<string, () => Promise<void>> = {
    ours: async () => {
      matmul(a, b).dispose();
      await rt.sync();
    },
  };
  const tf = await loadTfjs();
  let tfOps: TFNS.Tensor[] = [];
  if (tf) {
    const ta = tf.randomUniform([n, n]) as TFNS.Tensor2D;
    const tb = tf.randomUniform([n, n]) as TFNS.Tensor2D;
    tfOps = [ta, tb];
    fns.tf = tfRun(tf, () => tf.matMul(ta, tb));
  }
  const opts = n >= 2048 ? { warmup: 1, runs: 3 } : n >= 1024 ? { warmup: 2, runs: 7 } : { warmup: 3, runs: 21 };
  const ms = await timeInterleaved(fns, opts);
  a.dispose();
  b.dispose();
  tf?.dispose(tfOps);
  const r = row('matmul', n, ms.ours!);
  if (!tf) return r;
  return { ...r, peer: 'TF.js webgpu', peerMs: ms.tf!, ratio: ms.tf! / ms.ours! };
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
