// Initialisers: fans, gains, and the mean / std / bounds of kaiming and xavier on large tensors, and
// the default initialisation of Conv2d, Linear and ConvTranspose2d (PyTorch's formulas).
import { describe, expect, it } from 'vitest';
import * as w from '../../src/index.js';
import { devices } from '../helpers/devices.js';

interface Stats {
  mean: number;
  std: number;
  maxAbs: number;
  n: number;
}

async function stats(t: w.Tensor): Promise<Stats> {
  const v = await t.data();
  let s = 0;
  let maxAbs = 0;
  for (const x of v) {
    s += x;
    maxAbs = Math.max(maxAbs, Math.abs(x));
  }
  const mean = s / v.length;
  let q = 0;
  for (const x of v) q += (x - mean) ** 2;
  t.dispose();
  return { mean, std: Math.sqrt(q / v.length), maxAbs, n: v.length };
}

/** Mean within 5 standard errors of 0, std within 2% of `std`. */
function expectMoments(s: Stats, std: number): void {
  expect(Math.abs(s.mean)).toBeLessThan((5 * std) / Math.sqrt(s.n));
  expect(Math.abs(s.std / std - 1)).toBeLessThan(0.02);
}

/** Uniform(-bound, bound): std bound / sqrt(3), nothing outside the bound, the edges reached. */
function expectUniform(s: Stats, bound: number): void {
  expectMoments(s, bound / Math.sqrt(3));
  expect(s.maxAbs).toBeLessThanOrEqual(Math.fround(bound));
  expect(s.maxAbs).toBeGreaterThan(0.99 * bound);
}

describe.each(devices())('initialisers on %s', () => {
  it('fans and gains follow torch.nn.init', () => {
    expect(w.fans([64, 32, 3, 3])).toEqual({ fanIn: 288, fanOut: 576 });
    expect(w.fans([10, 20])).toEqual({ fanIn: 20, fanOut: 10 });
    expect(() => w.fans([5])).toThrow(w.ArgumentError);
    expect(w.gain('relu')).toBeCloseTo(Math.SQRT2, 12);
    expect(w.gain('leakyRelu', Math.sqrt(5))).toBeCloseTo(Math.sqrt(1 / 3), 12);
    expect(w.gain('tanh')).toBeCloseTo(5 / 3, 12);
    expect(w.gain('linear')).toBe(1);
    expect(w.gain('sigmoid')).toBe(1);
  });

  const shape = [256, 128, 3, 3]; // fan_in 1152, fan_out 2304, 295k values
  const g = () => new w.Generator(31);

  it('kaimingNormal: std gain / sqrt(fan), fan_in or fan_out', async () => {
    expectMoments(await stats(w.kaimingNormal(shape, { generator: g() })), Math.sqrt(2 / 1152));
    expectMoments(await stats(w.kaimingNormal(shape, { generator: g(), mode: 'fanOut' })), Math.sqrt(2 / 2304));
    expectMoments(await stats(w.kaimingNormal(shape, { generator: g(), nonlinearity: 'linear' })), Math.sqrt(1 / 1152));
  });

  it('kaimingUniform: bound gain * sqrt(3 / fan)', async () => {
    expectUniform(await stats(w.kaimingUniform(shape, { generator: g() })), Math.sqrt(6 / 1152));
    expectUniform(await stats(w.kaimingUniform(shape, { generator: g(), mode: 'fanOut', nonlinearity: 'relu' })), Math.sqrt(6 / 2304));
    // a = sqrt(5): PyTorch's default for conv and linear weights, bound 1 / sqrt(fan_in).
    expectUniform(await stats(w.kaimingUniform(shape, { generator: g(), a: Math.sqrt(5) })), 1 / Math.sqrt(1152));
  });

  it('xavierUniform and xavierNormal: gain * sqrt(6 or 2 / (fan_in + fan_out))', async () => {
    expectUniform(await stats(w.xavierUniform(shape, { generator: g() })), Math.sqrt(6 / 3456));
    expectUniform(await stats(w.xavierUniform([600, 500], { generator: g(), gain: 2 })), 2 * Math.sqrt(6 / 1100));
    expectMoments(await stats(w.xavierNormal(shape, { generator: g() })), Math.sqrt(2 / 3456));
    expectMoments(await stats(w.xavierNormal(shape, { generator: g(), gain: w.gain('tanh') })), (5 / 3) * Math.sqrt(2 / 3456));
  });

  it('the same generator seed gives the same values; constant fills', async () => {
    const [a, b, c] = [w.kaimingNormal([8, 4], { generator: new w.Generator(3) }), w.kaimingNormal([8, 4], { generator: new w.Generator(3) }), w.constant([2, 3], 0.25)];
    expect(await b.data()).toEqual(await a.data());
    expect(await c.toArray()).toEqual([0.25, 0.25, 0.25, 0.25, 0.25, 0.25]);
    for (const t of [a, b, c]) t.dispose();
  });

  it('layer defaults: weights and biases U(+-1 / sqrt(fan_in)), fan_in from the weight layout', async () => {
    const conv = new w.Conv2d(128, 256, 3, { generator: g() });
    expect([...conv.weight.shape]).toEqual([256, 128, 3, 3]);
    expectUniform(await stats(conv.weight), 1 / Math.sqrt(1152));
    const lin = new w.Linear(300, 2000, { generator: g() });
    expectUniform(await stats(lin.bias!), 1 / Math.sqrt(300));
    expectUniform(await stats(lin.weight), 1 / Math.sqrt(300));
    // ConvTranspose2d: weight [in, out/groups, kh, kw], so fan_in = (out/groups) * kh * kw.
    const up = new w.ConvTranspose2d(512, 256, 4, { groups: 2, generator: g() });
    expect([...up.weight.shape]).toEqual([512, 128, 4, 4]);
    expect([...up.bias!.shape]).toEqual([256]);
    expectUniform(await stats(up.weight), 1 / Math.sqrt(128 * 16));
    const b = await up.bias!.data();
    expect(Math.max(...b.map(Math.abs))).toBeLessThanOrEqual(1 / Math.sqrt(128 * 16));
    for (const m of [conv, lin, up]) m.dispose(); // idempotent for the tensors stats() disposed
  });
});
