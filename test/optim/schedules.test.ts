import { describe, expect, it } from 'vitest';
import * as w from '../../src/index.js';
import { devices } from '../helpers/devices.js';
import { makeSchedule, scheduleCases } from './fixtures.js';

// torch computes the lrs recursively (each from the previous one), the engine in closed form: they
// differ by float64 rounding only.
const TOL = 1e-12;

function close(got: number, want: number): boolean {
  return Math.abs(got - want) <= TOL * Math.max(Math.abs(want), 1e-3);
}

describe.each(devices())('LR schedules on %s', () => {
  const param = () => w.keep(w.zeros([1], { requiresGrad: true }));

  it.each(scheduleCases().map((c) => [c.name, c] as const))('%s matches the torch scheduler', (_name, c) => {
    const schedule = makeSchedule(c.schedule);
    const ps = c.base_lrs.map(() => param());
    const opt = new w.SGD(ps.map((p, i) => ({ params: [p], lr: c.base_lrs[i] })), { lr: 1 });
    const sched = new w.LRScheduler(opt, schedule);
    c.lrs.forEach((want, k) => {
      if (k > 0) sched.step();
      expect(sched.stepCount).toBe(k);
      const got = sched.lastLr();
      got.forEach((lr, g) => expect(close(lr, want[g]!), `step ${k} group ${g}: ${lr} vs ${want[g]}`).toBe(true));
      // The schedule itself is a pure function of the step.
      c.base_lrs.forEach((b, g) => expect(close(schedule(k, b), want[g]!)).toBe(true));
    });
    opt.dispose();
    for (const p of ps) p.dispose();
  });

  it('poly follows the MTL survey formula lr * (1 - step/max)^power and stays 0 after max', () => {
    const s = w.polyLR({ maxSteps: 100, power: 0.9 });
    for (const k of [0, 1, 37, 99]) expect(s(k, 0.01)).toBeCloseTo(0.01 * (1 - k / 100) ** 0.9, 15);
    expect(s(100, 0.01)).toBe(0);
    expect(s(150, 0.01)).toBe(0);
  });

  it('scheduler state round-trips through JSON and sets the lr for the restored step', () => {
    const mk = () => {
      const opt = new w.Adam([{ params: [param()], lr: 0.1 }, { params: [param()], lr: 0.01 }]);
      return { opt, sched: new w.LRScheduler(opt, w.linearWarmup(w.multiStepLR({ milestones: [3, 6] }), { warmupSteps: 2 })) };
    };
    const a = mk();
    for (let k = 0; k < 7; k++) a.sched.step();
    const saved = JSON.stringify(a.sched.stateDict());
    const b = mk();
    b.opt.setLr(5);
    b.sched.loadStateDict(JSON.parse(saved) as w.LRSchedulerState);
    expect(b.sched.stepCount).toBe(7);
    expect(b.sched.lastLr()).toEqual(a.sched.lastLr());
    a.sched.step();
    b.sched.step();
    expect(b.sched.lastLr()).toEqual(a.sched.lastLr());
    expect(() => b.sched.loadStateDict({ step: -1, baseLrs: [0.1, 0.01] })).toThrow(w.ArgumentError);
    expect(() => b.sched.loadStateDict({ step: 1, baseLrs: [0.1] })).toThrow(w.ArgumentError);
    for (const o of [a.opt, b.opt]) {
      for (const p of o.params) p.dispose();
      o.dispose();
    }
  });

  it.each([
    ['stepSize 0', () => w.stepLR({ stepSize: 0 })],
    ['fractional stepSize', () => w.stepLR({ stepSize: 1.5 })],
    ['gamma 0', () => w.stepLR({ stepSize: 2, gamma: 0 })],
    ['milestones not increasing', () => w.multiStepLR({ milestones: [3, 3] })],
    ['negative milestone', () => w.multiStepLR({ milestones: [-1, 2] })],
    ['maxSteps 0', () => w.polyLR({ maxSteps: 0 })],
    ['negative power', () => w.polyLR({ maxSteps: 10, power: -1 })],
    ['T 0', () => w.cosineLR({ T: 0 })],
    ['negative etaMin', () => w.cosineLR({ T: 5, etaMin: -1 })],
    ['startFactor 0', () => w.linearWarmup(w.constantLR(), { warmupSteps: 3, startFactor: 0 })],
    ['startFactor above 1', () => w.linearWarmup(w.constantLR(), { warmupSteps: 3, startFactor: 1.5 })],
    ['negative warmupSteps', () => w.linearWarmup(w.constantLR(), { warmupSteps: -1 })],
  ])('%s -> ArgumentError', (_name, fn) => {
    expect(fn).toThrow(w.ArgumentError);
  });

  it('a schedule producing a negative lr fails at the scheduler step', () => {
    const p = param();
    const opt = new w.SGD([p], { lr: 0.1 });
    const sched = new w.LRScheduler(opt, (step, base) => base - step);
    expect(() => sched.step()).toThrow(w.ArgumentError);
    expect(sched.stepCount).toBe(0);
    expect(opt.paramGroups[0]!.lr).toBe(0.1);
    p.dispose();
  });
});
