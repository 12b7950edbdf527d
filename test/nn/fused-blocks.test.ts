// The fused conv-BN units in modules: BatchNorm2d's epilogue (residual, ReLU) and in-pass step
// counter in ResNet blocks and heads against the unfused composition (BatchNorm2d.fused off:
// separate add, relu and counter dispatches), and eval-mode folding of batch norm into the conv
// (BatchNorm2d.evalFold) against the unfused eval forward, on blocks and a whole ResNet-18. Each
// test also checks which kernels ran, so it fails when the fused path is not taken.
import { describe, expect, it } from 'vitest';
import * as w from '../../src/index.js';
import { setBatchNormFusion } from '../../src/nn/layers.js';
import { expectClose } from '../helpers/check-op.js';
import { devices } from '../helpers/devices.js';
import { dispatched } from '../helpers/dispatched.js';


const count = (entries: readonly string[], re: RegExp) => entries.filter((e) => re.test(e)).length;

/** Random batch-norm affine parameters and running statistics (so folding is not the identity). */
function randomiseBatchNorms(m: w.Module, seed: number): void {
  const g = new w.Generator(seed);
  const state = new Map<string, w.Tensor>();
  for (const [name, t] of m.stateDict()) {
    const ranges: Record<string, [number, number]> = { weight: [0.5, 1.5], bias: [-0.5, 0.5], running_mean: [-0.3, 0.3], running_var: [0.5, 2] };
    const leaf = name.split('.').pop()!;
    const owner = m.namedModules().find(([n]) => name === `${n ? `${n}.` : ''}${leaf}`)?.[1];
    if (!(owner instanceof w.BatchNorm2d) || !ranges[leaf]) continue;
    state.set(name, w.fromArray(g.uniform(t.size, ...ranges[leaf]!), t.shape));
  }
  m.loadStateDict(state, { strict: false });
  for (const t of state.values()) t.dispose();
}

/** Output, input gradient, every parameter gradient and every buffer after one training step. */
async function trainStep(m: w.Layer, xData: Float32Array | number[], shape: number[], fused: boolean) {
  setBatchNormFusion(m, { fused });
  m.zeroGrad();
  const x = w.requireGrad(w.fromArray(xData, shape));
  const { out: y, entries } = dispatched(() => m.forward(x));
  const gy = w.randn(y.shape, { seed: 3 });
  w.backward(y, gy);
  const named = [
    ['y', y],
    ['dx', x.grad!],
    ...m.namedParameters().map(([n, p]) => [`grad ${n}`, p.grad!] as const),
    ...m.namedBuffers().map(([n, b]) => [n, b] as const),
  ] as [string, w.Tensor][];
  const values = await Promise.all(named.map(async ([n, t]) => [n, await t.data()] as const));
  for (const t of [x, y, gy]) t.dispose();
  return { values, entries };
}

describe.each(devices())('fused conv-BN units on %s', () => {
  it.each([
    { name: 'BasicBlock stride 2 with downsample', make: () => w.resnet18({ widthMultiplier: 1 / 8 }).layer2.layers[0]!, shape: [2, 8, 9, 7] },
    { name: 'BasicBlock identity', make: () => w.resnet18({ widthMultiplier: 1 / 8 }).layer1.layers[1]!, shape: [3, 8, 8, 8] },
    { name: 'Bottleneck with downsample', make: () => w.resnet50({ widthMultiplier: 1 / 16 }).layer1.layers[0]!, shape: [2, 4, 6, 5] },
  ])('$name trains as the unfused composition: values, gradients, running statistics, counters', async (c) => {
    // Two copies of one block (same weights), run fused and unfused from the same state.
    const a = c.make() as w.Layer;
    const b = c.make() as w.Layer;
    randomiseBatchNorms(a, 7);
    b.loadStateDict(a.stateDict());
    const xData = new w.Generator(5).uniform(c.shape.reduce((p, q) => p * q, 1), -2, 2);
    const fused = await trainStep(a, xData, c.shape, true);
    const plain = await trainStep(b, xData, c.shape, false);
    expect(fused.values.map(([n]) => n)).toEqual(plain.values.map(([n]) => n));
    fused.values.forEach(([n, v], i) => expectClose(v, plain.values[i]![1], 1e-5, 1e-4, n));
    const bns = a.namedModules().filter(([, m]) => m instanceof w.BatchNorm2d).length;
    const relus = a instanceof w.BasicBlock ? 2 : 3;
    // Unfused: a counter dispatch per batch norm, a relu per ReLU and one add; fused: none of them.
    expect(count(fused.entries, /^(counter|unary|binary)$/)).toBe(0);
    expect(plain.entries.length - fused.entries.length).toBe(bns + relus + 1);
    for (const m of [a, b]) m.dispose();
  });

  it('a BasicBlock in eval mode without gradients is its convolutions plus one fold per batch norm', async () => {
    const block = w.resnet18({ widthMultiplier: 1 / 8 }).layer2.layers[0]!;
    randomiseBatchNorms(block, 11);
    block.eval();
    const x = w.randn([2, 8, 9, 7], { seed: 2 });
    setBatchNormFusion(block, { evalFold: true });
    const folded = dispatched(() => w.noGrad(() => block.forward(x)));
    setBatchNormFusion(block, { evalFold: false });
    const inline = dispatched(() => w.noGrad(() => block.forward(x)));
    setBatchNormFusion(block, { fused: false });
    const plain = dispatched(() => w.noGrad(() => block.forward(x)));
    // Three convs (conv1, conv2, downsample), each with its fold; no batch-norm or elementwise pass.
    expect(count(folded.entries, /^fold_conv4?$/)).toBe(3);
    expect(count(folded.entries, /^(apply4?|eval_stats|unary|binary)$/)).toBe(0);
    expect(count(inline.entries, /^apply4?$/)).toBe(3);
    expect(count(inline.entries, /^(eval_stats|unary|binary)$/)).toBe(0);
    const want = await plain.out.data();
    expectClose(await folded.out.data(), want, 1e-5, 1e-4, 'folded');
    expectClose(await inline.out.data(), want, 1e-5, 1e-4, 'fused eval');
    // With a graph to record, eval mode keeps conv + batch norm (the fold has no backward).
    const xg = w.requireGrad(w.randn([2, 8, 9, 7], { seed: 2 }));
    setBatchNormFusion(block, { fused: true });
    setBatchNormFusion(block, { evalFold: true });
    const graph = dispatched(() => block.forward(xg));
    expect(count(graph.entries, /^fold_conv4?$/)).toBe(0);
    expectClose(await graph.out.data(), want, 1e-5, 1e-4, 'eval with a graph');
    for (const t of [x, xg, folded.out, inline.out, plain.out, graph.out]) t.dispose();
    block.dispose();
  });

  it('a whole ResNet-18 in eval mode: folded, fused and unfused features agree', async () => {
    const net = w.resnet18({ widthMultiplier: 1 / 8, outputStride: 16 });
    // Non-trivial running statistics from two training forwards, then random affine parameters.
    for (const seed of [1, 2]) {
      const f = w.noGrad(() => net.forward(w.randn([2, 3, 40, 36], { seed })));
      Object.values(f).forEach((t) => t.dispose());
    }
    const tracked = await net.layer3.layers[0]!.namedBuffers().find(([n]) => n === 'bn1.num_batches_tracked')![1].data();
    expect([...tracked]).toEqual([2]);
    randomiseBatchNorms(net, 13);
    net.eval();
    const x = w.randn([2, 3, 40, 36], { seed: 9 });
    const run = (fold: boolean, fused: boolean) => {
      setBatchNormFusion(net, { evalFold: fold });
      setBatchNormFusion(net, { fused: fused });
      return dispatched(() => w.noGrad(() => net.forward(x)));
    };
    const folded = run(true, true);
    const fused = run(false, true);
    const plain = run(false, false);
    // 20 batch norms (stem, 16 in blocks, 3 downsamples): each folded once.
    expect(count(folded.entries, /^fold_conv4?$/)).toBe(20);
    expect(count(folded.entries, /^(apply4?|eval_stats)$/)).toBe(0);
    expect(folded.entries.length).toBeLessThan(plain.entries.length);
    // Fused eval: no relu (stem, two per block) or add (one per block) of its own.
    expect(plain.entries.length - fused.entries.length).toBe(1 + 8 * 3);
    for (const level of w.FEATURE_LEVELS) {
      const want = await plain.out[level].data();
      expectClose(await folded.out[level].data(), want, 1e-4, 1e-3, `folded ${level}`);
      expectClose(await fused.out[level].data(), want, 1e-5, 1e-4, `fused ${level}`);
    }
    for (const r of [folded, fused, plain]) Object.values(r.out).forEach((t) => t.dispose());
    x.dispose();
    net.dispose();
  });

  it.each([
    { name: 'ConvHead', make: () => new w.ConvHead(12, 3, { midChannels: 6 }) },
    { name: 'ASPPHead', make: () => new w.ASPPHead(12, 3, { channels: 4, rates: [1, 2] }) },
  ])('$name: fused training equals unfused; eval folds every conv-BN unit', async (c) => {
    const a = c.make();
    const b = c.make();
    randomiseBatchNorms(a, 3);
    b.loadStateDict(a.stateDict());
    const shape = [2, 12, 7, 6];
    const xData = new w.Generator(4).uniform(2 * 12 * 7 * 6, -2, 2);
    const fused = await trainStep(a, xData, shape, true);
    const plain = await trainStep(b, xData, shape, false);
    fused.values.forEach(([n, v], i) => expectClose(v, plain.values[i]![1], 1e-5, 1e-4, n));
    expect(count(fused.entries, /^unary$/)).toBe(0);
    a.eval();
    const x = w.fromArray(xData, shape);
    setBatchNormFusion(a, { evalFold: true });
    const folded = dispatched(() => w.noGrad(() => a.forward(x)));
    setBatchNormFusion(a, { evalFold: false });
    setBatchNormFusion(a, { fused: false });
    const want = w.noGrad(() => a.forward(x));
    const bns = a.namedModules().filter(([, m]) => m instanceof w.BatchNorm2d).length;
    expect(count(folded.entries, /^fold_conv4?$/)).toBe(bns);
    expectClose(await folded.out.data(), await want.data(), 1e-5, 1e-4, 'folded head');
    for (const t of [x, folded.out, want]) t.dispose();
    for (const m of [a, b]) m.dispose();
  });
});
