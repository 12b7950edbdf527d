/**
 * A tiny multi-task problem for the balancer tests: x [N, D] -> relu(linear) -> linear (W, the last
 * shared layer) = z -> one linear head per task, MSE against random targets. The same numbers feed
 * the float64 reference net of test/reference/balance.ts. A counting identity op sits between the
 * two shared layers, so tests can tell how often backward ran below W.
 */
import * as w from '../../../src/index.js';
import type { BalanceContext, Balancer } from '../../../src/mtl/balance/index.js';
import { refNetGrads, type RefNet, type RefTaskGrad } from '../../reference/balance.js';
import { rng } from '../../helpers/rng.js';

export { rng };


export interface Problem {
  tasks: string[];
  N: number;
  x: number[];
  targets: number[][];
  /** GPU parameters in the order W0, b0, W, b, then V_t, c_t per task. */
  params: w.Tensor[];
  shared: w.Tensor[];
  W: w.Tensor;
  /** Backward calls of the counting op below W since the last reset. */
  below: { calls: number };
  /** Forward on the GPU: per-task losses and z (with graphs). */
  forward(): { losses: Record<string, w.Tensor>; z: w.Tensor };
  /** The balance context of a forward. */
  context(step?: number): BalanceContext;
  /** Reads the GPU parameters into a reference net. */
  refNet(): Promise<RefNet>;
  /** Reference per-task gradients at the current GPU parameter values. */
  refGrads(): Promise<RefTaskGrad[]>;
  /** Current .grad of every parameter (zeros where null), in params order. */
  grads(): Promise<number[][]>;
  zeroGrad(): void;
  dispose(): void;
}

/** Builds the problem; `targetScale[t]` multiplies task t's targets (to make losses unequal). */
export function makeProblem(T: number, seed = 1, targetScale: number[] = []): Problem {
  const D = 5, H0 = 6, H = 4, O = 3, N = 4;
  const r = rng(seed);
  const u = (n: number, s = 1) => Array.from({ length: n }, () => (r() * 2 - 1) * s);
  const tasks = Array.from({ length: T }, (_, t) => `task${t}`);
  const x = u(N * D);
  const targets = tasks.map((_, t) => u(N * O, 2 * (targetScale[t] ?? 1)));
  const P = (data: number[], shape: number[], name: string) => {
    const t = w.keep(w.fromArray(data, shape, { requiresGrad: true }));
    t.name = name;
    return t;
  };
  const W0 = P(u(H0 * D, 0.6), [H0, D], 'enc.0.weight');
  const b0 = P(u(H0, 0.3), [H0], 'enc.0.bias');
  const W = P(u(H * H0, 0.6), [H, H0], 'enc.1.weight');
  const b = P(u(H, 0.3), [H], 'enc.1.bias');
  const heads = tasks.map((t) => ({ V: P(u(O * H, 0.6), [O, H], `heads.${t}.weight`), c: P(u(O, 0.3), [O], `heads.${t}.bias`) }));
  const params = [W0, b0, W, b, ...heads.flatMap((h) => [h.V, h.c])];
  const shared = [W0, b0, W, b];
  const xT = w.keep(w.fromArray(x, [N, D]));
  const yT = targets.map((y) => w.keep(w.fromArray(y, [N, O])));
  const below = { calls: 0 };
  const counted = (t: w.Tensor) => {
    const y = w.noGrad(() => w.clone(t));
    return w.record('countBelowW', [t], y, [], (gy) => {
      below.calls++;
      return [w.clone(gy)];
    });
  };
  const forward = () => {
    const h = counted(w.relu(w.linear(xT, W0, b0)));
    const z = w.linear(h, W, b);
    const losses = Object.fromEntries(tasks.map((t, i) => [t, w.mseLoss(w.linear(z, heads[i]!.V, heads[i]!.c), yT[i]!)]));
    return { losses, z };
  };
  const refNet = async (): Promise<RefNet> => {
    const rd = async (t: w.Tensor) => Array.from(await t.data());
    return {
      D, H0, H, O,
      W0: await rd(W0), b0: await rd(b0), W: await rd(W), b: await rd(b),
      heads: await Promise.all(heads.map(async (h) => ({ V: await rd(h.V), c: await rd(h.c) }))),
    };
  };
  return {
    tasks, N, x, targets, params, shared, W, below,
    forward,
    context(step = 0) {
      const { losses, z } = forward();
      return { tasks, losses, sharedParameters: shared, parameters: params, lastSharedLayer: W, representation: z, step, epoch: 0 };
    },
    refNet,
    refGrads: async () => refNetGrads(await refNet(), x, N, targets),
    grads: async () => Promise.all(params.map(async (p) => (p.grad ? Array.from(await p.grad.data()) : new Array<number>(p.size).fill(0)))),
    zeroGrad() {
      for (const p of params) {
        p.grad?.dispose();
        p.grad = null;
      }
    },
    dispose() {
      for (const t of [...params, xT, ...yT]) t.dispose();
    },
  };
}

/** One step: forward and the balancer's backward in one tidy scope. */
export function step(p: Problem, bal: Balancer, stepIndex = 0): void {
  w.tidy(() => bal.backward(p.context(stepIndex)));
}

/** Reference gradients of all parameters (params order) for per-task shared combination `shared`
 * (flat W0, b0, W, b) and head weights `headScale[t]`. */
export function refParamGrads(g: readonly RefTaskGrad[], shared: readonly number[], headScale: readonly number[]): number[][] {
  const sizes = [g[0]!.W0.length, g[0]!.b0.length, g[0]!.W.length, g[0]!.b.length];
  const out: number[][] = [];
  let at = 0;
  for (const s of sizes) {
    out.push(shared.slice(at, at + s));
    at += s;
  }
  g.forEach((gt, t) => out.push(gt.V.map((v) => v * headScale[t]!), gt.c.map((v) => v * headScale[t]!)));
  return out;
}

/** Expects every value of `actual` within atol + rtol |expected| of `expected`. */
export function closeAll(actual: readonly number[], expected: readonly number[], what: string, rtol = 2e-4, atol = 2e-5): void {
  if (actual.length !== expected.length) throw new Error(`${what}: length ${actual.length} vs ${expected.length}`);
  actual.forEach((a, i) => {
    const e = expected[i]!;
    if (!(Math.abs(a - e) <= atol + rtol * Math.abs(e))) throw new Error(`${what}[${i}]: ${a} vs reference ${e}`);
  });
}
