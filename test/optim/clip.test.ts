import { describe, expect, it } from 'vitest';
import * as w from '../../src/index.js';
import { devices } from '../helpers/devices.js';
import { relErr } from '../helpers/fixtures.js';
import { clipCases, toTensor } from './fixtures.js';
import { refNorm } from './reference.js';

// A float32 run of torch is within 4e-7 of the float64 fixtures (make_optim_fixtures.py --check-f32).
const TOL = 1e-5;

/** Parameters (zeros) carrying the given gradients (null: no gradient). */
function withGrads(grads: (w.Tensor | null)[]): w.Tensor[] {
  return grads.map((g) => {
    const p = w.keep(w.zeros(g ? g.shape : [2], { requiresGrad: true }));
    p.grad = g ? w.keep(g) : null;
    return p;
  });
}

describe.each(devices())('clipGradNorm on %s', (dev) => {
  const rt = dev.runtime;

  it.each(clipCases().map((c) => [c.name, c] as const))('%s matches PyTorch, without submit or readback', async (_name, c) => {
    const params = withGrads(c.grads.map((g) => (g ? toTensor(g) : null)));
    const withGrad = c.grads.filter(Boolean).length;
    rt.flush();
    const s0 = rt.submitCount;
    const d0 = rt.dispatchCount;
    const total = c.norm_type === 'inf' ? w.clipGradNorm(params, c.max_norm, 'inf') : w.clipGradNorm(params, c.max_norm, c.norm_type);
    expect(rt.submitCount, 'clipGradNorm submitted work').toBe(s0);
    // One partial reduction per gradient, one combining pass, one in-place scale per gradient.
    expect(rt.dispatchCount - d0).toBe(2 * withGrad + 1);
    expect(total.shape).toEqual([]);
    expect(relErr([await total.item()], c.total_norm.data)).toBeLessThan(TOL);
    for (const [i, p] of params.entries()) {
      const want = c.clipped[i];
      if (want) expect(relErr(await p.grad!.data(), want.data), `grad ${i}`).toBeLessThan(TOL);
      else expect(p.grad).toBeNull();
    }
    total.dispose();
    for (const p of params) p.dispose();
  });

  it.each([2, 'inf', 1.5] as const)('combines more than 64 partials (norm %s) like the float64 reference', async (normType) => {
    const gen = new w.Generator(5);
    const sizes = [40_000, 33_333, 1, 9_999];
    const data = sizes.map((n) => gen.normal(n));
    const params = withGrads(data.map((d) => w.fromArray(d)));
    const p = normType === 'inf' ? Infinity : normType;
    const want = refNorm(data.map((d) => Float32Array.from(d)), p);
    const maxNorm = want / 3;
    const total = w.clipGradNorm(params, maxNorm, normType);
    expect(relErr([await total.item()], [want])).toBeLessThan(TOL);
    const coef = Math.min(maxNorm / (want + 1e-6), 1);
    for (const [i, q] of params.entries()) {
      expect(relErr(await q.grad!.data(), Float32Array.from(data[i]!).map((v) => v * coef)), `grad ${i}`).toBeLessThan(TOL);
    }
    total.dispose();
    for (const q of params) q.dispose();
  });

  it('leaves gradients alone when the norm is below maxNorm, and returns 0 without gradients', async () => {
    const params = withGrads([w.fromArray([3, 4]), null]);
    const total = w.clipGradNorm(params, 10);
    expect(await total.item()).toBeCloseTo(5, 5);
    expect(Array.from(await params[0]!.grad!.data())).toEqual([3, 4]);
    const none = w.clipGradNorm([params[1]!], 1);
    expect(await none.item()).toBe(0);
    // A single tensor is accepted as well.
    const one = w.clipGradNorm(params[0]!, 1);
    expect(await one.item()).toBeCloseTo(5, 5);
    expect(relErr(await params[0]!.grad!.data(), [0.6, 0.8])).toBeLessThan(TOL);
    for (const t of [total, none, one, ...params]) t.dispose();
  });

  it('propagates a NaN gradient into the norm and every gradient, as torch does', async () => {
    for (const normType of [2, 'inf'] as const) {
      const params = withGrads([w.fromArray([1, NaN, 2]), w.fromArray([0.5, -3])]);
      const total = w.clipGradNorm(params, 1, normType);
      expect(Number.isNaN(await total.item()), `norm ${normType}`).toBe(true);
      expect(Array.from(await params[1]!.grad!.data()).every(Number.isNaN), `norm ${normType}`).toBe(true);
      for (const t of [total, ...params]) t.dispose();
    }
  });

  it.each([
    ['negative maxNorm', () => w.clipGradNorm([], -1)],
    ['NaN maxNorm', () => w.clipGradNorm([], NaN)],
    ['normType 0', () => w.clipGradNorm([], 1, 0)],
    ['negative normType', () => w.clipGradNorm([], 1, -2)],
  ])('%s -> ArgumentError', (_name, fn) => {
    expect(fn).toThrow(w.ArgumentError);
  });
});
