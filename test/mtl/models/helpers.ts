/** Shared pieces of the architecture tests: tiny tasks and specs, losses, gradient inspection. */
import * as w from '../../../src/index.js';
import type { MultiTaskModel, TaskSpec } from '../../../src/mtl/models/index.js';

/** Three tasks with different channel counts. */
export const TASKS: readonly TaskSpec[] = [
  { name: 'semseg', channels: 5 },
  { name: 'depth', channels: 1 },
  { name: 'normals', channels: 3 },
];

/** A random-weighted sum of every output (a plain sum would be blind behind training-mode batch norms). */
export function weightedLoss(outputs: Readonly<Record<string, w.Tensor>>, seed = 7): w.Tensor {
  const parts = Object.values(outputs).map((o, i) => w.sum(w.mul(o, w.randn(o.shape, { seed: seed + i }))));
  return parts.reduce((a, b) => w.add(a, b));
}

/** Sum of |values| and whether all are finite, read back in one go. */
export async function absSumFinite(t: w.Tensor): Promise<{ abs: number; finite: boolean }> {
  const v = await t.toArray();
  return { abs: v.reduce((a, x) => a + Math.abs(x), 0), finite: v.every(Number.isFinite) };
}

/** Names of trainable parameters whose gradient is missing, non-finite or all zero. */
export async function badGrads(model: MultiTaskModel, except: RegExp | null = null): Promise<string[]> {
  const bad: string[] = [];
  for (const [name, p] of model.namedParameters()) {
    if (!p.requiresGrad || except?.test(name)) continue;
    if (!p.grad) {
      bad.push(`${name} (no grad)`);
      continue;
    }
    const { abs, finite } = await absSumFinite(p.grad);
    if (!finite || abs === 0) bad.push(`${name} (${finite ? 'zero' : 'non-finite'})`);
  }
  return bad;
}

/** Max |a - b| over two tensors of one shape. */
export async function maxDiff(a: w.Tensor, b: w.Tensor): Promise<number> {
  const [x, y] = [await a.toArray(), await b.toArray()];
  if (x.length !== y.length) throw new Error(`sizes differ: ${x.length} vs ${y.length}`);
  return x.reduce((m, v, i) => Math.max(m, Math.abs(v - y[i]!)), 0);
}

/** Max |x| of a tensor. */
export async function maxAbs(a: w.Tensor): Promise<number> {
  return (await a.toArray()).reduce((m, v) => Math.max(m, Math.abs(v)), 0);
}
