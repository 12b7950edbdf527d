// batchNorm2d's fused epilogue y = relu(bn(x) + residual), its in-pass step counter, the eval pass
// that reads the running statistics itself, and foldBatchNorm2d: against the float64 reference and
// finite differences, against the unfused composition relu(add(batchNorm2d(x), r)) (values, every
// gradient, running statistics) on both kernel paths (rows of 4k elements take the vec4 kernels),
// with the ReLU mask folded into the gradient passes and as a separate pass, and by counting
// dispatches so that each test fails when the fused path does not run.
import { describe, expect, it } from 'vitest';
import * as w from '../../src/index.js';
import { checkOp, expectClose, makeInputs } from '../helpers/check-op.js';
import { devices } from '../helpers/devices.js';
import { dispatched } from '../helpers/dispatched.js';
import { ND } from '../reference/ndarray.js';
import * as RN from '../reference/norm.js';

const GRAD = { maxProbes: 10 };
// A step of 1e-2 moves many outputs of a channel across the ReLU's kink when it perturbs a weight or
// bias (every output of the channel shifts); 1e-3 keeps those crossings rare.
const GRAD_RELU = { maxProbes: 10, eps: 1e-3 };


/** relu?(bn(x) + r?) in float64. */
function refFused(x: ND, wt: ND | null, b: ND | null, r: ND | null, relu: boolean, o: Parameters<typeof RN.batchNorm>[3]): ND {
  const y = RN.batchNorm(x, wt, b, o).y;
  const data = y.data.map((v, i) => {
    const z = v + (r ? r.data[i]! : 0);
    return relu ? Math.max(z, 0) : z;
  });
  return ND.from(data, y.shape);
}

interface Case {
  x: [number, number, number, number];
  w: boolean;
  b: boolean;
  r: boolean;
  relu: boolean;
}

// H*W of 4k takes the vec4 kernels, the others the scalar ones.
const CASES: Case[] = [
  { x: [2, 3, 5, 7], w: true, b: true, r: true, relu: true }, // scalar
  { x: [3, 5, 4, 6], w: true, b: true, r: true, relu: true }, // vec4
  { x: [2, 3, 3, 3], w: false, b: false, r: true, relu: true }, // scalar, no affine
  { x: [2, 2, 4, 4], w: true, b: false, r: false, relu: true }, // vec4, no residual
  { x: [3, 4, 1, 3], w: false, b: true, r: true, relu: false }, // scalar, residual only
  { x: [4, 2, 16, 12], w: true, b: true, r: true, relu: true }, // vec4, split reduction
];

const label = (c: Case) => `${c.x.join('x')} w=${c.w} b=${c.b} r=${c.r} relu=${c.relu}`;

/** The case's inputs as checkOp specs, and a function from the input list to (x, w, b, r). */
function specs(c: Case) {
  const ch = c.x[1];
  const list = [c.x, ...(c.w ? [{ shape: [ch], range: [0.5, 1.5] as [number, number] }] : []), ...(c.b ? [[ch]] : []), ...(c.r ? [c.x] : [])];
  const pick = <T>(xs: T[]) => {
    let i = 1;
    const wt = c.w ? xs[i++]! : null;
    const b = c.b ? xs[i++]! : null;
    const r = c.r ? xs[i++]! : null;
    return { x: xs[0]!, wt, b, r };
  };
  return { list, pick };
}

describe.each(devices())('fused batch norm on %s', (dev) => {
  // Kernel paths are chosen through dev.runtime.withKernelOptions, which restores the defaults
  // after each call (also when it fails), so no test leaves a path switched for the next.

  it.each(CASES.map((c) => [label(c), c] as const))('training mode matches the reference and finite differences: %s', async (_l, c) => {
    const { list, pick } = specs(c);
    const act = c.relu ? ('relu' as const) : ('none' as const);
    await checkOp({
      inputs: list,
      fn: (...ts) => {
        const { x, wt, b, r } = pick(ts);
        return w.batchNorm2d(x, wt, b, { training: true, activation: act, residual: r });
      },
      ref: (...hs) => {
        const { x, wt, b, r } = pick(hs);
        return refFused(x, wt, b, r, c.relu, { training: true });
      },
      atol: 2e-5,
      gradOpts: c.relu ? GRAD_RELU : GRAD,
    });
  });

  it.each(CASES.slice(0, 2).map((c) => [label(c), c] as const))('eval mode matches the reference and finite differences: %s', async (_l, c) => {
    const ch = c.x[1];
    const [rmH, rvH] = makeInputs([{ shape: [ch], range: [-0.5, 0.5] }, { shape: [ch], range: [0.5, 2] }], 9);
    const rm = w.fromArray(rmH!.data, [ch]);
    const rv = w.fromArray(rvH!.data, [ch]);
    const { list, pick } = specs(c);
    await checkOp({
      inputs: list,
      fn: (...ts) => {
        const { x, wt, b, r } = pick(ts);
        return w.batchNorm2d(x, wt, b, { runningMean: rm, runningVar: rv, activation: 'relu', residual: r });
      },
      ref: (...hs) => {
        const { x, wt, b, r } = pick(hs);
        return refFused(x, wt, b, r, true, { training: false, runningMean: [...rmH!.data], runningVar: [...rvH!.data] });
      },
      gradOpts: GRAD_RELU,
    });
    rm.dispose();
    rv.dispose();
  });

  // The unfused composition on the same inputs, run with the same kernels: values, gradients and
  // running statistics must agree to rounding, on both kernel paths and both mask placements.
  const paths = [
    { vec4: true, foldMask: true },
    { vec4: true, foldMask: false },
    { vec4: false, foldMask: true },
    { vec4: false, foldMask: false },
  ];
  it.each(paths.flatMap((p) => [[2, 5, 5, 3] as const, [3, 4, 4, 8] as const].map((s) => [JSON.stringify(p), [...s], p] as const)))(
    'equals relu(add(batchNorm2d(x), r)) in value, every gradient and the running statistics: %s %j',
    async (_l, shape, p) => {
      const c = shape[1]!;
      const [xh, rh, gh, wh, bh] = makeInputs([shape, shape, shape, { shape: [c], range: [0.5, 1.5] }, [c]], 11);
      const run = (fused: boolean) => dev.runtime.withKernelOptions({ normVec4: p.vec4, normFoldMask: p.foldMask }, async () => {
        const leaf = (h: ND) => w.requireGrad(w.fromArray(h.data, h.shape));
        const [x, r, wt, b] = [leaf(xh!), leaf(rh!), leaf(wh!), leaf(bh!)];
        const rm = w.zeros([c]);
        const rv = w.ones([c]);
        const opts = { training: true, runningMean: rm, runningVar: rv, momentum: 0.2 };
        const { out: y, entries } = dispatched(() =>
          fused
            ? w.batchNorm2d(x, wt, b, { ...opts, activation: 'relu', residual: r })
            : w.relu(w.add(w.batchNorm2d(x, wt, b, opts), r)),
        );
        const gy = w.fromArray(gh!.data, shape);
        const back = dispatched(() => w.backward(y, gy));
        const out = await Promise.all([y, x.grad!, wt.grad!, b.grad!, r.grad!, rm, rv].map((t) => t.data()));
        for (const t of [x, r, wt, b, rm, rv, y, gy]) t.dispose();
        return { out, forward: entries, backward: back.entries };
      });
      const f = await run(true);
      const u = await run(false);
      ['y', 'dx', 'dw', 'db', 'dr', 'runningMean', 'runningVar'].forEach((n, i) => expectClose(f.out[i]!, u.out[i]!, 1e-5, 1e-4, n));
      // Forward: statistics, their merge (with the running update) and one apply pass, no add or relu.
      const v4 = p.vec4 && (shape[2]! * shape[3]!) % 4 === 0;
      expect(f.forward).toEqual([v4 ? 'stats_partial4' : 'stats_partial', 'stats_running', v4 ? 'apply4' : 'apply']);
      expect(u.forward.length).toBe(5);
      // Backward: sums, fold and the dx pass that also writes dr; the unfolded mask costs one pass.
      expect(f.backward.length).toBe(p.foldMask ? 3 : 4);
      expect(u.backward.length).toBe(6);
      // Some mask entries are zero: the ReLU really clipped.
      expect(f.out[4]!.some((v) => v === 0)).toBe(true);
    },
  );

  it('returns gradients for only the inputs asked for (residual alone, x alone)', async () => {
    const shape = [2, 3, 4, 4];
    const [xh, rh, gh] = makeInputs([shape, shape, shape], 5);
    const leaf = (h: ND) => w.requireGrad(w.fromArray(h.data, shape));
    const [x, r, xu, ru] = [leaf(xh!), leaf(rh!), leaf(xh!), leaf(rh!)];
    const gy = w.fromArray(gh!.data, shape);
    const y = w.batchNorm2d(x, null, null, { training: true, activation: 'relu', residual: r });
    const u = w.relu(w.add(w.batchNorm2d(xu, null, null, { training: true }), ru));
    const onlyR = dispatched(() => w.grad(y, [r], { gradOutputs: [gy], retainGraph: true }));
    const [dx] = w.grad(y, [x], { gradOutputs: [gy] });
    const [udx, udr] = w.grad(u, [xu, ru], { gradOutputs: [gy] });
    // The residual alone needs no batch-norm pass: one masking pass.
    expect(onlyR.entries.length).toBe(1);
    const yv = await y.data();
    const want = gh!.data.map((g, i) => (yv[i]! > 0 ? g : 0));
    expectClose(await onlyR.out[0]!.data(), want, 0, 0, 'dr');
    expectClose(await udr!.data(), want, 0, 0, 'unfused dr');
    expectClose(await dx!.data(), await udx!.data(), 1e-6, 1e-5, 'dx');
    for (const t of [x, r, xu, ru, gy, y, u, onlyR.out[0]!, dx!, udx!, udr!]) t.dispose();
  });

  it('counts num_batches_tracked in the statistics pass (training only)', async () => {
    const x = w.randn([2, 3, 4, 4], { seed: 1 });
    const rm = w.zeros([3]);
    const rv = w.ones([3]);
    const n = w.zeros([], { dtype: 'i32' });
    const o = { runningMean: rm, runningVar: rv, numBatchesTracked: n };
    const a = dispatched(() => w.batchNorm2d(x, null, null, { ...o, training: true }));
    const b = w.batchNorm2d(x, null, null, { ...o, training: true });
    const e = w.batchNorm2d(x, null, null, { ...o, training: false });
    expect(a.entries).toEqual(['stats_partial4', 'stats_running', 'apply4']);
    expect([...(await n.data())]).toEqual([2]);
    // Without running statistics the counter gets its own dispatch.
    const c = w.batchNorm2d(x, null, null, { training: true, numBatchesTracked: n });
    expect([...(await n.data())]).toEqual([3]);
    for (const t of [x, rm, rv, n, a.out, b, e, c]) t.dispose();
  });

  it('reads the running statistics in the eval apply pass when nothing records a graph', async () => {
    const shape = [2, 4, 3, 5];
    const [xh, rmH, rvH, rh] = makeInputs([shape, { shape: [4], range: [-0.5, 0.5] }, { shape: [4], range: [0.5, 2] }, shape], 3);
    const x = w.fromArray(xh!.data, shape);
    const r = w.fromArray(rh!.data, shape);
    const [wt, b] = [w.full([4], 1.5, { requiresGrad: true }), w.full([4], -0.25)];
    const rm = w.fromArray(rmH!.data, [4]);
    const rv = w.fromArray(rvH!.data, [4]);
    const o = { runningMean: rm, runningVar: rv, activation: 'relu' as const, residual: r };
    const inline = dispatched(() => w.noGrad(() => w.batchNorm2d(x, wt, b, o)));
    const graph = dispatched(() => w.batchNorm2d(x, wt, b, o));
    const separate = dev.runtime.withKernelOptions({ normEvalInline: false }, () => dispatched(() => w.noGrad(() => w.batchNorm2d(x, wt, b, o))));
    expect(inline.entries).toEqual(['apply']);
    expect(graph.entries).toEqual(['eval_stats', 'apply']);
    expect(separate.entries).toEqual(['eval_stats', 'apply']);
    const want = refFused(ND.from(xh!.data, shape), ND.from([1.5, 1.5, 1.5, 1.5], [4]), ND.from([-0.25, -0.25, -0.25, -0.25], [4]), ND.from(rh!.data, shape), true, {
      training: false,
      runningMean: [...rmH!.data],
      runningVar: [...rvH!.data],
    });
    for (const y of [inline.out, graph.out, separate.out]) expectClose(await y.data(), want.data, 1e-5, 1e-4, 'y');
    for (const t of [x, r, wt, b, rm, rv, inline.out, graph.out, separate.out]) t.dispose();
  });

  it('rejects a residual of another shape, an unknown activation and a bad counter with typed errors', () => {
    const x = w.zeros([2, 3, 4, 4]);
    const bad = w.zeros([2, 3, 4, 5]);
    const f64ish = w.zeros([]);
    expect(() => w.batchNorm2d(x, null, null, { training: true, residual: bad })).toThrow(w.ShapeError);
    expect(() => w.batchNorm2d(x, null, null, { training: true, residual: bad })).toThrow(/residual must have the input's shape \[2,3,4,4\]/);
    expect(() => w.batchNorm2d(x, null, null, { training: true, activation: 'gelu' as 'relu' })).toThrow(w.ArgumentError);
    expect(() => w.batchNorm2d(x, null, null, { training: true, numBatchesTracked: f64ish })).toThrow(w.ArgumentError);
    for (const t of [x, bad, f64ish]) t.dispose();
  });

  it.each([
    { o: 6, c: 4, k: 3, cb: true, affine: true }, // 36 weights per channel: vec4 fold
    { o: 5, c: 3, k: 1, cb: false, affine: false }, // 3 per channel: scalar fold
  ])('foldBatchNorm2d gives the conv that equals conv + eval batch norm: %j', async (c) => {
    const [xh, wh, cbh, gh, bh, rmH, rvH] = makeInputs(
      [[2, c.c, 7, 6], [c.o, c.c, c.k, c.k], [c.o], { shape: [c.o], range: [0.5, 1.5] }, [c.o], { shape: [c.o], range: [-0.5, 0.5] }, { shape: [c.o], range: [0.5, 2] }],
      21,
    );
    const t = (h: ND) => w.fromArray(h.data, h.shape);
    const [x, cw, cb, g, b, rm, rv] = [xh!, wh!, cbh!, gh!, bh!, rmH!, rvH!].map(t) as [w.Tensor, w.Tensor, w.Tensor, w.Tensor, w.Tensor, w.Tensor, w.Tensor];
    const bn = { weight: c.affine ? g : null, bias: c.affine ? b : null, runningMean: rm, runningVar: rv, eps: 1e-3 };
    const conv = { padding: 1 };
    const { out: f, entries } = dispatched(() => w.foldBatchNorm2d(cw, c.cb ? cb : null, bn));
    expect(entries).toEqual([c.k === 3 ? 'fold_conv4' : 'fold_conv']);
    const y = w.conv2d(x, f.weight, f.bias, { ...conv, activation: 'relu' });
    const want = w.relu(w.batchNorm2d(w.conv2d(x, cw, c.cb ? cb : null, conv), bn.weight, bn.bias, { runningMean: rm, runningVar: rv, eps: 1e-3 }));
    expectClose(await y.data(), await want.data(), 1e-5, 1e-4, 'folded conv');
    const wrong = w.zeros([c.o + 1]);
    expect(() => w.foldBatchNorm2d(cw, null, { ...bn, runningMean: wrong })).toThrow(w.ShapeError);
    for (const z of [x, cw, cb, g, b, rm, rv, f.weight, f.bias, y, want, wrong]) z.dispose();
  });
});
