/**
 * Float64 references for the loss balancers (src/mtl/balance), written from the papers' equations
 * for clarity, not speed: a tiny multi-task network with hand-written backward, and each method's
 * maths on plain arrays. Simplex problems are solved by brute force (grids refined around the best
 * point), independently of the exact face enumeration the library uses.
 */

/** Vector helpers. */
export const dot = (a: readonly number[], b: readonly number[]): number => a.reduce((s, x, i) => s + x * b[i]!, 0);
export const axpy = (a: number, x: readonly number[], y: readonly number[]): number[] => y.map((v, i) => v + a * x[i]!);
export const scale = (a: number, x: readonly number[]): number[] => x.map((v) => a * v);
export const norm = (a: readonly number[]): number => Math.sqrt(dot(a, a));

/** Parameters of the reference net, row-major: W0 [H0, D], b0 [H0], W [H, H0], b [H], per task V [O, H], c [O]. */
export interface RefNet {
  D: number; H0: number; H: number; O: number;
  W0: number[]; b0: number[]; W: number[]; b: number[];
  heads: { V: number[]; c: number[] }[];
}

/** Per-task loss, gradients of every parameter (same layout) and of the representation z [N, H]. */
export interface RefTaskGrad {
  loss: number;
  W0: number[]; b0: number[]; W: number[]; b: number[]; V: number[]; c: number[];
  z: number[];
}

/** y = x M^T + bias for x [N, I], M [Out, I]. */
function lin(x: readonly number[], N: number, I: number, M: readonly number[], bias: readonly number[], Out: number): number[] {
  const y = new Array<number>(N * Out).fill(0);
  for (let n = 0; n < N; n++)
    for (let o = 0; o < Out; o++) {
      let s = bias[o]!;
      for (let i = 0; i < I; i++) s += x[n * I + i]! * M[o * I + i]!;
      y[n * Out + o] = s;
    }
  return y;
}

/** Backward of lin: given dy [N, Out], returns dx [N, I], dM [Out, I], dbias [Out]. */
function linBack(x: readonly number[], N: number, I: number, M: readonly number[], Out: number, dy: readonly number[]) {
  const dx = new Array<number>(N * I).fill(0);
  const dM = new Array<number>(Out * I).fill(0);
  const db = new Array<number>(Out).fill(0);
  for (let n = 0; n < N; n++)
    for (let o = 0; o < Out; o++) {
      const g = dy[n * Out + o]!;
      db[o]! += g;
      for (let i = 0; i < I; i++) {
        dx[n * I + i]! += g * M[o * I + i]!;
        dM[o * I + i]! += g * x[n * I + i]!;
      }
    }
  return { dx, dM, db };
}

/**
 * Forward and per-task backward of the net: a = x W0^T + b0, h = relu(a), z = h W^T + b,
 * y_t = z V_t^T + c_t, L_t = mean((y_t - Y_t)^2) over [N, O].
 */
export function refNetGrads(net: RefNet, x: readonly number[], N: number, targets: readonly number[][]): RefTaskGrad[] {
  const { D, H0, H, O } = net;
  const a = lin(x, N, D, net.W0, net.b0, H0);
  const h = a.map((v) => Math.max(v, 0));
  const z = lin(h, N, H0, net.W, net.b, H);
  return net.heads.map((hd, t) => {
    const y = lin(z, N, H, hd.V, hd.c, O);
    const Y = targets[t]!;
    const loss = y.reduce((s, v, i) => s + (v - Y[i]!) ** 2, 0) / (N * O);
    const dy = y.map((v, i) => (2 * (v - Y[i]!)) / (N * O));
    const head = linBack(z, N, H, hd.V, O, dy);
    const mid = linBack(h, N, H0, net.W, H, head.dx);
    const da = mid.dx.map((g, i) => (a[i]! > 0 ? g : 0));
    const bottom = linBack(x, N, D, net.W0, H0, da);
    return { loss, W0: bottom.dM, b0: bottom.db, W: mid.dM, b: mid.db, V: head.dM, c: head.db, z: head.dx };
  });
}

/** The shared parameters' gradient of one task as one vector: W0, b0, W, b (the library's order). */
export const sharedFlat = (g: RefTaskGrad): number[] => [...g.W0, ...g.b0, ...g.W, ...g.b];

/** Gram matrix of the vectors. */
export const gramOf = (G: readonly (readonly number[])[]): number[][] => G.map((a) => G.map((b) => dot(a, b)));

/**
 * Minimises f over the simplex of dimension T (2 or 3) by brute force: a grid of `steps` per axis,
 * then grids 10x finer around the best point, `rounds` times. Returns the argmin.
 */
export function simplexArgmin(T: number, f: (w: number[]) => number, steps = 200, rounds = 4): number[] {
  let best = new Array<number>(T).fill(1 / T);
  let bestF = f(best);
  let center = best;
  let radius = 1;
  for (let r = 0; r <= rounds; r++) {
    const h = radius / steps;
    const visit = (w: number[]) => {
      if (w.some((v) => v < 0 || v > 1)) return;
      const v = f(w);
      if (v < bestF) { bestF = v; best = w; }
    };
    if (T === 1) visit([1]);
    else if (T === 2) {
      for (let i = -steps; i <= steps; i++) { const a = center[0]! + i * h; visit([a, 1 - a]); }
    } else if (T === 3) {
      for (let i = -steps; i <= steps; i++)
        for (let j = -steps; j <= steps; j++) {
          const a = center[0]! + i * h; const b = center[1]! + j * h;
          visit([a, b, 1 - a - b]);
        }
    } else throw new Error('reference: simplexArgmin handles T <= 3');
    center = best;
    radius = 2 * h;
  }
  return best;
}

/** MGDA's min-norm weights of the Gram matrix A (brute force). */
export const refMinNorm = (A: readonly (readonly number[])[]): number[] =>
  simplexArgmin(A.length, (w) => dot(w, A.map((row) => dot(row, w))));

/** CAGrad's inner problem: argmin_w w^T A b + sqrtPhi sqrt(w^T A w), b = 1/T (brute force). */
export function refCagradWeights(A: readonly (readonly number[])[], sqrtPhi: number): number[] {
  const T = A.length;
  const u = A.map((row) => row.reduce((s, v) => s + v, 0) / T);
  return simplexArgmin(T, (w) => dot(w, u) + sqrtPhi * Math.sqrt(Math.max(dot(w, A.map((row) => dot(row, w))), 0)));
}

/** CAGrad's coefficients of the g_i in the shared update (official code's constants, rescale 1 + c^2). */
export function refCagradCoef(A: readonly (readonly number[])[], c: number, rescale: number): { w: number[]; coef: number[] } {
  const T = A.length;
  const meanA = A.flat().reduce((s, v) => s + v, 0) / (T * T);
  const sqrtPhi = c * Math.sqrt(meanA + 1e-8) + 1e-8;
  const w = refCagradWeights(A, sqrtPhi);
  const gw = Math.sqrt(dot(w, A.map((row) => dot(row, w))));
  const lambda = sqrtPhi / (gw + 1e-8);
  return { w, coef: w.map((wi) => (1 / T + lambda * wi) / rescale) };
}

/** PCGrad's combination of the task vectors G with the given visiting orders (Algorithm 1). */
export function refPcgrad(G: readonly (readonly number[])[], order: readonly (readonly number[])[]): number[] {
  let total = new Array<number>(G[0]!.length).fill(0);
  G.forEach((g, i) => {
    let gi = [...g];
    for (const j of order[i]!) {
      const d = dot(gi, G[j]!);
      if (d < 0) gi = axpy(-d / dot(G[j]!, G[j]!), G[j]!, gi);
    }
    total = total.map((v, k) => v + gi[k]!);
  });
  return total;
}

/** One Adam step (torch's formula) on vector p with gradient g; m, v, t are updated in place. */
export function refAdam(p: number[], g: readonly number[], st: { m: number[]; v: number[]; t: number }, lr: number, b1 = 0.9, b2 = 0.999, eps = 1e-8): number[] {
  st.t++;
  st.m = st.m.map((m, i) => b1 * m + (1 - b1) * g[i]!);
  st.v = st.v.map((v, i) => b2 * v + (1 - b2) * g[i]! ** 2);
  const bc1 = 1 - b1 ** st.t;
  const bc2 = 1 - b2 ** st.t;
  return p.map((x, i) => x - (lr / bc1) * (st.m[i]! / (Math.sqrt(st.v[i]!) / Math.sqrt(bc2) + eps)));
}

/**
 * One GradNorm step (Algorithm 1) given this step's losses L, L(0), ||grad_W L_i|| (n) and w:
 * G_i = |w_i| n_i, target = mean(G) r^alpha (constant), grad of sum |G - target| in w, an Adam
 * step, renormalisation to sum T. Returns G and the new w.
 */
export function refGradNormStep(
  w: readonly number[], L: readonly number[], L0: readonly number[], n: readonly number[], alpha: number,
  adam: { m: number[]; v: number[]; t: number }, lr: number,
): { G: number[]; w: number[] } {
  const T = w.length;
  const G = w.map((wi, i) => Math.abs(wi) * n[i]!);
  const Gbar = G.reduce((s, v) => s + v, 0) / T;
  const ratio = L.map((l, i) => l / L0[i]!);
  const rbar = ratio.reduce((s, v) => s + v, 0) / T;
  const target = ratio.map((r) => Gbar * (r / rbar) ** alpha);
  const gw = w.map((wi, i) => Math.sign(G[i]! - target[i]!) * Math.sign(wi) * n[i]!);
  const stepped = refAdam([...w], gw, adam, lr);
  const s = stepped.reduce((a, b) => a + b, 0);
  return { G, w: stepped.map((x) => (x * T) / s) };
}

/** DWA weights from the last two epochs' means (K = number of tasks). */
export function refDwa(prev: readonly number[], prev2: readonly number[], temperature: number): number[] {
  const e = prev.map((l, i) => Math.exp(l / prev2[i]! / temperature));
  const z = e.reduce((a, b) => a + b, 0);
  return e.map((x) => (prev.length * x) / z);
}

/** Gradients of the shared parameters (flat W0, b0, W, b) for a gradient dz [N, H] of the representation z. */
export function refEncoderBackward(net: RefNet, x: readonly number[], N: number, dz: readonly number[]): number[] {
  const { D, H0, H } = net;
  const a = lin(x, N, D, net.W0, net.b0, H0);
  const h = a.map((v) => Math.max(v, 0));
  const mid = linBack(h, N, H0, net.W, H, dz);
  const da = mid.dx.map((g, i) => (a[i]! > 0 ? g : 0));
  const bottom = linBack(x, N, D, net.W0, H0, da);
  return [...bottom.dM, ...bottom.db, ...mid.dM, ...mid.db];
}
