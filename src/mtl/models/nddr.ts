/**
 * NDDR-CNN (Gao et al. 2019) as in the survey's code (models/nddr_cnn.py): one ResNet per task;
 * after each stage (the pooled stem, layer1, ..., layer4) an NDDR layer concatenates the tasks'
 * features and gives each task a 1x1 conv (T*C -> C, no bias), batch norm (momentum 0.05) and ReLU
 * of them, initialised diagonally: the task's own channel c with weight alpha, channel c of every
 * other task with beta, all other weights 0.
 */
import { ArgumentError } from '../../errors.js';
import { overwrite } from '../../nn/backbones/reinit.js';
import { BatchNorm2d, Conv2d, convBn } from '../../nn/layers.js';
import { Module } from '../../nn/module.js';
import { concat, narrow } from '../../ops/shape-ops.js';
import type { Generator } from '../../tensor/random.js';
import { tidy } from '../../tensor/scope.js';
import type { Tensor } from '../../tensor/tensor.js';
import type { TaskSpec } from './common.js';
import type { ModuleDict } from './module-dict.js';
import { PerTaskEncoderModel } from './per-task-encoders.js';
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
export class NDDRModel extends PerTaskEncoderModel<NDDRLayer> {
  constructor(tasks: readonly TaskSpec[], opts: NDDROptions = {}) {
    super('NDDRModel', tasks, opts, 'nddr', (ch) => {
      const perStage = { stem: ch.stem, layer1: ch.c1, layer2: ch.c2, layer3: ch.c3, layer4: ch.c4 };
      return NDDR_STAGES.map((s) => [s, new NDDRLayer(tasks.length, perStage[s], opts.alpha ?? 0.9, opts.beta ?? 0.1, opts.generator)] as const);
    });
  }

  /** The NDDR layers by stage (`nddr.<stage>.*`). */
  get nddr(): ModuleDict<NDDRLayer> {
    return this.units;
  }

  lastSharedLayer(): Tensor {
    return this.units.get('layer4').conv.weight;
  }
}
