// The fused batch-norm forms in the MTL architectures (ResNet.stem for the encoders' stems, convBn
// in NDDR layers, ConvBnSequential in MTAN's attention and MTI-Net's heads): one forward/backward
// with layerFusion.batchNorm on equals the separate-op composition (off) up to float rounding, in
// outputs, deep-supervision outputs and every parameter gradient, in fewer dispatches, and the
// parameter and state-dict names stay those of the plain Sequential / separate modules.
import { describe, expect, it } from 'vitest';
import * as w from '../../../src/index.js';
import { createModel, type ModelSpec, type MultiTaskModel } from '../../../src/mtl/models/index.js';
import { devices } from '../../helpers/devices.js';
import { TASKS, weightedLoss } from './helpers.js';

const CASES: { spec: ModelSpec; names: string[] }[] = [
  { spec: { arch: 'cross-stitch', width: 0.125, seed: 3, head: 'conv' }, names: ['backbone.depth.conv1.weight', 'backbone.depth.bn1.num_batches_tracked'] },
  { spec: { arch: 'nddr', width: 0.125, seed: 3, head: 'conv' }, names: ['nddr.stem.conv.weight', 'nddr.layer2.bn.running_var', 'nddr.layer4.bn.num_batches_tracked'] },
  {
    spec: { arch: 'mtan', width: 0.25, seed: 3, head: 'conv' },
    names: ['attention_1.semseg.0.weight', 'attention_1.semseg.1.running_mean', 'attention_2.depth.3.bias', 'attention_4.normals.4.num_batches_tracked'],
  },
  {
    spec: { arch: 'mti-net', width: 0.125, seed: 3, seReduction: 2 },
    names: ['heads.semseg.last_layer.0.bias', 'heads.depth.last_layer.1.running_var', 'heads.normals.last_layer.3.weight'],
  },
];

/** Outputs (final and deep-supervision) and parameter gradients of one step, and its dispatches. */
async function step(model: MultiTaskModel, x: w.Tensor, fused: boolean): Promise<{ values: Map<string, Float32Array>; dispatches: number }> {
  const rt = w.runtime();
  w.setBatchNormFusion(model, { fused });
  model.zeroGrad();
  const values = new Map<string, Float32Array>();
  const d0 = rt.dispatchCount;
  const kept = w.tidy(() => {
    const out = model.forward(x);
    w.backward(weightedLoss(out.outputs));
    const ts: [string, w.Tensor][] = Object.entries(out.outputs).map(([k, t]) => [`out.${k}`, t]);
    for (const [k, ts2] of Object.entries(out.auxiliary ?? {})) ts2.forEach((t, i) => ts.push([`aux.${k}.${i}`, t]));
    ts.forEach(([, t]) => w.keep(t));
    return ts;
  });
  const dispatches = rt.dispatchCount - d0;
  for (const [k, t] of kept) {
    values.set(k, Float32Array.from(await t.toArray()));
    t.dispose();
  }
  for (const [k, p] of model.namedParameters()) if (p.grad) values.set(`grad.${k}`, Float32Array.from(await p.grad.toArray()));
  model.zeroGrad();
  return { values, dispatches };
}

describe.each(devices())('fused batch norm in the MTL models on %s', () => {
  it.each(CASES.map((c) => [c.spec.arch, c] as const))('%s: fused equals unfused, in fewer dispatches', async (_, c) => {
    const model = createModel(c.spec, TASKS);
    const x = w.randn([2, 3, 32, 32], { seed: 1 });
    try {
      const stateNames = [...model.stateDict().keys()];
      for (const n of c.names) expect(stateNames).toContain(n);
      const off = await step(model, x, false);
      const on = await step(model, x, true);
      expect([...on.values.keys()]).toEqual([...off.values.keys()]);
      expect(on.values.size).toBeGreaterThan(TASKS.length);
      for (const [k, a] of off.values) {
        const b = on.values.get(k)!;
        const scale = a.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
        const diff = a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i]!)), 0);
        expect(diff, k).toBeLessThanOrEqual(1e-4 * Math.max(scale, 1e-3));
      }
      console.log(`${c.spec.arch}: ${off.dispatches} dispatches unfused, ${on.dispatches} fused`);
      expect(on.dispatches).toBeLessThan(off.dispatches);
    } finally {
      model.dispose();
      x.dispose();
    }
  });
});
