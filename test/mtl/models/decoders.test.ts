// The decoder-focused architectures (PAD-Net, MTI-Net) as in the survey's code: parameter names and
// counts of the distillation and feature-propagation blocks by hand, the SA and SE blocks against a
// float64 host computation, output and deep-supervision shapes (odd sizes too), gradients reaching
// every parameter, the last shared layer, createModel and summary(), and a few PAD-Net training
// steps with the Trainer that lower the loss (deep-supervision losses included).
import { afterAll, describe, expect, it } from 'vitest';
import * as w from '../../../src/index.js';
import { FixedWeights } from '../../../src/mtl/balance/fixed.js';
import {
  FPM,
  MTINetModel,
  MultiTaskDistillation,
  PADNetModel,
  SABlock,
  SEBlock,
  createModel,
  summary,
  type ModelSpec,
} from '../../../src/mtl/models/index.js';
import { devices } from '../../helpers/devices.js';
import { ND, map, map2, mean } from '../../reference/ndarray.js';
import { conv2d as refConv } from '../../reference/conv.js';
import { TASKS, absSumFinite, badGrads, maxDiff, weightedLoss } from './helpers.js';

const tiny = { width: 0.125, seed: 3 } as const;
const C = [8, 16, 32, 64]; // resnet18 stages at width 0.125 (stem 8)
const T = TASKS.length;

/** Parameters of the survey's SABlock(C, C): two 3x3 convs without bias. */
const saBlock = (c: number) => 2 * c * c * 9;
/** Parameters of MultiTaskDistillationModule over T tasks of C channels: an SABlock per ordered pair. */
const distillation = (c: number, tasks = T) => tasks * (tasks - 1) * saBlock(c);
/** Parameters of SEBlock(C, 16): Linear C -> h and h -> C with biases, h = max(1, C / 16). */
const seBlock = (c: number) => {
  const h = Math.max(1, Math.floor(c / 16));
  return c * h + h + h * c + c;
};
/** BasicBlock(in, out), with a 1x1 conv + BN shortcut when `shortcut`. */
const basic = (i: number, o: number, shortcut: boolean) => i * o * 9 + 2 * o + o * o * 9 + 2 * o + (shortcut ? i * o + 2 * o : 0);
/** Bottleneck(in, planes = out / 4), with a 1x1 conv + BN shortcut when `shortcut`. */
const bottleneck = (i: number, o: number, shortcut: boolean) => {
  const p = o / 4;
  return i * p + 2 * p + 9 * p * p + 2 * p + p * o + 2 * o + (shortcut ? i * o + 2 * o : 0);
};
/** The survey's FPM over N tasks of P channels (S = N P, S/4 in the non-linear f). */
const fpm = (p: number, n = T) => {
  const s = n * p;
  const q = Math.floor(s / 4);
  const nonLinear = basic(s, q, true) + basic(q, q, false) + q * s + s;
  return nonLinear + basic(s, p, true) + n * seBlock(p);
};
const byPrefix = (m: w.Module, re: RegExp) => m.namedParameters().filter(([n]) => re.test(n)).reduce((a, [, p]) => a + p.size, 0);

/** Host SABlock: conv(x) * sigmoid(attention(x)), both 3x3, padding 1, no bias. */
function hostSA(x: ND, wConv: ND, wAtt: ND): ND {
  const pad: [number, number, number, number] = [1, 1, 1, 1];
  const sig = map(refConv(x, wAtt, null, { pad }), (v) => 1 / (1 + Math.exp(-v)));
  return map2(refConv(x, wConv, null, { pad }), sig, (a, b) => a * b);
}

async function nd(t: w.Tensor): Promise<ND> {
  return ND.from(await t.toArray(), t.shape);
}

describe.each(devices())('decoder-focused models on %s', () => {
  const models: w.Module[] = [];
  const keep = <M extends w.Module>(m: M): M => {
    models.push(m);
    return m;
  };
  afterAll(() => models.forEach((m) => m.dispose()));

  it('SABlock and SEBlock equal a host computation', async () => {
    const g = new w.Generator(5);
    const sa = keep(new SABlock(2, 3, g));
    const x = w.randn([2, 2, 4, 5], { seed: 6 });
    const hx = await nd(x);
    const expected = hostSA(hx, await nd(sa.conv.weight), await nd((sa.attention.layers[0] as w.Conv2d).weight));
    const got = w.noGrad(() => sa.forward(x));
    expect(got.shape).toEqual([2, 3, 4, 5]);
    expect(await maxDiff(got, w.fromArray(Array.from(expected.data), expected.shape))).toBeLessThan(1e-5);
    expect(sa.namedParameters().map(([n, p]) => [n, p.shape])).toEqual([
      ['attention.0.weight', [3, 2, 3, 3]],
      ['conv.weight', [3, 2, 3, 3]],
    ]);

    // SE: x * sigmoid(W2 relu(W1 mean_hw(x) + b1) + b2), per sample and channel
    const se = keep(new SEBlock(4, 2, g));
    const xin = w.randn([2, 4, 3, 2], { seed: 7 });
    const y = w.noGrad(() => se.forward(xin));
    const hxin = await nd(xin);
    const [l1, l2] = [se.squeeze.layers[0] as w.Linear, se.squeeze.layers[2] as w.Linear];
    const [w1, b1, w2, b2] = await Promise.all([l1.weight, l1.bias!, l2.weight, l2.bias!].map((t) => t.toArray()));
    const m = mean(hxin, [2, 3]);
    const out = new Float64Array(hxin.size);
    for (let n = 0; n < 2; n++) {
      const hid = [0, 1].map((j) => Math.max(0, b1![j]! + [0, 1, 2, 3].reduce((a, c) => a + w1![j * 4 + c]! * m.at([n, c]), 0)));
      for (let c = 0; c < 4; c++) {
        const s = 1 / (1 + Math.exp(-(b2![c]! + hid.reduce((a, h, j) => a + w2![c * 2 + j]! * h, 0))));
        for (let i = 0; i < 6; i++) out[(n * 4 + c) * 6 + i] = hxin.data[(n * 4 + c) * 6 + i]! * s;
      }
    }
    expect(await maxDiff(y, w.fromArray(Array.from(out), [2, 4, 3, 2]))).toBeLessThan(1e-5);
    expect(se.hidden).toBe(2);
    expect(keep(new SEBlock(8)).hidden).toBe(1); // the survey's 8 // 16 = 0 would not build
  });

  it('distillation: each task plus the attended features of the others; names and counts', async () => {
    const d = keep(new MultiTaskDistillation(['a', 'b', 'c'], 4, new w.Generator(8)));
    expect(d.numParameters()).toBe(distillation(4, 3));
    expect(d.namedParameters().map(([n]) => n).filter((n) => n.startsWith('self_attention.b.'))).toEqual([
      'self_attention.b.a.attention.0.weight',
      'self_attention.b.a.conv.weight',
      'self_attention.b.c.attention.0.weight',
      'self_attention.b.c.conv.weight',
    ]);
    const f = { a: w.randn([1, 4, 3, 3], { seed: 1 }), b: w.randn([1, 4, 3, 3], { seed: 2 }), c: w.randn([1, 4, 3, 3], { seed: 3 }) };
    const out = w.noGrad(() => d.forward(f));
    const sa = d.self_attention.get('b');
    const expected = w.noGrad(() => w.add(w.add(f.b, sa.get('a').forward(f.a)), sa.get('c').forward(f.c)));
    expect(await maxDiff(out.b!, expected)).toBeLessThan(1e-5);
    // one task: nothing to distil
    const single = keep(new MultiTaskDistillation(['a'], 4));
    expect(single.numParameters()).toBe(0);
    expect(await maxDiff(w.noGrad(() => single.forward({ a: f.a })).a!, f.a)).toBe(0);
  });

  it("FPM: the task attention is a softmax over N consecutive channels of the concatenation (the survey's view)", async () => {
    const names = ['a', 'b', 'c'];
    const m = keep(new FPM(names, 4, 2, new w.Generator(4)));
    const f = Object.fromEntries(names.map((t, i) => [t, w.randn([2, 4, 3, 5], { seed: 30 + i })]));
    const out = w.noGrad(() => m.forward(f));
    // host: mask[b, j] = softmax of f(cat)[b, 3 * floor(j / 3) .. + 2] at j, applied to cat[b, j]
    const cat = w.concat(names.map((t) => f[t]!), 1);
    const logits = await nd(w.noGrad(() => m.non_linear.forward(cat)));
    const hc = await nd(cat);
    const attended = new Float64Array(hc.size);
    const hw = 15;
    for (let b = 0; b < 2; b++)
      for (let j = 0; j < 12; j++)
        for (let i = 0; i < hw; i++) {
          const at = (c: number) => logits.data[(b * 12 + c) * hw + i]!;
          const g0 = 3 * Math.floor(j / 3);
          const z = [0, 1, 2].reduce((a, k) => a + Math.exp(at(g0 + k)), 0);
          attended[(b * 12 + j) * hw + i] = (Math.exp(at(j)) / z) * hc.data[(b * 12 + j) * hw + i]!;
        }
    const shared = w.noGrad(() => m.dimensionality_reduction.forward(w.fromArray(Array.from(attended), [2, 12, 3, 5])));
    for (const t of names) {
      const expected = w.noGrad(() => w.add(m.se.get(t).forward(shared), f[t]!));
      expect(out[t]!.shape).toEqual([2, 4, 3, 5]);
      expect(await maxDiff(out[t]!, expected), t).toBeLessThan(1e-4);
    }
  });

  it('PAD-Net: names and parameter counts by hand', () => {
    const m = keep(new PADNetModel(TASKS, { backbone: { widthMultiplier: 0.125 }, generator: new w.Generator(1) }));
    const c = m.channels;
    expect(c).toBe(32); // 4 x the stem's 8 channels
    const shapes = new Map(m.namedParameters().map(([n, p]) => [n, p.shape]));
    expect(shapes.get('initial_task_prediction_heads.layers.semseg.0.conv1.weight')).toEqual([c / 4, C[3], 1, 1]);
    expect(shapes.get('initial_task_prediction_heads.layers.semseg.0.downsample.0.weight')).toEqual([c, C[3], 1, 1]);
    expect(shapes.get('initial_task_prediction_heads.conv_out.normals.weight')).toEqual([3, c, 1, 1]);
    expect(shapes.get('multi_modal_distillation.self_attention.depth.semseg.conv.weight')).toEqual([c, c, 3, 3]);
    expect(shapes.has('multi_modal_distillation.self_attention.depth.depth.conv.weight')).toBe(false);
    expect(shapes.get('heads.semseg.2.weight')).toEqual([5, c, 1, 1]);
    const classifiers = TASKS.reduce((a, t) => a + c * t.channels + t.channels, 0);
    expect(byPrefix(m, /^initial_task_prediction_heads\./)).toBe(T * (bottleneck(C[3]!, c, true) + bottleneck(c, c, false)) + classifiers);
    expect(byPrefix(m, /^multi_modal_distillation\./)).toBe(distillation(c));
    expect(byPrefix(m, /^heads\./)).toBe(T * 2 * bottleneck(c, c, false) + classifiers);
    expect(m.numParameters()).toBe(m.backbone.numParameters() + byPrefix(m, /^(initial|multi|heads)/));
    expect(m.sharedParameters()).toEqual(m.backbone.parameters());
    expect(() => new PADNetModel(TASKS, { backbone: { widthMultiplier: 0.125 }, channels: 30 })).toThrow(/divisible by 4/);
  });

  it('MTI-Net: names and parameter counts of the FPMs, scales, distillation and heads by hand', () => {
    const m = keep(new MTINetModel(TASKS, { backbone: { widthMultiplier: 0.125 }, generator: new w.Generator(2) }));
    expect(m.backbone.outputStride).toBe(32);
    expect(m.taskChannels).toEqual(C);
    expect(m.namedChildren().map(([n]) => n)).toEqual([
      'backbone', 'fpm_scale_3', 'fpm_scale_2', 'fpm_scale_1', 'scale_0', 'scale_1', 'scale_2', 'scale_3',
      'distillation_scale_0', 'distillation_scale_1', 'distillation_scale_2', 'distillation_scale_3', 'heads',
    ]);
    const shapes = new Map(m.namedParameters().map(([n, p]) => [n, p.shape]));
    const s3 = T * C[3]!;
    expect(shapes.get('fpm_scale_3.non_linear.0.conv1.weight')).toEqual([s3 / 4, s3, 3, 3]);
    expect(shapes.get('fpm_scale_3.non_linear.2.weight')).toEqual([s3, s3 / 4, 1, 1]);
    expect(shapes.get('fpm_scale_3.dimensionality_reduction.downsample.0.weight')).toEqual([C[3], s3, 1, 1]);
    expect(shapes.get('fpm_scale_1.se.depth.squeeze.0.weight')).toEqual([1, C[1]]);
    expect(shapes.get('scale_2.refinement.semseg.0.conv1.weight')).toEqual([C[2], C[2]! + C[3]!, 3, 3]);
    expect(shapes.has('scale_3.refinement.semseg.0.downsample.0.weight')).toBe(false); // c4 in, c4 out
    expect(shapes.get('scale_0.decoders.normals.weight')).toEqual([3, C[0], 1, 1]);
    const sum = C.reduce((a, b) => a + b, 0);
    expect(shapes.get('heads.depth.last_layer.0.weight')).toEqual([sum, sum, 1, 1]);
    expect(shapes.get('heads.depth.last_layer.3.weight')).toEqual([1, sum, 1, 1]);
    for (const k of [1, 2, 3]) expect(byPrefix(m, new RegExp(`^fpm_scale_${k}\\.`)), `fpm ${k}`).toBe(fpm(C[k]!));
    for (const k of [0, 1, 2, 3]) expect(byPrefix(m, new RegExp(`^distillation_scale_${k}\\.`))).toBe(distillation(C[k]!));
    const classifiers = (c: number) => TASKS.reduce((a, t) => a + c * t.channels + t.channels, 0);
    for (const k of [0, 1, 2, 3]) {
      const inC = k === 3 ? C[3]! : C[k]! + C[k + 1]!;
      const blocks = basic(inC, C[k]!, inC !== C[k]) + basic(C[k]!, C[k]!, false);
      expect(byPrefix(m, new RegExp(`^scale_${k}\\.`)), `scale ${k}`).toBe(T * blocks + classifiers(C[k]!));
    }
    expect(byPrefix(m, /^heads\./)).toBe(T * (sum * sum + sum + 2 * sum) + classifiers(sum));
    // shared: the encoder and the FPMs' shared parts, in parameter order
    const shared = new Set(m.sharedParameters());
    const re = /^(backbone|fpm_scale_\d\.(non_linear|dimensionality_reduction))\./;
    expect(m.namedParameters().filter(([n]) => re.test(n)).map(([, p]) => p)).toEqual([...shared]);
    expect(() => new MTINetModel(TASKS, { backbone: { widthMultiplier: 0.125 }, taskChannels: [8, 16, 32] as never })).toThrow(/four positive integers/);
    // taskChannels free the scales from the encoder's widths (shortcuts where they differ)
    const n = keep(new MTINetModel(TASKS.slice(0, 2), { backbone: { widthMultiplier: 0.125 }, taskChannels: [4, 4, 8, 8] }));
    expect(n.namedParameters().find(([k]) => k === 'scale_3.refinement.depth.0.downsample.0.weight')![1].shape).toEqual([8, C[3], 1, 1]);
    expect(byPrefix(n, /^fpm_scale_1\./)).toBe(fpm(4, 2));
  });

  const CASES: { spec: ModelSpec; aux: number; shared: RegExp; noGrad: RegExp | null; representation: boolean }[] = [
    { spec: { arch: 'pad-net', ...tiny }, aux: 1, shared: /^backbone\./, noGrad: null, representation: true },
    // HighResolutionHead's first 1x1 conv has a bias right before a training-mode batch norm,
    // which removes it: its gradient is (numerically) zero, as in the survey's model. SE ratio 2:
    // at width 0.125 the default 16 leaves the SE blocks one or two hidden units, which the ReLU
    // may silence for a whole batch (then their weights get no gradient, legitimately).
    {
      spec: { arch: 'mti-net', ...tiny, seReduction: 2 },
      aux: 4,
      shared: /^(backbone|fpm_scale_\d\.(non_linear|dimensionality_reduction))\./,
      noGrad: /^heads\.\w+\.last_layer\.0\.bias$/,
      representation: false,
    },
  ];

  it.each(CASES.map((c) => [c.spec.arch, c] as const))('%s: output and deep-supervision shapes, shared layer, gradients', async (_, c) => {
    const model = keep(createModel(c.spec, TASKS));
    const shared = new Set(model.sharedParameters());
    expect(model.namedParameters().filter(([n]) => c.shared.test(n)).map(([, p]) => p)).toEqual([...shared]);
    for (const [h, wd] of [[32, 32], [33, 29]] as const) {
      const x = w.randn([2, 3, h, wd], { seed: 1 });
      const out = model.forward(x);
      expect(Object.keys(out.outputs)).toEqual(TASKS.map((t) => t.name));
      expect(Object.keys(out.auxiliary!)).toEqual(TASKS.map((t) => t.name));
      for (const t of TASKS) {
        expect(out.outputs[t.name]!.shape).toEqual([2, t.channels, h, wd]);
        expect(out.auxiliary![t.name]!.map((a) => a.shape)).toEqual(Array.from({ length: c.aux }, () => [2, t.channels, h, wd]));
      }
      expect(out.representation !== null).toBe(c.representation);
      if (h === 32) continue;
      // The last shared layer is shared, and every task's final output depends on it.
      const last = model.lastSharedLayer()!;
      expect(shared.has(last)).toBe(true);
      for (const [i, t] of TASKS.entries()) {
        const loss = weightedLoss({ [t.name]: out.outputs[t.name]! }, 11 + i);
        const [g] = w.grad(loss, [last], { retainGraph: true });
        const { abs, finite } = await absSumFinite(g!);
        expect(finite, t.name).toBe(true);
        expect(abs, `d ${t.name} / d lastSharedLayer`).toBeGreaterThan(0);
        g!.dispose();
        loss.dispose();
      }
      // Every trainable parameter gets a finite, non-zero gradient from outputs + deep supervision.
      const all: Record<string, w.Tensor> = { ...out.outputs };
      for (const t of TASKS) out.auxiliary![t.name]!.forEach((a, k) => (all[`${t.name}/aux${k}`] = a));
      w.backward(weightedLoss(all, 21));
      expect(await badGrads(model, c.noGrad)).toEqual([]);
      if (c.noGrad) {
        for (const [n, p] of model.namedParameters().filter(([n]) => c.noGrad!.test(n))) {
          expect((await p.grad!.toArray()).every((v) => Math.abs(v) < 1e-3), n).toBe(true);
        }
      }
      model.zeroGrad();
    }
  });

  it('createModel builds both and rejects options they do not take', () => {
    const p = keep(createModel({ arch: 'pad-net', width: 0.125, channels: 16 }, TASKS));
    expect(p).toBeInstanceOf(PADNetModel);
    expect((p as PADNetModel).channels).toBe(16);
    const q = keep(createModel({ arch: 'mti-net', width: 0.125, outputStride: 8, taskChannels: [4, 4, 8, 8], seReduction: 4 }, TASKS.slice(0, 2)));
    expect(q).toBeInstanceOf(MTINetModel);
    expect((q as MTINetModel).backbone.outputStride).toBe(8);
    expect((q as MTINetModel).fpmOf(3)).toBeInstanceOf(FPM);
    expect(() => createModel({ arch: 'pad-net', head: 'conv' } as unknown as ModelSpec, TASKS)).toThrow(/'pad-net' does not take 'head' \(valid options: arch, backbone, width, outputStride, inChannels, seed, channels\)/);
    expect(() => createModel({ arch: 'mti-net', channels: 8 } as unknown as ModelSpec, TASKS)).toThrow(/'mti-net' does not take 'channels'/);
    expect(() => createModel({ arch: 'mti-net', rates: [1] } as unknown as ModelSpec, TASKS)).toThrow(/does not take 'rates'/);
    expect(() => createModel({ arch: 'padnet' } as unknown as ModelSpec, TASKS)).toThrow(/valid: .*pad-net, mti-net/);
    expect(() => createModel({ arch: 'mti-net', width: 0.125, seReduction: 0 }, TASKS)).toThrow(/seReduction/);
  });

  it('summary() works on both: rows per child, totals add up', () => {
    for (const arch of ['pad-net', 'mti-net'] as const) {
      const m = keep(createModel({ arch, ...tiny }, TASKS));
      const s = summary(m, [1, 3, 32, 32]);
      expect(s.totalParams).toBe(m.numParameters());
      expect(s.rows.reduce((a, r) => a + r.params, 0)).toBe(s.totalParams);
      expect(s.rows.reduce((a, r) => a + r.flops, 0)).toBe(s.totalFlops);
      expect(s.rows.every((r) => r.name === '(self)' || r.flops > 0)).toBe(true);
      expect(s.text).toContain(arch === 'pad-net' ? 'multi_modal_distillation' : 'fpm_scale_3');
      expect(m.training).toBe(true);
    }
  });

  it('PAD-Net trains with the Trainer: 5 steps on a fixed batch lower the total loss (deep supervision included)', async () => {
    const model = keep(new PADNetModel(
      [{ name: 'semseg', channels: 4 }, { name: 'depth', channels: 1 }],
      { backbone: { widthMultiplier: 0.125 }, generator: new w.Generator(9) },
    ));
    const tasks = [w.segmentationTask({ numClasses: 4 }), w.depthTask()];
    const g = new w.Generator(10);
    const [n, h, wd] = [2, 32, 32];
    const x = g.uniform(n * 3 * h * wd, -1, 1);
    const labels = Int32Array.from({ length: n * h * wd }, (_, i) => (x[i]! > 0 ? 1 : 0) + (x[i + h * wd]! > 0 ? 2 : 0));
    const depth = Float32Array.from({ length: n * h * wd }, (_, i) => 1 + x[i]!);
    const batch: w.MultiTaskBatch = {
      input: w.fromArray(x, [n, 3, h, wd]),
      targets: { semseg: { target: w.fromArray(labels, [n, h, wd]) }, depth: { target: w.fromArray(depth, [n, 1, h, wd]) } },
    };
    const trainer = new w.Trainer({
      model,
      tasks,
      balancer: new FixedWeights(model.taskNames),
      optimizer: new w.Adam(model.parameters(), { lr: 0.003 }),
      logEvery: 1,
    });
    // The logged task loss is the final loss plus the initial prediction's (the deep supervision).
    const out = w.noGrad(() => model.forward(batch.input));
    const finalOnly = await (tasks[0]!.loss(out.outputs.semseg!, batch.targets.semseg!)).item();
    const withAux = finalOnly + (await tasks[0]!.loss(out.auxiliary!.semseg![0]!, batch.targets.semseg!).item());
    for (let s = 0; s < 5; s++) await trainer.trainStep(batch);
    const total = (k: number) => Object.values(trainer.history[k]!.losses).reduce((a, b) => a + b, 0);
    expect(trainer.history.length).toBe(5);
    expect(trainer.history[0]!.losses.semseg).toBeGreaterThan(finalOnly);
    expect(trainer.history[0]!.losses.semseg).toBeCloseTo(withAux, 3);
    expect(total(4)).toBeLessThan(0.9 * total(0)); // measured: 5.23 -> 4.03
    w.disposeBatch(batch);
  });
});
