/**
 * Pieces the decoder-focused architectures (PAD-Net, MTI-Net) share, after the survey's code
 * (models/layers.py, models/padnet.py): the squeeze-and-excitation and spatial-attention blocks,
 * the multi-modal distillation module, per-task initial predictions (task features + a 1x1
 * classifier whose output is deep-supervised) and the residual-block stacks they are built from.
 */
import { ArgumentError } from '../../errors.js';
import { BasicBlock, Bottleneck } from '../../nn/backbones/resnet.js';
import { BatchNorm2d, Conv2d, Layer, Linear, ReLU, Sequential } from '../../nn/layers.js';
import { Sigmoid } from '../../nn/layers-extra.js';
import { Module } from '../../nn/module.js';
import { add, mul } from '../../ops/binary.js';
import { mean } from '../../ops/reduce.js';
import { reshape } from '../../ops/shape-ops.js';
import type { Generator } from '../../tensor/random.js';
import { tidy } from '../../tensor/scope.js';
import { Tensor } from '../../tensor/tensor.js';
import { ModuleDict } from './module-dict.js';

/**
 * Squeeze-and-excitation (Hu et al. 2018) as the survey's SEBlock: x * s, s = sigmoid(W2 relu(W1
 * mean_hw(x))) per channel; `squeeze.0` / `squeeze.2` are Linear layers (with bias), C -> C/r -> C.
 * Unlike the survey, C/r is at least 1, so narrow models (C < r) still build.
 */
export class SEBlock extends Layer {
  readonly squeeze: Sequential;
  readonly hidden: number;

  constructor(
    readonly channels: number,
    readonly r = 16,
    generator?: Generator,
  ) {
    super();
    this.hidden = Math.max(1, Math.floor(channels / r));
    this.squeeze = this.child(
      'squeeze',
      new Sequential(new Linear(channels, this.hidden, { generator }), new ReLU(), new Linear(this.hidden, channels, { generator }), new Sigmoid()),
    );
  }

  forward(x: Tensor): Tensor {
    return tidy(() => {
      const [n, c] = x.shape as [number, number];
      const s = this.squeeze.forward(mean(x, [2, 3]));
      return mul(x, reshape(s, [n, c, 1, 1]));
    });
  }
}

/**
 * The survey's spatial attention block SABlock: conv(x) * sigmoid(attention(x)), both 3x3 convs
 * (padding 1, no bias), `attention.0.weight` and `conv.weight`.
 */
export class SABlock extends Layer {
  readonly attention: Sequential;
  readonly conv: Conv2d;

  constructor(inChannels: number, outChannels: number, generator?: Generator) {
    super();
    this.attention = this.child('attention', new Sequential(new Conv2d(inChannels, outChannels, 3, { padding: 1, bias: false, generator }), new Sigmoid()));
    this.conv = this.child('conv', new Conv2d(inChannels, outChannels, 3, { padding: 1, bias: false, generator }));
  }

  forward(x: Tensor): Tensor {
    return tidy(() => mul(this.conv.forward(x), this.attention.forward(x)));
  }
}

/**
 * The survey's MultiTaskDistillationModule (PAD-Net's multi-modal distillation, used per scale by
 * MTI-Net): for each task t, out_t = f_t + sum over the other tasks s of SABlock_{t,s}(f_s), with
 * blocks `self_attention.<t>.<s>` (C -> C). With one task there is nothing to distil: out = f.
 */
export class MultiTaskDistillation extends Module {
  readonly self_attention: ModuleDict<ModuleDict<SABlock>>;

  constructor(
    readonly tasks: readonly string[],
    readonly channels: number,
    generator?: Generator,
  ) {
    super();
    this.self_attention = this.child(
      'self_attention',
      new ModuleDict(tasks.map((t) => [t, new ModuleDict(tasks.filter((s) => s !== t).map((s) => [s, new SABlock(channels, channels, generator)] as const))] as const)),
    );
  }

  /** Task name -> distilled features, from task name -> features [N, C, H, W]. */
  forward(features: Readonly<Record<string, Tensor>>): Record<string, Tensor> {
    return tidy(() => {
      const out: Record<string, Tensor> = {};
      for (const t of this.tasks) {
        let y = features[t]!;
        for (const [s, block] of this.self_attention.get(t).entries()) y = add(y, block.forward(features[s]!));
        out[t] = y;
      }
      return out;
    });
  }
}

/** A 1x1 conv (no bias) + BN shortcut from `inC` to `outC`, or null when the shapes agree. */
function shortcut(inC: number, outC: number, generator?: Generator): Sequential | null {
  return inC === outC ? null : new Sequential(new Conv2d(inC, outC, 1, { bias: false, generator }), new BatchNorm2d(outC));
}

/**
 * Two BasicBlocks `inC -> outC -> outC`, the first with a 1x1 conv + BN shortcut when inC != outC
 * (children `0`, `1`): MTI-Net's per-task refinement and the head of its FPM's non-linear f.
 */
export function basicBlocks(inC: number, outC: number, generator?: Generator): Sequential {
  return new Sequential(new BasicBlock(inC, outC, { downsample: shortcut(inC, outC, generator), generator }), new BasicBlock(outC, outC, { generator }));
}

/**
 * Two Bottlenecks `inC -> outC -> outC` (planes outC / 4), the first with a 1x1 conv + BN shortcut
 * when inC != outC (children `0`, `1`): PAD-Net's task feature layers. outC must be divisible by 4.
 */
export function bottleneckBlocks(op: string, inC: number, outC: number, generator?: Generator): Sequential {
  if (outC % Bottleneck.expansion !== 0 || outC < Bottleneck.expansion) {
    throw new ArgumentError(op, `the Bottleneck blocks need a positive channel count divisible by 4, got ${outC}`);
  }
  const planes = outC / Bottleneck.expansion;
  return new Sequential(
    new Bottleneck(inC, planes, { downsample: shortcut(inC, outC, generator), generator }),
    new Bottleneck(outC, planes, { generator }),
  );
}

/** What {@link InitialTaskPrediction.forward} returns: per task, its features and its prediction. */
export interface InitialPredictions {
  /** Task name -> task features [N, C, h, w] (what distillation and propagation read). */
  readonly features: Record<string, Tensor>;
  /** Task name -> initial prediction [N, task channels, h, w] (deep-supervised). */
  readonly predictions: Record<string, Tensor>;
}

/** One task's initial-prediction branch: the feature layers and the 1x1 classifier. */
export interface TaskBranch {
  readonly task: string;
  readonly features: Layer;
  readonly classifier: Conv2d;
}

/**
 * The survey's InitialTaskPredictionModule (PAD-Net's, and MTI-Net's per scale): per task, feature
 * layers (registered under `<featuresName>.<task>`) and a 1x1 classifier with bias (under
 * `<classifierName>.<task>`). The survey names them `layers` / `conv_out` in PAD-Net and
 * `refinement` / `decoders` in MTI-Net, so the names are the caller's.
 */
export class InitialTaskPrediction extends Module {
  readonly layers: ModuleDict<Layer>;
  readonly classifiers: ModuleDict<Conv2d>;

  constructor(featuresName: string, classifierName: string, branches: readonly TaskBranch[]) {
    super();
    this.layers = this.child(featuresName, new ModuleDict(branches.map((b) => [b.task, b.features] as const)));
    this.classifiers = this.child(classifierName, new ModuleDict(branches.map((b) => [b.task, b.classifier] as const)));
  }

  /** Runs every task's branch on its input: one tensor for all tasks, or one per task name. */
  forward(x: Tensor | Readonly<Record<string, Tensor>>): InitialPredictions {
    return tidy(() => {
      const features: Record<string, Tensor> = {};
      const predictions: Record<string, Tensor> = {};
      for (const [t, layer] of this.layers.entries()) {
        const input = x instanceof Tensor ? x : x[t]!;
        features[t] = layer.forward(input);
        predictions[t] = this.classifiers.get(t).forward(features[t]);
      }
      return { features, predictions };
    });
  }
}
