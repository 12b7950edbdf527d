import { describe, expect, it } from 'vitest';
import * as w from '../../src/index.js';
import { devices } from '../helpers/devices.js';
import { relErr } from '../helpers/fixtures.js';
import { makeOptimizer, optimizerCases, setGrads, toTensor, type OptimizerCase } from './fixtures.js';
import { refAdam, refSgd, type RefAdamState } from './reference.js';

// Parameters after each step, relative to PyTorch's float64 run: a float32 run of torch itself is
// within 2.5e-7 (make_optim_fixtures.py --check-f32), so 1e-5 leaves room for FMA and ordering.
const TOL = 1e-5;
// The accumulated update (params after 5 steps minus initial) alone, which is 10-100x smaller than
// the parameters: a wrong bias correction, decay or momentum term shows here even when small.
const DELTA_TOL = 1e-4;

const keepAll = (ts: w.Tensor[]): w.Tensor[] => ts.map((t) => w.keep(t));

function freeAll(params: w.Tensor[], opt?: { dispose(): void }): void {
  opt?.dispose();
  for (const p of params) p.dispose();
}

/** A saved checkpoint: the optimiser state dict with its tensors read to host, the rest through JSON. */
async function saveCheckpoint(opt: w.Optimizer<w.BaseOptions>, sched?: w.LRScheduler) {
  const sd = opt.stateDict();
  const host: Record<string, Record<string, Float32Array>> = {};
  const meta: Record<string, { step: number; shapes: Record<string, number[]> }> = {};
  for (const [i, entry] of Object.entries(sd.state)) {
    host[i] = {};
    meta[i] = { step: entry.step, shapes: {} };
    for (const [name, t] of Object.entries(entry.buffers)) {
      host[i]![name] = (await t.data()) as Float32Array;
      meta[i]!.shapes[name] = [...t.shape];
    }
  }
  const json = JSON.stringify({ kind: sd.kind, paramGroups: sd.paramGroups, meta, sched: sched?.stateDict() });
  return { json, host };
}

function restoreCheckpoint(ck: Awaited<ReturnType<typeof saveCheckpoint>>): { sd: w.OptimizerStateDict; sched?: w.LRSchedulerState } {
  const j = JSON.parse(ck.json) as {
    kind: string;
    paramGroups: w.GroupStateEntry[];
    meta: Record<string, { step: number; shapes: Record<string, number[]> }>;
    sched?: w.LRSchedulerState;
  };
  const state: Record<number, w.ParamStateEntry> = {};
  for (const [i, m] of Object.entries(j.meta)) {
    state[Number(i)] = {
      step: m.step,
      buffers: Object.fromEntries(Object.entries(m.shapes).map(([name, shape]) => [name, w.fromArray(ck.host[i]![name]!, shape)])),
    };
  }
  return { sd: { kind: j.kind, state, paramGroups: j.paramGroups }, sched: j.sched };
}

describe.each(devices())('optimisers on %s', (dev) => {
  const rt = dev.runtime;

  describe.each(optimizerCases().map((c) => [c.name, c] as const))('fixture %s', (_name, c) => {
    it('matches PyTorch after every step, one dispatch per updated parameter', async () => {
      const params = keepAll(c.params.map((t) => toTensor(t, true)));
      const opt = makeOptimizer(c, params);
      try {
        for (const [k, s] of c.steps.entries()) {
          setGrads(params, s.grads);
          const before = rt.dispatchCount;
          opt.step();
          expect(rt.dispatchCount - before, `dispatches at step ${k}`).toBe(s.grads.filter(Boolean).length);
          for (const [i, p] of params.entries()) {
            const got = await p.data();
            expect(relErr(got, s.params_after[i]!.data), `param ${i} after step ${k}`).toBeLessThan(TOL);
            if (k === c.steps.length - 1) {
              const init = c.params[i]!.data;
              const want = s.params_after[i]!.data.map((v, j) => v - init[j]!);
              const gotDelta = Array.from(got, (v, j) => v - init[j]!);
              expect(relErr(gotDelta, want), `accumulated update of param ${i}`).toBeLessThan(DELTA_TOL);
            }
          }
        }
      } finally {
        freeAll(params, opt);
      }
    });
  });

  describe.each(
    ['sgd_nesterov_wd', 'sgd_momentum_missing_grads', 'adam_missing_grads', 'adamw_amsgrad_maximize_eps', 'adamw_param_groups'].map((n) => [
      n,
      optimizerCases().find((c) => c.name === n)!,
    ]),
  )('state dict round trip (%s)', (_name, c: OptimizerCase) => {
    it('a run resumed from a checkpoint after step 2 ends bit for bit like an uninterrupted run', async () => {
      const schedule = w.linearWarmup(w.cosineLR({ T: 5, etaMin: 1e-4 }), { warmupSteps: 2, startFactor: 0.5 });
      // Uninterrupted run.
      const a = keepAll(c.params.map((t) => toTensor(t, true)));
      const optA = makeOptimizer(c, a);
      const schedA = new w.LRScheduler(optA, schedule);
      for (const s of c.steps) {
        setGrads(a, s.grads);
        optA.step();
        schedA.step();
      }
      const want = await Promise.all(a.map((p) => p.data()));
      // Interrupted run: 2 steps, checkpoint (host copies), then a fresh optimiser over fresh parameters.
      const b = keepAll(c.params.map((t) => toTensor(t, true)));
      const optB = makeOptimizer(c, b);
      const schedB = new w.LRScheduler(optB, schedule);
      for (const s of c.steps.slice(0, 2)) {
        setGrads(b, s.grads);
        optB.step();
        schedB.step();
      }
      const ck = await saveCheckpoint(optB, schedB);
      const paramHost = await Promise.all(b.map((p) => p.data()));
      freeAll(b, optB);
      const r = keepAll(paramHost.map((d, i) => w.fromArray(d, c.params[i]!.shape, { requiresGrad: true })));
      const optR = makeOptimizer(c, r);
      // Loading must overwrite whatever the fresh optimiser was built with.
      optR.setLr(123);
      const restored = restoreCheckpoint(ck);
      optR.loadStateDict(restored.sd);
      const schedR = new w.LRScheduler(optR, schedule);
      schedR.loadStateDict(restored.sched!);
      for (const t of Object.values(restored.sd.state).flatMap((e) => Object.values(e.buffers))) t.dispose();
      expect(optR.paramGroups.map((g) => g.lr)).toEqual(optA.paramGroups.map((g, i) => schedule(2, schedA.baseLrs[i]!)));
      for (const s of c.steps.slice(2)) {
        setGrads(r, s.grads);
        optR.step();
        schedR.step();
      }
      const got = await Promise.all(r.map((p) => p.data()));
      got.forEach((g, i) => expect(Array.from(g), `param ${i}`).toEqual(Array.from(want[i]!)));
      freeAll(a, optA);
      freeAll(r, optR);
    });
  });

  it('stateDict has PyTorch-style entries and reloading its own state dict changes nothing', async () => {
    const c = optimizerCases().find((k) => k.name === 'adam_amsgrad')!;
    const params = keepAll(c.params.map((t) => toTensor(t, true)));
    const opt = makeOptimizer(c, params);
    setGrads(params, c.steps[0]!.grads);
    opt.step();
    const sd = opt.stateDict();
    expect(sd.kind).toBe('Adam');
    expect(Object.keys(sd.state)).toEqual(['0', '1', '2', '3']);
    expect(sd.state[0]!.step).toBe(1);
    expect(Object.keys(sd.state[0]!.buffers).sort()).toEqual(['exp_avg', 'exp_avg_sq', 'max_exp_avg_sq']);
    expect(sd.paramGroups).toEqual([{ params: [0, 1, 2, 3], lr: 1e-2, betas: [0.8, 0.99], eps: 1e-8, weightDecay: 0, amsgrad: true, maximize: false }]);
    expect(JSON.parse(JSON.stringify(sd.paramGroups))).toEqual(sd.paramGroups);
    const m = Array.from(await sd.state[2]!.buffers.exp_avg!.data());
    opt.loadStateDict(sd);
    expect(Array.from(await opt.stateDict().state[2]!.buffers.exp_avg!.data())).toEqual(m);
    setGrads(params, c.steps[1]!.grads);
    opt.step();
    expect(relErr(await params[0]!.data(), c.steps[1]!.params_after[0]!.data)).toBeLessThan(TOL);
    freeAll(params, opt);
  });

  describe.each(['SGD', 'Adam', 'AdamW'] as const)('%s skipping', (kind) => {
    it('skips parameters without a gradient and frozen ones: no dispatch, no state, values unchanged', async () => {
      const [p0, p1, p2] = keepAll([w.randn([6], { seed: 1, requiresGrad: true }), w.randn([3, 3], { seed: 2, requiresGrad: true }), w.randn([5], { seed: 3, requiresGrad: true })]);
      const opt = kind === 'SGD' ? new w.SGD([p0!, p1!, p2!], { lr: 0.1, momentum: 0.9 }) : new w[kind]([p0!, p1!, p2!], { lr: 0.1 });
      p0!.grad = w.keep(w.ones([6]));
      p2!.grad = w.keep(w.ones([5]));
      p2!.requiresGrad = false; // frozen, though it has a gradient
      const before1 = Array.from(await p1!.data());
      const before2 = Array.from(await p2!.data());
      const before0 = Array.from(await p0!.data());
      const d0 = rt.dispatchCount;
      opt.step();
      expect(rt.dispatchCount - d0).toBe(1);
      expect(Array.from(await p1!.data())).toEqual(before1);
      expect(Array.from(await p2!.data())).toEqual(before2);
      expect(Array.from(await p0!.data())).not.toEqual(before0);
      expect(Object.keys(opt.stateDict().state)).toEqual(['0']);
      // Unfrozen, it is updated again (and gets state).
      p2!.requiresGrad = true;
      opt.step();
      expect(Object.keys(opt.stateDict().state)).toEqual(['0', '2']);
      expect(opt.stateDict().state[0]!.step).toBe(2);
      expect(opt.stateDict().state[2]!.step).toBe(1);
      opt.zeroGrad();
      expect(p0!.grad).toBeNull();
      const d1 = rt.dispatchCount;
      opt.step();
      expect(rt.dispatchCount).toBe(d1);
      freeAll([p0!, p1!, p2!], opt);
    });
  });

  it('updates a Module in place (identity and buffers kept) and respects freeze()', async () => {
    const model = new w.Linear(4, 3, { generator: new w.Generator(7) });
    const weightBuf = model.weight.bufferFor('test');
    const opt = new w.AdamW(model.parameters(), { lr: 0.05 });
    const bias0 = Array.from(await model.bias!.data());
    const weight0 = Array.from(await model.weight.data());
    model.freeze('bias');
    const x = w.keep(w.randn([5, 4], { seed: 11 }));
    w.tidy(() => w.backward(w.sum(model.forward(x))));
    expect(model.bias!.grad).toBeNull();
    const d0 = rt.dispatchCount;
    opt.step();
    expect(rt.dispatchCount - d0).toBe(1);
    expect(model.weight.bufferFor('test')).toBe(weightBuf);
    expect(Array.from(await model.weight.data())).not.toEqual(weight0);
    expect(Array.from(await model.bias!.data())).toEqual(bias0);
    opt.dispose();
    x.dispose();
    model.dispose();
  });

  it('matches the float64 reference on parameters spanning several workgroups (SGD and Adam)', async () => {
    const shapes = [[1000], [257, 3], [7]];
    const gen = new w.Generator(42);
    const init = shapes.map((s) => gen.normal(s.reduce((a, b) => a * b, 1)));
    const grads = [0, 1, 2].map(() => shapes.map((s) => gen.normal(s.reduce((a, b) => a * b, 1))));
    const sgdOpts = { lr: 0.03, momentum: 0.9, dampening: 0.1, nesterov: false, weightDecay: 1e-3 };
    const adamOpts = { lr: 0.01, betas: [0.85, 0.995] as const, eps: 1e-7, weightDecay: 0.02, amsgrad: true };
    for (const which of ['sgd', 'adam'] as const) {
      const params = keepAll(init.map((d, i) => w.fromArray(d, shapes[i]!, { requiresGrad: true })));
      const opt = which === 'sgd' ? new w.SGD(params, sgdOpts) : new w.Adam(params, adamOpts);
      const ref = init.map((d) => Float64Array.from(d));
      const bufs: (Float64Array | null)[] = ref.map(() => null);
      const st: RefAdamState[] = ref.map((r) => ({ step: 0, m: new Float64Array(r.length), v: new Float64Array(r.length), vmax: new Float64Array(r.length) }));
      for (const g of grads) {
        params.forEach((p, i) => {
          p.grad?.dispose();
          p.grad = w.keep(w.fromArray(g[i]!, shapes[i]!));
        });
        const d0 = rt.dispatchCount;
        opt.step();
        expect(rt.dispatchCount - d0).toBe(params.length);
        ref.forEach((r, i) => {
          const gi = Float32Array.from(g[i]!);
          if (which === 'sgd') bufs[i] = refSgd(r, gi, bufs[i]!, sgdOpts);
          else refAdam(r, gi, st[i]!, { ...adamOpts, decoupled: false });
        });
      }
      for (const [i, p] of params.entries()) expect(relErr(await p.data(), ref[i]!), `${which} param ${i}`).toBeLessThan(TOL);
      freeAll(params, opt);
    }
  });

  describe('bad input', () => {
    const p = () => w.keep(w.zeros([3], { requiresGrad: true }));

    it.each([
      ['negative lr', () => new w.SGD([p()], { lr: -0.1 })],
      ['NaN lr', () => new w.SGD([p()], { lr: NaN })],
      ['missing lr', () => new w.SGD([p()], {} as w.SGDOptions)],
      ['negative momentum', () => new w.SGD([p()], { lr: 0.1, momentum: -0.5 })],
      ['negative weight decay', () => new w.SGD([p()], { lr: 0.1, weightDecay: -1 })],
      ['nesterov without momentum', () => new w.SGD([p()], { lr: 0.1, nesterov: true })],
      ['nesterov with dampening', () => new w.SGD([p()], { lr: 0.1, momentum: 0.9, dampening: 0.1, nesterov: true })],
      ['beta1 = 1', () => new w.Adam([p()], { betas: [1, 0.999] })],
      ['beta2 < 0', () => new w.Adam([p()], { betas: [0.9, -0.1] })],
      ['beta2 NaN', () => new w.AdamW([p()], { betas: [0.9, NaN] })],
      ['betas not a pair', () => new w.Adam([p()], { betas: [0.9] as unknown as [number, number] })],
      ['negative eps', () => new w.Adam([p()], { eps: -1e-8 })],
      ['negative Adam weight decay', () => new w.AdamW([p()], { weightDecay: -0.1 })],
      ['amsgrad not boolean', () => new w.Adam([p()], { amsgrad: 1 as unknown as boolean })],
      ['negative lr in a group', () => new w.Adam([{ params: [p()], lr: -1 }])],
      ['unknown option', () => new w.Adam([p()], { momentum: 0.9 } as w.AdamOptions)],
      ['empty parameter list', () => new w.SGD([], { lr: 0.1 })],
      ['duplicate parameter', () => { const t = p(); return new w.SGD([{ params: [t] }, { params: [t] }], { lr: 0.1 }); }],
      ['setLr negative', () => new w.SGD([p()], { lr: 0.1 }).setLr(-1)],
    ])('%s -> ArgumentError', (_name, fn) => {
      expect(fn).toThrow(w.ArgumentError);
    });

    it('a group option made invalid between steps fails the step before any dispatch', () => {
      const a = p();
      a.grad = w.keep(w.ones([3]));
      const opt = new w.Adam([a], { lr: 0.1 });
      opt.paramGroups[0]!.betas = [0.9, 1];
      const d0 = rt.dispatchCount;
      expect(() => opt.step()).toThrow(w.ArgumentError);
      expect(rt.dispatchCount).toBe(d0);
      a.dispose();
    });

    it('a gradient of another shape is a ShapeError and nothing is updated', () => {
      const a = p();
      const b = p();
      a.grad = w.keep(w.ones([3]));
      b.grad = w.keep(w.ones([4]));
      const opt = new w.SGD([a, b], { lr: 0.1 });
      const d0 = rt.dispatchCount;
      expect(() => opt.step()).toThrow(w.ShapeError);
      expect(rt.dispatchCount).toBe(d0);
      a.dispose();
      b.dispose();
    });

    it('loadStateDict rejects another kind, other groups and mismatched state, changing nothing', () => {
      const a = p();
      a.grad = w.keep(w.ones([3]));
      const opt = new w.Adam([a], { lr: 0.1 });
      opt.step();
      const sgd = new w.SGD([p()], { lr: 0.1 });
      expect(() => opt.loadStateDict(sgd.stateDict())).toThrow(w.ArgumentError);
      const sd = opt.stateDict();
      expect(() => opt.loadStateDict({ ...sd, paramGroups: [] })).toThrow(w.ArgumentError);
      expect(() => opt.loadStateDict({ ...sd, paramGroups: [{ ...sd.paramGroups[0]!, lr: -1 }] })).toThrow(w.ArgumentError);
      const wrong = w.keep(w.zeros([4]));
      expect(() => opt.loadStateDict({ ...sd, state: { 0: { step: 1, buffers: { ...sd.state[0]!.buffers, exp_avg: wrong } } } })).toThrow(w.ShapeError);
      expect(() => opt.loadStateDict({ ...sd, state: { 0: { step: 1, buffers: { exp_avg: sd.state[0]!.buffers.exp_avg! } } } })).toThrow(/exp_avg_sq/);
      expect(() => opt.loadStateDict({ ...sd, state: { 5: sd.state[0]! } })).toThrow(w.ArgumentError);
      expect(() => opt.loadStateDict({ ...sd, state: { 0: { step: 1, buffers: { ...sd.state[0]!.buffers, momentum_buffer: sd.state[0]!.buffers.exp_avg! } } } })).toThrow(/unknown state tensor/);
      expect(() => opt.loadStateDict({ ...sd, state: { 0: { ...sd.state[0]!, step: 0 } } })).toThrow(w.ArgumentError);
      expect(opt.stateDict().state[0]!.buffers.exp_avg).toBe(sd.state[0]!.buffers.exp_avg);
      expect(opt.paramGroups[0]!.lr).toBe(0.1);
      wrong.dispose();
      opt.dispose();
      sgd.dispose();
      a.dispose();
    });
  });
});
