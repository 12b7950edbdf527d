import { describe, expect, it } from 'vitest';
import * as w from '../../../src/index.js';
import { GradNorm } from '../../../src/mtl/balance/index.js';
import { devices } from '../../helpers/devices.js';
import { norm, refGradNormStep, sharedFlat } from '../../reference/balance.js';
import { closeAll, makeProblem, refParamGrads, step } from './problem.js';

const arr = async (t: w.Tensor) => {
  const v = Array.from(await t.data());
  t.dispose();
  return v;
};

describe.each(devices())('GradNorm on %s', () => {
  it.each([['with z (heads run once)', true], ['without z (full backward)', false]] as const)('matches Algorithm 1 step by step, %s: G_i, model gradients with the old w, the Adam update of w, sum w = T', async (_what, withZ) => {
    const p = makeProblem(3, 7, [1, 4, 0.5]);
    const T = 3;
    const alpha = 1.5, lr = 0.025;
    const bal = new GradNorm(p.tasks, { alpha, lr });
    const opt = new w.SGD(p.params, { lr: 0.05 });
    let wRef = [1, 1, 1];
    const adam = { m: [0, 0, 0], v: [0, 0, 0], t: 0 };
    let L0: number[] | null = null;
    for (let k = 0; k < 4; k++) {
      opt.zeroGrad();
      p.below.calls = 0;
      const g = await p.refGrads();
      const L = g.map((gt) => gt.loss);
      L0 ??= L;
      w.tidy(() => {
        const ctx = p.context(k);
        bal.backward(withZ ? ctx : { ...ctx, representation: null });
      });
      // Per-task gradients of W only: backward ran once below W (the model's backward).
      expect(p.below.calls, 'backward calls below W').toBe(1);
      const n = g.map((gt) => norm(gt.W));
      const next = refGradNormStep(wRef, L, L0, n, alpha, adam, lr);
      closeAll(await arr(bal.gradNorms()), next.G, `step ${k} G`);
      closeAll(await arr(bal.weights()), wRef, `step ${k} weights used`);
      const shared = g.reduce((acc, gt, t) => acc.map((v, i) => v + wRef[t]! * sharedFlat(gt)[i]!), new Array<number>(70).fill(0));
      const exp = refParamGrads(g, shared, wRef);
      (await p.grads()).forEach((a, i) => closeAll(a, exp[i]!, `step ${k} ${p.params[i]!.name}`));
      const wGpu = Array.from(await bal.w.data());
      closeAll(wGpu, next.w, `step ${k} w`, 1e-4, 1e-5);
      expect(wGpu.reduce((a, b) => a + b)).toBeCloseTo(T, 5);
      expect(bal.w.grad).toBeNull();
      wRef = next.w;
      opt.step();
    }
    opt.dispose();
    bal.dispose();
    p.dispose();
  });

  it('moves weight to the task that trains slower (larger L_i(t) / L_i(0)), and alpha = 0 only equalises norms', async () => {
    const p = makeProblem(2, 8);
    const g = await p.refGrads();
    // task0 has made no progress (ratio 1), task1 a lot (ratio 0.01): r = [~2, ~0].
    const slow = new GradNorm(p.tasks, { initialLosses: [g[0]!.loss, g[1]!.loss * 100], lr: 0.1 });
    step(p, slow);
    const ws = Array.from(await slow.w.data());
    expect(ws[0]).toBeGreaterThan(1);
    expect(ws[1]).toBeLessThan(1);
    // alpha = 0: the target is Gbar for both, so the task with the larger gradient norm loses weight.
    p.zeroGrad();
    const flat = new GradNorm(p.tasks, { alpha: 0, lr: 0.1 });
    step(p, flat);
    const wf = Array.from(await flat.w.data());
    const n = g.map((gt) => norm(gt.W));
    expect(Math.sign(wf[0]! - wf[1]!)).toBe(Math.sign(n[1]! - n[0]!));
    for (const b of [slow, flat]) b.dispose();
    p.dispose();
  });

  it.each([1.5, 3])('alpha = %s decides the direction of the weight update where alpha = 0 would reverse it', async (alpha) => {
    // The weights' loss is sum_i |G_i - target_i|, so alpha matters only through the signs of
    // G_i - Gbar r_i^alpha. Make the task with the larger gradient norm also the slower one: with
    // alpha = 0 its target is Gbar < G_i (weight down); with alpha > 0 its target is
    // Gbar r_i^alpha > 2 Gbar >= G_i (weight up). The float64 reference decides, and the alpha = 0
    // reference must disagree, so an implementation that ignores alpha fails here.
    const p = makeProblem(2, 12);
    const g = await p.refGrads();
    const L = g.map((gt) => gt.loss);
    const n = g.map((gt) => norm(gt.W));
    const big = n[0]! >= n[1]! ? 0 : 1;
    // Loss ratios: the big-norm task made no progress (1), the other a lot (0.05); r_big = 1.9.
    const L0 = L.map((l, i) => (i === big ? l : l / 0.05));
    const lr = 0.025;
    const bal = new GradNorm(p.tasks, { alpha, lr, initialLosses: L0 });
    step(p, bal);
    const got = Array.from(await bal.w.data());
    const want = refGradNormStep([1, 1], L, L0, n, alpha, { m: [0, 0], v: [0, 0], t: 0 }, lr).w;
    const ignored = refGradNormStep([1, 1], L, L0, n, 0, { m: [0, 0], v: [0, 0], t: 0 }, lr).w;
    closeAll(got, want, `alpha ${alpha} w`, 1e-5, 1e-6);
    expect(want[big]).toBeGreaterThan(1);
    expect(ignored[big]).toBeLessThan(1);
    expect(Math.abs(got[big]! - ignored[big]!)).toBeGreaterThan(0.02);
    bal.dispose();
    p.dispose();
  });

  it('minWeight floors the weights before renormalising (default 0); -Infinity lets them go negative', async () => {
    const p = makeProblem(2, 8);
    const g = await p.refGrads();
    // A huge weight step towards task0: without the floor, w1 = 1 - 5 < 0 before renormalising.
    const init = [g[0]!.loss, g[1]!.loss * 100];
    const floored = new GradNorm(p.tasks, { initialLosses: init, lr: 5, optimizer: 'adam' });
    step(p, floored);
    const wf = Array.from(await floored.w.data());
    expect(wf[1]).toBe(0);
    expect(wf[0]).toBeCloseTo(2, 5);
    p.zeroGrad();
    const free = new GradNorm(p.tasks, { initialLosses: init, lr: 0.5, optimizer: 'adam', minWeight: -Infinity });
    step(p, free);
    const wn = Array.from(await free.w.data());
    // Adam's first step is lr * sign: w = [1.5, 0.5] -> renormalised, unchanged sum 2.
    expect(wn[0]).toBeCloseTo(1.5, 4);
    expect(wn[1]).toBeCloseTo(0.5, 4);
    // From w1 = 0 the weight can recover: its L_grad gradient is -n_1 when G_1 < target_1.
    p.zeroGrad();
    // task1 has made no progress, task0 a lot: task1's target exceeds G_1 = 0, so w1 must rise.
    const back = new GradNorm(p.tasks, { initialLosses: [g[0]!.loss * 100, g[1]!.loss], lr: 0.1 });
    const wz = w.fromArray([2, 0], [2]);
    back.loadState({ scalars: { optimStep: [] }, tensors: { weights: wz, used: w.ones([2]), initialLosses: w.fromArray([g[0]!.loss * 100, g[1]!.loss], [2]) } });
    step(p, back);
    expect((await back.w.data())[1]).toBeGreaterThan(0);
    expect(() => new GradNorm(p.tasks, { minWeight: 1 })).toThrow(/minWeight/);
    for (const b of [floored, free, back]) b.dispose();
    p.dispose();
  });

  it('refuses a null or non-shared W with an ArgumentError naming it, before touching any gradient', () => {
    const p = makeProblem(2, 9);
    const bal = new GradNorm(p.tasks);
    w.tidy(() => {
      const ctx = p.context();
      expect(() => bal.backward({ ...ctx, lastSharedLayer: null })).toThrow(w.ArgumentError);
      expect(() => bal.backward({ ...ctx, lastSharedLayer: null })).toThrow(/lastSharedLayer is null/);
      expect(() => bal.backward({ ...ctx, lastSharedLayer: p.params[4]! })).toThrow(/'heads\.task0\.weight' \(shape \[3,4\]\) is not among ctx\.sharedParameters/);
      expect(() => bal.backward({ ...ctx, losses: { task0: ctx.losses.task0! } })).toThrow(/missing: task1/);
    });
    expect(p.params.every((q) => q.grad === null)).toBe(true);
    expect(() => new GradNorm(p.tasks, { alpha: -1 })).toThrow(/alpha/);
    expect(() => new GradNorm(p.tasks, { lr: NaN })).toThrow(/lr/);
    expect(() => new GradNorm(p.tasks, { initialLosses: [1, NaN] })).toThrow(/initial loss of task 'task1'/);
    expect(() => new GradNorm(p.tasks, { optimizer: 'rmsprop' as never })).toThrow(/adam, sgd/);
    bal.dispose();
    p.dispose();
  });

  it('a NaN loss leaves the weights finite with sum T', async () => {
    const p = makeProblem(2, 10);
    const bal = new GradNorm(p.tasks);
    step(p, bal);
    p.zeroGrad();
    w.tidy(() => {
      const ctx = p.context(1);
      bal.backward({ ...ctx, losses: { ...ctx.losses, task1: w.mul(ctx.losses.task1!, NaN) } });
    });
    const ws = Array.from(await bal.w.data());
    expect(ws.every(Number.isFinite)).toBe(true);
    expect(ws[0]! + ws[1]!).toBeCloseTo(2, 5);
    bal.dispose();
    p.dispose();
  });

  it('state() / loadState() round-trip: a restored balancer takes the identical next step', async () => {
    const p = makeProblem(2, 11, [1, 3]);
    const a = new GradNorm(p.tasks, { lr: 0.05 });
    for (let k = 0; k < 2; k++) {
      p.zeroGrad();
      step(p, a, k);
    }
    const b = new GradNorm(p.tasks, { lr: 0.05 });
    b.loadState(a.state());
    closeAll(Array.from(await b.w.data()), Array.from(await a.w.data()), 'restored w', 0, 0);
    p.zeroGrad();
    step(p, a, 2);
    p.zeroGrad();
    step(p, b, 2);
    closeAll(Array.from(await b.w.data()), Array.from(await a.w.data()), 'next w', 1e-6, 1e-7);
    closeAll(await arr(b.weights()), await arr(a.weights()), 'weights', 0, 0);
    expect(() => b.loadState({ scalars: {}, tensors: {} })).toThrow(/no tensor 'weights'/);
    for (const x of [a, b]) x.dispose();
    p.dispose();
  });
});
