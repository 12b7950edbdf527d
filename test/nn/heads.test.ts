// Dense-prediction heads: numerics against torchvision's FCNHead / DeepLabHead layout and an FPN head
// built on torchvision's FeaturePyramidNetwork (test/fixtures/backbones.json, written by
// scripts/fixtures/make_backbone_fixtures.py), output shapes on ResNet features, gradient flow
// through backbone + heads, and input handling.
import { describe, expect, it } from 'vitest';
import * as w from '../../src/index.js';
import { devices } from '../helpers/devices.js';
import { backboneFixtures, checkNumericCase, type NumericCase } from './torch-cases.js';


/** The configuration of a head case, as the generator writes it. */
interface HeadConfig {
  in_channels: number | number[];
  num_classes: number;
  channels?: number;
  rates?: number[];
}

const CASES = backboneFixtures<{ cases: NumericCase<HeadConfig>[] }>().cases.filter(
  (c) => c.kind.endsWith('_head'),
);


function build(c: NumericCase<HeadConfig>): { m: w.Module; forward: (xs: Record<string, w.Tensor>) => w.Tensor } {
  const cfg = c.config;
  if (c.kind === 'conv_head') {
    const m = new w.ConvHead(cfg.in_channels as number, cfg.num_classes);
    return { m, forward: (xs) => m.forward(xs.x!) };
  }
  if (c.kind === 'aspp_head') {
    const m = new w.ASPPHead(cfg.in_channels as number, cfg.num_classes, { channels: cfg.channels, rates: cfg.rates });
    return { m, forward: (xs) => m.forward(xs.x!) };
  }
  const m = new w.FPNHead(cfg.in_channels as number[], cfg.num_classes, { channels: cfg.channels });
  return { m, forward: (xs) => m.forward([xs.f0!, xs.f1!, xs.f2!, xs.f3!]) };
}

describe.each(devices())('dense-prediction heads on %s', () => {
  it.each(CASES.map((c) => [c.name, c] as const))(
    '%s: names load from the torch state dict; output, gradients and running statistics match',
    async (_, c) => {
      const { m, forward } = build(c);
      // Every torch parameter and buffer has its counterpart (only num_batches_tracked is skipped),
      // and every parameter has a gradient in the case.
      await checkNumericCase(c, m, forward, { everyParam: true });
    },
  );

  it('heads on ResNet features: logits at the resolution of the level they read', () => {
    const gen = new w.Generator(21);
    const bb = w.resnet18({ widthMultiplier: 0.125, generator: gen }).eval();
    const ch = bb.channels;
    const conv = new w.ConvHead(ch.c4, 5, { generator: gen }).eval();
    const conv3 = new w.ConvHead(ch.c3, 2, { level: 'c3', midChannels: 7, generator: gen }).eval();
    const aspp = new w.ASPPHead(ch.c4, 4, { channels: 16, generator: gen }).eval();
    const fpn = new w.FPNHead([ch.c1, ch.c2, ch.c3, ch.c4], 3, { channels: 16, generator: gen }).eval();
    const fpn3 = new w.FPNHead([ch.c2, ch.c3, ch.c4], 1, { channels: 8, levels: ['c2', 'c3', 'c4'], topDownMode: 'bilinear', fuseMode: 'nearest' }).eval();
    const shapes = w.tidy(() =>
      w.noGrad(() => {
        const f = bb.forward(w.randn([2, 3, 72, 40]));
        return [conv.forward(f), conv3.forward(f), conv.forward(f.c4), aspp.forward(f), fpn.forward(f), fpn3.forward(f)].map((t) => [...t.shape]);
      }),
    );
    expect(shapes).toEqual([
      [2, 5, 3, 2],
      [2, 2, 5, 3],
      [2, 5, 3, 2],
      [2, 4, 3, 2],
      [2, 3, 18, 10],
      [2, 1, 9, 5],
    ]);
    expect(conv.conv.weight.shape).toEqual([ch.c4 / 4, ch.c4, 3, 3]);
    expect(conv3.conv.weight.shape).toEqual([7, ch.c3, 3, 3]);
    for (const m of [bb, conv, conv3, aspp, fpn, fpn3]) m.dispose();
  });

  it('ASPP on a dilated (output stride 8) backbone, default rates 6, 12, 18', () => {
    const bb = w.resnet50({ widthMultiplier: 0.0625, outputStride: 8, generator: new w.Generator(2) }).eval();
    const aspp = new w.ASPPHead(bb.channels.c4, 3, { channels: 8 }).eval();
    expect(aspp.aspp.convs.items.length).toBe(5);
    const dil = aspp.namedModules().filter(([, m]) => m instanceof w.Conv2d).map(([n, m]) => [n, (m as w.Conv2d).opts.dilation ?? 1]);
    expect(dil).toEqual([
      ['0.convs.0.0', 1],
      ['0.convs.1.0', 6],
      ['0.convs.2.0', 12],
      ['0.convs.3.0', 18],
      ['0.convs.4.1', 1],
      ['0.project.0', 1],
      ['1', 1],
      ['4', 1],
    ]);
    const shape = w.tidy(() => w.noGrad(() => [...aspp.forward(bb.forward(w.randn([1, 3, 48, 56]))).shape]));
    expect(shape).toEqual([1, 3, 6, 7]);
    bb.dispose();
    aspp.dispose();
  });

  it('multi-task: gradients from three heads reach every parameter of the shared backbone, finite', async () => {
    const gen = new w.Generator(4);
    const bb = w.resnet18({ widthMultiplier: 0.125, generator: gen });
    const ch = bb.channels;
    const heads = [
      new w.ConvHead(ch.c4, 3, { generator: gen }),
      new w.ASPPHead(ch.c4, 2, { channels: 8, rates: [1, 2, 3], generator: gen }),
      new w.FPNHead([ch.c1, ch.c2, ch.c3, ch.c4], 4, { channels: 8, generator: gen }),
    ] as const;
    const x = w.randn([2, 3, 32, 32], { generator: new w.Generator(8) });
    const loss = w.tidy(() => {
      const f = bb.forward(x);
      const outs = heads.map((h) => h.forward(f));
      expect(outs.map((o) => [...o.shape])).toEqual([
        [2, 3, 1, 1],
        [2, 2, 1, 1],
        [2, 4, 8, 8],
      ]);
      // Logits upsampled to the input size by the caller, as a task loss would see them.
      const up = outs.map((o) => w.interpolate(o, { size: [32, 32], mode: 'bilinear' }));
      return up.map((u) => w.mean(w.square(u))).reduce((a, b) => w.add(a, b));
    });
    w.backward(loss);
    expect(Number.isFinite(await loss.item())).toBe(true);
    for (const m of [bb, ...heads]) {
      for (const [k, p] of m.namedParameters()) {
        expect(p.grad, k).not.toBeNull();
        const g = await p.grad!.data();
        expect(g.every(Number.isFinite), k).toBe(true);
      }
    }
    // The classifiers and the shared stem receive non-zero gradients.
    for (const t of [heads[0].classifier.weight, heads[1].classifier.bias!, heads[2].head.classifier.weight, bb.conv1.weight]) {
      expect(Array.from(await t.grad!.data()).some((v) => v !== 0)).toBe(true);
    }
    loss.dispose();
    x.dispose();
    for (const m of [bb, ...heads]) m.dispose();
  });

  it('parameter names follow torchvision (FCNHead, DeepLabHead, FeaturePyramidNetwork)', () => {
    const conv = new w.ConvHead(8, 3);
    expect(conv.namedParameters().map(([k]) => k)).toEqual(['0.weight', '1.weight', '1.bias', '4.weight', '4.bias']);
    const aspp = new w.ASPPHead(8, 3, { channels: 4, rates: [2] });
    expect(aspp.namedParameters().map(([k]) => k)).toEqual([
      '0.convs.0.0.weight', '0.convs.0.1.weight', '0.convs.0.1.bias',
      '0.convs.1.0.weight', '0.convs.1.1.weight', '0.convs.1.1.bias',
      '0.convs.2.1.weight', '0.convs.2.2.weight', '0.convs.2.2.bias',
      '0.project.0.weight', '0.project.1.weight', '0.project.1.bias',
      '1.weight', '2.weight', '2.bias', '4.weight', '4.bias',
    ]);
    expect(aspp.aspp.project.layers[0]!.namedParameters()[0]![1].shape).toEqual([4, 12, 1, 1]);
    const fpn = new w.FPNHead([4, 8], 3, { channels: 4, levels: ['c3', 'c4'] });
    expect(fpn.namedParameters().map(([k]) => k)).toEqual([
      'fpn.inner_blocks.0.0.weight', 'fpn.inner_blocks.0.0.bias', 'fpn.inner_blocks.1.0.weight', 'fpn.inner_blocks.1.0.bias',
      'fpn.layer_blocks.0.0.weight', 'fpn.layer_blocks.0.0.bias', 'fpn.layer_blocks.1.0.weight', 'fpn.layer_blocks.1.0.bias',
      'head.0.weight', 'head.1.weight', 'head.1.bias', 'head.4.weight', 'head.4.bias',
    ]);
    for (const m of [conv, aspp, fpn]) m.dispose();
  });

  it('FPN initialises as torchvision (kaiming uniform a = 1, zero bias)', async () => {
    const fpn = new w.FeaturePyramidNetwork([64, 32], 16, { generator: new w.Generator(3) });
    const inner = fpn.innerBlocks.items[0]!.layers[0] as w.Conv2d;
    const v = await inner.weight.data();
    const bound = Math.sqrt(3 / 64); // gain(leaky_relu, a = 1) = 1
    expect(Math.max(...v.map(Math.abs))).toBeLessThanOrEqual(bound);
    expect(Math.max(...v.map(Math.abs))).toBeGreaterThan(0.9 * bound);
    expect(new Set(await inner.bias!.toArray())).toEqual(new Set([0]));
    fpn.dispose();
  });

  it('rejects mismatched inputs with typed errors', () => {
    const conv = new w.ConvHead(8, 3);
    expect(() => conv.forward(w.zeros([1, 4, 5, 5]))).toThrow(w.ShapeError);
    const fpn = new w.FPNHead([4, 8], 3, { channels: 4, levels: ['c3', 'c4'] });
    expect(() => fpn.forward([w.zeros([1, 4, 4, 4])])).toThrow(w.ShapeError);
    expect(() => new w.FPNHead([4, 8], 3)).toThrow(/levels/);
    expect(() => new w.ASPPHead(8, 3, { rates: [0] })).toThrow(w.ArgumentError);
    expect(() => new w.ConvHead(8, 0)).toThrow(w.ArgumentError);
    conv.dispose();
    fpn.dispose();
  });
});
