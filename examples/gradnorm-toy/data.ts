/**
 * The GradNorm paper's toy regression problem (Chen et al. 2018, section 4): T tasks
 * f_i(x) = sigma_i tanh((B + eps_i) x) with x in R^250 (uniform in [-1, 1], then unit-normalised),
 * outputs in R^100, B with elements N(0, 10^2) shared by all tasks and eps_i with elements
 * N(0, 3.5^2) per task. The tasks differ only in their scale sigma_i, which is what makes equal
 * weighting fail: the large-sigma task dominates the gradients of the shared trunk.
 */
import { Generator } from '../../src/index.js';

export const IN = 250;
export const OUT = 100;

/** A fixed data set: inputs [n, IN] and one target block [n, OUT] per task. */
export interface ToyData {
  n: number;
  x: Float32Array;
  y: Float32Array[];
}

/** The task-defining matrices (B + eps_i), [OUT, IN] each, from `seed`. */
export function taskMatrices(T: number, seed: number): Float64Array[] {
  const g = new Generator(seed);
  const B = g.normal(OUT * IN, 0, 10);
  return Array.from({ length: T }, () => {
    const eps = g.normal(OUT * IN, 0, 3.5);
    return Float64Array.from(B, (b, k) => b + eps[k]!);
  });
}

/** n samples of every task, inputs drawn from `seed`. */
export function makeData(mats: readonly Float64Array[], sigmas: readonly number[], n: number, seed: number): ToyData {
  const g = new Generator(seed);
  const x = g.uniform(n * IN, -1, 1);
  for (let s = 0; s < n; s++) {
    let norm = 0;
    for (let k = 0; k < IN; k++) norm += x[s * IN + k]! ** 2;
    const inv = 1 / Math.sqrt(norm);
    for (let k = 0; k < IN; k++) x[s * IN + k]! *= inv;
  }
  const y = mats.map((M, i) => {
    const out = new Float32Array(n * OUT);
    for (let s = 0; s < n; s++) {
      for (let o = 0; o < OUT; o++) {
        let acc = 0;
        for (let k = 0; k < IN; k++) acc += M[o * IN + k]! * x[s * IN + k]!;
        out[s * OUT + o] = sigmas[i]! * Math.tanh(acc);
      }
    }
    return out;
  });
  return { n, x, y };
}
