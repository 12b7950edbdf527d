/**
 * NDDR-CNN (Gao et al. 2019) as in the survey's code (models/nddr_cnn.py): one ResNet per task;
 * after each stage (the pooled stem, layer1, ..., layer4) an NDDR layer concatenates the tasks'
 * features and gives each task a 1x1 conv (T*C -> C, no bias), batch norm (momentum 0.05) and ReLU
 * of them, initialised diagonally: the task's own channel c with weight alpha, channel c of every
 * other task with beta, all other weights 0.
 */
import { ArgumentError } from '../../errors.js';
import type { BackboneFeatures } from '../../nn/backbones/features.js';
import { overwrite } from '../../nn/backbones/reinit.js';
import type { ResNet } from '../../nn/backbones/resnet.js';
import { BatchNorm2d, Conv2d, convBn } from '../../nn/layers.js';
import { Module } from '../../nn/module.js';
import { concat, narrow } from '../../ops/shape-ops.js';
import type { Generator } from '../../tensor/random.js';
import { tidy } from '../../tensor/scope.js';
import type { Tensor } from '../../tensor/tensor.js';
import { MultiTaskModel, type MultiTaskOutput } from './model.js';
import { buildBackbone, stages, stemForward, stemPool } from './backbone-spec.js';
import { checkImage, checkTasks, resizeTo, type TaskSpec } from './common.js';
import { buildHead, checkHead, type DenseHead } from './head-spec.js';
import { ModuleDict } from './module-dict.js';
import type { EncoderModelOptions } from './single-task.js';

/**
 * The stages after which NDDR layers fuse the tasks: the max-pooled stem (the survey's 'conv'),
 * then layer1 (its 'layer1_without_conv'), layer2, layer3, layer4.
 */
export const NDDR_STAGES = ['stem', 'layer1', 'layer2', 'layer3', 'layer4'] as const;

/**
 * One NDDR layer for T tasks with C channels. The survey's T separate convs (T*C -> C) and batch
 * norms (C) are stacked into one conv `conv.weight` [T*C, T*C, 1, 1] and one `bn` over T*C
 * channels (same maths and parameter count; output block i is task i's, i.e. the survey's
 * `layer.<task_i>.0.weight` is rows i*C..(i+1)*C here), so one launch serves all tasks and every
 * task's output depends on `conv.weight`.
 */
export class NDDRLayer extends Module {
  readonly conv: Conv2d;
  readonly bn: BatchNorm2d;

  constructor(
    readonly numTasks: number,
    readonly channels: number,
    alpha: number,
    beta: number,
    generator?: Generator,
  ) {
    super();
    const tc = numTasks * channels;
    this.conv = this.child('conv', new Conv2d(tc, tc, 1, { bias: false, generator }));
    this.bn = this.child('bn', new BatchNorm2d(tc, { momentum: 0.05 }));
    const w = new Float32Array(tc * tc);
    for (let i = 0; i < numTasks; i++) {
      for (let j = 0; j < numTasks; j++) {
        for (let c = 0; c < channels; c++) w[(i * channels + c) * tc + j * channels + c] = i === j ? alpha : beta;
      }
    }
    overwrite(this.conv.weight, w);
  }

  /** The fused features of the T tasks' maps xs (each [N, C, H, W], same shape), in task order. */
  forward(xs: readonly Tensor[]): Tensor[] {
    if (xs.length !== this.numTasks) throw new ArgumentError('NDDRLayer', `expected ${this.numTasks} feature maps, got ${xs.length}`);
    return tidy(() => {
      const y = convBn(this.conv, this.bn, concat(xs, 1), { activation: 'relu' });
      return xs.map((_, i) => narrow(y, 1, i * this.channels, this.channels));
    });
  }
}

/** Options of {@link NDDRModel}. */
export interface NDDROptions extends EncoderModelOptions {
  /** Initial weight of a task's own channel (default 0.9, the survey's NYUD setting). */
  alpha?: number;
  /** Initial weight of the same channel of every other task (default 0.1; survey PASCAL: 0.8 / 0.05). */
  beta?: number;
}

/**
 * NDDR-CNN: per-task encoders `backbone.<task>.*`, NDDR layers `nddr.<stage>.*` after the pooled
 * stem and each of layer1..layer4, heads `heads.<task>.*` on each task's last fused features,
 * outputs resized to the input. Only the NDDR layers are shared: sharedParameters() are their
 * parameters and lastSharedLayer() the last layer's conv weight. No shared representation (null).
 */
export class NDDRModel extends MultiTaskModel {
  readonly taskNames: readonly string[];
  readonly backbone: ModuleDict<ResNet>;
  readonly heads: ModuleDict<DenseHead>;
  readonly nddr: ModuleDict<NDDRLayer>;

  constructor(
    readonly tasks: readonly TaskSpec[],
    opts: NDDROptions = {},
  ) {
    super();
    try {
      this.taskNames = checkTasks('NDDRModel', tasks);
      checkHead('NDDRModel', opts.head);
      const encoders = tasks.map((t) => [t.name, buildBackbone(opts.backbone, opts.generator)] as const);
      this.backbone = this.child('backbone', new ModuleDict(encoders));
      const first = encoders[0]![1];
      this.heads = this.child('heads', new ModuleDict(tasks.map((t) => [t.name, buildHead('NDDRModel', first, t.channels, opts.head, opts.generator)] as const)));
      const ch = first.channels;
      const perStage = { stem: ch.stem, layer1: ch.c1, layer2: ch.c2, layer3: ch.c3, layer4: ch.c4 };
      const layers = NDDR_STAGES.map((s) => [s, new NDDRLayer(tasks.length, perStage[s], opts.alpha ?? 0.9, opts.beta ?? 0.1, opts.generator)] as const);
      this.nddr = this.child('nddr', new ModuleDict(layers));
    } catch (e) {
      // a failed build must not leak the GPU memory of what was already made
      this.dispose();
      throw e;
    }
  }

  forward(x: Tensor): MultiTaskOutput {
    const encoders = this.backbone.values();
    checkImage('NDDRModel', x, encoders[0]!.inChannels);
    const [, , h, w] = x.shape as [number, number, number, number];
    return tidy(() => {
      const stem = encoders.map((e) => stemForward(e, x));
      let xs = this.nddr.get('stem').forward(stem.map(stemPool));
      const levels: Tensor[][] = [];
      NDDR_STAGES.slice(1).forEach((name, k) => {
        xs = this.nddr.get(name).forward(encoders.map((e, i) => stages(e)[k]!.forward(xs[i]!)));
        levels.push(xs);
      });
      const outputs: Record<string, Tensor> = {};
      this.taskNames.forEach((name, i) => {
        const f: BackboneFeatures = { stem: stem[i]!, c1: levels[0]![i]!, c2: levels[1]![i]!, c3: levels[2]![i]!, c4: levels[3]![i]! };
        outputs[name] = resizeTo(this.heads.get(name).forward(f), h, w);
      });
      return { outputs, representation: null };
    });
  }

  sharedParameters(): Tensor[] {
    return this.nddr.parameters();
  }

  lastSharedLayer(): Tensor {
    return this.nddr.get('layer4').conv.weight;
  }
}
