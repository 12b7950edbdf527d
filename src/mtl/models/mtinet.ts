/**
 * MTI-Net (Vandenhende et al. 2020) as the survey implements it (models/mti_net.py), on the four
 * branches c1..c4 of hrnet18 (the survey's setup: `backbone: {name: 'hrnet18'}`, task channels 18,
 * 36, 72, 144) or on the four stage outputs c1..c4 of a ResNet. Scales are numbered as there:
 * scale 0 is the finest (c1), scale 3 the coarsest (c4). From coarse to fine, each scale makes
 * initial task predictions (per task two BasicBlocks on the backbone map, concatenated from scale 2
 * on with that task's features propagated from the coarser scale, then a 1x1 classifier; all are
 * deep-supervised), and the feature propagation module (FPM) of scales 3..1 mixes the tasks'
 * features (a shared non-linear f with per-channel-group softmax attention over the tasks, a shared
 * dimensionality reduction, then per-task squeeze-and-excitation, added to each task's features)
 * for the next finer scale. Every scale then runs multi-modal distillation (PAD-Net's, per scale),
 * and each task's head (the survey's HighResolutionHead) resizes the four distilled maps to the
 * finest, concatenates them and applies 1x1 conv-BN-ReLU-1x1 conv. Outputs are resized to the input.
 *
 * Deviations from the survey's code, and why:
 * - Backbone: the default stays resnet18 at output stride 32 (c1..c4 at strides 4..32 as HRNet's
 *   branches; channels 64, 128, 256, 512 at width 1) for CPU-sized runs; hrnet18 is the survey's.
 *   `taskChannels` (default: the backbone's c1..c4) sets each scale's task width
 *   independently; the first refinement block then gets a 1x1 shortcut, as the survey does when
 *   input and task widths differ.
 * - Propagated features are resized to the finer scale's exact size (the survey's scale_factor=2), so
 *   odd input sizes and dilated backbones (equal-size scales) work.
 * - The SE blocks' hidden width is max(1, C / 16) (the survey's C // 16 is 0 for C < 16).
 * - Every task is also an auxiliary task (the survey allows extra, auxiliary-only tasks).
 */
import { HighResolutionHead } from '../../nn/heads/hrnet-head.js';
import { BasicBlock } from '../../nn/backbones/resnet.js';
import { BatchNorm2d, Conv2d, ReLU, Sequential } from '../../nn/layers.js';
import { Module } from '../../nn/module.js';
import { ArgumentError } from '../../errors.js';
import { add, mul } from '../../ops/binary.js';
import { softmax } from '../../ops/reduce.js';
import { concat, reshape } from '../../ops/shape-ops.js';
import type { Generator } from '../../tensor/random.js';
import { tidy } from '../../tensor/scope.js';
import type { Tensor } from '../../tensor/tensor.js';
import { MultiTaskModel, type MultiTaskOutput } from './model.js';
import { buildBackbone, lastConv, type BackboneSpec, type EncoderBackbone } from './backbone-spec.js';

export { HighResolutionHead };
import { checkImage, checkTasks, resizeTo, type TaskSpec } from './common.js';
import { InitialTaskPrediction, MultiTaskDistillation, SEBlock, basicBlocks, type InitialPredictions } from './decoder-blocks.js';
import { ModuleDict } from './module-dict.js';

/** Per-scale channel counts, finest (scale 0, c1) first. */
export type ScaleChannels = readonly [number, number, number, number];

/**
 * The survey's feature propagation module over N tasks of P channels each (S = N P): shared
 * `non_linear` (BasicBlock S -> S/4 with a 1x1 shortcut, BasicBlock S/4, 1x1 conv S/4 -> S with bias),
 * whose output, viewed [B, P, N, H, W], is softmaxed over N and multiplies the concatenated task
 * features viewed the same way; shared `dimensionality_reduction` (BasicBlock S -> P with a 1x1
 * shortcut); then per task `se.<t>` (SEBlock P) added to that task's features.
 */
export class FPM extends Module {
  readonly non_linear: Sequential;
  readonly dimensionality_reduction: BasicBlock;
  readonly se: ModuleDict<SEBlock>;

  constructor(
    readonly tasks: readonly string[],
    readonly perTaskChannels: number,
    seReduction = 16,
    generator?: Generator,
  ) {
    super();
    const g = generator;
    const s = tasks.length * perTaskChannels;
    const q = Math.floor(s / 4);
    if (q < 1) throw new ArgumentError('FPM', `tasks x channels must be at least 4, got ${s}`);
    const proj = (out: number) => new Sequential(new Conv2d(s, out, 1, { bias: false, generator: g }), new BatchNorm2d(out));
    this.non_linear = this.child(
      'non_linear',
      new Sequential(new BasicBlock(s, q, { downsample: proj(q), generator: g }), new BasicBlock(q, q, { generator: g }), new Conv2d(q, s, 1, { generator: g })),
    );
    this.dimensionality_reduction = this.child('dimensionality_reduction', new BasicBlock(s, perTaskChannels, { downsample: proj(perTaskChannels), generator: g }));
    this.se = this.child('se', new ModuleDict(tasks.map((t) => [t, new SEBlock(perTaskChannels, seReduction, g)] as const)));
  }

  /** Task name -> propagated features [B, P, H, W], from task name -> features [B, P, H, W]. */
  forward(features: Readonly<Record<string, Tensor>>): Record<string, Tensor> {
    return tidy(() => {
      const cat = concat(this.tasks.map((t) => features[t]!), 1);
      const [b, c, h, w] = cat.shape as [number, number, number, number];
      const grouped = [b, c / this.tasks.length, this.tasks.length, h, w];
      // As the survey: channel j of the concatenation belongs to group floor(j / N), so the
      // softmax runs over N consecutive channels (not over the same channel of each task).
      const mask = softmax(reshape(this.non_linear.forward(cat), grouped), 2);
      const attended = reshape(mul(mask, reshape(cat, grouped)), [b, c, h, w]);
      const shared = this.dimensionality_reduction.forward(attended);
      const out: Record<string, Tensor> = {};
      for (const t of this.tasks) out[t] = add(this.se.get(t).forward(shared), features[t]!);
      return out;
    });
  }
}

/** Options of {@link MTINetModel}. */
export interface MTINetOptions {
  /** The encoder: hrnet18 (the survey's) or a ResNet (default resnet18 at output stride 32); scales at strides 4, 8, 16, 32. */
  backbone?: BackboneSpec;
  /** Task feature channels per scale, finest first (default: the encoder's c1..c4 channels). */
  taskChannels?: ScaleChannels;
  /** Reduction ratio of the FPM's SE blocks (default 16, as the survey). */
  seReduction?: number;
  /** Generator for the initial weights (default: the global one). */
  generator?: Generator;
}

/**
 * MTI-Net: encoder `backbone.*`; FPMs `fpm_scale_{3,2,1}.*`; initial predictions
 * `scale_{0..3}.refinement.<t>.*` (BasicBlocks) and `scale_{0..3}.decoders.<t>.*` (1x1 classifier);
 * distillation `distillation_scale_{0..3}.self_attention.<t>.<s>.*`; heads `heads.<t>.last_layer.*`.
 * forward() returns the final predictions and, as `auxiliary`, every task's initial predictions of
 * scales 0..3 (in that order). The representation is null (tasks read the encoder through four
 * maps). sharedParameters() are the encoder's and the FPMs' shared parts (non_linear,
 * dimensionality_reduction: every task's later scales read them); lastSharedLayer() is the
 * encoder's last conv weight that every task reads (see lastConv).
 */
export class MTINetModel extends MultiTaskModel {
  readonly taskNames: readonly string[];
  readonly backbone: EncoderBackbone;
  readonly fpm: readonly FPM[];
  readonly scales: readonly InitialTaskPrediction[];
  readonly distillation: readonly MultiTaskDistillation[];
  readonly heads: ModuleDict<HighResolutionHead>;
  /** Task feature channels per scale, finest first. */
  readonly taskChannels: ScaleChannels;

  constructor(
    readonly tasks: readonly TaskSpec[],
    opts: MTINetOptions = {},
  ) {
    super();
    try {
      const op = 'MTINetModel';
      this.taskNames = checkTasks(op, tasks);
      const g = opts.generator;
      const spec = opts.backbone ?? {};
      this.backbone = this.child('backbone', buildBackbone(typeof spec === 'function' ? spec : { ...spec, outputStride: spec.outputStride ?? 32 }, g));
      const ch = this.backbone.channels;
      const inC = [ch.c1, ch.c2, ch.c3, ch.c4];
      const tc = opts.taskChannels ?? (inC as unknown as ScaleChannels);
      if (!Array.isArray(tc) || tc.length !== 4 || !tc.every((c) => Number.isInteger(c) && c >= 1)) {
        throw new ArgumentError(op, `taskChannels must be four positive integers (finest scale first), got ${JSON.stringify(tc)}`);
      }
      this.taskChannels = [...tc] as unknown as ScaleChannels;
      const r = opts.seReduction ?? 16;
      if (!Number.isInteger(r) || r < 1) throw new ArgumentError(op, `seReduction must be a positive integer, got ${r}`);
      const names = this.taskNames;
      this.fpm = [3, 2, 1].map((k) => this.child(`fpm_scale_${k}`, new FPM(names, tc[k]!, r, g))).reverse();
      this.scales = [0, 1, 2, 3].map((k) => {
        const input = k === 3 ? inC[3]! : inC[k]! + tc[k + 1]!;
        const branches = tasks.map((t) => ({ task: t.name, features: basicBlocks(input, tc[k]!, g), classifier: new Conv2d(tc[k]!, t.channels, 1, { generator: g }) }));
        return this.child(`scale_${k}`, new InitialTaskPrediction('refinement', 'decoders', branches));
      });
      this.distillation = [0, 1, 2, 3].map((k) => this.child(`distillation_scale_${k}`, new MultiTaskDistillation(names, tc[k]!, g)));
      this.heads = this.child('heads', new ModuleDict(tasks.map((t) => [t.name, new HighResolutionHead(tc, t.channels, g)] as const)));
    } catch (e) {
      // a failed build must not leak the GPU memory of what was already made
      this.dispose();
      throw e;
    }
  }

  /** The FPM of scale k (1..3). */
  fpmOf(k: 1 | 2 | 3): FPM {
    return this.fpm[k - 1]!;
  }

  forward(x: Tensor): MultiTaskOutput {
    checkImage('MTINetModel', x, this.backbone.inChannels);
    const [, , h, w] = x.shape as [number, number, number, number];
    return tidy(() => {
      const f = this.backbone.forward(x);
      const levels = [f.c1, f.c2, f.c3, f.c4];
      // Coarse to fine: initial predictions, then propagation into the next finer scale.
      const initial: InitialPredictions[] = [];
      initial[3] = this.scales[3]!.forward(levels[3]!);
      for (let k = 2; k >= 0; k--) {
        const propagated = this.fpmOf((k + 1) as 1 | 2 | 3).forward(initial[k + 1]!.features);
        const [, , hk, wk] = levels[k]!.shape as [number, number, number, number];
        const inputs: Record<string, Tensor> = {};
        for (const t of this.taskNames) inputs[t] = concat([levels[k]!, resizeTo(propagated[t]!, hk, wk)], 1);
        initial[k] = this.scales[k]!.forward(inputs);
      }
      const distilled = initial.map((s, k) => this.distillation[k]!.forward(s.features));
      const outputs: Record<string, Tensor> = {};
      const auxiliary: Record<string, Tensor[]> = {};
      for (const t of this.taskNames) {
        outputs[t] = resizeTo(this.heads.get(t).forward(distilled.map((d) => d[t]!)), h, w);
        auxiliary[t] = initial.map((s) => resizeTo(s.predictions[t]!, h, w));
      }
      return { outputs, auxiliary, representation: null };
    });
  }

  sharedParameters(): Tensor[] {
    const fpmShared = [3, 2, 1].flatMap((k) => {
      const m = this.fpmOf(k as 1 | 2 | 3);
      return [...m.non_linear.parameters(), ...m.dimensionality_reduction.parameters()];
    });
    return [...this.backbone.parameters(), ...fpmShared];
  }

  lastSharedLayer(): Tensor {
    return lastConv(this.backbone).weight;
  }
}
