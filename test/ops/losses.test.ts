// Losses: crossEntropy (+ validateLabels), l1Loss / mseLoss with masks, bceWithLogits and
// normalLoss against float64 references and finite differences, NaN and label-range behaviour,
// typed errors, and the PyTorch fixtures in test/fixtures/losses.json.
import { describe, expect, it } from 'vitest';
import * as w from '../../src/index.js';
import { checkOp, expectClose } from '../helpers/check-op.js';
import { devices } from '../helpers/devices.js';
import { FIXTURE_TOLERANCE, loadFixtures, relErr } from '../helpers/fixtures.js';
import { gridValues, randomShape } from './random-shapes.js';
import * as RL from '../reference/losses.js';
import { ND, size } from '../reference/ndarray.js';

const GRAD = { maxProbes: 10 };
type Red = 'mean' | 'sum' | 'none';

/** Random labels in [0, c) with about `ignored` of them set to 255. */
function labels(g: w.Generator, n: number, c: number, ignored = 0.2): Int32Array {
  return Int32Array.from({ length: n }, () => (g.next() < ignored ? 255 : Math.floor(g.next() * c)));
}

/** 0/1 mask values with about `p` ones. */
function mask01(g: w.Generator, n: number, p = 0.7): number[] {
  return Array.from({ length: n }, () => (g.next() < p ? 1 : 0));
}

describe.each(devices())('crossEntropy on %s', () => {
  const cases: { x: number[]; red: Red; weighted: boolean }[] = [
    { x: [2, 5, 3, 4], red: 'mean', weighted: false },
    { x: [2, 5, 3, 4], red: 'sum', weighted: true },
    { x: [1, 3, 5, 7], red: 'none', weighted: true },
    { x: [3, 4, 7], red: 'mean', weighted: true },
    { x: [7, 6], red: 'mean', weighted: false },
    { x: [5], red: 'none', weighted: false },
  ];

  it.each(cases)('matches the reference and finite differences: %j', async (c) => {
    const g = new w.Generator(11);
    const unbatched = c.x.length === 1;
    const ch = c.x[unbatched ? 0 : 1]!;
    const pix = unbatched ? [] : [c.x[0]!, ...c.x.slice(2)];
    const th = labels(g, size(pix), ch, unbatched ? 0 : 0.2);
    const target = w.fromArray(th, pix, { dtype: 'i32' });
    const wh = c.weighted ? g.uniform(ch, 0.5, 2) : null;
    const weight = wh ? w.fromArray(wh, [ch]) : null;
    const opts = { weight, reduction: c.red };
    await checkOp({
      inputs: [c.x],
      fn: (x) => w.crossEntropy(x!, target, opts),
      ref: (x) => RL.crossEntropy(x!, th, { weight: wh, reduction: c.red }),
      gradOpts: GRAD,
    });
    target.dispose();
    weight?.dispose();
  });

  it('stays finite for huge logits and propagates NaN from counted pixels only', async () => {
    const x = w.fromArray([1e4, -1e4, 0, -3e4, 0, 3e4, 2, 3, NaN], [3, 3]);
    const ok = w.crossEntropy(x, w.fromArray([1, 0, 255], [3], { dtype: 'i32' }), { reduction: 'none' });
    expectClose(await ok.data(), [2e4, 6e4, 0], 0, 1e-6, 'huge logits');
    const nan = w.crossEntropy(x, w.fromArray([1, 2, 0], [3], { dtype: 'i32' }), { reduction: 'none' });
    const v = await nan.data();
    expect(v[1]).toBe(0);
    expect(Number.isNaN(v[2]!)).toBe(true);
    expect(Number.isNaN(await w.crossEntropy(x, w.fromArray([1, 2, 0], [3], { dtype: 'i32' })).item())).toBe(true);
  });

  it("gives NaN for 'mean' when every pixel is ignored, as PyTorch", async () => {
    const y = w.crossEntropy(w.zeros([2, 3, 2]), w.full([2, 2], 255, { dtype: 'i32' }));
    expect(Number.isNaN(await y.item())).toBe(true);
  });

  it('poisons the loss and gradient with NaN for out-of-range labels; validateLabels throws LabelError', async () => {
    const x = w.requireGrad(w.randn([2, 4, 3], { seed: 1 }));
    const t = w.fromArray([0, 1, 255, 3, 4, 2], [2, 3], { dtype: 'i32' });
    const y = w.crossEntropy(x, t);
    expect(Number.isNaN(await y.item())).toBe(true);
    const [g] = w.grad(y, [x]);
    expect((await g!.data()).some(Number.isNaN)).toBe(true);
    const err = await w.validateLabels(t, 4).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(w.LabelError);
    expect(err).toBeInstanceOf(w.ArgumentError);
    expect((err as w.LabelError).count).toBe(1);
    expect((err as w.LabelError).index).toEqual([1, 1]);
    expect((err as w.LabelError).value).toBe(4);
    await expect(w.crossEntropyChecked(x, t)).rejects.toThrow(/outside \[0, 4\)/);
    await expect(w.validateLabels(w.fromArray([-1, 0], [2], { dtype: 'i32' }), 4, -1)).resolves.toBeUndefined();
    await expect(w.validateLabels(w.fromArray([-1, 0], [2], { dtype: 'i32' }), 4)).rejects.toThrow(w.LabelError);
    const ok = await w.crossEntropyChecked(x, w.fromArray([0, 1, 255, 3, 3, 2], [2, 3], { dtype: 'i32' }));
    expect(Number.isFinite(await ok.item())).toBe(true);
  });

  it('rejects bad arguments with typed errors', () => {
    const x = w.zeros([2, 3, 4]);
    expect(() => w.crossEntropy(x, w.zeros([2, 4]))).toThrow(w.DTypeError);
    expect(() => w.crossEntropy(x, w.zeros([2, 3], { dtype: 'i32' }))).toThrow(w.ShapeError);
    expect(() => w.crossEntropy(x, w.zeros([2, 4], { dtype: 'i32' }), { weight: w.ones([4]) })).toThrow(/weight must have shape \[3\]/);
    expect(() => w.crossEntropy(x, w.zeros([2, 4], { dtype: 'i32' }), { reduction: 'avg' as Red })).toThrow(w.ArgumentError);
  });
});

describe.each(devices())('l1Loss, mseLoss and bceWithLogits on %s', () => {
  const cases: { kind: 'l1' | 'mse'; x: number[]; mask: number[] | null; red: Red }[] = [
    { kind: 'l1', x: [2, 1, 5, 7], mask: [2, 1, 5, 7], red: 'mean' },
    { kind: 'l1', x: [2, 3, 4, 5], mask: [2, 1, 4, 5], red: 'mean' },
    { kind: 'l1', x: [3, 5], mask: null, red: 'sum' },
    { kind: 'mse', x: [2, 3, 3, 5], mask: [1, 3, 5], red: 'mean' },
    { kind: 'mse', x: [2, 3, 4], mask: [2, 3, 4], red: 'none' },
    { kind: 'mse', x: [7, 3], mask: null, red: 'mean' },
  ];

  it.each(cases)('matches the masked-mean reference and finite differences (pred and target): %j', async (c) => {
    const g = new w.Generator(5);
    const n = size(c.x);
    const mh = c.mask ? mask01(g, size(c.mask)) : null;
    const mask = mh ? w.fromArray(mh, c.mask!) : null;
    const fn = c.kind === 'l1' ? w.l1Loss : w.mseLoss;
    await checkOp({
      // Values on offset grids: |pred - target| >= 0.05, so finite differences never cross the kink.
      inputs: [
        { shape: c.x, values: gridValues(g, n) },
        { shape: c.x, values: gridValues(g, n, { offset: 0.5 }) },
      ],
      fn: (x, t) => fn(x!, t!, { mask, reduction: c.red }),
      ref: (x, t) => RL.regression(c.kind, x!, t!, mh ? ND.from(mh, c.mask!) : null, c.red),
      gradOpts: GRAD,
    });
    mask?.dispose();
  });

  it('ignores masked-out elements even when they are NaN, and an all-invalid mask gives 0', async () => {
    const x = w.requireGrad(w.fromArray([1, 2, 3, 4], [1, 1, 2, 2]));
    const t = w.fromArray([0, NaN, Infinity, 2], [1, 1, 2, 2]);
    const mask = w.fromArray([1, 0, 0, 1], [1, 1, 2, 2]);
    expect(await w.l1Loss(x, t, { mask }).item()).toBeCloseTo(1.5, 6);
    expect(await w.mseLoss(x, t, { mask, reduction: 'sum' }).item()).toBeCloseTo(5, 6);
    const y = w.mseLoss(x, t, { mask: w.zeros([1, 1, 2, 2]) });
    expect(await y.item()).toBe(0);
    const [g] = w.grad(y, [x]);
    expect(await g!.toArray()).toEqual([0, 0, 0, 0]);
  });

  it('rejects bad masks and shapes with typed errors', () => {
    const x = w.zeros([2, 3, 4, 4]);
    expect(() => w.l1Loss(x, w.zeros([2, 3, 4]))).toThrow(w.ShapeError);
    expect(() => w.l1Loss(x, x, { mask: w.zeros([2, 2, 4, 4]) })).toThrow(/mask is not broadcastable/);
    expect(() => w.l1Loss(x, x, { mask: w.zeros([3, 2, 3, 4, 4]) })).toThrow(w.ShapeError);
    expect(() => w.mseLoss(x, x, { mask: w.zeros([2, 1, 4, 4], { dtype: 'i32' }) })).toThrow(w.DTypeError);
    expect(() => w.bceWithLogits(x, x, { posWeight: w.ones([4, 1, 1]) })).toThrow(/posWeight is not broadcastable/);
  });

  const bce: { x: number[]; pw: number | number[] | null; weight: number[] | null; red: Red; soft: boolean }[] = [
    { x: [2, 3, 4, 5], pw: null, weight: null, red: 'mean', soft: false },
    { x: [2, 3, 4, 5], pw: [3, 1, 1], weight: null, red: 'sum', soft: false },
    { x: [3, 5], pw: 2.5, weight: [5], red: 'none', soft: true },
    { x: [2, 2, 3, 3], pw: [2, 1, 1], weight: [2, 1, 3, 3], red: 'mean', soft: true },
  ];

  it.each(bce)('bceWithLogits matches the reference and finite differences: %j', async (c) => {
    const g = new w.Generator(8);
    const n = size(c.x);
    const th = c.soft ? g.uniform(n, 0, 1) : mask01(g, n, 0.4);
    const pwh = Array.isArray(c.pw) ? g.uniform(size(c.pw), 0.5, 3) : null;
    const pw = pwh ? w.fromArray(pwh, c.pw as number[]) : (c.pw as number | null);
    const whh = c.weight ? g.uniform(size(c.weight), 0.2, 2) : null;
    const weight = whh ? w.fromArray(whh, c.weight!) : null;
    await checkOp({
      inputs: [{ shape: c.x, range: [-4, 4] }, { shape: c.x, values: th }],
      fn: (x, t) => w.bceWithLogits(x!, t!, { posWeight: pw, weight, reduction: c.red }),
      ref: (x, t) =>
        RL.bceWithLogits(x!, t!, {
          posWeight: pwh ? ND.from(pwh, c.pw as number[]) : (c.pw as number | null),
          weight: whh ? ND.from(whh, c.weight!) : null,
          reduction: c.red,
        }),
      gradOpts: GRAD,
    });
    if (pw instanceof w.Tensor) pw.dispose();
    weight?.dispose();
  });

  it('bceWithLogits stays accurate for large logits', async () => {
    const xs = [-80, -30, -12, 12, 30, 80];
    const ts = [1, 0, 1, 1, 0, 1];
    const y = w.bceWithLogits(w.fromArray(xs, [6]), w.fromArray(ts, [6]), { reduction: 'none', posWeight: 2 });
    const want = RL.bceWithLogits(ND.from(xs, [6]), ND.from(ts, [6]), { reduction: 'none', posWeight: 2 });
    expectClose(await y.data(), want.data, 0, 1e-5, 'bce');
  });
});

describe.each(devices())('normalLoss on %s', () => {
  /** Unit normals [n, 3, h, w] and a 0/1 mask [n, 1, h, w]. */
  function normals(g: w.Generator, shape: number[]): { t: number[]; m: number[] } {
    const [n, c, ...sp] = shape as [number, number, ...number[]];
    const s = size(sp);
    const t = g.normal(n * c * s, 0, 1);
    for (let b = 0; b < n; b++)
      for (let p = 0; p < s; p++) {
        const at = (k: number) => (b * c + k) * s + p;
        const len = Math.hypot(...Array.from({ length: c }, (_, k) => t[at(k)]!));
        for (let k = 0; k < c; k++) t[at(k)] = t[at(k)]! / len;
      }
    return { t: Array.from(t), m: mask01(g, n * s) };
  }

  const cases: { kind: 'l1' | 'cosine'; x: number[]; masked: boolean; red: Red }[] = [
    { kind: 'l1', x: [2, 3, 3, 5], masked: true, red: 'mean' },
    { kind: 'cosine', x: [2, 3, 3, 5], masked: true, red: 'mean' },
    { kind: 'cosine', x: [1, 3, 4, 3], masked: false, red: 'mean' },
    { kind: 'cosine', x: [2, 3, 2, 3], masked: true, red: 'none' },
    { kind: 'l1', x: [1, 3, 5, 1], masked: false, red: 'sum' },
  ];

  it.each(cases)('matches the reference and finite differences: %j', async (c) => {
    const g = new w.Generator(21);
    const { t, m } = normals(g, c.x);
    const pix = [c.x[0]!, 1, ...c.x.slice(2)];
    const target = w.fromArray(t, c.x);
    const mask = c.masked ? w.fromArray(m, pix) : null;
    await checkOp({
      inputs: [{ shape: c.x, range: [0.3, 2] }],
      fn: (x) => w.normalLoss(x!, target, { mask, kind: c.kind, reduction: c.red }),
      ref: (x) => RL.normalLoss(x!, ND.from(t, c.x), c.masked ? ND.from(m, pix) : null, c.kind, c.red),
      gradOpts: { ...GRAD, eps: 1e-3 },
    });
    target.dispose();
    mask?.dispose();
  });

  it('rejects a mask that does not broadcast to [N, 1, H, W]', () => {
    const x = w.ones([2, 3, 4, 4]);
    expect(() => w.normalLoss(x, x, { kind: 'cosine', mask: w.ones([2, 3, 4, 4]) })).toThrow(w.ShapeError);
    expect(() => w.normalLoss(x, x, { kind: 'l1', mask: w.ones([2, 4, 3]) })).toThrow(w.ShapeError);
    expect(() => w.normalLoss(x, w.ones([2, 3, 4]), { kind: 'l1' })).toThrow(w.ShapeError);
  });
});

describe.each(devices())('losses on random shapes on %s', () => {
  it.each(Array.from({ length: 12 }, (_, i) => i))('seed %i: every loss matches its reference and finite differences', async (seed) => {
    const g = new w.Generator(200 + seed);
    const shape = randomShape(g, 2 + Math.floor(g.next() * 3));
    const n = size(shape);
    const red = (['mean', 'sum', 'none'] as const)[Math.floor(g.next() * 3)]!;
    // 'sum' over a few hundred elements makes the f32 objective large: allow for its rounding.
    const opts = { gradOpts: { maxProbes: 6, atol: 5e-3 }, seed };
    const pix = [shape[0]!, ...shape.slice(2)];
    const th = labels(g, size(pix), shape[1]!);
    const target = w.fromArray(th, pix, { dtype: 'i32' });
    await checkOp({ ...opts, inputs: [shape], fn: (x) => w.crossEntropy(x!, target, { reduction: red }), ref: (x) => RL.crossEntropy(x!, th, { reduction: red }) });
    target.dispose();
    // A mask broadcast over the channel dim (dim 1).
    const mshape = [shape[0]!, 1, ...shape.slice(2)];
    const mh = mask01(g, size(mshape));
    const mask = w.fromArray(mh, mshape);
    const vals = [
      { shape, values: gridValues(g, n) },
      { shape, values: gridValues(g, n, { offset: 0.5 }) },
    ];
    for (const kind of ['l1', 'mse'] as const) {
      await checkOp({
        ...opts,
        inputs: vals,
        fn: (x, t) => (kind === 'l1' ? w.l1Loss : w.mseLoss)(x!, t!, { mask, reduction: red }),
        ref: (x, t) => RL.regression(kind, x!, t!, ND.from(mh, mshape), red),
      });
    }
    await checkOp({
      ...opts,
      inputs: [shape, { shape, values: g.uniform(n, 0, 1) }],
      fn: (x, t) => w.bceWithLogits(x!, t!, { weight: mask, reduction: red }),
      ref: (x, t) => RL.bceWithLogits(x!, t!, { weight: ND.from(mh, mshape), reduction: red }),
    });
    mask.dispose();
  });
});

describe.each(devices())('loss memory on %s', () => {
  it('frees every temporary, with and without a recorded graph', async () => {
    const live = () => w.runtime().memory().live;
    const x = w.randn([2, 3, 4, 5], { seed: 1, requiresGrad: true });
    const t = w.randn([2, 3, 4, 5], { seed: 2, requiresGrad: true });
    const labels = w.randint([2, 4, 5], 0, 3, { seed: 3 });
    const cw = w.ones([3]);
    const mask = w.ones([2, 1, 4, 5]);
    const pw = w.ones([3, 1, 1]);
    const ops: (() => w.Tensor)[] = [
      () => w.crossEntropy(x, labels, { weight: cw }),
      () => w.crossEntropy(x, labels, { reduction: 'none' }),
      () => w.l1Loss(x, t, { mask }),
      () => w.mseLoss(x, t, { mask, reduction: 'sum' }),
      () => w.bceWithLogits(x, t, { posWeight: pw, weight: mask }),
      () => w.normalLoss(x, t, { kind: 'l1', mask }),
      () => w.normalLoss(x, t, { kind: 'cosine', mask }),
      () => w.normalLoss(x, t, { kind: 'cosine' }),
    ];
    await w.runtime().sync();
    const before = live();
    for (const f of ops) {
      w.tidy(() => {
        const y = f();
        w.backward(y.size === 1 ? y : w.sum(y));
      });
      for (const v of [x, t]) {
        v.grad?.dispose();
        v.grad = null;
      }
      w.noGrad(f).dispose();
      await w.runtime().sync();
      expect(live(), 'live buffers').toBe(before);
    }
    for (const v of [x, t, labels, cw, mask, pw]) v.dispose();
  });
});

describe.each(devices())('loss fixtures from PyTorch on %s', () => {
  const cases = loadFixtures('losses').filter((c) => c.op !== 'l2_normalize'); // l2_normalize: norm.test.ts
  it.each(cases.map((c) => [c.name, c] as const))('%s', async (_name, c) => {
    const ins: Record<string, w.Tensor> = {};
    for (const [name, f] of Object.entries(c.inputs)) {
      ins[name] = w.fromArray(f.data, f.shape, { requiresGrad: name in c.grads, dtype: f.dtype === 'int32' ? 'i32' : 'f32' });
    }
    const red = (c.params.reduction ?? 'mean') as Red;
    const { x, target, mask, weight, pos_weight: pw } = ins;
    const y = (() => {
      switch (c.op) {
        case 'cross_entropy':
          return w.crossEntropy(x!, target!, { ignoreIndex: c.params.ignore_index as number, weight, reduction: red });
        case 'l1_loss_masked':
        case 'l1_loss':
          return w.l1Loss(x!, target!, { mask, reduction: red });
        case 'mse_loss_masked':
        case 'mse_loss':
          return w.mseLoss(x!, target!, { mask, reduction: red });
        case 'binary_cross_entropy_with_logits':
          return w.bceWithLogits(x!, target!, { posWeight: pw, reduction: red });
        case 'normal_loss_l1':
          return w.normalLoss(x!, target!, { mask, kind: 'l1' });
        case 'normal_loss_cos':
          return w.normalLoss(x!, target!, { mask, kind: 'cosine' });
        default:
          throw new Error(`unknown fixture op ${c.op}`);
      }
    })();
    expect([...y.shape]).toEqual(c.output.shape);
    expect(relErr(await y.data(), c.output.data), 'output').toBeLessThan(FIXTURE_TOLERANCE);
    const [gx] = w.grad(y, [x!], { gradOutputs: [w.fromArray(c.grad_output.data, c.grad_output.shape)] });
    expect(relErr(await gx!.data(), c.grads.x!.data), 'grad x').toBeLessThan(FIXTURE_TOLERANCE);
  });
});
