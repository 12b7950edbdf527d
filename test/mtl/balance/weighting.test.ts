import { describe, expect, it } from 'vitest';
import * as w from '../../../src/index.js';
import {
  BALANCE_METHODS, DynamicWeightAverage, FixedWeights, UncertaintyWeighting, createBalancer, equalWeights, type Balancer,
} from '../../../src/mtl/balance/index.js';
import { devices } from '../../helpers/devices.js';
import { refDwa } from '../../reference/balance.js';
import { closeAll, makeProblem, refParamGrads, step } from './problem.js';

const arr = async (t: w.Tensor) => {
  const v = Array.from(await t.data());
  t.dispose();
  return v;
};

describe.each(devices())('loss weighting balancers on %s', () => {
  it('fixed weights: gradients of sum_i w_i L_i on every parameter; equal weights are ones', async () => {
    const p = makeProblem(3, 2);
    const bal = new FixedWeights(p.tasks, { task0: 0.5, task2: 2 });
    step(p, bal);
    const g = await p.refGrads();
    const wts = [0.5, 1, 2];
    const shared = g.reduce((acc, gt, t) => acc.map((v, k) => v + wts[t]! * [...gt.W0, ...gt.b0, ...gt.W, ...gt.b][k]!), new Array<number>(p.shared.reduce((s, q) => s + q.size, 0)).fill(0));
    const exp = refParamGrads(g, shared, wts);
    (await p.grads()).forEach((a, i) => closeAll(a, exp[i]!, p.params[i]!.name!));
    expect(await arr(bal.weights())).toEqual(wts);
    const eq = equalWeights(p.tasks);
    expect(eq.name).toBe('equal');
    expect(await arr(eq.weights())).toEqual([1, 1, 1]);
    expect(p.below.calls).toBe(1); // one backward below W
    for (const b of [bal, eq]) b.dispose();
    p.dispose();
  });

  it('uncertainty: sum 0.5 exp(-s) L + 0.5 s, s learned by the model optimiser; weights 0.5 exp(-s)', async () => {
    const p = makeProblem(2, 3);
    const bal = new UncertaintyWeighting(p.tasks);
    const [s] = bal.parameters();
    expect(s).toBe(bal.logVars);
    const opt = new w.SGD([...p.params, s!], { lr: 0.1 });
    let sHost = [0, 0];
    for (let k = 0; k < 3; k++) {
      opt.zeroGrad();
      const g = await p.refGrads();
      step(p, bal, k);
      const wts = sHost.map((v) => 0.5 * Math.exp(-v));
      const shared = g.reduce((acc, gt, t) => acc.map((v, i) => v + wts[t]! * [...gt.W0, ...gt.b0, ...gt.W, ...gt.b][i]!), new Array<number>(70).fill(0));
      const exp = refParamGrads(g, shared, wts);
      (await p.grads()).forEach((a, i) => closeAll(a, exp[i]!, `step ${k} ${p.params[i]!.name}`));
      const ds = g.map((gt, t) => -wts[t]! * gt.loss + 0.5);
      closeAll(Array.from(await s!.grad!.data()), ds, `step ${k} d s`);
      closeAll(await arr(bal.weights()), wts, `step ${k} weights`);
      opt.step();
      sHost = sHost.map((v, t) => v - 0.1 * ds[t]!);
      closeAll(Array.from(await s!.data()), sHost, `step ${k} s`);
    }
    opt.dispose();
    bal.dispose();
    p.dispose();
  });

  it('DWA: ones for two epochs, then K softmax(r / T); the gradients use those weights', async () => {
    const p = makeProblem(3, 4);
    const bal = new DynamicWeightAverage(p.tasks);
    expect(await arr(bal.weights())).toEqual([1, 1, 1]);
    bal.endEpoch({ task0: 2, task1: 1, task2: 3 });
    expect(await arr(bal.weights())).toEqual([1, 1, 1]);
    bal.endEpoch({ task0: 1, task1: 0.9, task2: 3.3 });
    const exp = refDwa([1, 0.9, 3.3], [2, 1, 3], 2);
    closeAll(await arr(bal.weights()), exp, 'dwa weights', 1e-6);
    expect(exp.reduce((a, b) => a + b)).toBeCloseTo(3, 12);
    step(p, bal);
    const g = await p.refGrads();
    const shared = g.reduce((acc, gt, t) => acc.map((v, i) => v + exp[t]! * [...gt.W0, ...gt.b0, ...gt.W, ...gt.b][i]!), new Array<number>(70).fill(0));
    (await p.grads()).forEach((a, i) => closeAll(a, refParamGrads(g, shared, exp)[i]!, p.params[i]!.name!));
    // Three epochs: the ratio uses the last two only.
    bal.endEpoch({ task0: 0.5, task1: 0.9, task2: 3 });
    closeAll(await arr(bal.weights()), refDwa([0.5, 0.9, 3], [1, 0.9, 3.3], 2), 'third epoch', 1e-6);
    expect(() => bal.endEpoch({ task0: NaN, task1: 1, task2: 1 })).toThrow(/task0.*NaN/);
    expect(() => bal.endEpoch({ task0: 1, task1: 1 })).toThrow(/task2/);
    expect(() => new DynamicWeightAverage(p.tasks, { temperature: 0 })).toThrow(/temperature/);
    bal.dispose();
    p.dispose();
  });

  it('state() / loadState() round-trip (fixed, uncertainty, dwa)', async () => {
    const tasks = ['a', 'b'];
    const f1 = new FixedWeights(tasks, [3, 4]);
    const f2 = new FixedWeights(tasks, [1, 1]);
    f2.loadState(f1.state());
    expect(await arr(f2.weights())).toEqual([3, 4]);
    const u1 = new UncertaintyWeighting(tasks);
    w.noGrad(() => {
      const v = w.fromArray([0.5, -1]);
      u1.logVars.runtime.copy(v.bufferFor('t'), 0, u1.logVars.bufferFor('t'), 0, 8);
      v.dispose();
    });
    const u2 = new UncertaintyWeighting(tasks);
    u2.loadState(u1.state());
    closeAll(Array.from(await u2.logVars.data()), [0.5, -1], 'logVars', 1e-7);
    closeAll(await arr(u2.weights()), [0.5 * Math.exp(-0.5), 0.5 * Math.exp(1)], 'weights', 1e-6);
    const d1 = new DynamicWeightAverage(tasks, { temperature: 1 });
    d1.endEpoch({ a: 1, b: 2 });
    d1.endEpoch({ a: 0.5, b: 2 });
    const d2 = new DynamicWeightAverage(tasks, { temperature: 1 });
    d2.loadState(JSON.parse(JSON.stringify(d1.state())));
    closeAll(await arr(d2.weights()), await arr(d1.weights()), 'dwa', 0);
    expect(() => d2.loadState({ scalars: { prev: [1] , prev2: [] }, tensors: {} })).toThrow(/2 values/);
    for (const b of [f1, f2, u1, u2, d1, d2]) b.dispose();
  });

  it('createBalancer: every method from a typed spec; unknown methods and options list the valid ones', () => {
    const tasks = ['a', 'b'];
    const made: Balancer[] = [
      createBalancer({ method: 'equal' }, tasks),
      createBalancer({ method: 'fixed', weights: [1, 2] }, tasks),
      createBalancer({ method: 'uncertainty' }, tasks),
      createBalancer({ method: 'dwa', temperature: 3 }, tasks),
      createBalancer({ method: 'gradnorm', alpha: 0.5, lr: 0.01 }, tasks),
      createBalancer({ method: 'pcgrad', seed: 3 }, tasks),
      createBalancer({ method: 'mgda', normalization: 'l2' }, tasks),
      createBalancer({ method: 'cagrad', c: 0.4 }, tasks),
    ];
    expect(made.map((b) => b.name)).toEqual(['equal', 'fixed', 'uncertainty', 'dwa', 'gradnorm', 'pcgrad', 'mgda', 'cagrad']);
    expect(BALANCE_METHODS).toEqual(['equal', 'fixed', 'uncertainty', 'dwa', 'gradnorm', 'pcgrad', 'mgda', 'cagrad']);
    expect(() => createBalancer({ method: 'gradnrom' } as never, tasks)).toThrow(/unknown method "gradnrom".*valid: equal, fixed, uncertainty, dwa, gradnorm, pcgrad, mgda, cagrad/);
    expect(() => createBalancer({ method: 'gradnorm', temperature: 2 } as never, tasks)).toThrow(/no option 'temperature' \(valid: alpha, lr, optimizer, initialLosses, minWeight\)/);
    expect(() => createBalancer({ method: 'gradnorm', alpha: NaN }, tasks)).toThrow(/alpha must be a finite number/);
    expect(() => createBalancer({ method: 'mgda', normalization: 'l1' as never }, tasks)).toThrow(/none, l2, loss, loss\+/);
    expect(() => createBalancer({ method: 'equal' }, ['a', 'a'])).toThrow(/distinct/);
    for (const b of made) b.dispose();
  });

  it('rejects losses that do not match the tasks, and non-scalar losses', () => {
    const p = makeProblem(2, 5);
    const bal = equalWeights(p.tasks);
    w.tidy(() => {
      const ctx = p.context();
      expect(() => bal.backward({ ...ctx, losses: { task0: ctx.losses.task0! } })).toThrow(/missing: task1/);
      expect(() => bal.backward({ ...ctx, losses: { ...ctx.losses, extra: ctx.losses.task0! } })).toThrow(/unexpected: extra/);
      expect(() => bal.backward({ ...ctx, tasks: ['task1', 'task0'] })).toThrow(/built for tasks \[task0, task1\]/);
      expect(() => bal.backward({ ...ctx, losses: { ...ctx.losses, task1: ctx.representation! } })).toThrow(/task1.*scalar/);
    });
    bal.dispose();
    p.dispose();
  });
});
