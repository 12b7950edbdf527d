// PAP-Net: names and counts, the propagation module against a host composition of its three steps,
// the model contract (outputs and deep supervision at odd sizes, shared layer, gradients to every
// parameter) on resnet18 and hrnet18, createModel options, a checkpoint round trip, and a short
// real training run on synthetic scenes that beats the trivial baselines.
import { afterAll, describe, expect, it } from 'vitest';
import * as w from '../../../src/index.js';
import { PAPNetModel, PAPropagation, createModel, diffuseStepComposed, pixelAffinityComposed, summary, type ModelSpec } from '../../../src/mtl/models/index.js';
import { overwrite } from '../../../src/nn/backbones/reinit.js';
import { devices } from '../../helpers/devices.js';
import { TASKS, absSumFinite, badGrads, maxDiff, weightedLoss } from './helpers.js';
import { shortSyntheticRun } from './synthetic-run.js';

const tiny = { width: 0.125, seed: 3 } as const;
const T = TASKS.length;

describe.each(devices())('PAP-Net on %s', () => {
  const models: w.Module[] = [];
  const keep = <M extends w.Module>(m: M): M => (models.push(m), m);
  afterAll(() => models.forEach((m) => m.dispose()));

  it('propagation: affinity on the downsampled grid, learned cross-task mix, diffusion with a residual', async () => {
    const names = ['a', 'b', 'c'];
    const m = keep(new PAPropagation(names, { scale: 2, iterations: 2, beta: 0.6 }));
    expect(m.namedParameters().map(([n, p]) => [n, p.shape])).toEqual([['cross_task', [3, 3]]]);
    overwrite(m.cross_task!, Float32Array.from(new w.Generator(4).normal(9)));
    const f = Object.fromEntries(names.map((t, i) => [t, w.randn([2, 4, 5, 3], { seed: 20 + i })]));
    const out = w.noGrad(() => m.forward(f));
    // The same maths from built-in ops: resize to 3 x 2, softmax(x^T x / 2), mix by softmax rows, diffuse, resize back, add.
    const expected = w.noGrad(() =>
      w.tidy(() => {
        const x0 = names.map((t) => w.reshape(w.interpolate(f[t]!, { size: [3, 2], mode: 'bilinear', alignCorners: false }), [2, 4, 6]));
        const aff = x0.map((x) => pixelAffinityComposed(x, 0.5));
        const mix = w.softmax(m.cross_task!, 1);
        return names.map((t, i) => {
          const a = aff.reduce((acc, ai, j) => w.add(acc, w.mul(ai, w.reshape(w.narrow(w.narrow(mix, 0, i, 1), 1, j, 1), [1, 1, 1]))), w.zeros([2, 6, 6]));
          let y = x0[i]!;
          for (let k = 0; k < 2; k++) y = diffuseStepComposed(a, y, x0[i]!, 0.6);
          return w.add(f[t]!, w.interpolate(w.reshape(y, [2, 4, 3, 2]), { size: [5, 3], mode: 'bilinear', alignCorners: false }));
        });
      }),
    );
    for (const [i, t] of names.entries()) {
      expect(out[t]!.shape).toEqual([2, 4, 5, 3]);
      expect(await maxDiff(out[t]!, expected[i]!), t).toBeLessThan(1e-5);
    }
    expect(() => new PAPropagation(names, { beta: 0 })).toThrow(/beta must be in \(0, 1\]/);
    expect(() => new PAPropagation(names, { scale: 1.5 })).toThrow(/scale must be a positive integer/);
    expect(keep(new PAPropagation(['a'])).numParameters()).toBe(0);
  });

  it('names and parameter counts: PAD-Net\'s initial and final heads, one [T, T] cross-task parameter', () => {
    const m = keep(createModel({ arch: 'pap-net', ...tiny }, TASKS) as PAPNetModel);
    expect(m).toBeInstanceOf(PAPNetModel);
    expect(m.channels).toBe(32);
    const pad = keep(createModel({ arch: 'pad-net', ...tiny }, TASKS));
    const count = (mm: w.Module, re: RegExp) => mm.namedParameters().filter(([n]) => re.test(n)).reduce((a, [, p]) => a + p.size, 0);
    for (const re of [/^backbone\./, /^initial_task_prediction_heads\./, /^heads\./]) expect(count(m, re), String(re)).toBe(count(pad, re));
    expect(m.namedParameters().filter(([n]) => n.startsWith('propagation.')).map(([n, p]) => [n, p.shape])).toEqual([['propagation.cross_task', [T, T]]]);
    expect(m.sharedParameters()).toEqual(m.backbone.parameters());
    // summary(): rows add up; the propagation's kernels count as the products they are
    const s = summary(m, [1, 3, 32, 32]);
    expect(s.totalParams).toBe(m.numParameters());
    expect(s.rows.reduce((a, r) => a + r.flops, 0)).toBe(s.totalFlops);
    const p = 16; // the 4 x 4 map of c4 on a grid downsampled by 2
    const kernels = T * (2 * 32 * (p / 4) ** 2) * (1 + m.propagation.iterations);
    expect(s.rows.find((r) => r.name === 'propagation')!.flops).toBe(kernels + 2 * T * T * (p / 4) ** 2);
  });

  const CASES: { name: string; spec: ModelSpec; shared: RegExp; noGrad: RegExp | null }[] = [
    { name: 'resnet18', spec: { arch: 'pap-net', ...tiny, affinityScale: 1 }, shared: /^backbone\./, noGrad: null },
    // The fusion's 1x1 conv bias sits right before a training-mode batch norm (no gradient, as in the survey's model).
    { name: 'hrnet18', spec: { arch: 'pap-net', backbone: 'hrnet18', width: 0.125, seed: 4 }, shared: /^(backbone|fuse)\./, noGrad: /last_layer\.0\.bias$/ },
  ];

  it.each(CASES.map((c) => [c.name, c] as const))('on %s: shapes at odd sizes, shared layer, gradients to every parameter', async (_, c) => {
    const model = keep(createModel(c.spec, TASKS));
    expect(model.namedParameters().filter(([n]) => c.shared.test(n)).map(([, p]) => p)).toEqual(model.sharedParameters());
    for (const [h, wd] of [[32, 32], [33, 29]] as const) {
      const x = w.randn([2, 3, h, wd], { seed: 1 });
      const out = model.forward(x);
      for (const t of TASKS) {
        expect(out.outputs[t.name]!.shape).toEqual([2, t.channels, h, wd]);
        expect(out.auxiliary![t.name]!.map((a) => a.shape)).toEqual([[2, t.channels, h, wd]]);
      }
      expect(out.representation).not.toBeNull();
      if (h === 32) continue;
      const last = model.lastSharedLayer()!;
      for (const [i, t] of TASKS.entries()) {
        const loss = weightedLoss({ [t.name]: out.outputs[t.name]! }, 11 + i);
        const [g] = w.grad(loss, [last], { retainGraph: true });
        const { abs, finite } = await absSumFinite(g!);
        expect(finite && abs > 0, `d ${t.name} / d lastSharedLayer`).toBe(true);
        g!.dispose();
        loss.dispose();
      }
      const all: Record<string, w.Tensor> = { ...out.outputs };
      for (const t of TASKS) all[`${t.name}/aux`] = out.auxiliary![t.name]![0]!;
      w.backward(weightedLoss(all, 21));
      expect(await badGrads(model, c.noGrad)).toEqual([]);
      model.zeroGrad();
      x.dispose();
    }
  });

  it('createModel: options, refusals, other ResNets, and a checkpoint round trip', async () => {
    const m = keep(createModel({ arch: 'pap-net', width: 0.125, channels: 16, affinityScale: 1, iterations: 2, beta: 0.3 }, TASKS.slice(0, 2)) as PAPNetModel);
    expect([m.channels, m.propagation.scale, m.propagation.iterations, m.propagation.beta]).toEqual([16, 1, 2, 0.3]);
    expect(() => createModel({ arch: 'pap-net', head: 'conv' } as unknown as ModelSpec, TASKS)).toThrow(/'pap-net' does not take 'head' \(valid options: .*channels, affinityScale, iterations, beta\)/);
    expect(() => createModel({ arch: 'pap-net', width: 0.125, iterations: 0 }, TASKS)).toThrow(/iterations must be a positive integer/);
    for (const backbone of ['resnet34', 'resnet50'] as const) {
      const r = keep(createModel({ arch: 'pap-net', backbone, width: 0.0625, outputStride: 16, seed: 2 }, TASKS.slice(0, 2)));
      const y = w.noGrad(() => r.forward(w.randn([1, 3, 33, 31], { seed: 1 })));
      expect(y.outputs.semseg!.shape).toEqual([1, 5, 33, 31]);
    }
    // Round trip: a model of another seed restored from the checkpoint computes the same outputs.
    const a = keep(createModel({ arch: 'pap-net', ...tiny }, TASKS));
    const b = keep(createModel({ arch: 'pap-net', width: 0.125, seed: 99 }, TASKS));
    const x = w.randn([2, 3, 33, 29], { seed: 2 });
    w.noGrad(() => a.forward(x)); // moves the batch-norm statistics away from their initial values
    w.restoreCheckpoint(await w.encodeCheckpoint({ model: a, step: 3 }), { model: b });
    a.eval();
    b.eval();
    const [ya, yb] = [w.noGrad(() => a.forward(x)), w.noGrad(() => b.forward(x))];
    for (const t of TASKS) expect(await maxDiff(ya.outputs[t.name]!, yb.outputs[t.name]!)).toBe(0);
  });

  it('trains on synthetic scenes and beats the trivial baselines', async () => {
    const r = await shortSyntheticRun({ arch: 'pap-net', width: 0.25, seed: 1 }, 100);
    console.log(`pap-net short run: ${JSON.stringify(r)}`);
    expect(r.lastLoss).toBeLessThan(0.7 * r.firstLoss);
    expect(r.model.semseg!.mIoU).toBeGreaterThan(r.baseline.semseg!.mIoU!);
    expect(r.model.depth!.rmse).toBeLessThan(r.baseline.depth!.rmse!);
  }, 120_000);
});
