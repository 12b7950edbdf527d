// ResNet backbones: torchvision's names, shapes and parameter counts (test/fixtures/backbones.json,
// written by scripts/fixtures/make_backbone_fixtures.py), feature shapes and strides per output
// stride, width multipliers, init, block numerics against torchvision's BasicBlock / Bottleneck, the
// atrous property of the dilated variants, and a forward + backward pass.
import { describe, expect, it } from 'vitest';
import * as w from '../../src/index.js';
import { devices } from '../helpers/devices.js';
import { relErr } from '../helpers/fixtures.js';
import { backboneFixtures, checkNumericCase, type NumericCase } from './torch-cases.js';

type Arch = 'resnet18' | 'resnet34' | 'resnet50';
type Shape = number[];


interface BackboneFixtures {
  models: Record<Arch, { params: [string, Shape][]; state: [string, Shape][]; num_parameters: number }>;
  features: { arch: Arch; output_stride: 8 | 16 | 32; input: Shape; shapes: Record<w.FeatureLevel, Shape> }[];
  cases: NumericCase[];
}

const FIX = backboneFixtures<BackboneFixtures>();
const BUILD = { resnet18: w.resnet18, resnet34: w.resnet34, resnet50: w.resnet50 } as const;
const LEVELS = w.FEATURE_LEVELS;

/** x[:, :, ::s, ::s] of an NCHW array, on the host. */
function subsample(data: ArrayLike<number>, shape: readonly number[], s: number): number[] {
  const [n, c, h, wd] = shape as [number, number, number, number];
  const out: number[] = [];
  for (let i = 0; i < n * c; i++) {
    for (let y = 0; y < h; y += s) for (let x = 0; x < wd; x += s) out.push(data[(i * h + y) * wd + x]!);
  }
  return out;
}

describe.each(devices())('ResNet backbones on %s', () => {
  it.each(['resnet18', 'resnet34', 'resnet50'] as const)(
    '%s at width 1 has torchvision parameter names, order, shapes, buffers and count',
    (arch) => {
      const want = FIX.models[arch];
      const m = BUILD[arch]();
      try {
        // Parameters: same names in the same order with the same shapes (state dicts load by name).
        expect(m.namedParameters().map(([k, t]) => [k, [...t.shape]])).toEqual(want.params);
        // Parameters and buffers, num_batches_tracked included (a scalar in both).
        const ours = new Map([...m.stateDict()].map(([k, t]) => [k, [...t.shape]]));
        expect([...ours.keys()].sort()).toEqual(want.state.map(([k]) => k).sort());
        for (const [k, shape] of want.state) expect(ours.get(k), k).toEqual(shape);
        expect(m.numParameters()).toBe(want.num_parameters);
      } finally {
        m.dispose();
      }
    },
  );

  it('parameter counts at width 1 without fc match torchvision (resnet18 = 11,176,512)', () => {
    expect(FIX.models.resnet18.num_parameters).toBe(11_176_512);
    expect(FIX.models.resnet34.num_parameters).toBe(21_284_672);
    expect(FIX.models.resnet50.num_parameters).toBe(23_508_032);
  });

  it.each(FIX.features.map((f) => [`${f.arch} os ${f.output_stride} on ${f.input.join('x')}`, f] as const))(
    'feature shapes and strides at width 1/8 follow torchvision: %s',
    async (_, f) => {
      const m = BUILD[f.arch]({ widthMultiplier: 0.125, outputStride: f.output_stride }).eval();
      const x = w.randn(f.input);
      const feats = w.noGrad(() => m.forward(x));
      for (const l of LEVELS) {
        const want = f.shapes[l];
        // Channels scale by exactly 1/8 at these widths; spatial sizes and the batch do not change.
        expect([...feats[l].shape], l).toEqual([want[0], want[1]! / 8, want[2], want[3]]);
        expect(m.channels[l], l).toBe(want[1]! / 8);
        // A map of stride s has ceil(h / s) x ceil(w / s) pixels.
        expect([Math.ceil(f.input[2]! / m.strides[l]), Math.ceil(f.input[3]! / m.strides[l])], l).toEqual(want.slice(2));
      }
      expect(m.strides).toEqual({
        stem: 2,
        c1: 4,
        c2: 8,
        c3: f.output_stride === 8 ? 8 : 16,
        c4: f.output_stride,
      });
      await feats.c4.data();
      x.dispose();
      for (const l of LEVELS) feats[l].dispose();
      m.dispose();
    },
  );

  it('strides and dilations per output stride replace strides exactly as torchvision', () => {
    const dil = (m: w.ResNet, name: string) => {
      const conv = m.namedModules().find(([n]) => n === name)![1] as w.Conv2d;
      return [conv.opts.stride, conv.opts.dilation, conv.opts.padding];
    };
    const r50 = w.resnet50({ widthMultiplier: 0.0625, outputStride: 8 });
    expect(r50.strides).toEqual({ stem: 2, c1: 4, c2: 8, c3: 8, c4: 8 });
    expect(r50.dilations).toEqual({ stem: 1, c1: 1, c2: 1, c3: 2, c4: 4 });
    // torchvision: the first block of a dilated stage keeps the previous dilation on its 3x3 conv.
    expect(dil(r50, 'layer3.0.conv2')).toEqual([1, 1, 1]);
    expect(dil(r50, 'layer3.1.conv2')).toEqual([1, 2, 2]);
    expect(dil(r50, 'layer4.0.conv2')).toEqual([1, 2, 2]);
    expect(dil(r50, 'layer4.2.conv2')).toEqual([1, 4, 4]);
    expect(dil(r50, 'layer4.0.downsample.0')).toEqual([1, undefined, undefined]);
    expect(dil(r50, 'layer2.0.conv2')).toEqual([2, 1, 1]);
    r50.dispose();
    const r18 = w.resnet18({ widthMultiplier: 0.0625, outputStride: 16 });
    expect(r18.strides).toEqual({ stem: 2, c1: 4, c2: 8, c3: 16, c4: 16 });
    // BasicBlock: the conv that used to stride keeps the previous dilation, the next one dilates.
    expect(dil(r18, 'layer4.0.conv1')).toEqual([1, 1, 1]);
    expect(dil(r18, 'layer4.0.conv2')).toEqual([1, 2, 2]);
    expect(dil(r18, 'layer4.1.conv1')).toEqual([1, 2, 2]);
    expect(dil(r18, 'layer4.1.conv2')).toEqual([1, 2, 2]);
    r18.dispose();
  });

  it.each(['resnet18', 'resnet50'] as const)(
    '%s: in eval mode the dilated variants sample the strided network densely (os 16 / 8 subsampled = os 32)',
    async (arch) => {
      const gen = () => new w.Generator(7);
      const m32 = BUILD[arch]({ widthMultiplier: 0.125, generator: gen() }).eval();
      const m16 = BUILD[arch]({ widthMultiplier: 0.125, outputStride: 16, generator: gen() }).eval();
      const m8 = BUILD[arch]({ widthMultiplier: 0.125, outputStride: 8, generator: gen() }).eval();
      m16.loadStateDict(m32.stateDict());
      m8.loadStateDict(m32.stateDict());
      const x = w.randn([1, 3, 64, 64], { generator: new w.Generator(3) });
      const [f32, f16, f8] = w.noGrad(() => [m32.forward(x), m16.forward(x), m8.forward(x)]);
      const c4 = await f32!.c4.data();
      const c3 = await f32!.c3.data();
      expect(relErr(subsample(await f16!.c4.data(), f16!.c4.shape, 2), c4)).toBeLessThan(1e-4);
      expect(relErr(await f16!.c3.data(), c3)).toBeLessThan(1e-6);
      expect(relErr(subsample(await f8!.c3.data(), f8!.c3.shape, 2), c3)).toBeLessThan(1e-4);
      expect(relErr(subsample(await f8!.c4.data(), f8!.c4.shape, 4), c4)).toBeLessThan(1e-4);
      x.dispose();
      for (const f of [f32!, f16!, f8!]) for (const l of LEVELS) f[l].dispose();
      for (const m of [m32, m16, m8]) m.dispose();
    },
  );

  it('width multiplier 0.25: channels, parameter shapes and feature shapes', () => {
    const m = w.resnet18({ widthMultiplier: 0.25 });
    expect(m.channels).toEqual({ stem: 16, c1: 16, c2: 32, c3: 64, c4: 128 });
    const p = new Map(m.namedParameters().map(([k, t]) => [k, [...t.shape]]));
    expect(p.get('conv1.weight')).toEqual([16, 3, 7, 7]);
    expect(p.get('layer2.0.conv1.weight')).toEqual([32, 16, 3, 3]);
    expect(p.get('layer2.0.downsample.0.weight')).toEqual([32, 16, 1, 1]);
    expect(p.get('layer4.1.bn2.bias')).toEqual([128]);
    m.dispose();
    const b = w.resnet50({ widthMultiplier: 0.25, inChannels: 1 });
    expect(b.channels).toEqual({ stem: 16, c1: 64, c2: 128, c3: 256, c4: 512 });
    const q = new Map(b.namedParameters().map(([k, t]) => [k, [...t.shape]]));
    expect(q.get('conv1.weight')).toEqual([16, 1, 7, 7]);
    expect(q.get('layer1.0.conv3.weight')).toEqual([64, 16, 1, 1]);
    expect(q.get('layer1.0.downsample.0.weight')).toEqual([64, 16, 1, 1]);
    expect(q.get('layer3.5.conv2.weight')).toEqual([64, 64, 3, 3]);
    const feats = w.noGrad(() => b.eval().forward(w.zeros([2, 1, 32, 32])));
    expect(LEVELS.map((l) => [...feats[l].shape])).toEqual([
      [2, 16, 16, 16],
      [2, 64, 8, 8],
      [2, 128, 4, 4],
      [2, 256, 2, 2],
      [2, 512, 1, 1],
    ]);
    for (const l of LEVELS) feats[l].dispose();
    b.dispose();
    // Rounding: round(c * m), never below one channel.
    const tiny = w.resnet18({ widthMultiplier: 0.001 });
    expect(tiny.channels).toEqual({ stem: 1, c1: 1, c2: 1, c3: 1, c4: 1 });
    tiny.dispose();
    const odd = w.resnet34({ widthMultiplier: 0.3 });
    expect(odd.channels).toEqual({ stem: 19, c1: 19, c2: 38, c3: 77, c4: 154 });
    odd.dispose();
  });

  it('rejects bad options and inputs with typed errors', () => {
    expect(() => w.resnet18({ widthMultiplier: 0 })).toThrow(w.ArgumentError);
    expect(() => w.resnet18({ outputStride: 4 as 8 })).toThrow(/outputStride/);
    expect(() => w.resnet18({ inChannels: 0 })).toThrow(/inChannels/);
    const m = w.resnet18({ widthMultiplier: 0.0625 });
    expect(() => m.forward(w.zeros([1, 4, 8, 8]))).toThrow(w.ShapeError);
    expect(() => m.forward(w.zeros([3, 8, 8]))).toThrow(w.ShapeError);
    m.dispose();
  });

  it('initialises as torchvision: conv kaiming normal (fan_out, relu), BN 1 / 0, seeded', async () => {
    const m = w.resnet18({ widthMultiplier: 0.5, generator: new w.Generator(11) });
    const named = new Map(m.namedParameters());
    // layer4.1.conv2: [256, 256, 3, 3], fan_out = 256 * 9, std = sqrt(2 / fan_out)
    const v = Array.from(await named.get('layer4.1.conv2.weight')!.data());
    const mean = v.reduce((a, b) => a + b, 0) / v.length;
    const std = Math.sqrt(v.reduce((a, b) => a + (b - mean) ** 2, 0) / v.length);
    expect(Math.abs(mean)).toBeLessThan(1e-3);
    expect(std / Math.sqrt(2 / (256 * 9))).toBeCloseTo(1, 2);
    expect(new Set(await named.get('layer3.0.bn1.weight')!.toArray())).toEqual(new Set([1]));
    expect(new Set(await named.get('layer3.0.bn1.bias')!.toArray())).toEqual(new Set([0]));
    // Same seed, same weights; another seed, other weights.
    const again = w.resnet18({ widthMultiplier: 0.5, generator: new w.Generator(11) });
    const other = w.resnet18({ widthMultiplier: 0.5, generator: new w.Generator(12) });
    const a = await again.conv1.weight.data();
    expect(Array.from(a)).toEqual(Array.from(await m.conv1.weight.data()));
    expect(Array.from(await other.conv1.weight.data())).not.toEqual(Array.from(a));
    const z = w.resnet50({ widthMultiplier: 0.0625, zeroInitResidual: true });
    const zp = new Map(z.namedParameters());
    expect(new Set(await zp.get('layer2.1.bn3.weight')!.toArray())).toEqual(new Set([0]));
    expect(new Set(await zp.get('layer2.1.bn2.weight')!.toArray())).toEqual(new Set([1]));
    for (const x of [m, again, other, z]) x.dispose();
  });

  it.each(FIX.cases.filter((c) => c.kind === 'basic' || c.kind === 'bottleneck').map((c) => [c.name, c] as const))(
    "block %s matches torchvision's output, gradients and running statistics",
    async (_, c) => {
      const cfg = c.config as { inplanes: number; planes: number; stride: number; dilation: number };
      const block = c.kind === 'basic' ? w.BasicBlock : w.Bottleneck;
      const out = cfg.planes * block.expansion;
      const downsample =
        cfg.stride !== 1 || cfg.inplanes !== out
          ? new w.Sequential(new w.Conv2d(cfg.inplanes, out, 1, { stride: cfg.stride, bias: false }), new w.BatchNorm2d(out))
          : null;
      const m = new block(cfg.inplanes, cfg.planes, { stride: cfg.stride, dilation: cfg.dilation, downsample });
      await checkNumericCase(c, m, (xs) => m.forward(xs.x!));
    },
  );

  it('frees its intermediates: eval forward leaves only the five features; training steps stay flat', async () => {
    const live = () => w.runtime().memory().live;
    const m = w.resnet50({ widthMultiplier: 0.0625, generator: new w.Generator(3) });
    const x = w.randn([2, 3, 32, 32]);
    const evalForward = () => w.noGrad(() => m.eval().forward(x));
    const trainStep = async () => {
      w.tidy(() => w.backward(w.mean(m.train().forward(x).c4)));
      await m.conv1.weight.grad!.data();
      m.zeroGrad();
    };
    // A first call may create lasting per-shape kernel tables; measure from the second on.
    for (const l of Object.values(evalForward())) l.dispose();
    await trainStep();
    const base = live();
    const f = evalForward();
    expect(live()).toBe(base + LEVELS.length);
    for (const l of LEVELS) f[l].dispose();
    expect(live()).toBe(base);
    for (let step = 0; step < 2; step++) {
      await trainStep();
      expect(live(), `step ${step}`).toBe(base);
    }
    x.dispose();
    m.dispose();
  });

  it('resnet18 width 0.25 on 2x3x32x32: forward + backward in training mode, finite gradients everywhere', async () => {
    const m = w.resnet18({ widthMultiplier: 0.25, generator: new w.Generator(5) });
    const x = w.randn([2, 3, 32, 32], { generator: new w.Generator(9), requiresGrad: true });
    const loss = w.tidy(() => {
      const f = m.forward(x);
      expect(LEVELS.map((l) => [...f[l].shape])).toEqual([
        [2, 16, 16, 16],
        [2, 16, 8, 8],
        [2, 32, 4, 4],
        [2, 64, 2, 2],
        [2, 128, 1, 1],
      ]);
      // Every stage feeds the loss, as in a decoder that reads all scales.
      return w.add(w.add(w.mean(w.square(f.c1)), w.mean(f.c2)), w.add(w.mean(f.c3), w.sum(f.c4)));
    });
    w.backward(loss);
    expect(Number.isFinite(await loss.item())).toBe(true);
    for (const [k, p] of m.namedParameters()) {
      expect(p.grad, k).not.toBeNull();
      expect(p.grad!.shape).toEqual(p.shape);
      const g = await p.grad!.data();
      expect(g.every(Number.isFinite), k).toBe(true);
    }
    const gx = await x.grad!.data();
    expect(gx.every(Number.isFinite)).toBe(true);
    expect(gx.some((v) => v !== 0)).toBe(true);
    // Training mode updated the running statistics.
    const rm = await m.bn1.runningMean.data();
    expect(rm.some((v) => v !== 0)).toBe(true);
    loss.dispose();
    x.dispose();
    m.dispose();
  });
});
