// Architectures on hrnet18 through createModel: the shared encoder and single-task baselines with
// the survey's HRNet head (the default on hrnet18), PAD-Net reading the fused branches, MTI-Net on
// the four branches (task channels = branch widths, as the survey); output and deep-supervision
// shapes, parameter names, shared layer and gradients to every parameter; clear refusals where
// HRNet does not fit (Cross-Stitch, NDDR-CNN, MTAN work between ResNet stages; output strides).
import { afterEach, describe, expect, it } from 'vitest';
import * as w from '../../../src/index.js';
import { createModel, type ModelSpec, type MultiTaskModel } from '../../../src/mtl/models/index.js';
import { devices } from '../../helpers/devices.js';
import { TASKS, badGrads, weightedLoss } from './helpers.js';

const T2 = TASKS.slice(0, 2);
const hr = { backbone: 'hrnet18', width: 0.25, seed: 3 } as const;

const made: MultiTaskModel[] = [];
const keep = <M extends MultiTaskModel>(m: M): M => (made.push(m), m);
afterEach(() => {
  for (const m of made.splice(0)) m.dispose();
});

// A bias right before a training-mode batch norm gets no gradient (the norm removes it): the first
// 1x1 conv of the survey's HRNet head and fusion, exactly as in its PyTorch models.
const BIAS_BEFORE_BN = /(last_layer\.0\.bias)$/;

const CASES: { spec: ModelSpec; aux: number; names: string[]; shared: RegExp; last: string; representation: boolean }[] = [
  {
    spec: { arch: 'shared-encoder', ...hr },
    aux: 0,
    names: ['backbone.stage4.1.fuse_layers.3.2.0.0.weight', 'decoders.semseg.last_layer.0.weight', 'decoders.depth.last_layer.3.weight'],
    shared: /^backbone\./,
    last: 'backbone.stage4.1.branches.0.1.conv2.weight',
    representation: false,
  },
  {
    spec: { arch: 'pad-net', ...hr },
    aux: 1,
    names: ['backbone.transition3.3.0.0.weight', 'fuse.last_layer.0.weight', 'initial_task_prediction_heads.conv_out.depth.weight'],
    shared: /^(backbone|fuse)\./,
    last: 'fuse.last_layer.0.weight',
    representation: true,
  },
  {
    spec: { arch: 'mti-net', ...hr, seReduction: 2 },
    aux: 4,
    names: ['backbone.stage3.2.branches.2.1.conv2.weight', 'fpm_scale_3.non_linear.0.conv1.weight', 'heads.semseg.last_layer.3.weight'],
    shared: /^(backbone|fpm_scale_\d\.(non_linear|dimensionality_reduction))\./,
    last: 'backbone.stage4.1.branches.0.1.conv2.weight',
    representation: false,
  },
];

describe.each(devices())('architectures on hrnet18 on %s', () => {
  it.each(CASES.map((c) => [c.spec.arch, c] as const))('%s: shapes, names, shared layer, gradients to every parameter', async (_, c) => {
    const model = keep(createModel(c.spec, T2));
    const names = model.namedParameters().map(([n]) => n);
    for (const n of c.names) expect(names, n).toContain(n);
    // The encoder is exactly hrnet18 at that width, under `backbone.` with the official names.
    const ref = w.hrnet18({ widthMultiplier: 0.25 });
    const own = model.namedParameters().filter(([n]) => n.startsWith('backbone.'));
    expect(own.map(([n, p]) => [n.slice('backbone.'.length), p.shape])).toEqual(ref.namedParameters().map(([n, p]) => [n, p.shape]));
    ref.dispose();
    const shared = new Set(model.sharedParameters());
    expect(model.namedParameters().filter(([n]) => c.shared.test(n)).map(([, p]) => p)).toEqual([...shared]);
    const lastName = model.namedParameters().find(([, p]) => p === model.lastSharedLayer())![0];
    expect(lastName).toBe(c.last);
    const x = w.randn([2, 3, 64, 48], { seed: 1 });
    const out = model.forward(x);
    for (const t of T2) {
      expect(out.outputs[t.name]!.shape).toEqual([2, t.channels, 64, 48]);
      expect((out.auxiliary?.[t.name] ?? []).map((a) => a.shape)).toEqual(Array.from({ length: c.aux }, () => [2, t.channels, 64, 48]));
    }
    expect(out.representation !== null).toBe(c.representation);
    w.backward(w.tidy(() => weightedLoss({ ...out.outputs, ...Object.fromEntries(Object.entries(out.auxiliary ?? {}).flatMap(([t, a]) => a.map((v, i) => [`${t}${i}`, v]))) })));
    expect(await badGrads(model, BIAS_BEFORE_BN)).toEqual([]);
    x.dispose();
  });

  it('single-task on hrnet18 uses the HRNet head by default; an ASPP head reads c4', () => {
    const st = keep(createModel({ arch: 'single-task', ...hr }, [TASKS[0]!]));
    expect(st.namedParameters().map(([n]) => n)).toContain('decoder.last_layer.3.weight');
    // The summary runs through the multi-branch modules and counts the encoder's convolutions.
    const sum = w.summary(st, [1, 3, 32, 32]);
    expect(sum.totalParams).toBe(st.numParameters());
    expect(sum.rows.find((r) => r.name === 'backbone')!.flops).toBeGreaterThan(0);
    const aspp = keep(createModel({ arch: 'shared-encoder', ...hr, head: 'aspp' }, T2));
    const conv = aspp.namedParameters().find(([n]) => n === 'decoders.semseg.0.convs.0.0.weight')!;
    expect(conv[1].shape[1]).toBe(36); // c4 of hrnet18 at width 0.25
  });

  it('refuses hrnet18 where it does not fit, naming the architectures it fits', () => {
    for (const arch of ['cross-stitch', 'nddr', 'mtan'] as const) {
      expect(() => createModel({ arch, ...hr } as ModelSpec, T2), arch).toThrow(/needs a ResNet.*hrnet18 fits single-task, shared-encoder, pad-net and mti-net/);
    }
    expect(() => createModel({ arch: 'shared-encoder', ...hr, outputStride: 8 }, T2)).toThrow(/hrnet18 keeps all four resolutions/);
    expect(() => createModel({ arch: 'shared-encoder', ...hr, head: 'hrnet', headChannels: 16 }, T2)).toThrow(/'channels' does not apply to 'hrnet'/);
    expect(() => createModel({ arch: 'shared-encoder', backbone: 'hrnet19' as never }, T2)).toThrow(/valid: resnet18, resnet34, resnet50, hrnet18/);
  });
});
