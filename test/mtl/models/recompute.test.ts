/**
 * `train.recompute` across architectures: with every backbone's stages checkpointed, each model's
 * loss and parameter gradients equal those of the plain model built from the same seed.
 */
import { describe, expect, it } from 'vitest';
import * as w from '../../../src/index.js';
import { createModel, setRecompute, type ModelSpec } from '../../../src/mtl/models/index.js';
import { devices } from '../../helpers/devices.js';
import { TASKS, weightedLoss } from './helpers.js';

const tiny = { width: 0.125, seed: 3 } as const;
// One architecture per way of running the backbone: ResNet.forward (shared encoder; PAD-Net is the
// same path), per-task encoders stage by stage (Cross-Stitch; NDDR-CNN is the same path), MTAN's
// blocks split around the attention taps, and MTI-Net reading every level.
const SPECS: ModelSpec[] = [
  { arch: 'shared-encoder', ...tiny },
  { arch: 'cross-stitch', ...tiny },
  { arch: 'mtan', ...tiny },
  { arch: 'mti-net', ...tiny },
];

async function lossAndGrads(spec: ModelSpec, recompute: boolean) {
  const model = createModel(spec, TASKS);
  if (recompute) expect(setRecompute(model, true)).toBeGreaterThan(0);
  const x = w.randn([2, 3, 32, 32], { seed: 1 });
  const loss = w.tidy(() => {
    const out = model.forward(x);
    return weightedLoss(out.outputs, 5);
  });
  w.backward(loss);
  const grads = await Promise.all(model.namedParameters().map(async ([n, p]) => [n, p.grad ? Array.from(await p.grad.data()) : null] as const));
  const value = await loss.item();
  x.dispose();
  loss.dispose();
  model.dispose();
  return { value, grads };
}

describe.each(devices())('recompute on %s', () => {
  it.each(SPECS.map((s) => [s.arch, s] as const))('%s: same loss and gradients with checkpointed backbone stages', async (_, spec) => {
    const plain = await lossAndGrads(spec, false);
    const rc = await lossAndGrads(spec, true);
    expect(rc.value).toBe(plain.value);
    expect(rc.grads.map(([n]) => n)).toEqual(plain.grads.map(([n]) => n));
    // Summation order differs (the segment's gradients are summed once more), so compare each
    // gradient against its own largest magnitude.
    rc.grads.forEach(([n, g], k) => {
      const want = plain.grads[k]![1];
      expect(g === null, n).toBe(want === null);
      if (!g || !want) return;
      const scale = 1 + Math.max(...want.map(Math.abs));
      const worst = Math.max(...g.map((v, i) => Math.abs(v - want[i]!)));
      expect(worst, n).toBeLessThanOrEqual(1e-5 * scale);
    });
  });

  it('refuses a model without a backbone', () => {
    expect(() => setRecompute(new w.Linear(2, 2), true)).toThrow(/no backbone/);
  });
});
