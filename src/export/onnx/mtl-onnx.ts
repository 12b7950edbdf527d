/**
 * ONNX emitters for src/mtl/models: every architecture's eval-mode forward (final outputs only, at
 * the input size) and the units it is built from, each following its TypeScript forward. The table
 * is keyed by the exact model class; an architecture without an entry is an error naming it.
 */
import { ArgumentError } from '../../errors.js';
import { HRNet } from '../../nn/backbones/hrnet.js';
import { ResNet } from '../../nn/backbones/resnet.js';
import type { Module } from '../../nn/module.js';
import { stages } from '../../mtl/models/backbone-spec.js';
import { CrossStitchModel, CrossStitchUnit } from '../../mtl/models/cross-stitch.js';
import type { InitialTaskPrediction, MultiTaskDistillation, SABlock, SEBlock } from '../../mtl/models/decoder-blocks.js';
import type { MultiTaskModel } from '../../mtl/models/model.js';
import { MTANModel } from '../../mtl/models/mtan.js';
import { MTINetModel, type FPM } from '../../mtl/models/mtinet.js';
import { HighResolutionHead } from '../../nn/heads/hrnet-head.js';
import { NDDRLayer, NDDRModel } from '../../mtl/models/nddr.js';
import { PADNetModel } from '../../mtl/models/padnet.js';
import { PAPNetModel, type PAPropagation } from '../../mtl/models/papnet.js';
import { JTRLModel, JTRL_LEVELS, type TaskAttentiveModule } from '../../mtl/models/jtrl.js';
import { SharedEncoderModel } from '../../mtl/models/shared-encoder.js';
import { SingleTaskModel } from '../../mtl/models/single-task.js';
import type { OnnxGraph, V } from './graph.js';
import { backbone, head, layer, resnetStem, type FeatureValues } from './nn-onnx.js';

type Outputs = Record<string, V>;
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type AnyClass = abstract new (...args: any[]) => MultiTaskModel;
type ModelEmitter<M extends MultiTaskModel = MultiTaskModel> = (g: OnnxGraph, m: M, x: V) => Outputs;

const at = (x: V) => [x.shape[2]!, x.shape[3]!] as const;
const sum = (g: OnnxGraph, xs: V[]) => xs.reduce((a, b) => g.binary('Add', a, b));

/** Cross-stitch: y_i = sum_j alpha[i, j, :] x_j, alpha read as per-channel scales [1, C, 1, 1]. */
function crossStitch(g: OnnxGraph, u: CrossStitchUnit, xs: readonly V[]): V[] {
  const alpha = g.weight(u.alpha);
  const c = u.channels;
  const coef = (i: number, j: number) => g.reshape(g.slice(g.slice(alpha, 0, i, 1), 1, j, 1), [1, c, 1, 1]);
  return xs.map((_, i) => sum(g, xs.map((x, j) => g.binary('Mul', x, coef(i, j)))));
}

/** NDDR: relu(bn(conv(concat))) split back into the tasks' channel blocks. */
function nddr(g: OnnxGraph, u: NDDRLayer, xs: readonly V[]): V[] {
  const y = g.unary('Relu', layer(g, u.bn, layer(g, u.conv, g.concat(xs, 1))));
  return xs.map((_, i) => g.slice(y, 1, i * u.channels, u.channels));
}

function perTaskEncoders(g: OnnxGraph, m: CrossStitchModel | NDDRModel, x: V): Outputs {
  const [h, w] = at(x);
  const encoders = m.backbone.values();
  const units = m instanceof CrossStitchModel ? m.crossStitch : m.nddr;
  const fuse = (stage: string, xs: V[]): V[] => {
    if (!units.has(stage)) return xs;
    const u = units.get(stage);
    return u instanceof CrossStitchUnit ? crossStitch(g, u, xs) : nddr(g, u as NDDRLayer, xs);
  };
  const stem = encoders.map((e) => resnetStem(g, e, x));
  let xs = fuse('stem', stem.map((s) => g.maxPool(s, 3, 2, 1, false)));
  const levels = ['layer1', 'layer2', 'layer3', 'layer4'].map((name, k) => (xs = fuse(name, encoders.map((e, i) => layer(g, stages(e)[k]!, xs[i]!)))));
  const out: Outputs = {};
  m.taskNames.forEach((t, i) => {
    const f: FeatureValues = { stem: stem[i]!, c1: levels[0]![i]!, c2: levels[1]![i]!, c3: levels[2]![i]!, c4: levels[3]![i]! };
    out[t] = g.resizeTo(taskHead(g, m.heads.get(t), f), h, w);
  });
  return out;
}

function mtan(g: OnnxGraph, m: MTANModel, x: V): Outputs {
  const [h, w] = at(x);
  const bb: ResNet = m.backbone;
  const ub: V[] = [];
  const ut: V[] = [];
  let cur = g.maxPool(resnetStem(g, bb, x), 3, 2, 1, false);
  for (const stage of stages(bb)) {
    const blocks = stage.layers;
    for (const b of blocks.slice(0, -1)) cur = layer(g, b, cur);
    ub.push(cur);
    cur = layer(g, blocks[blocks.length - 1]!, cur);
    ut.push(cur);
  }
  const out: Outputs = {};
  for (const t of m.taskNames) {
    let a: V | null = null;
    for (let k = 0; k < 4; k++) {
      const mask: V = layer(g, m.attention[k]!.get(t), a ? g.concat([ub[k]!, a], 1) : ub[k]!);
      a = g.binary('Mul', mask, ut[k]!);
      if (k < 3) {
        a = layer(g, m.refine[k]!, a);
        if (m.downsample[k]) a = g.maxPool(a, 2, 2, 0, true);
      }
    }
    out[t] = g.resizeTo(taskHead(g, m.heads.get(t), a!), h, w);
  }
  return out;
}

function seBlock(g: OnnxGraph, m: SEBlock, x: V): V {
  const pooled = { name: g.node('GlobalAveragePool', [x.name])[0]!, shape: [x.shape[0]!, x.shape[1]!, 1, 1] };
  const flat = g.reshape(pooled, [0, x.shape[1]!]);
  const s = layer(g, m.squeeze, flat);
  return g.binary('Mul', x, g.reshape(s, [0, x.shape[1]!, 1, 1]));
}

function saBlock(g: OnnxGraph, m: SABlock, x: V): V {
  return g.binary('Mul', layer(g, m.conv, x), layer(g, m.attention, x));
}

function distill(g: OnnxGraph, m: MultiTaskDistillation, f: Outputs): Outputs {
  const out: Outputs = {};
  for (const t of m.tasks) out[t] = m.self_attention.get(t).entries().reduce((y, [s, b]) => g.binary('Add', y, saBlock(g, b, f[s]!)), f[t]!);
  return out;
}

function initial(g: OnnxGraph, m: InitialTaskPrediction, x: V | Outputs): Outputs {
  const features: Outputs = {};
  for (const [t, l] of m.layers.entries()) features[t] = layer(g, l, 'name' in x ? (x as V) : (x as Outputs)[t]!);
  return features;
}

function padnet(g: OnnxGraph, m: PADNetModel, x: V): Outputs {
  const [h, w] = at(x);
  const f = backbone(g, m.backbone, x);
  // HRNet encoders: the four branches fused first (HighResolutionFuse), else c4.
  const read = m.fuse ? layer(g, m.fuse.last_layer, concatResized(g, [f.c1, f.c2, f.c3, f.c4])) : f.c4;
  const distilled = distill(g, m.multi_modal_distillation, initial(g, m.initial_task_prediction_heads, read));
  return Object.fromEntries(m.taskNames.map((t) => [t, g.resizeTo(layer(g, m.heads.get(t), distilled[t]!), h, w)]));
}

/** a @ b over the last two axes (batched, as ONNX MatMul). */
function matmul(g: OnnxGraph, a: V, b: V): V {
  return { name: g.node('MatMul', [a.name, b.name])[0]!, shape: [...a.shape.slice(0, -1), b.shape[b.shape.length - 1]!] };
}

/** The last two axes of a rank-3 value swapped. */
function transposed(g: OnnxGraph, x: V): V {
  return { name: g.node('Transpose', [x.name], { perm: [0, 2, 1] })[0]!, shape: [x.shape[0]!, x.shape[2]!, x.shape[1]!] };
}

/**
 * PAP-Net's propagation, composed from ONNX ops where webmtl runs its custom kernels: the pixel
 * affinity as Softmax(scale * x^T x), each diffusion step as beta * x A^T + (1 - beta) * x0 (MatMul).
 */
function propagation(g: OnnxGraph, m: PAPropagation, f: Outputs): Outputs {
  const [, c, h, w] = f[m.tasks[0]!]!.shape as [number, number, number, number];
  const [hs, ws] = m.gridSize(h, w);
  const p = hs * ws;
  const x0 = m.tasks.map((t) => g.reshape(g.resizeTo(f[t]!, hs, ws), [0, c, p]));
  const scalar = (v: number) => g.constFloat([v], [1]);
  const aff = x0.map((x) => g.unary('Softmax', g.binary('Mul', matmul(g, transposed(g, x), x), scalar(1 / Math.sqrt(c))), { axis: -1 }));
  let combined = aff;
  if (m.cross_task) {
    const n = m.tasks.length;
    const mix = g.unary('Softmax', g.weight(m.cross_task), { axis: 1 });
    const coef = (i: number, j: number) => g.reshape(g.slice(g.slice(mix, 0, i, 1), 1, j, 1), [1, 1, 1]);
    combined = m.tasks.map((_, i) => sum(g, Array.from({ length: n }, (_, j) => g.binary('Mul', aff[j]!, coef(i, j)))));
  }
  const out: Outputs = {};
  m.tasks.forEach((t, i) => {
    const aT = transposed(g, combined[i]!);
    const rest = g.binary('Mul', x0[i]!, scalar(1 - m.beta));
    let y = x0[i]!;
    for (let k = 0; k < m.iterations; k++) y = g.binary('Add', g.binary('Mul', matmul(g, y, aT), scalar(m.beta)), rest);
    out[t] = g.binary('Add', f[t]!, g.resizeTo(g.reshape(y, [0, c, hs, ws]), h, w));
  });
  return out;
}

function papnet(g: OnnxGraph, m: PAPNetModel, x: V): Outputs {
  const [h, w] = at(x);
  const f = backbone(g, m.backbone, x);
  const read = m.fuse ? layer(g, m.fuse.last_layer, concatResized(g, [f.c1, f.c2, f.c3, f.c4])) : f.c4;
  const propagated = propagation(g, m.propagation, initial(g, m.initial_task_prediction_heads, read));
  return Object.fromEntries(m.taskNames.map((t) => [t, g.resizeTo(layer(g, m.heads.get(t), propagated[t]!), h, w)]));
}

/** One JTRL step: the task's features and prediction (see TaskAttentiveModule). */
function taskAttentive(g: OnnxGraph, m: TaskAttentiveModule, b: V, prev: V | null): { features: V; prediction: V } {
  const own = layer(g, m.project, b);
  let fused = own;
  if (prev) {
    const p = g.resizeTo(prev, b.shape[2]!, b.shape[3]!);
    const attended = g.binary('Mul', layer(g, m.attention!, p), own);
    const gate = layer(g, m.balance!, g.concat([p, own], 1));
    fused = g.binary('Add', attended, g.binary('Mul', gate, g.binary('Sub', p, attended)));
  }
  const features = layer(g, m.refine, fused);
  return { features, prediction: layer(g, m.classifier, features) };
}

function jtrl(g: OnnxGraph, m: JTRLModel, x: V): Outputs {
  const [h, w] = at(x);
  const f = backbone(g, m.backbone, x);
  const last: Outputs = {};
  let prev: V | null = null;
  m.steps.items.forEach((step, s) => {
    const out = taskAttentive(g, step, f[JTRL_LEVELS[Math.floor(s / m.taskNames.length)]!], prev);
    prev = out.features;
    last[step.task] = out.prediction;
  });
  return Object.fromEntries(m.taskNames.map((t) => [t, g.resizeTo(last[t]!, h, w)]));
}

function fpm(g: OnnxGraph, m: FPM, f: Outputs): Outputs {
  const cat = g.concat(m.tasks.map((t) => f[t]!), 1);
  const [, c, h, w] = cat.shape as [number, number, number, number];
  const n = m.tasks.length;
  const mask = g.unary('Softmax', g.reshape(layer(g, m.non_linear, cat), [0, c / n, n, h, w]), { axis: 2 });
  const attended = g.reshape(g.binary('Mul', mask, g.reshape(cat, [0, c / n, n, h, w])), [0, c, h, w]);
  const shared = layer(g, m.dimensionality_reduction, attended);
  return Object.fromEntries(m.tasks.map((t) => [t, g.binary('Add', seBlock(g, m.se.get(t), shared), f[t]!)]));
}

/** The maps resized (bilinear) to the first's size and concatenated on channels. */
function concatResized(g: OnnxGraph, xs: V[]): V {
  const [h, w] = at(xs[0]!);
  return g.concat(xs.map((x) => g.resizeTo(x, h, w)), 1);
}

function hrHead(g: OnnxGraph, m: HighResolutionHead, xs: V[]): V {
  return layer(g, m.last_layer, concatResized(g, xs));
}

/** A task head on backbone features or one map: the dense heads, and HighResolutionHead on c1..c4. */
function taskHead(g: OnnxGraph, m: Module, f: FeatureValues | V): V {
  if (m instanceof HighResolutionHead && !('name' in f)) return hrHead(g, m, [f.c1, f.c2, f.c3, f.c4]);
  return head(g, m, f);
}

function mtinet(g: OnnxGraph, m: MTINetModel, x: V): Outputs {
  const [h, w] = at(x);
  const f = backbone(g, m.backbone, x);
  const levels = [f.c1, f.c2, f.c3, f.c4];
  const feats: Outputs[] = [];
  feats[3] = initial(g, m.scales[3]!, levels[3]!);
  for (let k = 2; k >= 0; k--) {
    const propagated = fpm(g, m.fpmOf((k + 1) as 1 | 2 | 3), feats[k + 1]!);
    const [hk, wk] = at(levels[k]!);
    const inputs: Outputs = {};
    for (const t of m.taskNames) inputs[t] = g.concat([levels[k]!, g.resizeTo(propagated[t]!, hk, wk)], 1);
    feats[k] = initial(g, m.scales[k]!, inputs);
  }
  const distilled = feats.map((s, k) => distill(g, m.distillation[k]!, s));
  return Object.fromEntries(m.taskNames.map((t) => [t, g.resizeTo(hrHead(g, m.heads.get(t), distilled.map((d) => d[t]!)), h, w)]));
}

const entry = <C extends AnyClass>(cls: C, e: ModelEmitter<InstanceType<C>>) => [cls, e as unknown as ModelEmitter] as const;

/** Model class -> emitter of its eval-mode outputs. */
export const ONNX_MODELS: ReadonlyMap<AnyClass, ModelEmitter> = new Map<AnyClass, ModelEmitter>([
  entry(SharedEncoderModel, (g, m, x) => {
    const f = backbone(g, m.backbone, x);
    return Object.fromEntries(m.decoders.entries().map(([t, d]) => [t, g.resizeTo(taskHead(g, d, f), ...at(x))]));
  }),
  entry(SingleTaskModel, (g, m, x) => ({ [m.taskNames[0]!]: g.resizeTo(taskHead(g, m.decoder, backbone(g, m.backbone, x)), ...at(x)) })),
  entry(CrossStitchModel, perTaskEncoders),
  entry(NDDRModel, perTaskEncoders),
  entry(MTANModel, mtan),
  entry(PADNetModel, padnet),
  entry(MTINetModel, mtinet),
  entry(PAPNetModel, papnet),
  entry(JTRLModel, jtrl),
]);

/**
 * The outputs of model `m` on x (a bare backbone's are its feature levels); an ArgumentError naming
 * the class when it has no emitter.
 */
export function modelOutputs(g: OnnxGraph, m: Module, x: V): Outputs {
  const e = ONNX_MODELS.get(m.constructor as AnyClass);
  if (!e && (m instanceof ResNet || m instanceof HRNet)) return { ...backbone(g, m, x) };
  if (!e) throw new ArgumentError('exportOnnx', `model class ${m.constructor.name} has no ONNX exporter; add one to ONNX_MODELS in src/export/onnx/mtl-onnx.ts`);
  return e(g, m as MultiTaskModel, x);
}
