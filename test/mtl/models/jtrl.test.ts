// JTRL: the recursion's order (levels coarse to fine, tasks taking turns), a task-attentive module
// against its formula from built-in ops, the model contract (outputs and deep supervision at odd
// sizes, shared layer, gradients to every parameter) on resnet18 and hrnet18, refusals, a
// checkpoint round trip, and a short real training run on synthetic scenes that beats the trivial
// baselines.
import { afterAll, describe, expect, it } from 'vitest';
import * as w from '../../../src/index.js';
import { JTRLModel, TaskAttentiveModule, createModel, summary, type ModelSpec } from '../../../src/mtl/models/index.js';
import { devices } from '../../helpers/devices.js';
import { TASKS, absSumFinite, badGrads, maxDiff, weightedLoss } from './helpers.js';
import { shortSyntheticRun } from './synthetic-run.js';

const tiny = { width: 0.125, seed: 3 } as const;
const C = [8, 16, 32, 64]; // resnet18 c1..c4 at width 0.125

describe.each(devices())('JTRL on %s', () => {
  const models: w.Module[] = [];
  const keep = <M extends w.Module>(m: M): M => (models.push(m), m);
  afterAll(() => models.forEach((m) => m.dispose()));

  it('a task-attentive module: refine(g p + (1 - g) (a b\')) from the previous features and the backbone level', async () => {
    const m = keep(new TaskAttentiveModule('depth', 6, 4, 1, false, new w.Generator(2)));
    expect(m.namedParameters().map(([n]) => n)).toEqual([
      'project.0.weight', 'project.1.weight', 'project.1.bias',
      'attention.0.weight', 'attention.0.bias', 'balance.0.weight', 'balance.0.bias',
      'refine.conv1.weight', 'refine.bn1.weight', 'refine.bn1.bias', 'refine.conv2.weight', 'refine.bn2.weight', 'refine.bn2.bias',
      'classifier.weight', 'classifier.bias',
    ]);
    m.eval();
    const b = w.randn([2, 6, 5, 7], { seed: 3 });
    const prev = w.randn([2, 4, 3, 4], { seed: 4 });
    const got = w.noGrad(() => m.forward(b, prev));
    const want = w.noGrad(() =>
      w.tidy(() => {
        const own = m.project.forward(b);
        const p = w.interpolate(prev, { size: [5, 7], mode: 'bilinear', alignCorners: false });
        const a = w.sigmoid(m.attention!.layers[0]!.forward(p));
        const g = w.sigmoid(m.balance!.layers[0]!.forward(w.concat([p, own], 1)));
        const f = m.refine.forward(w.add(w.mul(g, p), w.mul(w.sub(w.ones(g.shape), g), w.mul(a, own))));
        return [f, m.classifier.forward(f)];
      }),
    );
    expect(await maxDiff(got.features, want[0]!)).toBeLessThan(1e-5);
    expect(await maxDiff(got.prediction, want[1]!)).toBeLessThan(1e-5);
    expect(got.prediction.shape).toEqual([2, 1, 5, 7]);
    const first = keep(new TaskAttentiveModule('semseg', 6, 4, 5, true));
    expect(first.attention).toBeNull();
    expect(() => first.forward(b, prev)).toThrow(/the first step takes no previous features/);
    expect(() => m.forward(b, null)).toThrow(/needs the previous step's features/);
  });

  it('the recursion: c4 to c1, tasks in turn; each step reads its level; refusals', () => {
    const m = keep(createModel({ arch: 'jtrl', ...tiny }, TASKS) as JTRLModel);
    expect(m).toBeInstanceOf(JTRLModel);
    expect(m.backbone.outputStride).toBe(32);
    expect(m.channels).toBe(16); // 2 x the stem's 8
    expect(m.steps.items.map((s) => s.task)).toEqual([0, 1, 2, 3].flatMap(() => TASKS.map((t) => t.name)));
    const shapes = new Map(m.namedParameters().map(([n, p]) => [n, p.shape]));
    [3, 2, 1, 0].forEach((lvl, k) => {
      for (let i = 0; i < TASKS.length; i++) expect(shapes.get(`steps.${k * TASKS.length + i}.project.0.weight`)).toEqual([16, C[lvl], 1, 1]);
    });
    expect(shapes.has('steps.0.balance.0.weight')).toBe(false);
    expect(shapes.get('steps.1.balance.0.weight')).toEqual([16, 32, 3, 3]);
    expect(shapes.get('steps.11.classifier.weight')).toEqual([3, 16, 1, 1]);
    expect(m.sharedParameters()).toEqual(m.backbone.parameters());
    const s = summary(m, [1, 3, 32, 32]);
    expect(s.totalParams).toBe(m.numParameters());
    expect(s.rows.map((r) => r.name)).toEqual(['backbone', 'steps']);
    expect(s.rows.reduce((a, r) => a + r.flops, 0)).toBe(s.totalFlops);
    expect(() => createModel({ arch: 'jtrl', ...tiny }, TASKS.slice(0, 1))).toThrow(/JTRL alternates between tasks and needs at least two .* got 1/);
    expect(() => createModel({ arch: 'jtrl', head: 'conv' } as unknown as ModelSpec, TASKS)).toThrow(/'jtrl' does not take 'head' \(valid options: arch, backbone, width, outputStride, inChannels, seed, channels\)/);
    const two = keep(createModel({ arch: 'jtrl', width: 0.125, channels: 8, outputStride: 8 }, TASKS.slice(0, 2)) as JTRLModel);
    expect([two.channels, two.backbone.outputStride, two.steps.items.length]).toEqual([8, 8, 8]);
  });

  const CASES: { name: string; spec: ModelSpec; noGrad: RegExp | null }[] = [
    { name: 'resnet18', spec: { arch: 'jtrl', ...tiny }, noGrad: null },
    { name: 'hrnet18', spec: { arch: 'jtrl', backbone: 'hrnet18', width: 0.125, seed: 4 }, noGrad: null },
  ];

  it.each(CASES.map((c) => [c.name, c] as const))('on %s: shapes at odd sizes, shared layer, gradients to every parameter', async (_, c) => {
    const model = keep(createModel(c.spec, TASKS));
    expect(model.namedParameters().filter(([n]) => n.startsWith('backbone.')).map(([, p]) => p)).toEqual(model.sharedParameters());
    for (const [h, wd] of [[32, 32], [33, 29]] as const) {
      const x = w.randn([2, 3, h, wd], { seed: 1 });
      const out = model.forward(x);
      for (const t of TASKS) {
        expect(out.outputs[t.name]!.shape).toEqual([2, t.channels, h, wd]);
        expect(out.auxiliary![t.name]!.map((a) => a.shape)).toEqual(Array.from({ length: 3 }, () => [2, t.channels, h, wd]));
      }
      expect(out.representation).toBeNull();
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
      for (const t of TASKS) out.auxiliary![t.name]!.forEach((a, k) => (all[`${t.name}/aux${k}`] = a));
      w.backward(weightedLoss(all, 21));
      expect(await badGrads(model, c.noGrad)).toEqual([]);
      model.zeroGrad();
      x.dispose();
    }
  });

  it('checkpoint round trip: a model of another seed restored from it computes the same outputs', async () => {
    const a = keep(createModel({ arch: 'jtrl', ...tiny }, TASKS));
    const b = keep(createModel({ arch: 'jtrl', width: 0.125, seed: 99 }, TASKS));
    const x = w.randn([2, 3, 33, 29], { seed: 2 });
    w.noGrad(() => a.forward(x)); // moves the batch-norm statistics away from their initial values
    w.restoreCheckpoint(await w.encodeCheckpoint({ model: a, step: 3 }), { model: b });
    a.eval();
    b.eval();
    const [ya, yb] = [w.noGrad(() => a.forward(x)), w.noGrad(() => b.forward(x))];
    for (const t of TASKS) expect(await maxDiff(ya.outputs[t.name]!, yb.outputs[t.name]!)).toBe(0);
  });

  it('trains on synthetic scenes and beats the trivial baselines', async () => {
    const r = await shortSyntheticRun({ arch: 'jtrl', width: 0.25, seed: 1 }, 60);
    console.log(`jtrl short run: ${JSON.stringify(r)}`);
    expect(r.lastLoss).toBeLessThan(0.7 * r.firstLoss);
    expect(r.model.semseg!.mIoU).toBeGreaterThan(r.baseline.semseg!.mIoU!);
    expect(r.model.depth!.rmse).toBeLessThan(r.baseline.depth!.rmse!);
  }, 120_000);
});
