// PAP-Net's WGSL kernels (pixel affinity, one diffusion step) against float64 references on odd
// sizes, their WGSL backwards against finite differences and against the composed versions'
// gradients, and compareOps against the composed versions (same values). Past one binding the ops
// run their composed versions: `WEBMTL_MAX_BINDING=65536 npx vitest run <this file>` takes that
// path in the last case, which must meet the same references.
import { describe, expect, it } from 'vitest';
import * as w from '../../../src/index.js';
import { compareOps } from '../../../src/ops/custom-op.js';
import { affinityScale, diffuseStep, diffuseStepComposed, pixelAffinity, pixelAffinityComposed } from '../../../src/mtl/models/pap-kernels.js';
import { devices } from '../../helpers/devices.js';
import { refDiffuseStep, refPixelAffinity } from '../../reference/pap.js';

const maxErr = (got: ArrayLike<number>, want: ArrayLike<number>) => {
  let m = 0;
  for (let i = 0; i < want.length; i++) m = Math.max(m, Math.abs(got[i]! - want[i]!) / (1 + Math.abs(want[i]!)));
  return m;
};
const host = (seed: number, n: number, scale = 1) => Float64Array.from(new w.Generator(seed).normal(n), (v) => v * scale);

describe.each(devices())('PAP-Net kernels on %s', () => {
  const [B, C, P] = [2, 5, 13];

  it('pixelAffinity: rows sum to one and equal the float64 reference', async () => {
    for (const [b, c, p] of [[B, C, P], [3, 1, 7], [1, 9, 1]] as const) {
      const hx = host(1 + p, b * c * p);
      const x = w.fromArray(Float32Array.from(hx), [b, c, p]);
      const a = w.noGrad(() => pixelAffinity(x));
      expect(a.shape).toEqual([b, p, p]);
      const got = await a.toArray();
      const err = maxErr(got, refPixelAffinity(hx, b, c, p, affinityScale(c)));
      expect(err, `[${b}, ${c}, ${p}]`).toBeLessThan(1e-6);
      for (let r = 0; r < b * p; r++) expect(got.slice(r * p, (r + 1) * p).reduce((u, v) => u + v, 0)).toBeCloseTo(1, 5);
      x.dispose();
      a.dispose();
    }
  });

  it('diffuseStep: equals the float64 reference for several beta (0 and 1 included)', async () => {
    const [ha, hx, h0] = [refPixelAffinity(host(2, B * C * P), B, C, P, 0.5), host(3, B * C * P), host(4, B * C * P)];
    const [a, x, x0] = [w.fromArray(Float32Array.from(ha), [B, P, P]), w.fromArray(Float32Array.from(hx), [B, C, P]), w.fromArray(Float32Array.from(h0), [B, C, P])];
    for (const beta of [0.3, 1, 0]) {
      const y = w.noGrad(() => diffuseStep(a, x, x0, beta));
      expect(maxErr(await y.toArray(), refDiffuseStep(ha, hx, h0, B, C, P, beta)), `beta ${beta}`).toBeLessThan(1e-6);
      y.dispose();
    }
    expect(() => diffuseStep(a, x, x0, 1.5)).toThrow(/beta must be in \[0, 1\]/);
    expect(() => diffuseStep(x, x, x0, 0.5)).toThrow(/expected A \[B, P, P\]/);
    for (const t of [a, x, x0]) t.dispose();
  });

  it('backwards pass finite differences and equal the composed versions\' gradients', async () => {
    const [b, c, p] = [2, 3, 5];
    const data = (seed: number, shape: number[], scale = 1) => ({ data: host(seed, shape.reduce((u, v) => u * v), scale), shape });
    expect(await w.gradcheck((x) => pixelAffinity(x!), [data(5, [b, c, p])], { maxProbes: 30 })).toEqual([]);
    const aff = { data: refPixelAffinity(host(6, b * c * p), b, c, p, 0.7), shape: [b, p, p] };
    expect(await w.gradcheck((a, x, x0) => diffuseStep(a!, x!, x0!, 0.6), [aff, data(7, [b, c, p]), data(8, [b, c, p])], { maxProbes: 30 })).toEqual([]);
    // x and x0 the same tensor (the first iteration): the two gradients add up.
    expect(await w.gradcheck((a, x) => diffuseStep(a!, x!, x!, 0.6), [aff, data(9, [b, c, p])])).toEqual([]);

    // Against the composed versions' autograd on odd sizes: every input's gradient.
    const [B2, C2, P2] = [2, 5, 11];
    const x = w.requireGrad(w.randn([B2, C2, P2], { seed: 10 }));
    const x0 = w.requireGrad(w.randn([B2, C2, P2], { seed: 11 }));
    const g = w.randn([B2, C2, P2], { seed: 12 });
    const run = (aff: typeof pixelAffinity, step: typeof diffuseStep) => {
      const a = aff(x);
      const loss = w.sum(w.mul(step(a, step(a, x0, x0, 0.7), x0, 0.7), g));
      return w.grad(loss, [x, x0]);
    };
    const own = run(pixelAffinity, diffuseStep);
    const composed = run(pixelAffinityComposed, diffuseStepComposed);
    for (let i = 0; i < 2; i++) expect(maxErr(await own[i]!.toArray(), await composed[i]!.toArray()), `input ${i}`).toBeLessThan(2e-5);
    for (const t of [x, x0, g, ...own, ...composed]) t!.dispose();
  });

  it('a batch past 64 KiB (A is 117 KiB): the same references either way', async () => {
    const [b, c, p] = [3, 6, 100];
    const hx = host(21, b * c * p);
    const x = w.fromArray(Float32Array.from(hx), [b, c, p]);
    const a = w.noGrad(() => pixelAffinity(x));
    const ha = refPixelAffinity(hx, b, c, p, affinityScale(c));
    expect(maxErr(await a.toArray(), ha)).toBeLessThan(1e-6);
    const y = w.noGrad(() => diffuseStep(a, x, x, 0.4));
    expect(maxErr(await y.toArray(), refDiffuseStep(await a.toArray(), hx, hx, b, c, p, 0.4))).toBeLessThan(1e-6);
    const data = { data: host(22, b * c * p), shape: [b, c, p] };
    expect(await w.gradcheck((t) => diffuseStep(pixelAffinity(t!), t!, t!, 0.4), [data], { maxProbes: 8 })).toEqual([]);
    for (const t of [x, a, y]) t.dispose();
  });

  it('compareOps: the kernels against the composed versions give the same values', async () => {
    const x = w.randn([2, 16, 64], { seed: 13 });
    const a = w.noGrad(() => pixelAffinity(x));
    const ca = await compareOps(() => w.noGrad(() => pixelAffinity(x)), () => w.noGrad(() => pixelAffinityComposed(x)), { runs: 3, warmup: 1 });
    const cd = await compareOps(() => w.noGrad(() => diffuseStep(a, x, x, 0.5)), () => w.noGrad(() => diffuseStepComposed(a, x, x, 0.5)), { runs: 3, warmup: 1 });
    expect(ca.maxAbsDiff).toBeLessThan(1e-6);
    expect(cd.maxAbsDiff).toBeLessThan(1e-5);
    x.dispose();
    a.dispose();
  });
});
