/**
 * Ops on tensors larger than one binding. Under vitest.split.config.ts the runtime's binding limit is
 * 64 KiB (WEBMTL_MAX_BINDING), so every case here crosses it: odd sizes, split points that are not
 * multiples of the 256-byte offset alignment, and single samples larger than the limit. Each op is
 * compared with the float64 references and finite differences, as in the op's own suite. In the main
 * run the same cases take the unsplit path and must agree with the same references.
 */
import { describe, expect, it } from 'vitest';
import * as w from '../../src/index.js';
import { checkOp, expectClose, makeInputs } from '../helpers/check-op.js';
import { devices } from '../helpers/devices.js';
import * as RC from '../reference/conv.js';
import * as RP from '../reference/pool.js';
import * as R from '../reference/ndarray.js';
import * as RN from '../reference/norm.js';
import * as RL from '../reference/losses.js';
import { dropoutKeepMask } from '../nn/dropout-ref.js';
import { refAdam, refNorm, refSgd, type RefAdamState } from '../optim/reference.js';

const probes = { maxProbes: 6 };

describe.each(devices())('ops past the binding limit on %s', () => {
  it('the runtime reports the limit it was given', () => {
    const env = process.env.WEBMTL_MAX_BINDING;
    const rt = w.runtime();
    if (env) expect(rt.maxBindingBytes).toBe(Number(env));
    else expect(rt.maxBindingBytes).toBe(rt.limits.maxStorageBufferBindingSize);
  });

  it('unary, binary (same shape and broadcast) and where on odd sizes', async () => {
    await checkOp({ inputs: [[3, 7001]], fn: (x) => w.tanh(x!), ref: (x) => R.map(x, Math.tanh), gradOpts: probes });
    await checkOp({ inputs: [[3, 7001], [3, 7001]], fn: (a, b) => w.mul(a!, b!), ref: (a, b) => R.map2(a, b, (u, v) => u * v), gradOpts: probes });
    // Broadcast along the leading axis and inside one sample larger than the limit.
    await checkOp({ inputs: [[5, 3, 1501], [3, 1]], fn: (a, b) => w.add(a!, b!), ref: (a, b) => R.map2(a, b, (u, v) => u + v), gradOpts: probes });
    await checkOp({ inputs: [[1, 5, 4099], [5, 1]], fn: (a, b) => w.sub(a!, b!), ref: (a, b) => R.map2(a, b, (u, v) => u - v), gradOpts: probes });
    await checkOp({
      inputs: [[2, 9001], [9001], [2, 1]],
      fn: (c, a, b) => w.where(c!, a!, b!),
      ref: (c, a, b) => R.map3(c, a, b, (x, u, v) => (x !== 0 ? u : v)),
      grad: false,
    });
  });

  it('fill and cast', async () => {
    const z = w.full([3, 7001], 2.5);
    const d = await z.data();
    expect(d.length).toBe(21003);
    expect(d.every((v) => v === 2.5)).toBe(true);
    const i = w.cast(w.affine(z, 2), 'i32');
    expect((await i.data()).every((v) => v === 5)).toBe(true);
    z.dispose();
    i.dispose();
  });

  it.each([
    { shape: [6, 4001], axes: [0] },
    { shape: [6, 4001], axes: [1] },
    { shape: [3, 5, 37, 41], axes: [0, 2, 3] },
    { shape: [1, 7, 53, 59], axes: [1] },
    { shape: [2, 3, 4099], axes: [0, 1, 2] },
  ])('sum, mean, max and variance of $shape over $axes', async ({ shape, axes }) => {
    await checkOp({ inputs: [shape], fn: (x) => w.sum(x!, axes), ref: (x) => R.sum(x, axes), gradOpts: probes, atol: 1e-3 });
    await checkOp({ inputs: [shape], fn: (x) => w.mean(x!, axes, true), ref: (x) => R.mean(x, axes, true), grad: false });
    await checkOp({ inputs: [shape], fn: (x) => w.max(x!, axes), ref: (x) => R.amax(x, axes), grad: false });
    await checkOp({ inputs: [shape], fn: (x) => w.variance(x!, axes), ref: (x) => R.variance(x, axes, 1), grad: false, atol: 1e-4 });
  });

  it.each([
    // One image (5 x 61 x 67 = 20435 floats) larger than the limit: row tiles with their halo.
    { x: [2, 5, 61, 67], o: 4, k: 3, stride: 1, pad: 1 },
    { x: [1, 3, 75, 77], o: 3, k: 5, stride: 2, pad: 2 },
    // A weight (48 x 40 x 3 x 3 = 17280 floats) larger than the limit: output-channel blocks.
    { x: [3, 40, 9, 9], o: 48, k: 3, stride: 2, pad: 1 },
    // Batch chunks at split points that are not multiples of 256 bytes (2 x 13 x 13 = 338 floats a plane).
    { x: [7, 26, 13, 13], o: 30, k: 3, stride: 1, pad: 1 },
  ])('conv2d forward and both gradients: $x, o $o, k $k, stride $stride', async (c) => {
    const pad = [c.pad, c.pad, c.pad, c.pad] as [number, number, number, number];
    await checkOp({
      inputs: [c.x, [c.o, c.x[1]!, c.k, c.k], [c.o]],
      fn: (x, wt, b) => w.conv2d(x!, wt!, b!, { stride: c.stride, padding: c.pad }),
      ref: (x, wt, b) => RC.conv2d(x!, wt!, b!, { stride: [c.stride, c.stride], pad }),
      gradOpts: probes,
      atol: 1e-4,
    });
  });

  it('conv2d with a fused residual and ReLU over row tiles', async () => {
    await checkOp({
      inputs: [[1, 4, 70, 71], [6, 4, 3, 3], [6], [1, 6, 70, 71]],
      fn: (x, wt, b, r) => w.conv2d(x!, wt!, b!, { padding: 1, residual: r!, activation: 'relu' }),
      ref: (x, wt, b, r) => {
        const y = RC.conv2d(x!, wt!, b!, { pad: [1, 1, 1, 1] });
        return R.map(new R.ND(y.shape, y.data.map((v, i) => v + r!.data[i]!)), (v) => Math.max(v, 0));
      },
      // Forward only: central differences over ~5000 pixels straddle the ReLU kink (the unsplit run
      // disagrees as much); the gradients of the tiles are checked by the cases above.
      grad: false,
      atol: 1e-4,
    });
  });

  it('convTranspose2d with an output larger than the limit', async () => {
    const o = { stride: [2, 2] as [number, number], padding: [1, 1] as [number, number] };
    await checkOp({
      inputs: [[2, 8, 30, 33], [8, 6, 4, 4], [6]],
      fn: (x, wt, b) => w.convTranspose2d(x!, wt!, b!, o),
      ref: (x, wt, b) => RC.convTranspose2d(x!, wt!, b!, o),
      gradOpts: { maxProbes: 6, atol: 1e-2 },
      atol: 1e-4,
    });
  });

  it.each([
    // Planes of 61 x 67 (4087 floats): chunks of planes at unaligned offsets.
    { shape: [3, 5, 61, 67] },
    // Upsampled planes of 90 x 182 = 16380 floats: one plane a chunk, just under the limit.
    { shape: [2, 3, 45, 91] },
    // Planes (150 x 131 = 19650 floats) larger than the limit: row tiles of one plane.
    { shape: [2, 1, 150, 131] },
  ])('max and average pooling and resizing of $shape', async ({ shape }) => {
    const pool = { kernel: [3, 3] as [number, number], stride: [2, 2] as [number, number], padding: [1, 1] as [number, number] };
    await checkOp({
      inputs: [{ shape, values: distinct(shape) }],
      fn: (x) => w.maxPool2d(x!, { kernelSize: 3, stride: 2, padding: 1 }),
      ref: (x) => RP.maxPool2d(x!, pool).y,
      gradOpts: probes,
    });
    await checkOp({ inputs: [shape], fn: (x) => w.avgPool2d(x!, { kernelSize: 3, stride: 2, padding: 1 }), ref: (x) => RP.avgPool2d(x!, pool), gradOpts: probes });
    await checkOp({ inputs: [shape], fn: (x) => w.adaptiveAvgPool2d(x!, [7, 9]), ref: (x) => RP.adaptiveAvgPool2d(x!, [7, 9]), gradOpts: probes });
    const up = { mode: 'bilinear' as const, scaleFactor: [2, 2] as [number, number] };
    await checkOp({ inputs: [shape], fn: (x) => w.interpolate(x!, up), ref: (x) => RP.interpolate(x!, up), gradOpts: probes });
    const down = { mode: 'nearest' as const, size: [17, 23] as [number, number] };
    await checkOp({ inputs: [shape], fn: (x) => w.interpolate(x!, down), ref: (x) => RP.interpolate(x!, down), gradOpts: probes });
  });

  it.each([
    // Batch chunks (4669 floats a sample), and one sample (9 x 41 x 47 = 17343) larger than the limit.
    { shape: [5, 7, 23, 29] },
    { shape: [2, 9, 41, 47] },
  ])('batchNorm2d in training mode, its running statistics and gradients: $shape', async ({ shape }) => {
    const c = shape[1]!;
    const [rmH, rvH] = makeInputs([{ shape: [c], range: [-0.5, 0.5] }, { shape: [c], range: [0.5, 2] }], 9);
    const rm = w.fromArray(rmH!.data, [c]);
    const rv = w.fromArray(rvH!.data, [c]);
    const [xh] = makeInputs([shape], 5);
    const want = RN.batchNorm(xh!, null, null, { runningMean: [...rmH!.data], runningVar: [...rvH!.data], training: true, momentum: 0.3 });
    const x = w.fromArray(xh!.data, shape);
    const y = w.batchNorm2d(x, null, null, { runningMean: rm, runningVar: rv, training: true, momentum: 0.3 });
    expectClose(await y.data(), want.y.data, 2e-5, 1e-4, 'y');
    expectClose(await rm.data(), want.runningMean!, 1e-5, 1e-4, 'runningMean');
    expectClose(await rv.data(), want.runningVar!, 1e-5, 1e-4, 'runningVar');
    [x, y, rm, rv].forEach((t) => t.dispose());
    await checkOp({
      inputs: [shape, { shape: [c], range: [0.5, 1.5] }, [c]],
      fn: (x, wt, b) => w.batchNorm2d(x!, wt!, b!, { training: true }),
      ref: (x, wt, b) => RN.batchNorm(x!, wt!, b!, { training: true }).y,
      atol: 2e-5,
      gradOpts: probes,
    });
    // The fused epilogue (residual and ReLU) and eval mode over the same chunks.
    await checkOp({
      inputs: [shape, [c], [c], shape],
      fn: (x, wt, b, r) => w.batchNorm2d(x!, wt!, b!, { training: true, residual: r!, activation: 'relu' }),
      ref: (x, wt, b, r) => {
        const z = RN.batchNorm(x!, wt!, b!, { training: true }).y;
        return R.map(new R.ND(z.shape, z.data.map((v, i) => v + r!.data[i]!)), (v) => Math.max(v, 0));
      },
      atol: 2e-5,
      grad: false,
    });
    const evalOpts = { runningMean: [...rmH!.data], runningVar: [...rvH!.data], training: false };
    await checkOp({
      inputs: [shape, [c], [c]],
      fn: (x, wt, b) => w.batchNorm2d(x!, wt!, b!, { ...evalOpts, runningMean: w.fromArray(rmH!.data, [c]), runningVar: w.fromArray(rvH!.data, [c]) }),
      ref: (x, wt, b) => RN.batchNorm(x!, wt!, b!, evalOpts).y,
      gradOpts: probes,
    });
  });

  it('batchNorm2d statistics of a tensor 25 times the limit: the merged partials still fit one binding', async () => {
    await checkOp({
      inputs: [[40, 4, 40, 64]],
      fn: (x) => w.batchNorm2d(x!, null, null, { training: true }),
      ref: (x) => RN.batchNorm(x!, null, null, { training: true }).y,
      atol: 2e-5,
      grad: false,
    });
  });

  it('groupNorm and layerNorm past the limit', async () => {
    await checkOp({
      inputs: [[2, 8, 37, 31], [8], [8]],
      fn: (x, wt, b) => w.groupNorm(x!, 4, wt!, b!),
      ref: (x, wt, b) => RN.groupNorm(x!, 4, wt!, b!),
      atol: 2e-5,
      gradOpts: probes,
    });
    await checkOp({
      inputs: [[3, 7001], [7001], [7001]],
      fn: (x, wt, b) => w.layerNorm(x!, 7001, wt!, b!),
      ref: (x, wt, b) => RN.layerNorm(x!, [7001], wt!, b!),
      atol: 2e-5,
      gradOpts: probes,
    });
  });

  it.each([
    // Whole images (3 x 61 x 67 logits = 12261 floats) a tile, and pixel ranges of one image (6 x 3001).
    { x: [3, 3, 61, 67], red: 'mean' as const },
    { x: [2, 6, 3001], red: 'none' as const },
  ])('crossEntropy (weighted, ignored labels) and normalLoss over pixel tiles: $x', async ({ x, red }) => {
    const g = new w.Generator(11);
    const ch = x[1]!;
    const pix = [x[0]!, ...x.slice(2)];
    const np = pix.reduce((a, b) => a * b, 1);
    const th = Array.from(g.uniform(np, 0, 1), (u, i) => (i % 7 === 3 ? 255 : Math.floor(u * ch)));
    const target = w.fromArray(th, pix, { dtype: 'i32' });
    const wh = g.uniform(ch, 0.5, 2);
    const weight = w.fromArray(wh, [ch]);
    await checkOp({
      inputs: [x],
      fn: (l) => w.crossEntropy(l!, target, { weight, reduction: red }),
      ref: (l) => RL.crossEntropy(l!, th, { weight: wh, reduction: red }),
      gradOpts: probes,
      atol: 1e-4,
    });
    [target, weight].forEach((t) => t.dispose());
    if (ch !== 3) return;
    const th3 = Array.from(g.uniform(np * 3, -1, 1));
    const mh = Array.from(g.uniform(np, 0, 1), (u) => (u < 0.3 ? 0 : 1));
    const tn = w.fromArray(th3, x);
    const mask = w.fromArray(mh, [x[0]!, 1, ...x.slice(2)]);
    await checkOp({
      inputs: [{ shape: x, range: [0.3, 2] }],
      fn: (p) => w.normalLoss(p!, tn, { mask, kind: 'cosine', reduction: red }),
      ref: (p) => RL.normalLoss(p!, R.ND.from(th3, x), R.ND.from(mh, [x[0]!, 1, ...x.slice(2)]), 'cosine', red),
      gradOpts: { ...probes, eps: 1e-3 },
      atol: 1e-4,
    });
    [tn, mask].forEach((t) => t.dispose());
  });

  it('l1, mse and BCE losses with broadcast masks and weights in flat chunks', async () => {
    const g = new w.Generator(5);
    const shape = [2, 3, 55, 61];
    const mh = Array.from(g.uniform(2 * 55 * 61, 0, 1), (u) => (u < 0.3 ? 0 : 1));
    const mask = w.fromArray(mh, [2, 1, 55, 61]);
    const mnd = R.ND.from(mh, [2, 1, 55, 61]);
    const n = 2 * 3 * 55 * 61;
    // Offset grids keep |pred - target| >= 0.05: finite differences never cross l1's kink.
    const grid = (off: number) => Array.from({ length: n }, (_, i) => ((i * 37) % 101) / 25 - 2 + off);
    for (const [kind, fn] of [['l1', w.l1Loss], ['mse', w.mseLoss]] as const) {
      await checkOp({
        inputs: [{ shape, values: grid(0) }, { shape, values: grid(0.5) }],
        fn: (x, t) => fn(x!, t!, { mask, reduction: 'mean' }),
        ref: (x, t) => RL.regression(kind, x!, t!, mnd, 'mean'),
        gradOpts: probes,
      });
    }
    const wh = g.uniform(3, 0.5, 2);
    const wt = w.fromArray(wh, [1, 3, 1, 1]);
    await checkOp({
      inputs: [shape, { shape, range: [0, 1] }],
      fn: (x, t) => w.bceWithLogits(x!, t!, { weight: wt, posWeight: 2, reduction: 'mean' }),
      ref: (x, t) => RL.bceWithLogits(x!, t!, { weight: R.ND.from(wh, [1, 3, 1, 1]), posWeight: 2, reduction: 'mean' }),
      gradOpts: probes,
      atol: 1e-3,
    });
    [mask, wt].forEach((t) => t.dispose());
  });

  it('SGD, Adam (AMSGrad) and gradient clipping on parameters larger than the limit', async () => {
    const shapes = [[3, 7001], [5]];
    const gen = new w.Generator(42);
    const init = shapes.map((sh) => gen.normal(sh[0]! * (sh[1] ?? 1)));
    const grads = [0, 1].map(() => shapes.map((sh) => gen.normal(sh[0]! * (sh[1] ?? 1))));
    const sgdOpts = { lr: 0.03, momentum: 0.9, dampening: 0.1, nesterov: false, weightDecay: 1e-3 };
    const adamOpts = { lr: 0.01, betas: [0.85, 0.995] as const, eps: 1e-7, weightDecay: 0.02, amsgrad: true };
    for (const which of ['sgd', 'adam'] as const) {
      const params = init.map((d, i) => w.keep(w.fromArray(d, shapes[i]!, { requiresGrad: true })));
      const opt = which === 'sgd' ? new w.SGD(params, sgdOpts) : new w.Adam(params, adamOpts);
      const ref = init.map((d) => Float64Array.from(d));
      const bufs: (Float64Array | null)[] = ref.map(() => null);
      const st: RefAdamState[] = ref.map((r) => ({ step: 0, m: new Float64Array(r.length), v: new Float64Array(r.length), vmax: new Float64Array(r.length) }));
      for (const g of grads) {
        params.forEach((p, i) => {
          p.grad?.dispose();
          p.grad = w.keep(w.fromArray(g[i]!, shapes[i]!));
        });
        // Clipping first: the norm (2 partial chunks of the large gradient) and the scale, in place.
        const total = w.clipGradNorm(params, 50);
        const want = refNorm(g.map((x) => Float32Array.from(x)), 2);
        expect(Math.abs((await total.item()) - want)).toBeLessThan(1e-3 * want);
        total.dispose();
        const k = Math.min(50 / (want + 1e-6), 1);
        opt.step();
        ref.forEach((r, i) => {
          const gi = Float32Array.from(g[i]!, (v) => v * k);
          if (which === 'sgd') bufs[i] = refSgd(r, gi, bufs[i]!, sgdOpts);
          else refAdam(r, gi, st[i]!, { ...adamOpts, decoupled: false });
        });
      }
      for (const [i, p] of params.entries()) expectClose(await p.data(), ref[i]!, 1e-5, 1e-3, `${which} param ${i}`);
      params.forEach((p) => p.dispose());
    }
  });

  it.each([
    // Row and column tiles (both operands larger than the limit), batch chunks with a broadcast
    // operand, and a reduction (k = 5000) longer than a tile's k: partial products add up.
    { a: [130, 181], b: [181, 97] },
    { a: [5, 40, 96], b: [5, 96, 50] },
    { a: [5, 40, 96], b: [96, 50] },
    { a: [3, 5000], b: [5000, 5] },
  ])('matmul $a @ $b with gradients (the transposed products)', async ({ a, b }) => {
    await checkOp({ inputs: [a, b], fn: (x, y) => w.matmul(x!, y!), ref: (x, y) => R.matmul(x!, y!), gradOpts: probes, atol: 1e-3 });
  });

  it.each([
    // Whole rows a tile (axis 1 of [7, 31, 97]), and inner ranges of one row (axis 0 of [3, 9001]).
    { shape: [7, 31, 97], axis: 1 },
    { shape: [3, 9001], axis: 0 },
  ])('softmax, logSoftmax, logsumexp and l2Normalize of $shape along $axis', async ({ shape, axis }) => {
    await checkOp({ inputs: [shape], fn: (x) => w.softmax(x!, axis), ref: (x) => R.softmax(x!, axis), gradOpts: probes });
    await checkOp({ inputs: [shape], fn: (x) => w.logSoftmax(x!, axis), ref: (x) => R.softmax(x!, axis, true), grad: false });
    await checkOp({ inputs: [shape], fn: (x) => w.logsumexp(x!, axis), ref: (x) => R.logsumexp(x!, axis), grad: false });
    await checkOp({ inputs: [shape], fn: (x) => w.l2Normalize(x!, axis), ref: (x) => RN.l2Normalize(x!, axis), gradOpts: probes });
  });

  it('dropout and dropout2d draw the same masks in chunks as the host reference', async () => {
    const shape = [3, 5, 37, 41];
    const n = 3 * 5 * 37 * 41;
    const xs = new w.Generator(3).uniform(n, 1, 2);
    const x = w.fromArray(xs, shape);
    for (const [fn, group] of [[w.dropout, 1], [w.dropout2d, 37 * 41]] as const) {
      const y = fn(x, 0.3, { rng: new w.DropoutRng(123, 7) });
      const keep = dropoutKeepMask(n, 0.3, 123, 7, group);
      const scale = Math.fround(1 / 0.7);
      expect(Array.from(await y.data())).toEqual(Array.from(xs, (v, i) => (keep[i] ? Math.fround(v * scale) : 0)));
      y.dispose();
    }
    x.dispose();
  });

  it('foldBatchNorm2d of a conv weight (48 x 40 x 3 x 3) larger than the limit', async () => {
    const [xh, wh, cbh, gh, bh, rmH, rvH] = makeInputs(
      [[2, 40, 7, 6], [48, 40, 3, 3], [48], { shape: [48], range: [0.5, 1.5] }, [48], { shape: [48], range: [-0.5, 0.5] }, { shape: [48], range: [0.5, 2] }],
      21,
    );
    const [x, cw, cb, g, b, rm, rv] = [xh!, wh!, cbh!, gh!, bh!, rmH!, rvH!].map((h) => w.fromArray(h.data, h.shape));
    const bn = { weight: g!, bias: b!, runningMean: rm!, runningVar: rv!, eps: 1e-3 };
    const f = w.foldBatchNorm2d(cw!, cb!, bn);
    const y = w.conv2d(x!, f.weight, f.bias, { padding: 1 });
    const want = w.batchNorm2d(w.conv2d(x!, cw!, cb!, { padding: 1 }), g!, b!, { runningMean: rm!, runningVar: rv!, eps: 1e-3 });
    expectClose(await y.data(), await want.data(), 1e-4, 1e-4, 'folded conv');
    for (const z of [x, cw, cb, g, b, rm, rv, f.weight, f.bias, y, want]) z!.dispose();
  });
});

/** Distinct values in a shuffled order, so max pooling has no ties for finite differences to trip on. */
function distinct(shape: readonly number[]): number[] {
  const n = shape.reduce((a, b) => a * b, 1);
  const g = new w.Generator(3);
  const v = Array.from({ length: n }, (_, i) => (i / n) * 4 - 2);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(g.uniform(1, 0, 1)[0]! * (i + 1));
    [v[i], v[j]] = [v[j]!, v[i]!];
  }
  return v;
}
