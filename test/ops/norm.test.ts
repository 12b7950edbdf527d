// batchNorm2d, groupNorm, layerNorm and l2Normalize: float64 references and finite differences on
// odd shapes, running-statistic updates, typed errors, and the PyTorch fixtures (test/fixtures/norm.json
// and the l2_normalize cases of losses.json).
import { describe, expect, it } from 'vitest';
import * as w from '../../src/index.js';
import { checkOp, expectClose, makeInputs } from '../helpers/check-op.js';
import { devices } from '../helpers/devices.js';
import { FIXTURE_TOLERANCE, loadFixtures, relErr, type FixtureCase } from '../helpers/fixtures.js';
import * as RN from '../reference/norm.js';
import { normStats } from '../../src/ops/kernels/norm.js';
import { ND } from '../reference/ndarray.js';
import { randomShape } from './random-shapes.js';

const GRAD = { maxProbes: 10 };

describe.each(devices())('batchNorm2d on %s', () => {
  const cases: { x: [number, number, number, number]; affine: boolean }[] = [
    { x: [2, 3, 5, 7], affine: true },
    { x: [3, 4, 1, 1], affine: true },
    { x: [1, 5, 3, 3], affine: false },
    { x: [4, 2, 9, 11], affine: true }, // long enough for a split reduction
  ];

  it.each(cases)('training mode matches the reference and finite differences: %j', async (c) => {
    const ch = c.x[1];
    await checkOp({
      inputs: c.affine ? [c.x, { shape: [ch], range: [0.5, 1.5] }, [ch]] : [c.x],
      fn: (x, wt, b) => w.batchNorm2d(x!, wt ?? null, b ?? null, { training: true }),
      ref: (x, wt, b) => RN.batchNorm(x!, wt ?? null, b ?? null, { training: true }).y,
      atol: 2e-5,
      gradOpts: GRAD,
    });
  });

  it.each(cases.slice(0, 3))('eval mode matches the reference and finite differences: %j', async (c) => {
    const ch = c.x[1];
    const [rmH, rvH] = makeInputs([{ shape: [ch], range: [-0.5, 0.5] }, { shape: [ch], range: [0.5, 2] }], 9);
    const rm = w.fromArray(rmH!.data, [ch]);
    const rv = w.fromArray(rvH!.data, [ch]);
    const opts = { runningMean: rm, runningVar: rv, training: false };
    await checkOp({
      inputs: c.affine ? [c.x, [ch], [ch]] : [c.x],
      fn: (x, wt, b) => w.batchNorm2d(x!, wt ?? null, b ?? null, opts),
      ref: (x, wt, b) => RN.batchNorm(x!, wt ?? null, b ?? null, { runningMean: [...rmH!.data], runningVar: [...rvH!.data], training: false }).y,
      gradOpts: GRAD,
    });
    // Eval mode leaves the running statistics alone.
    expectClose(await rm.data(), rmH!.data, 0, 0, 'runningMean');
    rm.dispose();
    rv.dispose();
  });

  it('updates the running statistics in place like PyTorch (unbiased variance, momentum)', async () => {
    const [xh, x2h, rmH, rvH] = makeInputs([[3, 4, 5, 3], [3, 4, 5, 3], { shape: [4], range: [-1, 1] }, { shape: [4], range: [0.5, 2] }], 4);
    const rm = w.fromArray(rmH!.data, [4]);
    const rv = w.fromArray(rvH!.data, [4]);
    let want = { runningMean: [...rmH!.data], runningVar: [...rvH!.data] };
    for (const h of [xh!, x2h!]) {
      const x = w.fromArray(h.data, h.shape);
      const y = w.batchNorm2d(x, null, null, { runningMean: rm, runningVar: rv, training: true, momentum: 0.3 });
      const r = RN.batchNorm(h, null, null, { ...want, training: true, momentum: 0.3 });
      want = { runningMean: r.runningMean!, runningVar: r.runningVar! };
      expectClose(await y.data(), r.y.data, 2e-5, 1e-4, 'y');
      x.dispose();
      y.dispose();
    }
    expectClose(await rm.data(), want.runningMean, 1e-6, 1e-5, 'runningMean');
    expectClose(await rv.data(), want.runningVar, 1e-6, 1e-5, 'runningVar');
    rm.dispose();
    rv.dispose();
  });

  it('is stable for a large mean and a split reduction over many pixels', async () => {
    const shape = [8, 3, 40, 37];
    const [h] = makeInputs([shape], 3);
    const data = h!.data.map((v, i) => 1000 + 50 * Math.floor(i / (40 * 37)) + v); // mean ~1000, std ~1
    const hx = ND.from(Float32Array.from(data), shape);
    const x = w.fromArray(hx.data, shape);
    const y = w.batchNorm2d(x, null, null, { training: true });
    expectClose(await y.data(), RN.batchNorm(hx, null, null, { training: true }).y.data, 2e-3, 1e-3, 'y');
    x.dispose();
    y.dispose();
  });

  it('rejects bad arguments with typed errors', () => {
    const x = w.zeros([2, 3, 4, 4]);
    const c3 = w.zeros([3]);
    const c4 = w.zeros([4]);
    expect(() => w.batchNorm2d(x, c4, null, { training: true })).toThrow(w.ShapeError);
    expect(() => w.batchNorm2d(x, null, c4, { training: true })).toThrow(/bias must have shape \[3\]/);
    expect(() => w.batchNorm2d(x, null, null, { training: true, runningMean: c4, runningVar: c3 })).toThrow(w.ShapeError);
    expect(() => w.batchNorm2d(x, null, null, { training: true, runningMean: c3, runningVar: c3 })).toThrow(w.ArgumentError);
    expect(() => w.batchNorm2d(x, null, null, { training: false })).toThrow(/needs runningMean/);
    expect(() => w.batchNorm2d(x, null, null, { training: true, momentum: 2 })).toThrow(w.ArgumentError);
    expect(() => w.batchNorm2d(w.zeros([1, 3, 1, 1]), null, null, { training: true })).toThrow(/more than 1 value per channel/);
    expect(() => w.batchNorm2d(w.zeros([3, 4]), null, null, { training: true })).toThrow(w.ShapeError);
    expect(() => w.batchNorm2d(w.zeros([2, 3, 2, 2], { dtype: 'i32' }), null, null, { training: true })).toThrow(w.DTypeError);
    for (const t of [x, c3, c4]) t.dispose();
  });
});

describe.each(devices())('groupNorm and layerNorm on %s', () => {
  const gcases: { x: number[]; g: number; affine: boolean }[] = [
    { x: [2, 6, 3, 5], g: 3, affine: true },
    { x: [1, 4, 7, 3], g: 1, affine: true },
    { x: [3, 5, 2, 3], g: 5, affine: false },
    { x: [2, 4, 9], g: 2, affine: true },
  ];

  it.each(gcases)('groupNorm matches the reference and finite differences: %j', async (c) => {
    const ch = c.x[1]!;
    await checkOp({
      inputs: c.affine ? [c.x, [ch], [ch]] : [c.x],
      fn: (x, wt, b) => w.groupNorm(x!, c.g, wt ?? null, b ?? null),
      ref: (x, wt, b) => RN.groupNorm(x!, c.g, wt ?? null, b ?? null),
      atol: 2e-5,
      gradOpts: GRAD,
    });
  });

  const lcases: { x: number[]; ns: number[]; affine: boolean }[] = [
    { x: [2, 3, 5], ns: [5], affine: true },
    { x: [3, 2, 3, 5], ns: [3, 5], affine: true },
    { x: [2, 7], ns: [2, 7], affine: false },
    { x: [5, 1, 9], ns: [9], affine: true },
  ];

  it.each(lcases)('layerNorm matches the reference and finite differences: %j', async (c) => {
    await checkOp({
      inputs: c.affine ? [c.x, c.ns, c.ns] : [c.x],
      fn: (x, wt, b) => w.layerNorm(x!, c.ns, wt ?? null, b ?? null),
      ref: (x, wt, b) => RN.layerNorm(x!, c.ns, wt ?? null, b ?? null),
      atol: 2e-5,
      gradOpts: GRAD,
    });
  });

  it('layerNorm over long rows (split reduction) matches the reference', async () => {
    await checkOp({
      inputs: [[3, 1001], [1001], [1001]],
      fn: (x, wt, b) => w.layerNorm(x!, 1001, wt!, b!),
      ref: (x, wt, b) => RN.layerNorm(x!, [1001], wt!, b!),
      atol: 2e-5,
      gradOpts: { maxProbes: 4 },
    });
  });

  it('rejects bad arguments with typed errors', () => {
    const x = w.zeros([2, 6, 3, 3]);
    expect(() => w.groupNorm(x, 4)).toThrow(/not divisible into 4 groups/);
    expect(() => w.groupNorm(x, 3, w.zeros([3]))).toThrow(w.ShapeError);
    expect(() => w.groupNorm(x, 0)).toThrow(w.ArgumentError);
    expect(() => w.layerNorm(x, [4, 3])).toThrow(w.ShapeError);
    expect(() => w.layerNorm(x, [3, 3], w.zeros([9]))).toThrow(/weight must have shape \[3,3\]/);
    x.dispose();
  });
});

describe.each(devices())('l2Normalize on %s', () => {
  it.each([
    { x: [2, 3, 4, 5], axis: 1 },
    { x: [3, 7], axis: -1 },
    { x: [2, 5, 3], axis: 0 },
  ])('matches the reference and finite differences: %j', async (c) => {
    await checkOp({
      inputs: [c.x],
      fn: (x) => w.l2Normalize(x!, c.axis),
      ref: (x) => RN.l2Normalize(x!, c.axis < 0 ? c.axis + c.x.length : c.axis),
      gradOpts: GRAD,
    });
  });

  it('holds the denominator at eps for short vectors (gradient gy / eps)', async () => {
    const x = w.requireGrad(w.fromArray([1e-4, -2e-4, 0, 0, 0, 0], [2, 3]));
    const y = w.l2Normalize(x, 1, 1e-3);
    expectClose(await y.data(), [0.1, -0.2, 0, 0, 0, 0], 1e-7, 1e-5);
    const [g] = w.grad(y, [x], { gradOutputs: [w.fromArray([1, 2, 3, 4, 5, 6], [2, 3])] });
    expectClose(await g!.data(), [1000, 2000, 3000, 4000, 5000, 6000], 1e-3, 1e-5);
  });
});

describe.each(devices())('normalisation on random shapes on %s', () => {
  it.each(Array.from({ length: 12 }, (_, i) => i))('seed %i: every op matches its reference and finite differences', async (seed) => {
    const g = new w.Generator(100 + seed);
    const shape = randomShape(g, 4);
    if (shape[0]! * shape[2]! * shape[3]! < 2) shape[0] = 2; // batch norm needs two values per channel
    const c = shape[1]!;
    const divisors = Array.from({ length: c }, (_, i) => i + 1).filter((d) => c % d === 0);
    const groups = divisors[Math.floor(g.next() * divisors.length)]!;
    const ns = shape.slice(1 + Math.floor(g.next() * 3));
    const axis = Math.floor(g.next() * 4);
    const opts = { atol: 2e-5, gradOpts: { maxProbes: 6 }, seed };
    await checkOp({
      ...opts,
      inputs: [shape, [c], [c]],
      fn: (x, wt, b) => w.batchNorm2d(x!, wt!, b!, { training: true }),
      ref: (x, wt, b) => RN.batchNorm(x!, wt!, b!, { training: true }).y,
    });
    await checkOp({ ...opts, inputs: [shape, [c], [c]], fn: (x, wt, b) => w.groupNorm(x!, groups, wt!, b!), ref: (x, wt, b) => RN.groupNorm(x!, groups, wt!, b!) });
    await checkOp({ ...opts, inputs: [shape, ns, ns], fn: (x, wt, b) => w.layerNorm(x!, ns, wt!, b!), ref: (x, wt, b) => RN.layerNorm(x!, ns, wt!, b!) });
    await checkOp({ ...opts, inputs: [shape], fn: (x) => w.l2Normalize(x!, axis), ref: (x) => RN.l2Normalize(x!, axis) });
  });
});

describe.each(devices())('normalisation memory on %s', () => {
  it('frees every temporary, with and without a recorded graph', async () => {
    const live = () => w.runtime().memory().live;
    const x = w.randn([2, 4, 3, 5], { seed: 1, requiresGrad: true });
    const wt = w.rand([4], { seed: 2, requiresGrad: true });
    const b = w.rand([4], { seed: 3, requiresGrad: true });
    const rm = w.zeros([4]);
    const rv = w.ones([4]);
    const x3 = w.randn([2, 3, 5], { seed: 4, requiresGrad: true });
    const ops: (() => w.Tensor)[] = [
      () => w.batchNorm2d(x, wt, b, { training: true, runningMean: rm, runningVar: rv }),
      () => w.batchNorm2d(x, wt, null, { runningMean: rm, runningVar: rv }),
      () => w.groupNorm(x, 2, wt, b),
      () => w.layerNorm(x3, [3, 5], null, null),
      () => w.l2Normalize(x),
    ];
    await w.runtime().sync();
    const before = live();
    for (const f of ops) {
      w.tidy(() => {
        const y = f();
        w.backward(w.sum(y), undefined);
      });
      for (const t of [x, wt, b, x3]) {
        t.grad?.dispose();
        t.grad = null;
      }
      w.noGrad(f).dispose();
      await w.runtime().sync();
      expect(live(), 'live buffers').toBe(before);
    }
    for (const t of [x, wt, b, rm, rv, x3]) t.dispose();
  });
});

/** Runs a fixture case: output, gradients of sum(output * grad_output), extra tensors. */
async function checkFixture(c: FixtureCase, run: (ins: Record<string, w.Tensor>) => w.Tensor): Promise<Record<string, w.Tensor>> {
  const ins: Record<string, w.Tensor> = {};
  for (const [name, f] of Object.entries(c.inputs)) {
    ins[name] = w.fromArray(f.data, f.shape, { requiresGrad: name in c.grads, dtype: f.dtype === 'int32' ? 'i32' : 'f32' });
  }
  const y = run(ins);
  expect([...y.shape]).toEqual(c.output.shape);
  expect(relErr(await y.data(), c.output.data), 'output').toBeLessThan(FIXTURE_TOLERANCE);
  const names = Object.keys(c.grads);
  const gs = w.grad(y, names.map((n) => ins[n]!), { gradOutputs: [w.fromArray(c.grad_output.data, c.grad_output.shape)] });
  for (let i = 0; i < names.length; i++) {
    expect(relErr(await gs[i]!.data(), c.grads[names[i]!]!.data), `grad ${names[i]}`).toBeLessThan(FIXTURE_TOLERANCE);
  }
  return ins;
}

describe.each(devices())('normalisation fixtures from PyTorch on %s', () => {
  it.each(loadFixtures('norm').map((c) => [c.name, c] as const))('%s', async (_name, c) => {
    const p = c.params;
    const ins = await checkFixture(c, (i) => {
      if (c.op === 'batch_norm') {
        return w.batchNorm2d(i.x!, i.weight ?? null, i.bias ?? null, {
          runningMean: i.running_mean,
          runningVar: i.running_var,
          training: p.training as boolean,
          momentum: p.momentum as number,
          eps: p.eps as number,
        });
      }
      if (c.op === 'group_norm') return w.groupNorm(i.x!, p.num_groups as number, i.weight ?? null, i.bias ?? null, p.eps as number);
      if (c.op === 'layer_norm') return w.layerNorm(i.x!, p.normalized_shape as number[], i.weight ?? null, i.bias ?? null, p.eps as number);
      throw new Error(`unknown fixture op ${c.op}`);
    });
    if (c.op === 'batch_norm') {
      expect(relErr(await ins.running_mean!.data(), c.running_mean_after!.data), 'running_mean').toBeLessThan(FIXTURE_TOLERANCE);
      expect(relErr(await ins.running_var!.data(), c.running_var_after!.data), 'running_var').toBeLessThan(FIXTURE_TOLERANCE);
    }
    if (c.batch_mean && c.batch_var_biased) {
      // The statistics kernel itself: (mean, 1/sqrt(var + eps)) per channel.
      const [n, ch, h, wd] = c.inputs.x!.shape as [number, number, number, number];
      const st = await normStats(ins.x!, { a: n, m: ch, b: h * wd }, p.eps as number).data();
      const mean = Array.from({ length: ch }, (_, i) => st[2 * i]!);
      const variance = Array.from({ length: ch }, (_, i) => 1 / st[2 * i + 1]! ** 2 - (p.eps as number));
      expect(relErr(mean, c.batch_mean.data), 'batch mean').toBeLessThan(FIXTURE_TOLERANCE);
      expect(relErr(variance, c.batch_var_biased.data), 'batch variance').toBeLessThan(FIXTURE_TOLERANCE);
    }
  });

  it.each(loadFixtures('losses').filter((c) => c.op === 'l2_normalize').map((c) => [c.name, c] as const))('%s', async (_name, c) => {
    await checkFixture(c, (i) => w.l2Normalize(i.x!, c.params.dim as number, c.params.eps as number));
  });
});
