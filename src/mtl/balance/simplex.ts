/**
 * Small problems over the probability simplex, solved on the GPU without a readback, for MGDA-UB
 * and CAGrad. Both minimise a convex function of w in {w >= 0, sum w = 1} given the T x T Gram
 * matrix A of the task gradients. T is small (a handful of tasks), so instead of an iterative
 * solver whose stopping test would need the host, every support S (2^T - 1 faces of the simplex)
 * gets its stationary point in closed form from a batched Gauss-Jordan solve with A restricted to
 * S; the best feasible candidate wins. This is exact up to float32 rounding and a relative ridge
 * of 1e-6 mean(diag A) that keeps singular faces (parallel or opposite gradients) solvable, costs
 * about 7 T + 25 tiny dispatches, and keeps `Balancer.backward` synchronous (the interface returns
 * void, so a host solve on a read-back Gram matrix is not possible inside it).
 */
import { noGrad } from '../../autograd/tape.js';
import { add, div, eq, ge, mul, sub, where } from '../../ops/binary.js';
import { matmul } from '../../ops/matmul.js';
import { max, min, sum } from '../../ops/reduce.js';
import { concat, narrow, reshape, transpose } from '../../ops/shape-ops.js';
import { nonFinite, relu, sqrt } from '../../ops/unary.js';
import { fromArray, full, scalar } from '../../tensor/creation.js';
import type { Tensor } from '../../tensor/tensor.js';

/** Relative ridge added to the diagonal of A on each support (see the file comment). */
export const RIDGE = 1e-6;
/** A candidate is feasible when its smallest weight is at least -FEASIBLE_TOL. */
const FEASIBLE_TOL = 1e-5;

/** The T x T identity. */
function eye(T: number): Tensor {
  const m = new Float32Array(T * T);
  for (let i = 0; i < T; i++) m[i * T + i] = 1;
  return fromArray(m, [T, T]);
}

/** The supports as 0/1 rows: [2^T - 1, T], row b = the bits of b + 1. */
export function supportMasks(T: number): Tensor {
  const B = 2 ** T - 1;
  const m = new Float32Array(B * T);
  for (let b = 0; b < B; b++) for (let i = 0; i < T; i++) m[b * T + i] = ((b + 1) >> i) & 1;
  return fromArray(m, [B, T]);
}

/**
 * Solves (D A D + ridge D + (I - D)) X = D R for every support mask D (a row of `masks`) by
 * Gauss-Jordan elimination without pivoting (the matrices are symmetric positive definite).
 * A: [T, T]; R: [T, K]; returns X: [B, T, K] with zeros outside each support.
 */
export function solveOnSupports(A: Tensor, R: Tensor, masks: Tensor): Tensor {
  return noGrad(() => {
    const T = A.shape[0]!;
    const K = R.shape[1]!;
    const B = masks.shape[0]!;
    const d = reshape(masks, [B, T, 1]);
    const dT = reshape(masks, [B, 1, T]);
    const I = eye(T);
    const ridge = add(mul(sum(mul(A, I)), RIDGE / T), 1e-30); // relative ridge, never exactly 0
    // D A D + ridge D on the support, identity outside it.
    const inside = mul(mul(d, dT), add(A, mul(I, ridge)));
    const outside = mul(add(mul(d, -1), 1), I);
    let aug = concat([add(inside, outside), mul(d, R)], 2); // [B, T, T + K]
    for (let k = 0; k < T; k++) {
      const row = narrow(aug, 1, k, 1); // [B, 1, T + K]
      const pivot = narrow(row, 2, k, 1); // [B, 1, 1]
      const rowN = div(row, pivot);
      const col = narrow(aug, 2, k, 1); // [B, T, 1]
      const ek = narrow(I, 1, k, 1); // [T, 1]
      // Every row loses col * rowN (column k becomes 0); row k then becomes rowN.
      aug = sub(aug, mul(sub(col, ek), rowN));
    }
    return narrow(aug, 2, T, K);
  });
}

/**
 * Picks among candidate weight rows W [B, T] the feasible one (finite, all weights >= -tol) with the
 * smallest objective `obj` [B]; ties (the same point found on several faces) are averaged. Returns
 * the [T] weights, clamped to >= 0 and renormalised to sum 1.
 */
export function pickBest(W: Tensor, obj: Tensor): Tensor {
  return noGrad(() => {
    const bad = add(sum(nonFinite(W), 1), nonFinite(obj)); // [B]
    const ok = mul(ge(min(W, 1), -FEASIBLE_TOL), eq(bad, 0));
    const inf = full(obj.shape, Infinity);
    const safeObj = where(ok, obj, inf);
    const hit = mul(eq(safeObj, min(safeObj)), ok); // [B]
    const safeW = where(reshape(ok, [ok.size, 1]), relu(W), scalar(0));
    const picked = sum(mul(safeW, reshape(hit, [hit.size, 1])), 0); // [T]
    return div(picked, sum(picked));
  });
}

/**
 * MGDA's min-norm element: argmin over the simplex of w^T A w for the Gram matrix A [T, T]
 * (Sener & Koltun 2018, the quadratic their Frank-Wolfe solver approximates). On each support the
 * stationary point is A_S^{-1} 1 / (1^T A_S^{-1} 1). Returns the [T] weights (sum 1).
 */
export function minNormWeights(A: Tensor, masks: Tensor): Tensor {
  return noGrad(() => {
    const T = A.shape[0]!;
    const B = masks.shape[0]!;
    const x = reshape(solveOnSupports(A, full([T, 1], 1), masks), [B, T]);
    const W = div(x, sum(x, 1, true));
    const obj = sum(mul(matmul(W, A), W), 1); // w^T A w per candidate
    return pickBest(W, obj);
  });
}

/**
 * CAGrad's inner problem (Liu et al. 2021): argmin over the simplex of
 * F(w) = w^T A b + sqrtPhi * sqrt(w^T A w), with b = 1/T (so A b holds g_i . g0) and sqrtPhi a
 * scalar tensor. On a support S with p = A_S^{-1} 1, q = A_S^{-1} u (u = A b), stationarity
 * u + c A w = lambda 1 with c = sqrtPhi / ||g_w|| and sum w = 1 give
 * c = sqrt((1.q)^2 - (1.p)(u.q - phi)), lambda = (1.q + c) / 1.p, w = (lambda p - q) / c.
 * Returns the [T] weights (sum 1).
 */
export function cagradWeights(A: Tensor, sqrtPhi: Tensor, masks: Tensor): Tensor {
  return noGrad(() => {
    const T = A.shape[0]!;
    const B = masks.shape[0]!;
    const u = div(sum(A, 1, true), T); // [T, 1]
    const X = solveOnSupports(A, concat([full([T, 1], 1), u], 1), masks); // [B, T, 2]
    const p = reshape(narrow(X, 2, 0, 1), [B, T]);
    const q = reshape(narrow(X, 2, 1, 1), [B, T]);
    const uRow = reshape(u, [1, T]);
    const sp = sum(p, 1, true);
    const sq = sum(q, 1, true);
    const uq = sum(mul(q, uRow), 1, true);
    const phi = mul(sqrtPhi, sqrtPhi);
    const c = sqrt(sub(mul(sq, sq), mul(sp, sub(uq, phi)))); // NaN when no stationary point: infeasible
    const lambda = div(add(sq, c), sp);
    const W = div(sub(mul(lambda, p), q), c);
    const quad = relu(sum(mul(matmul(W, A), W), 1)); // w^T A w >= 0 up to rounding
    const obj = add(sum(mul(W, uRow), 1), mul(sqrt(quad), sqrtPhi));
    return pickBest(W, obj);
  });
}

/** The Gram matrix G G^T of the rows of G [T, P]. */
export function gram(G: Tensor): Tensor {
  return noGrad(() => matmul(G, transpose(G, 0, 1)));
}
