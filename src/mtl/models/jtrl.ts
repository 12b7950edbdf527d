/**
 * JTRL (Zhang et al., "Joint Task-Recursive Learning for Semantic Segmentation and Depth
 * Estimation", ECCV 2018): the tasks' decoders take turns. From the coarsest backbone level to the
 * finest (c4, c3, c2, c1), each level runs one step per task, in task order, so with the paper's two
 * tasks the chain is seg -> depth -> seg -> depth -> ... over the scales. Every step is a
 * task-attentive module ({@link TaskAttentiveModule}) that reads the previous step's features (the
 * previous task's, resized to this level) and this level's backbone features, and makes that task's
 * features and a prediction. Each task's last step (on c1) gives its output; its earlier steps'
 * predictions are deep-supervised (`auxiliary`, coarse to fine), as the paper supervises every
 * state of the recursion.
 *
 * Generalisation: the paper alternates two tasks; here T >= 2 tasks take turns round-robin
 * (t0 -> t1 -> ... -> t(T-1) -> t0 ...), so each step still reads the state of the task before it.
 * With two tasks this is the paper's chain. A single task is refused (there is nothing to alternate).
 *
 * Deviations: the paper's ResNet decoder with its own upsampling blocks is replaced by this
 * library's encoders (default resnet18 at output stride 32 so that the four levels differ in scale;
 * hrnet18's branches work the same way) and one width `channels` for every step; the
 * task-attentive module is the balance gate and attention described below, with a residual block.
 */
import { ArgumentError } from '../../errors.js';
import { BasicBlock } from '../../nn/backbones/resnet.js';
import { ModuleList } from '../../nn/heads/common.js';
import { BatchNorm2d, Conv2d, ReLU, Sequential } from '../../nn/layers.js';
import { Sigmoid } from '../../nn/layers-extra.js';
import { Module } from '../../nn/module.js';
import { add, mul, sub } from '../../ops/binary.js';
import { concat } from '../../ops/shape-ops.js';
import type { Generator } from '../../tensor/random.js';
import { tidy } from '../../tensor/scope.js';
import type { Tensor } from '../../tensor/tensor.js';
import { MultiTaskModel, type MultiTaskOutput } from './model.js';
import { buildBackbone, lastConv, type BackboneSpec, type EncoderBackbone } from './backbone-spec.js';
import { ConvBnSequential, checkImage, checkTasks, resizeTo, type TaskSpec } from './common.js';

/** What one recursion step makes: the task's features and its prediction from them. */
export interface TaskStep {
  readonly features: Tensor;
  readonly prediction: Tensor;
}

/**
 * One JTRL step for one task, from backbone features b [N, inC, H, W] and (except for the first
 * step) the previous step's features p [N, C, h, w]:
 *   b' = relu(bn(conv1x1(b)))                              `project` (inC -> C)
 *   a  = sigmoid(conv3x3(p'))                              `attention`: where the previous task looks
 *   g  = sigmoid(conv3x3([p', b']))                        `balance`: how much of each to keep
 *   f  = refine(g p' + (1 - g) (a b'))                     `refine`: a BasicBlock (C -> C)
 * with p' = p resized to H x W; the first step has no `attention` / `balance` (f = refine(b')).
 * The prediction is `classifier` (1x1 conv with bias) on f.
 */
export class TaskAttentiveModule extends Module {
  readonly project: Sequential;
  readonly attention: Sequential | null;
  readonly balance: Sequential | null;
  readonly refine: BasicBlock;
  readonly classifier: Conv2d;

  constructor(
    readonly task: string,
    inChannels: number,
    readonly channels: number,
    outChannels: number,
    readonly first: boolean,
    generator?: Generator,
  ) {
    super();
    const g = generator;
    const c = channels;
    this.project = this.child('project', new ConvBnSequential(new Conv2d(inChannels, c, 1, { bias: false, generator: g }), new BatchNorm2d(c), new ReLU()));
    this.attention = first ? null : this.child('attention', new Sequential(new Conv2d(c, c, 3, { padding: 1, generator: g }), new Sigmoid()));
    this.balance = first ? null : this.child('balance', new Sequential(new Conv2d(2 * c, c, 3, { padding: 1, generator: g }), new Sigmoid()));
    this.refine = this.child('refine', new BasicBlock(c, c, { generator: g }));
    this.classifier = this.child('classifier', new Conv2d(c, outChannels, 1, { generator: g }));
  }

  /** The task's features and prediction at b's size (see the class comment). */
  forward(b: Tensor, prev: Tensor | null): TaskStep {
    if ((prev === null) !== this.first) throw new ArgumentError('TaskAttentiveModule', this.first ? 'the first step takes no previous features' : 'needs the previous step\'s features');
    return tidy(() => {
      const own = this.project.forward(b);
      let fused = own;
      if (prev) {
        const p = resizeTo(prev, b.shape[2]!, b.shape[3]!);
        const a = this.attention!.forward(p);
        const gate = this.balance!.forward(concat([p, own], 1));
        // g p + (1 - g) (a b') = a b' + g (p - a b')
        const attended = mul(a, own);
        fused = add(attended, mul(gate, sub(p, attended)));
      }
      const features = this.refine.forward(fused);
      return { features, prediction: this.classifier.forward(features) };
    });
  }
}

/** Options of {@link JTRLModel}. */
export interface JTRLOptions {
  /** The encoder (default resnet18 at output stride 32: levels at strides 4, 8, 16, 32; or hrnet18). */
  backbone?: BackboneSpec;
  /** Channels of every step's features (default 2 x the stem's, at least 8: 128 at width 1). */
  channels?: number;
  /** Generator for the initial weights (default: the global one). */
  generator?: Generator;
}

/** Backbone levels from coarse to fine: the order of the recursion. */
export const JTRL_LEVELS = ['c4', 'c3', 'c2', 'c1'] as const;

/**
 * JTRL: encoder `backbone.*`, steps `steps.<s>.*` (s = level index x T + task index; levels c4, c3,
 * c2, c1; see {@link TaskAttentiveModule} for a step's children). forward() returns each task's last
 * prediction as its output and its three earlier ones as `auxiliary` (coarse to fine); the
 * representation is null (the tasks read four maps). sharedParameters() are the encoder's,
 * lastSharedLayer() its last conv (every step after the first reads c4 through the chain).
 */
export class JTRLModel extends MultiTaskModel {
  readonly taskNames: readonly string[];
  readonly backbone: EncoderBackbone;
  readonly steps: ModuleList<TaskAttentiveModule>;
  readonly channels: number;

  constructor(
    readonly tasks: readonly TaskSpec[],
    opts: JTRLOptions = {},
  ) {
    super();
    try {
      const op = 'JTRLModel';
      this.taskNames = checkTasks(op, tasks);
      if (tasks.length < 2) {
        throw new ArgumentError(op, `JTRL alternates between tasks and needs at least two (the paper's are segmentation and depth), got ${tasks.length}`);
      }
      const g = opts.generator;
      const spec = opts.backbone ?? {};
      this.backbone = this.child('backbone', buildBackbone(typeof spec === 'function' ? spec : { ...spec, outputStride: spec.outputStride ?? 32 }, g));
      const c = opts.channels ?? Math.max(8, 2 * this.backbone.channels.stem);
      if (!Number.isInteger(c) || c < 1) throw new ArgumentError(op, `channels must be a positive integer, got ${c}`);
      this.channels = c;
      const items = JTRL_LEVELS.flatMap((level, k) =>
        tasks.map((t, i) => new TaskAttentiveModule(t.name, this.backbone.channels[level], c, t.channels, k === 0 && i === 0, g)),
      );
      this.steps = this.child('steps', new ModuleList(items));
    } catch (e) {
      // a failed build must not leak the GPU memory of what was already made
      this.dispose();
      throw e;
    }
  }

  forward(x: Tensor): MultiTaskOutput {
    checkImage('JTRLModel', x, this.backbone.inChannels);
    const [, , h, w] = x.shape as [number, number, number, number];
    return tidy(() => {
      const feats = this.backbone.forward(x);
      const predictions: Record<string, Tensor[]> = Object.fromEntries(this.taskNames.map((t) => [t, []]));
      let prev: Tensor | null = null;
      const steps = this.steps.items;
      for (let s = 0; s < steps.length; s++) {
        const level = JTRL_LEVELS[Math.floor(s / this.taskNames.length)]!;
        const out = steps[s]!.forward(feats[level], prev);
        prev = out.features;
        predictions[steps[s]!.task]!.push(resizeTo(out.prediction, h, w));
      }
      const outputs: Record<string, Tensor> = {};
      const auxiliary: Record<string, Tensor[]> = {};
      for (const t of this.taskNames) {
        const ps = predictions[t]!;
        outputs[t] = ps[ps.length - 1]!;
        auxiliary[t] = ps.slice(0, -1);
      }
      return { outputs, auxiliary, representation: null };
    });
  }

  sharedParameters(): Tensor[] {
    return this.backbone.parameters();
  }

  lastSharedLayer(): Tensor {
    return lastConv(this.backbone).weight;
  }
}
