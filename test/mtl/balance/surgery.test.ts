import { describe, expect, it } from 'vitest';
import * as w from '../../../src/index.js';
import { CAGrad, MGDA, PCGrad, pcgradCombine } from '../../../src/mtl/balance/index.js';
import { cagradWeights, minNormWeights, supportMasks } from '../../../src/mtl/balance/simplex.js';
import { devices } from '../../helpers/devices.js';
import {
  dot, gramOf, refCagradCoef, refCagradWeights, refEncoderBackward, refMinNorm, refPcgrad, sharedFlat,
} from '../../reference/balance.js';
import { closeAll, makeProblem, refParamGrads, rng, step } from './problem.js';

const arr = async (t: w.Tensor) => {
  const v = Array.from(await t.data());
  t.dispose();
  return v;
};
const quad = (A: number[][], x: number[]) => dot(x, A.map((r) => dot(r, x)));
const sumRows = (rows: readonly (readonly number[])[], coef: readonly number[]) =>
  rows[0]!.map((_, k) => rows.reduce((s, r, i) => s + coef[i]! * r[k]!, 0));

/** Random task vectors [T][P]; `kind` makes them conflict, align, or degenerate. */
function vectors(T: number, P: number, seed: number, kind: 'random' | 'aligned' | 'opposite' | 'parallel'): number[][] {
  const r = rng(seed);
  const base = Array.from({ length: P }, () => r() * 2 - 1);
  return Array.from({ length: T }, (_, i) => {
    if (kind === 'random') return Array.from({ length: P }, () => r() * 2 - 1);
    if (kind === 'aligned') return base.map((v) => v + 0.3 * (r() - 0.5));
    if (kind === 'opposite') return base.map((v) => (i % 2 ? -1 : 1) * (i + 1) * v);
    return base.map((v) => (i + 1) * v); // parallel, same direction
  });
}

describe.each(devices())('gradient surgery on %s', () => {
  it('pcgradCombine: conflicting and non-conflicting vectors match Algorithm 1', async () => {
    const cases: [string, number[][]][] = [
      ['random T=3', vectors(3, 9, 1, 'random')],
      ['aligned T=3 (no conflict: plain sum)', vectors(3, 9, 2, 'aligned')],
      ['opposite T=2', vectors(2, 5, 3, 'opposite')],
      ['random T=4', vectors(4, 7, 4, 'random')],
    ];
    for (const [what, G] of cases) {
      const T = G.length;
      const order = Array.from({ length: T }, (_, i) => Array.from({ length: T }, (_, j) => (i + j + 1) % T).filter((j) => j !== i));
      const got = await arr(w.tidy(() => pcgradCombine(w.fromArray(G.flat(), [T, G[0]!.length]), order)));
      closeAll(got, refPcgrad(G, order), what, 1e-4, 1e-5);
      if (what.startsWith('aligned')) closeAll(got, sumRows(G, G.map(() => 1)), 'aligned = sum', 1e-5, 1e-6);
    }
    const conflicts = (G: number[][]) => G.some((a, i) => G.some((b, j) => i !== j && dot(a, b) < 0));
    expect(conflicts(cases[0]![1])).toBe(true);
    expect(conflicts(cases[1]![1])).toBe(false);
  });

  it('PCGrad on a network: shared gradients from the projected task gradients, heads get their own', async () => {
    for (const mode of ['parameters', 'representation'] as const) {
      const p = makeProblem(3, 21, [1, -2, 0.7]);
      const bal = new PCGrad(p.tasks, { mode, seed: 5 });
      const twin = new PCGrad(p.tasks, { seed: 5 });
      const order = twin.nextOrder();
      const g = await p.refGrads();
      p.below.calls = 0;
      step(p, bal);
      expect(p.below.calls).toBe(mode === 'parameters' ? 3 : 1);
      let shared: number[];
      if (mode === 'parameters') shared = refPcgrad(g.map(sharedFlat), order);
      else shared = refEncoderBackward(await p.refNet(), p.x, p.N, refPcgrad(g.map((gt) => gt.z), order));
      const exp = refParamGrads(g, shared, [1, 1, 1]);
      (await p.grads()).forEach((a, i) => closeAll(a, exp[i]!, `${mode} ${p.params[i]!.name}`, 5e-4, 2e-5));
      expect(await arr(bal.weights())).toEqual([1, 1, 1]);
      // The generator advanced exactly as the twin's; a restored balancer continues the sequence.
      const other = new PCGrad(p.tasks, { seed: 99 });
      other.loadState(JSON.parse(JSON.stringify(bal.state())));
      expect(other.nextOrder()).toEqual(twin.nextOrder());
      for (const b of [bal, twin, other]) b.dispose();
      p.dispose();
    }
  });

  it('min-norm solver vs brute force on the simplex (T = 2, 3), including degenerate Gram matrices', async () => {
    const kinds = ['random', 'aligned', 'opposite', 'parallel'] as const;
    for (const T of [2, 3]) {
      const masks = supportMasks(T);
      for (const [s, kind] of kinds.entries()) {
        const A = gramOf(vectors(T, 6, 30 + s + T, kind));
        const got = await arr(w.tidy(() => minNormWeights(w.fromArray(A.flat(), [T, T]), masks)));
        const ref = refMinNorm(A);
        expect(got.every((v) => v >= 0), `${kind} T=${T} nonnegative`).toBe(true);
        expect(got.reduce((a, b) => a + b)).toBeCloseTo(1, 5);
        const scale = Math.max(...A.map((r, i) => r[i]!));
        expect(quad(A, got), `${kind} T=${T} objective`).toBeLessThanOrEqual(quad(A, ref) + 1e-5 * scale);
        if (kind === 'random' || kind === 'aligned') closeAll(got, ref, `${kind} T=${T} weights`, 0, 2e-3);
      }
      masks.dispose();
    }
  });

  it('MGDA-UB on a network (each normalisation): alphas from the z-gradients, gradients of sum alpha_i L_i', async () => {
    for (const normalization of ['none', 'l2', 'loss', 'loss+'] as const) {
      const p = makeProblem(3, 40, [1, 3, 0.3]);
      const bal = new MGDA(p.tasks, { normalization });
      const g = await p.refGrads();
      p.below.calls = 0;
      step(p, bal);
      expect(p.below.calls).toBe(1); // one backward through the encoder
      const Z = g.map((gt) => gt.z);
      const n = Z.map((z) => Math.sqrt(dot(z, z)));
      const div = { none: n.map(() => 1), l2: n, loss: g.map((gt) => gt.loss), 'loss+': n.map((v, i) => v * g[i]!.loss) }[normalization];
      const A = gramOf(Z).map((r, i) => r.map((v, j) => v / (div[i]! * div[j]!)));
      const alpha = refMinNorm(A);
      const got = await arr(bal.weights());
      closeAll(got, alpha, `${normalization} alphas`, 0, 2e-3);
      // Gradients with the GPU's alphas (the solver was checked above), reference maths otherwise.
      const shared = refEncoderBackward(await p.refNet(), p.x, p.N, sumRows(Z, got));
      const exp = refParamGrads(g, shared, got);
      (await p.grads()).forEach((a, i) => closeAll(a, exp[i]!, `${normalization} ${p.params[i]!.name}`, 1e-3, 2e-5));
      bal.dispose();
      p.dispose();
    }
  });

  it('CAGrad inner problem vs brute force (T = 2, 3)', async () => {
    for (const T of [2, 3]) {
      const masks = supportMasks(T);
      for (const [s, kind] of (['random', 'opposite', 'aligned'] as const).entries()) {
        for (const c of [0.2, 0.5, 0.9]) {
          const A = gramOf(vectors(T, 6, 50 + s + T, kind));
          const meanA = A.flat().reduce((a, b) => a + b) / (T * T);
          const sqrtPhi = c * Math.sqrt(meanA + 1e-8) + 1e-8;
          const got = await arr(w.tidy(() => cagradWeights(w.fromArray(A.flat(), [T, T]), w.scalar(sqrtPhi), masks)));
          const ref = refCagradWeights(A, sqrtPhi);
          const u = A.map((r) => r.reduce((a, b) => a + b) / T);
          const F = (x: number[]) => dot(x, u) + sqrtPhi * Math.sqrt(Math.max(quad(A, x), 0));
          const scale = Math.max(...A.map((r, i) => r[i]!));
          expect(F(got), `${kind} T=${T} c=${c} objective`).toBeLessThanOrEqual(F(ref) + 1e-5 * scale);
          expect(got.reduce((a, b) => a + b)).toBeCloseTo(1, 5);
        }
      }
      masks.dispose();
    }
  });

  it('CAGrad on a network: d = g0 + lambda g_w, divided by 1 + c^2; heads get their own gradients', async () => {
    for (const [c, rescale, div] of [[0.5, '1+c^2', 1.25], [0.3, '1+c', 1.3], [0.8, 'none', 1]] as const) {
      const p = makeProblem(3, 60, [1, -1, 2]);
      const bal = new CAGrad(p.tasks, { c, rescale });
      const g = await p.refGrads();
      step(p, bal);
      const G = g.map(sharedFlat);
      const ref = refCagradCoef(gramOf(G), c, div);
      const coef = await arr(bal.weights());
      closeAll(coef, ref.coef, `c=${c} coefficients`, 2e-3, 1e-5);
      const exp = refParamGrads(g, sumRows(G, coef), [1, 1, 1]);
      (await p.grads()).forEach((a, i) => closeAll(a, exp[i]!, `c=${c} ${p.params[i]!.name}`, 1e-3, 2e-5));
      bal.dispose();
      p.dispose();
    }
  });

  it('state() / loadState() round-trip (MGDA, CAGrad) and option errors', async () => {
    const p = makeProblem(2, 70);
    const m = new MGDA(p.tasks);
    const c = new CAGrad(p.tasks);
    step(p, m);
    p.zeroGrad();
    step(p, c);
    const m2 = new MGDA(p.tasks);
    const c2 = new CAGrad(p.tasks);
    m2.loadState(m.state());
    c2.loadState(c.state());
    closeAll(await arr(m2.weights()), await arr(m.weights()), 'mgda', 0, 0);
    closeAll(await arr(c2.weights()), await arr(c.weights()), 'cagrad', 0, 0);
    closeAll(await arr(c2.simplexWeights()), await arr(c.simplexWeights()), 'cagrad simplex', 0, 0);
    expect(() => new CAGrad(p.tasks, { rescale: 2 as never })).toThrow(/1\+c\^2, 1\+c, none/);
    expect(() => new PCGrad(p.tasks, { mode: 'both' as never })).toThrow(/mode/);
    w.tidy(() => {
      const ctx = p.context();
      expect(() => m.backward({ ...ctx, representation: null })).toThrow(/no shared representation/);
    });
    for (const b of [m, c, m2, c2]) b.dispose();
    p.dispose();
  });
});
