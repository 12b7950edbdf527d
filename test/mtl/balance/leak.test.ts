import { describe, expect, it } from 'vitest';
import * as w from '../../../src/index.js';
import { BALANCE_METHODS, createBalancer, type BalancerSpec } from '../../../src/mtl/balance/index.js';
import { devices } from '../../helpers/devices.js';
import { makeProblem, step } from './problem.js';

const SPECS: BalancerSpec[] = [
  { method: 'equal' },
  { method: 'fixed', weights: [1, 2, 3] },
  { method: 'uncertainty' },
  { method: 'dwa' },
  { method: 'gradnorm' },
  { method: 'pcgrad' },
  { method: 'pcgrad', mode: 'representation' },
  { method: 'mgda' },
  { method: 'mgda', mode: 'parameters', normalization: 'l2' },
  { method: 'cagrad' },
];

describe.each(devices())('balancer memory on %s', () => {
  it('covers every method', () => {
    expect(new Set(SPECS.map((s) => s.method))).toEqual(new Set(BALANCE_METHODS));
  });

  it.each(SPECS.map((s) => [JSON.stringify(s), s] as const))('20 training steps of %s keep live GPU buffers and bytes flat; dispose() frees everything', async (_name, spec) => {
    const rt = w.runtime();
    await rt.sync();
    const base = rt.memory();
    const p = makeProblem(3, 80);
    const bal = createBalancer(spec, p.tasks);
    const opt = new w.SGD([...p.params, ...bal.parameters()], { lr: 0.01, momentum: 0.9 });
    let at5 = { live: 0, liveBytes: 0 };
    for (let k = 0; k < 20; k++) {
      opt.zeroGrad();
      step(p, bal, k);
      opt.step();
      if (k % 5 === 4) bal.endEpoch?.({ task0: 1 + 1 / (k + 1), task1: 2, task2: 0.5 + k / 40 });
      bal.weights().dispose();
      await rt.sync();
      if (k === 4) at5 = rt.memory();
    }
    const end = rt.memory();
    expect(end.live, 'live buffers').toBe(at5.live);
    expect(end.liveBytes, 'live bytes').toBe(at5.liveBytes);
    opt.dispose();
    bal.dispose();
    p.zeroGrad();
    p.dispose();
    await rt.sync();
    expect(rt.memory().live, 'after dispose()').toBe(base.live);
  });
});
