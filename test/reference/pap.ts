/**
 * Float64 references of PAP-Net's kernels (src/mtl/models/pap-kernels.ts), on flat arrays in the
 * kernels' layouts: features x [B, C, P], affinities A [B, P, P]. Written for clarity, not speed.
 */

/** A[b, i, :] = softmax_j(scale * sum_c x[b, c, i] x[b, c, j]). */
export function refPixelAffinity(x: ArrayLike<number>, b: number, c: number, p: number, scale: number): Float64Array {
  const a = new Float64Array(b * p * p);
  for (let n = 0; n < b; n++)
    for (let i = 0; i < p; i++) {
      const logits = Array.from({ length: p }, (_, j) => {
        let s = 0;
        for (let k = 0; k < c; k++) s += x[(n * c + k) * p + i]! * x[(n * c + k) * p + j]!;
        return scale * s;
      });
      const m = Math.max(...logits);
      const e = logits.map((v) => Math.exp(v - m));
      const z = e.reduce((u, v) => u + v, 0);
      e.forEach((v, j) => (a[(n * p + i) * p + j] = v / z));
    }
  return a;
}

/** y[b, k, i] = beta * sum_j A[b, i, j] x[b, k, j] + (1 - beta) * x0[b, k, i]. */
export function refDiffuseStep(a: ArrayLike<number>, x: ArrayLike<number>, x0: ArrayLike<number>, b: number, c: number, p: number, beta: number): Float64Array {
  const y = new Float64Array(b * c * p);
  for (let n = 0; n < b; n++)
    for (let k = 0; k < c; k++)
      for (let i = 0; i < p; i++) {
        let s = 0;
        for (let j = 0; j < p; j++) s += a[(n * p + i) * p + j]! * x[(n * c + k) * p + j]!;
        y[(n * c + k) * p + i] = beta * s + (1 - beta) * x0[(n * c + k) * p + i]!;
      }
  return y;
}
