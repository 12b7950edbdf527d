/**
 * ONNX emitters for src/nn: one per layer class (tensor in, tensor out, eval mode), the ResNet
 * backbone (returning its feature levels) and the dense heads, each following its TypeScript
 * forward op for op. Layers are looked up by exact class; a class without an emitter is an error
 * that names it.
 */
import { ArgumentError } from '../../errors.js';
import type { FeatureLevel } from '../../nn/backbones/features.js';
import { HRNet, type HighResolutionModule } from '../../nn/backbones/hrnet.js';
import { BasicBlock, Bottleneck, ResNet } from '../../nn/backbones/resnet.js';
import { ASPP, ASPPHead, ASPPPooling } from '../../nn/heads/aspp-head.js';
import { ConvHead } from '../../nn/heads/conv-head.js';
import { FPNHead, FeaturePyramidNetwork } from '../../nn/heads/fpn-head.js';
import { Dropout, Dropout2d } from '../../nn/layers-dropout.js';
import { LeakyReLU, Sigmoid, Tanh } from '../../nn/layers-extra.js';
import { BatchNorm2d, Conv2d, Identity, Linear, ReLU, Sequential, type Layer } from '../../nn/layers.js';
import type { Module } from '../../nn/module.js';
import type { OnnxGraph, V } from './graph.js';

type Pair = number | readonly [number, number] | undefined;
const two = (v: Pair, d: number): [number, number] => (v === undefined ? [d, d] : typeof v === 'number' ? [v, v] : [v[0], v[1]]);

/** Feature levels as graph values. */
export type FeatureValues = { [L in FeatureLevel]: V };

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type AnyClass = abstract new (...args: any[]) => Module;
type LayerEmitter<M extends Module = Module> = (g: OnnxGraph, m: M, x: V) => V;

function conv(g: OnnxGraph, m: Conv2d, x: V): V {
  const p = m.opts.padding;
  let pad: [number, number];
  if (Array.isArray(p) && p.length === 4) {
    const [l, r, t, b] = p as readonly number[];
    if (l !== r || t !== b) throw new ArgumentError('exportOnnx', `Conv2d with asymmetric padding [${p.join(', ')}] is not supported`);
    pad = [t!, l!];
  } else pad = two(p as Pair, 0);
  return g.conv(x, g.weight(m.weight), m.bias ? g.weight(m.bias) : null, { stride: two(m.opts.stride, 1), pad, dilation: two(m.opts.dilation, 1), groups: m.opts.groups ?? 1 });
}

function batchNorm(g: OnnxGraph, m: BatchNorm2d, x: V): V {
  const c = m.numFeatures;
  const scale = m.weight ? g.weight(m.weight) : g.constFloat(new Array<number>(c).fill(1), [c]);
  const bias = m.bias ? g.weight(m.bias) : g.constFloat(new Array<number>(c).fill(0), [c]);
  const inputs = [x.name, scale.name, bias.name, g.weight(m.runningMean).name, g.weight(m.runningVar).name];
  return { name: g.node('BatchNormalization', inputs, { epsilon: { float: m.opts.eps ?? 1e-5 } })[0]!, shape: x.shape };
}

function sequential(g: OnnxGraph, m: Sequential, x: V): V {
  return m.layers.reduce((y, l) => layer(g, l, y), x);
}

const identity: LayerEmitter = (_g, _m, x) => x;
const entry = <C extends AnyClass>(cls: C, e: LayerEmitter<InstanceType<C>>) => [cls, e as unknown as LayerEmitter] as const;

/** Layer class -> emitter (eval mode: dropout is the identity). */
export const ONNX_LAYERS: ReadonlyMap<AnyClass, LayerEmitter> = new Map<AnyClass, LayerEmitter>([
  entry(Conv2d, conv),
  entry(BatchNorm2d, batchNorm),
  entry(ReLU, (g, _m, x) => g.unary('Relu', x)),
  entry(Sigmoid, (g, _m, x) => g.unary('Sigmoid', x)),
  entry(Tanh, (g, _m, x) => g.unary('Tanh', x)),
  entry(LeakyReLU, (g, m, x) => g.unary('LeakyRelu', x, { alpha: { float: m.negativeSlope } })),
  entry(Identity, identity),
  entry(Dropout, identity),
  entry(Dropout2d, identity),
  entry(Linear, (g, m, x) => {
    const inputs = [x.name, g.weight(m.weight).name, ...(m.bias ? [g.weight(m.bias).name] : [])];
    return { name: g.node('Gemm', inputs, { transB: 1 })[0]!, shape: [x.shape[0]!, m.outFeatures] };
  }),
  entry(Sequential, sequential),
  entry(BasicBlock, (g, m, x) => {
    const h = g.unary('Relu', batchNorm(g, m.bn1, conv(g, m.conv1, x)));
    const y = batchNorm(g, m.bn2, conv(g, m.conv2, h));
    return g.unary('Relu', g.binary('Add', y, m.downsample ? sequential(g, m.downsample, x) : x));
  }),
  entry(Bottleneck, (g, m, x) => {
    const h1 = g.unary('Relu', batchNorm(g, m.bn1, conv(g, m.conv1, x)));
    const h2 = g.unary('Relu', batchNorm(g, m.bn2, conv(g, m.conv2, h1)));
    const y = batchNorm(g, m.bn3, conv(g, m.conv3, h2));
    return g.unary('Relu', g.binary('Add', y, m.downsample ? sequential(g, m.downsample, x) : x));
  }),
]);

/**
 * The ONNX of a one-tensor layer `m` on x; an ArgumentError naming the class when it has no
 * emitter. A Sequential subclass without an entry runs its layers in order (see emitterFor in
 * src/export/pytorch/emitters.ts for why that holds).
 */
export function layer(g: OnnxGraph, m: Layer | Module, x: V): V {
  const e = ONNX_LAYERS.get(m.constructor as AnyClass) ?? (m instanceof Sequential ? (sequential as LayerEmitter) : undefined);
  if (!e) throw new ArgumentError('exportOnnx', `module class ${m.constructor.name} has no ONNX exporter; add one to ONNX_LAYERS in src/export/onnx/nn-onnx.ts`);
  return e(g, m, x);
}

/** ResNet's stem relu(bn1(conv1(x))). */
export function resnetStem(g: OnnxGraph, m: ResNet, x: V): V {
  return g.unary('Relu', batchNorm(g, m.bn1, conv(g, m.conv1, x)));
}

/** ResNet's feature levels (stem, c1..c4). */
export function resnet(g: OnnxGraph, m: ResNet, x: V): FeatureValues {
  const stem = resnetStem(g, m, x);
  const c1 = layer(g, m.layer1, g.maxPool(stem, 3, 2, 1, false));
  const c2 = layer(g, m.layer2, c1);
  const c3 = layer(g, m.layer3, c2);
  const c4 = layer(g, m.layer4, c3);
  return { stem, c1, c2, c3, c4 };
}

/** One HRNet exchange unit: each branch's blocks, then every output the ReLU of its fused sum. */
function hrModule(g: OnnxGraph, m: HighResolutionModule, xs: readonly V[]): V[] {
  const b = m.branches.items.map((br, i) => layer(g, br!, xs[i]!));
  return m.fuse_layers.items.map((row, i) => {
    const [h, w] = [b[i]!.shape[2]!, b[i]!.shape[3]!];
    const terms = b.map((bj, j) => {
      if (j === i) return bj;
      const t = layer(g, row!.items[j]!, bj);
      return j > i ? g.resize(t, h, w, 'bilinear') : t;
    });
    return g.unary('Relu', terms.reduce((a, t) => g.binary('Add', a, t)));
  });
}

/** HRNet's feature levels: the stem, then c1..c4 = the four branches of its last stage. */
export function hrnet(g: OnnxGraph, m: HRNet, x: V): FeatureValues {
  const stem = g.unary('Relu', batchNorm(g, m.bn1, conv(g, m.conv1, x)));
  let xs = [layer(g, m.layer1, g.unary('Relu', batchNorm(g, m.bn2, conv(g, m.conv2, stem))))];
  m.stages.forEach((stage, k) => {
    // A new branch grows from the coarsest map of the previous stage.
    xs = m.transitions[k]!.items.map((tr, i) => (tr ? layer(g, tr, i < xs.length ? xs[i]! : xs[xs.length - 1]!) : xs[i]!));
    for (const mod of stage.items) xs = hrModule(g, mod!, xs);
  });
  return { stem, c1: xs[0]!, c2: xs[1]!, c3: xs[2]!, c4: xs[3]! };
}

/** The feature levels of a backbone (ResNet or HRNet); an ArgumentError naming any other class. */
export function backbone(g: OnnxGraph, m: Module, x: V): FeatureValues {
  if (m instanceof ResNet) return resnet(g, m, x);
  if (m instanceof HRNet) return hrnet(g, m, x);
  throw new ArgumentError('exportOnnx', `backbone class ${m.constructor.name} has no ONNX exporter; add it to backbone() in src/export/onnx/nn-onnx.ts`);
}

function asppPooling(g: OnnxGraph, m: ASPPPooling, x: V): V {
  const pooled = { name: g.node('GlobalAveragePool', [x.name])[0]!, shape: [x.shape[0]!, x.shape[1]!, 1, 1] };
  const y = g.unary('Relu', batchNorm(g, m.bn, conv(g, m.conv, pooled)));
  return g.resize(y, x.shape[2]!, x.shape[3]!, 'bilinear');
}

function aspp(g: OnnxGraph, m: ASPP, x: V): V {
  const branches = m.convs.items.map((b) => (b instanceof ASPPPooling ? asppPooling(g, b, x) : layer(g, b, x)));
  return layer(g, m.project, g.concat(branches, 1));
}

function fpn(g: OnnxGraph, m: FeaturePyramidNetwork, xs: readonly V[]): V[] {
  const n = xs.length;
  const inner = (i: number) => m.innerBlocks.items[i]!.layers[0] as Conv2d;
  const smooth = (i: number) => m.layerBlocks.items[i]!.layers[0] as Conv2d;
  const out: V[] = new Array<V>(n);
  let last = conv(g, inner(n - 1), xs[n - 1]!);
  out[n - 1] = conv(g, smooth(n - 1), last);
  for (let i = n - 2; i >= 0; i--) {
    const top = g.resize(last, xs[i]!.shape[2]!, xs[i]!.shape[3]!, m.topDownMode === 'bilinear' ? 'bilinear' : 'nearest');
    last = g.binary('Add', conv(g, inner(i), xs[i]!), top);
    out[i] = conv(g, smooth(i), last);
  }
  return out;
}

/** A dense head (ConvHead, ASPPHead, FPNHead) on backbone features or on one map. */
export function head(g: OnnxGraph, m: Module, f: FeatureValues | V): V {
  const pick = (level: FeatureLevel): V => ('name' in f ? (f as V) : (f as FeatureValues)[level]);
  if (m instanceof ConvHead) return conv(g, m.classifier, g.unary('Relu', batchNorm(g, m.bn, conv(g, m.conv, pick(m.level)))));
  if (m instanceof ASPPHead) return conv(g, m.classifier, g.unary('Relu', batchNorm(g, m.bn, conv(g, m.conv, aspp(g, m.aspp, pick(m.level))))));
  if (m instanceof FPNHead) {
    if ('name' in f) throw new ArgumentError('exportOnnx', 'an FPN head needs multi-level features');
    const pyramid = fpn(g, m.fpn, m.levels.map((l) => (f as FeatureValues)[l]));
    const [h, w] = [pyramid[0]!.shape[2]!, pyramid[0]!.shape[3]!];
    const fused = pyramid.slice(1).reduce((a, p) => g.binary('Add', a, g.resize(p, h, w, m.fuseMode === 'bilinear' ? 'bilinear' : 'nearest')), pyramid[0]!);
    return head(g, m.head, fused);
  }
  throw new ArgumentError('exportOnnx', `head class ${m.constructor.name} has no ONNX exporter; add it to head() in src/export/onnx/nn-onnx.ts`);
}
