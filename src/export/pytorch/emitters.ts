/**
 * One PyTorch emitter per webmtl module class: how model.py constructs an instance, given the
 * Python variables of its (already constructed) children. Built-in layers become their torch.nn
 * counterparts with every option that changes the maths (stride, padding, dilation, groups, bias,
 * batch-norm eps and momentum); composite modules become a generated `Node` class (py-nn.ts,
 * py-mtl.ts) that receives its children under webmtl's names and its few plain attributes. The
 * table is keyed by the exact constructor, so a subclass without an entry is reported, not guessed.
 */
import { ArgumentError } from '../../errors.js';
import { HRNet, HighResolutionModule, ModuleSlots } from '../../nn/backbones/hrnet.js';
import { BasicBlock, Bottleneck, ResNet } from '../../nn/backbones/resnet.js';
import { ASPP, ASPPHead, ASPPPooling } from '../../nn/heads/aspp-head.js';
import { ModuleList } from '../../nn/heads/common.js';
import { ConvHead } from '../../nn/heads/conv-head.js';
import { FPNHead, FeaturePyramidNetwork } from '../../nn/heads/fpn-head.js';
import { HighResolutionFuse, HighResolutionHead } from '../../nn/heads/hrnet-head.js';
import { Dropout, Dropout2d } from '../../nn/layers-dropout.js';
import { ConvTranspose2d, GroupNorm, LayerNorm, LeakyReLU, Sigmoid, Tanh } from '../../nn/layers-extra.js';
import { BatchNorm2d, Conv2d, Identity, Linear, ReLU, Sequential } from '../../nn/layers.js';
import type { Module } from '../../nn/module.js';
import { CrossStitchModel, CrossStitchUnit } from '../../mtl/models/cross-stitch.js';
import { InitialTaskPrediction, MultiTaskDistillation, SABlock, SEBlock } from '../../mtl/models/decoder-blocks.js';
import { ModuleDict } from '../../mtl/models/module-dict.js';
import { MTANModel } from '../../mtl/models/mtan.js';
import { FPM, MTINetModel } from '../../mtl/models/mtinet.js';
import { NDDRLayer, NDDRModel } from '../../mtl/models/nddr.js';
import { PADNetModel } from '../../mtl/models/padnet.js';
import { PAPNetModel, PAPropagation } from '../../mtl/models/papnet.js';
import { JTRLModel, TaskAttentiveModule } from '../../mtl/models/jtrl.js';
import { SharedEncoderModel } from '../../mtl/models/shared-encoder.js';
import { SingleTaskModel } from '../../mtl/models/single-task.js';
import { PY_MTL_CLASSES } from './py-mtl.js';
import { PY_NN_CLASSES } from './py-nn.js';

/** The generated Python classes, by name. */
export const PY_CLASSES = { ...PY_NN_CLASSES, ...PY_MTL_CLASSES };
/** A generated Python class's name. */
export type PyClassName = keyof typeof PY_CLASSES;

/** The Python variables of a module's children, by webmtl child name, in registration order. */
export type Kids = readonly (readonly [string, string])[];

/**
 * How one module class is emitted: `torch` builds the expression itself (a torch.nn layer or
 * container); `node` names the generated class and the plain attributes it needs (its children,
 * own parameters and buffers are passed by the emitter).
 */
export type PyEmitter<M extends Module = Module> =
  | { readonly kind: 'torch'; readonly expr: (m: M, kids: Kids) => string }
  | { readonly kind: 'node'; readonly cls: PyClassName; readonly attrs?: (m: M) => Record<string, unknown> };

/** A Python literal for a JSON-like value (numbers, strings, booleans, null, arrays, plain objects). */
export function pyLiteral(v: unknown): string {
  if (v === null || v === undefined) return 'None';
  if (typeof v === 'boolean') return v ? 'True' : 'False';
  if (typeof v === 'number') {
    if (!Number.isFinite(v)) throw new ArgumentError('pyLiteral', `cannot write ${v} into model.py`);
    return String(v); // JavaScript's shortest round-trip form is valid Python (1e-7, 0.1, 3)
  }
  if (typeof v === 'string') return JSON.stringify(v);
  if (Array.isArray(v)) return `[${v.map(pyLiteral).join(', ')}]`;
  if (typeof v === 'object') return `{${Object.entries(v).map(([k, x]) => `${JSON.stringify(k)}: ${pyLiteral(x)}`).join(', ')}}`;
  throw new ArgumentError('pyLiteral', `cannot write a ${typeof v} into model.py`);
}

type Pair = number | readonly [number, number] | undefined;
const two = (v: Pair, d: number): [number, number] => (v === undefined ? [d, d] : typeof v === 'number' ? [v, v] : [v[0], v[1]]);
const tup = (p: readonly number[]) => (p.length === 1 ? `(${p[0]},)` : `(${p.join(', ')})`);

/** Conv2d padding as PyTorch's symmetric (h, w); asymmetric F.pad-order padding has no nn.Conv2d form. */
function convPadding(m: Conv2d): [number, number] {
  const p = m.opts.padding;
  if (Array.isArray(p) && p.length === 4) {
    const [l, r, t, b] = p as readonly number[];
    if (l !== r || t !== b) throw new ArgumentError('exportPyTorch', `Conv2d with asymmetric padding [${p.join(', ')}] has no nn.Conv2d equivalent`);
    return [t!, l!];
  }
  return two(p as Pair, 0);
}

const kidsList = (kids: Kids) => kids.map(([, v]) => v).join(', ');
const kidsPairs = (kids: Kids) => `[${kids.map(([k, v]) => `(${JSON.stringify(k)}, ${v})`).join(', ')}]`;
const sequential: PyEmitter = { kind: 'torch', expr: (_m: Module, kids: Kids) => `nn.Sequential(${kidsList(kids)})` };
const act = (expr: string): PyEmitter => ({ kind: 'torch', expr: () => expr });

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type AnyClass = abstract new (...args: any[]) => Module;
const entry = <C extends AnyClass>(cls: C, e: PyEmitter<InstanceType<C>>) => [cls, e as unknown as PyEmitter] as const;

/** Module class -> emitter. A class missing here cannot be exported (see {@link emitterFor}). */
export const PY_EMITTERS: ReadonlyMap<AnyClass, PyEmitter> = new Map<AnyClass, PyEmitter>([
  entry(Conv2d, {
    kind: 'torch',
    expr: (m) => {
      const [kh, kw] = [m.weight.shape[2]!, m.weight.shape[3]!];
      const o = m.opts;
      return `nn.Conv2d(${m.inChannels}, ${m.outChannels}, ${tup([kh, kw])}, stride=${tup(two(o.stride, 1))}, padding=${tup(convPadding(m))}, dilation=${tup(two(o.dilation, 1))}, groups=${o.groups ?? 1}, bias=${pyLiteral(m.bias !== null)})`;
    },
  }),
  entry(ConvTranspose2d, {
    kind: 'torch',
    expr: (m) => {
      const o = m.opts;
      const k = [m.weight.shape[2]!, m.weight.shape[3]!];
      return `nn.ConvTranspose2d(${m.inChannels}, ${m.outChannels}, ${tup(k)}, stride=${tup(two(o.stride, 1))}, padding=${tup(two(o.padding, 0))}, output_padding=${tup(two(o.outputPadding, 0))}, groups=${o.groups ?? 1}, bias=${pyLiteral(m.bias !== null)}, dilation=${tup(two(o.dilation, 1))})`;
    },
  }),
  entry(BatchNorm2d, {
    kind: 'torch',
    expr: (m) => `nn.BatchNorm2d(${m.numFeatures}, eps=${pyLiteral(m.opts.eps ?? 1e-5)}, momentum=${pyLiteral(m.opts.momentum ?? 0.1)}, affine=${pyLiteral(m.weight !== null)})`,
  }),
  entry(GroupNorm, {
    kind: 'torch',
    expr: (m) => `nn.GroupNorm(${m.numGroups}, ${m.numChannels}, eps=${pyLiteral(m.opts.eps ?? 1e-5)}, affine=${pyLiteral(m.weight !== null)})`,
  }),
  entry(LayerNorm, {
    kind: 'torch',
    expr: (m) => {
      if (m.weight !== null && m.bias === null) throw new ArgumentError('exportPyTorch', 'LayerNorm with a weight but no bias has no nn.LayerNorm equivalent in PyTorch 1.13');
      return `nn.LayerNorm(${tup(m.normalizedShape)}, eps=${pyLiteral(m.opts.eps ?? 1e-5)}, elementwise_affine=${pyLiteral(m.weight !== null)})`;
    },
  }),
  entry(Linear, { kind: 'torch', expr: (m) => `nn.Linear(${m.inFeatures}, ${m.outFeatures}, bias=${pyLiteral(m.bias !== null)})` }),
  entry(ReLU, act('nn.ReLU()')),
  entry(Sigmoid, act('nn.Sigmoid()')),
  entry(Tanh, act('nn.Tanh()')),
  entry(Identity, act('nn.Identity()')),
  entry(LeakyReLU, { kind: 'torch', expr: (m) => `nn.LeakyReLU(${pyLiteral(m.negativeSlope)})` }),
  entry(Dropout, { kind: 'torch', expr: (m) => `nn.Dropout(${pyLiteral(m.p)})` }),
  entry(Dropout2d, { kind: 'torch', expr: (m) => `nn.Dropout2d(${pyLiteral(m.p)})` }),
  // Containers (Sequential's fused subclasses too, see emitterFor).
  entry(Sequential, sequential),
  entry(ModuleList, { kind: 'torch', expr: (_m, kids) => `nn.ModuleList([${kidsList(kids)}])` }),
  entry(ModuleDict, { kind: 'torch', expr: (_m, kids) => `nn.ModuleDict(${kidsPairs(kids)})` }),
  // src/nn composites
  entry(BasicBlock, { kind: 'node', cls: 'BasicBlock' }),
  entry(Bottleneck, { kind: 'node', cls: 'Bottleneck' }),
  entry(ResNet, { kind: 'node', cls: 'ResNet' }),
  entry(ModuleSlots, { kind: 'node', cls: 'ModuleSlots', attrs: (m) => ({ size: m.items.length }) }),
  entry(HighResolutionModule, { kind: 'node', cls: 'HighResolutionModule' }),
  entry(HRNet, { kind: 'node', cls: 'HRNet', attrs: (m) => ({ stage_sizes: m.stages.map((s) => s.items.length) }) }),
  entry(ConvHead, { kind: 'node', cls: 'ConvHead', attrs: (m) => ({ level: m.level }) }),
  entry(ASPPPooling, { kind: 'node', cls: 'ASPPPooling' }),
  entry(ASPP, { kind: 'node', cls: 'ASPP' }),
  entry(ASPPHead, { kind: 'node', cls: 'ASPPHead', attrs: (m) => ({ level: m.level }) }),
  entry(FeaturePyramidNetwork, { kind: 'node', cls: 'FeaturePyramidNetwork', attrs: (m) => ({ top_down_mode: m.topDownMode }) }),
  entry(FPNHead, { kind: 'node', cls: 'FPNHead', attrs: (m) => ({ levels: [...m.levels], fuse_mode: m.fuseMode }) }),
  // src/mtl architectures and units
  entry(SharedEncoderModel, { kind: 'node', cls: 'SharedEncoderModel', attrs: (m) => ({ task_names: [...m.taskNames] }) }),
  entry(SingleTaskModel, { kind: 'node', cls: 'SingleTaskModel', attrs: (m) => ({ task_names: [...m.taskNames] }) }),
  entry(CrossStitchModel, { kind: 'node', cls: 'PerTaskEncoderModel', attrs: (m) => ({ task_names: [...m.taskNames], units_name: 'cross_stitch' }) }),
  entry(NDDRModel, { kind: 'node', cls: 'PerTaskEncoderModel', attrs: (m) => ({ task_names: [...m.taskNames], units_name: 'nddr' }) }),
  entry(CrossStitchUnit, { kind: 'node', cls: 'CrossStitchUnit' }),
  entry(NDDRLayer, { kind: 'node', cls: 'NDDRLayer', attrs: (m) => ({ num_tasks: m.numTasks, channels: m.channels }) }),
  entry(MTANModel, { kind: 'node', cls: 'MTANModel', attrs: (m) => ({ task_names: [...m.taskNames], downsample: [...m.downsample] }) }),
  entry(InitialTaskPrediction, {
    kind: 'node',
    cls: 'InitialTaskPrediction',
    attrs: (m) => {
      const [features, classifiers] = m.namedChildren().map(([n]) => n);
      return { features_name: features, classifier_name: classifiers };
    },
  }),
  entry(SABlock, { kind: 'node', cls: 'SABlock' }),
  entry(SEBlock, { kind: 'node', cls: 'SEBlock' }),
  entry(MultiTaskDistillation, { kind: 'node', cls: 'MultiTaskDistillation', attrs: (m) => ({ tasks: [...m.tasks] }) }),
  entry(PADNetModel, { kind: 'node', cls: 'PADNetModel', attrs: (m) => ({ task_names: [...m.taskNames] }) }),
  entry(PAPropagation, { kind: 'node', cls: 'PAPropagation', attrs: (m) => ({ tasks: [...m.tasks], scale: m.scale, iterations: m.iterations, beta: m.beta }) }),
  entry(PAPNetModel, { kind: 'node', cls: 'PAPNetModel', attrs: (m) => ({ task_names: [...m.taskNames] }) }),
  entry(TaskAttentiveModule, { kind: 'node', cls: 'TaskAttentiveModule', attrs: (m) => ({ task: m.task }) }),
  entry(JTRLModel, { kind: 'node', cls: 'JTRLModel', attrs: (m) => ({ task_names: [...m.taskNames] }) }),
  entry(FPM, { kind: 'node', cls: 'FPM', attrs: (m) => ({ tasks: [...m.tasks] }) }),
  entry(HighResolutionHead, { kind: 'node', cls: 'HighResolutionHead' }),
  entry(HighResolutionFuse, { kind: 'node', cls: 'HighResolutionFuse' }),
  entry(MTINetModel, { kind: 'node', cls: 'MTINetModel', attrs: (m) => ({ task_names: [...m.taskNames] }) }),
]);

/**
 * The emitter of `m`'s exact class; an ArgumentError naming the class and its place in the model
 * (`path`) when there is none, saying where exporters are added. One family is exempt: a subclass
 * of Sequential without an entry is emitted as nn.Sequential, because webmtl's Sequential
 * subclasses only fuse their layers' passes and compute what running the layers in order computes
 * (ConvBnReLU, ConvBnSequential, the HRNet heads' last layer); the per-architecture output checks
 * hold them to it.
 */
export function emitterFor(m: Module, path: string): PyEmitter {
  const e = PY_EMITTERS.get(m.constructor as AnyClass) ?? (m instanceof Sequential ? sequential : undefined);
  if (!e) {
    throw new ArgumentError(
      'exportPyTorch',
      `module class ${m.constructor.name} (at '${path || '<model>'}') has no PyTorch exporter; add one to PY_EMITTERS in src/export/pytorch/emitters.ts`,
    );
  }
  return e;
}
