// The extra layers against float64 references: ConvTranspose2d, GroupNorm, LayerNorm, the
// activations, the pooling layers and Upsample; parameter names, shapes and defaults as PyTorch.
import { describe, expect, it } from 'vitest';
import * as w from '../../src/index.js';
import { expectClose } from '../helpers/check-op.js';
import { devices } from '../helpers/devices.js';
import * as RC from '../reference/conv.js';
import { ND, size } from '../reference/ndarray.js';
import * as RN from '../reference/norm.js';
import * as RP from '../reference/pool.js';

/** A random input: the GPU tensor and its float64 copy. */
function input(shape: number[], seed = 1, lo = -2, hi = 2): { t: w.Tensor; nd: ND } {
  const v = new w.Generator(seed).uniform(size(shape), lo, hi);
  return { t: w.fromArray(v, shape), nd: ND.from(v, shape) };
}

async function nd(t: w.Tensor): Promise<ND> {
  return ND.from(await t.data(), t.shape);
}

/** Runs `layer` on x without recording and compares with `want`. */
async function expectForward(layer: w.Layer, x: w.Tensor, want: ND, atol = 1e-5, rtol = 1e-4): Promise<void> {
  const y = w.noGrad(() => layer.forward(x));
  expect([...y.shape]).toEqual(want.shape);
  expectClose(await y.data(), want.data, atol, rtol, layer.constructor.name);
  y.dispose();
}

/** Gives every parameter of `m` random values (so tests do not rely on ones and zeros). */
function randomise(m: w.Module, seed: number): void {
  const g = new w.Generator(seed);
  const state = new Map(m.namedParameters().map(([n, t]) => [n, w.fromArray(g.uniform(t.size, 0.5, 1.5), t.shape)] as const));
  m.loadStateDict(state, { strict: false });
  for (const t of state.values()) t.dispose();
}

describe.each(devices())('nn layers on %s', () => {
  it.each([
    { cin: 4, cout: 6, k: 3, o: { stride: 2, padding: 1, outputPadding: 1, groups: 2 } },
    { cin: 3, cout: 2, k: 2, o: { stride: 2 } },
    { cin: 2, cout: 3, k: 3, o: { dilation: 2, padding: 1, bias: false } },
  ] as const)('ConvTranspose2d matches the reference: %j', async ({ cin, cout, k, o }) => {
    const layer = new w.ConvTranspose2d(cin, cout, k, { ...o, generator: new w.Generator(2) });
    expect(layer.namedParameters().map(([n, t]) => [n, [...t.shape]])).toEqual([
      ['weight', [cin, cout / ((o as { groups?: number }).groups ?? 1), k, k]],
      ...((o as { bias?: boolean }).bias === false ? [] : [['bias', [cout]]]),
    ]);
    const x = input([2, cin, 5, 4]);
    const p = (v: number | undefined, d: number): [number, number] => [v ?? d, v ?? d];
    const oo = o as { stride?: number; padding?: number; outputPadding?: number; dilation?: number; groups?: number };
    const want = RC.convTranspose2d(x.nd, await nd(layer.weight), layer.bias ? await nd(layer.bias) : null, {
      stride: p(oo.stride, 1),
      padding: p(oo.padding, 0),
      outputPadding: p(oo.outputPadding, 0),
      dilation: p(oo.dilation, 1),
      groups: oo.groups ?? 1,
    });
    await expectForward(layer, x.t, want, 2e-5);
    x.t.dispose();
    layer.dispose();
  });

  it('ConvTranspose2d forward(x, outputSize) picks the output padding, as PyTorch', async () => {
    const layer = new w.ConvTranspose2d(3, 2, 3, { stride: 2, padding: 1, generator: new w.Generator(4) });
    const x = input([1, 3, 4, 5]);
    // Sizes from (in - 1) * 2 - 2 + 3 = 2 in - 1 up to 2 in.
    const y0 = layer.forward(x.t);
    expect([...y0.shape]).toEqual([1, 2, 7, 9]);
    const y1 = w.noGrad(() => layer.forward(x.t, [8, 9]));
    const want = RC.convTranspose2d(x.nd, await nd(layer.weight), await nd(layer.bias!), { stride: [2, 2], padding: [1, 1], outputPadding: [1, 0] });
    expect([...y1.shape]).toEqual([1, 2, 8, 9]);
    expectClose(await y1.data(), want.data, 2e-5, 1e-4);
    expect(() => layer.forward(x.t, [9, 9])).toThrow(w.ShapeError);
    expect(() => layer.forward(x.t, [6, 9])).toThrow(w.ShapeError);
    w.tidy(() => {
      expect(() => layer.forward(w.zeros([1, 2, 4, 4]))).toThrow(w.ShapeError);
    });
    expect(() => new w.ConvTranspose2d(3, 4, 3, { groups: 2 })).toThrow(w.ArgumentError);
    for (const t of [x.t, y0, y1]) t.dispose();
    layer.dispose();
  });

  it('GroupNorm matches the reference; affine: false has no parameters', async () => {
    const gn = new w.GroupNorm(3, 6);
    expect(gn.namedParameters().map(([n, t]) => [n, [...t.shape]])).toEqual([
      ['weight', [6]],
      ['bias', [6]],
    ]);
    expect(await gn.weight!.toArray()).toEqual([1, 1, 1, 1, 1, 1]);
    randomise(gn, 3);
    const x = input([2, 6, 3, 5]);
    await expectForward(gn, x.t, RN.groupNorm(x.nd, 3, await nd(gn.weight!), await nd(gn.bias!)));
    const plain = new w.GroupNorm(2, 6, { affine: false, eps: 1e-3 });
    expect(plain.parameters()).toEqual([]);
    await expectForward(plain, x.t, RN.groupNorm(x.nd, 2, null, null, 1e-3));
    expect(() => new w.GroupNorm(4, 6)).toThrow(w.ArgumentError);
    w.tidy(() => {
      expect(() => gn.forward(w.zeros([2, 4, 3]))).toThrow(w.ShapeError);
    });
    x.t.dispose();
    gn.dispose();
  });

  it('LayerNorm matches the reference over the trailing dims; bias: false drops only the bias', async () => {
    const ln = new w.LayerNorm([4, 5]);
    expect(ln.namedParameters().map(([n, t]) => [n, [...t.shape]])).toEqual([
      ['weight', [4, 5]],
      ['bias', [4, 5]],
    ]);
    randomise(ln, 5);
    const x = input([3, 4, 5]);
    await expectForward(ln, x.t, RN.layerNorm(x.nd, [4, 5], await nd(ln.weight!), await nd(ln.bias!)));
    const noBias = new w.LayerNorm(5, { bias: false });
    expect(noBias.namedParameters().map(([n]) => n)).toEqual(['weight']);
    await expectForward(noBias, x.t, RN.layerNorm(x.nd, [5], ND.fill([5], 1), null));
    expect(new w.LayerNorm(5, { elementwiseAffine: false }).parameters()).toEqual([]);
    x.t.dispose();
    ln.dispose();
    noBias.dispose();
  });

  it('LeakyReLU, Sigmoid and Tanh match Math', async () => {
    const x = input([3, 7], 6, -5, 5);
    const map = (f: (v: number) => number) => new ND([3, 7], x.nd.data.map(f));
    await expectForward(new w.LeakyReLU(), x.t, map((v) => (v > 0 ? v : 0.01 * v)));
    await expectForward(new w.LeakyReLU(0.2), x.t, map((v) => (v > 0 ? v : 0.2 * v)));
    await expectForward(new w.Sigmoid(), x.t, map((v) => 1 / (1 + Math.exp(-v))));
    await expectForward(new w.Tanh(), x.t, map(Math.tanh));
    x.t.dispose();
  });

  it('MaxPool2d, AvgPool2d and AdaptiveAvgPool2d match the references', async () => {
    const x = input([2, 3, 7, 8]);
    await expectForward(new w.MaxPool2d(2), x.t, RP.maxPool2d(x.nd, { kernel: [2, 2] }).y);
    await expectForward(new w.MaxPool2d(3, { stride: 2, padding: 1 }), x.t, RP.maxPool2d(x.nd, { kernel: [3, 3], stride: [2, 2], padding: [1, 1] }).y);
    await expectForward(new w.MaxPool2d([3, 2], { stride: 1, dilation: 2, ceilMode: true }), x.t, RP.maxPool2d(x.nd, { kernel: [3, 2], stride: [1, 1], dilation: [2, 2], ceil: true }).y);
    await expectForward(new w.AvgPool2d(2), x.t, RP.avgPool2d(x.nd, { kernel: [2, 2] }));
    await expectForward(new w.AvgPool2d(3, { stride: 2, padding: 1, countIncludePad: false }), x.t, RP.avgPool2d(x.nd, { kernel: [3, 3], stride: [2, 2], padding: [1, 1], countIncludePad: false }));
    await expectForward(new w.AdaptiveAvgPool2d([3, 2]), x.t, RP.adaptiveAvgPool2d(x.nd, [3, 2]));
    await expectForward(new w.AdaptiveAvgPool2d(1), x.t, RP.adaptiveAvgPool2d(x.nd, [1, 1]));
    x.t.dispose();
  });

  it('Upsample: nearest by default, bilinear with and without alignCorners', async () => {
    const x = input([1, 2, 3, 5]);
    await expectForward(new w.Upsample({ scaleFactor: 2 }), x.t, RP.interpolate(x.nd, { mode: 'nearest', scaleFactor: [2, 2] }));
    await expectForward(new w.Upsample({ size: [5, 7] }), x.t, RP.interpolate(x.nd, { mode: 'nearest', size: [5, 7] }));
    await expectForward(new w.Upsample({ scaleFactor: 2, mode: 'bilinear' }), x.t, RP.interpolate(x.nd, { mode: 'bilinear', scaleFactor: [2, 2] }));
    await expectForward(
      new w.Upsample({ size: [6, 4], mode: 'bilinear', alignCorners: true }),
      x.t,
      RP.interpolate(x.nd, { mode: 'bilinear', size: [6, 4], alignCorners: true }),
    );
    expect(() => new w.Upsample({})).toThrow(w.ArgumentError);
    expect(() => new w.Upsample({ size: 4, scaleFactor: 2 })).toThrow(w.ArgumentError);
    x.t.dispose();
  });

  it('a Sequential decoder of the new layers has PyTorch names and trains end to end', async () => {
    const g = new w.Generator(7);
    const dec = new w.Sequential(
      new w.ConvTranspose2d(4, 4, 2, { stride: 2, generator: g }),
      new w.GroupNorm(2, 4),
      new w.LeakyReLU(0.1),
      new w.Dropout2d(0.2, { rng: new w.DropoutRng(1) }),
      new w.Upsample({ scaleFactor: 2, mode: 'bilinear' }),
      new w.MaxPool2d(2),
      new w.AvgPool2d(2),
      new w.AdaptiveAvgPool2d(1),
      new w.Sigmoid(),
      new w.Tanh(),
    );
    expect(dec.namedParameters().map(([n]) => n)).toEqual(['0.weight', '0.bias', '1.weight', '1.bias']);
    const x = input([2, 4, 3, 3]);
    const y = dec.forward(x.t);
    expect([...y.shape]).toEqual([2, 4, 1, 1]);
    w.tidy(() => w.backward(w.sum(y)));
    for (const [n, t] of dec.namedParameters()) expect(t.grad?.shape, n).toEqual(t.shape);
    dec.zeroGrad();
    y.dispose();
    x.t.dispose();
    dec.dispose();
  });
});
