/**
 * Float64 reference normalisations (batch, group, layer norm and l2-normalise), written as the
 * textbook formulas over explicit index loops.
 */
import { ND, size } from './ndarray.js';

/** Mean and biased variance of the values x.data[i] for i in `idx`. */
function moments(x: ND, idx: readonly number[]): { mean: number; v: number } {
  let s = 0;
  for (const i of idx) s += x.data[i]!;
  const mean = s / idx.length;
  let q = 0;
  for (const i of idx) q += (x.data[i]! - mean) ** 2;
  return { mean, v: q / idx.length };
}

/** Linear indices of an NCHW-like tensor [N, C, rest...] for one (n, c). */
function plane(shape: readonly number[], n: number, c: number): number[] {
  const hw = size(shape.slice(2));
  const base = (n * shape[1]! + c) * hw;
  return Array.from({ length: hw }, (_, i) => base + i);
}

export interface RefBatchNorm {
  y: ND;
  /** Per-channel batch mean and biased variance (training) or the running ones (eval). */
  mean: number[];
  varBiased: number[];
  /** Running statistics after the call. */
  runningMean: number[] | null;
  runningVar: number[] | null;
}

/** F.batch_norm over x [N, C, H, W]. */
export function batchNorm(
  x: ND,
  weight: ND | null,
  bias: ND | null,
  o: { runningMean?: number[] | null; runningVar?: number[] | null; training: boolean; momentum?: number; eps?: number },
): RefBatchNorm {
  const [n, c] = x.shape as [number, number];
  const eps = o.eps ?? 1e-5;
  const mom = o.momentum ?? 0.1;
  const y = new Float64Array(x.size);
  const mean: number[] = [];
  const varBiased: number[] = [];
  const rm = o.runningMean ? [...o.runningMean] : null;
  const rv = o.runningVar ? [...o.runningVar] : null;
  for (let ch = 0; ch < c; ch++) {
    const idx: number[] = [];
    for (let b = 0; b < n; b++) idx.push(...plane(x.shape, b, ch));
    let m: number;
    let v: number;
    if (o.training) {
      ({ mean: m, v } = moments(x, idx));
      if (rm && rv) {
        rm[ch] = (1 - mom) * rm[ch]! + mom * m;
        rv[ch] = (1 - mom) * rv[ch]! + (mom * v * idx.length) / (idx.length - 1);
      }
    } else {
      m = o.runningMean![ch]!;
      v = o.runningVar![ch]!;
    }
    mean.push(m);
    varBiased.push(v);
    const inv = 1 / Math.sqrt(v + eps);
    for (const i of idx) y[i] = (x.data[i]! - m) * inv * (weight ? weight.data[ch]! : 1) + (bias ? bias.data[ch]! : 0);
  }
  return { y: new ND([...x.shape], y), mean, varBiased, runningMean: rm, runningVar: rv };
}

/** F.group_norm over x [N, C, ...] with `groups` groups. */
export function groupNorm(x: ND, groups: number, weight: ND | null, bias: ND | null, eps = 1e-5): ND {
  const [n, c] = x.shape as [number, number];
  const cg = c / groups;
  const y = new Float64Array(x.size);
  for (let b = 0; b < n; b++)
    for (let g = 0; g < groups; g++) {
      const idx: number[] = [];
      for (let ch = g * cg; ch < (g + 1) * cg; ch++) idx.push(...plane(x.shape, b, ch));
      const { mean, v } = moments(x, idx);
      const inv = 1 / Math.sqrt(v + eps);
      for (let ch = g * cg; ch < (g + 1) * cg; ch++)
        for (const i of plane(x.shape, b, ch)) y[i] = (x.data[i]! - mean) * inv * (weight ? weight.data[ch]! : 1) + (bias ? bias.data[ch]! : 0);
    }
  return new ND([...x.shape], y);
}

/** F.layer_norm over the last dims of x (their total size d = size(normalizedShape)). */
export function layerNorm(x: ND, normalizedShape: readonly number[], weight: ND | null, bias: ND | null, eps = 1e-5): ND {
  const d = size(normalizedShape);
  const y = new Float64Array(x.size);
  for (let r = 0; r < x.size / d; r++) {
    const idx = Array.from({ length: d }, (_, j) => r * d + j);
    const { mean, v } = moments(x, idx);
    const inv = 1 / Math.sqrt(v + eps);
    for (let j = 0; j < d; j++) y[r * d + j] = (x.data[r * d + j]! - mean) * inv * (weight ? weight.data[j]! : 1) + (bias ? bias.data[j]! : 0);
  }
  return new ND([...x.shape], y);
}

/** F.normalize(x, p=2, dim=axis, eps). */
export function l2Normalize(x: ND, axis = 1, eps = 1e-12): ND {
  const outer = size(x.shape.slice(0, axis));
  const l = x.shape[axis]!;
  const inner = size(x.shape.slice(axis + 1));
  const y = new Float64Array(x.size);
  for (let o = 0; o < outer; o++)
    for (let i = 0; i < inner; i++) {
      let s = 0;
      for (let k = 0; k < l; k++) s += x.data[(o * l + k) * inner + i]! ** 2;
      const d = Math.max(Math.sqrt(s), eps);
      for (let k = 0; k < l; k++) y[(o * l + k) * inner + i] = x.data[(o * l + k) * inner + i]! / d;
    }
  return new ND([...x.shape], y);
}
