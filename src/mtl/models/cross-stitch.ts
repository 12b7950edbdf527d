/**
 * Cross-stitch networks (Misra et al. 2016) as in the survey's code (models/cross_stitch.py): one
 * ResNet per task; after each stage layer1..layer4 (layer1 includes the stem) a cross-stitch unit
 * mixes the tasks' features channel-wise, x_i' = sum_j alpha[i, j, c] x_j; task heads read the last
 * mixed features.
 */
import { ArgumentError } from '../../errors.js';
import { Module } from '../../nn/module.js';
import { matmul } from '../../ops/matmul.js';
import { narrow, permute, reshape, stack } from '../../ops/shape-ops.js';
import { fromArray } from '../../tensor/creation.js';
import { tidy } from '../../tensor/scope.js';
import type { Tensor } from '../../tensor/tensor.js';
import type { TaskSpec } from './common.js';
import type { ModuleDict } from './module-dict.js';
import { PerTaskEncoderModel } from './per-task-encoders.js';
import type { EncoderModelOptions } from './single-task.js';

/** The stages after which the survey's cross-stitch network mixes features. */
export const CROSS_STITCH_STAGES = ['layer1', 'layer2', 'layer3', 'layer4'] as const;

/**
 * One cross-stitch unit for T tasks with C channels: the parameter `alpha` [T, T, C], where
 * alpha[i, j, c] weighs channel c of task j's features in task i's output. Initialised as the survey:
 * `diagonal` (alpha) on i = j and `offDiagonal` (beta) elsewhere, the same for every channel.
 * (The survey keeps one [C] parameter per task pair, `cross_stitch_unit.<ti>.<tj>.param`; it is
 * alpha[i, j] here, one tensor so that every task's output depends on it.)
 */
export class CrossStitchUnit extends Module {
  readonly alpha: Tensor;

  constructor(
    readonly numTasks: number,
    readonly channels: number,
    diagonal: number,
    offDiagonal: number,
  ) {
    super();
    const v = new Float32Array(numTasks * numTasks * channels);
    for (let i = 0; i < numTasks; i++) {
      for (let j = 0; j < numTasks; j++) v.fill(i === j ? diagonal : offDiagonal, (i * numTasks + j) * channels, (i * numTasks + j + 1) * channels);
    }
    this.alpha = this.param('alpha', fromArray(v, [numTasks, numTasks, channels]));
  }

  /** The mixed features of the T tasks' maps xs (each [N, C, H, W], same shape), in task order. */
  forward(xs: readonly Tensor[]): Tensor[] {
    const t = this.numTasks;
    if (xs.length !== t) throw new ArgumentError('CrossStitchUnit', `expected ${t} feature maps, got ${xs.length}`);
    const [n, c, h, w] = xs[0]!.shape as [number, number, number, number];
    if (c !== this.channels) throw new ArgumentError('CrossStitchUnit', `expected ${this.channels} channels, got ${c}`);
    return tidy(() => {
      // One batched product per channel: y[n, c, i, :] = sum_j alpha[i, j, c] x_j[n, c, :]
      const x = reshape(stack(xs, 2), [n, c, t, h * w]);
      const y = matmul(permute(this.alpha, [2, 0, 1]), x);
      return xs.map((_, i) => reshape(narrow(y, 2, i, 1), [n, c, h, w]));
    });
  }
}

/** Options of {@link CrossStitchModel}. */
export interface CrossStitchOptions extends EncoderModelOptions {
  /** Initial weight of a task's own features (default 0.9, the survey's NYUD setting). */
  alpha?: number;
  /** Initial weight of every other task's features (default 0.1; the survey's PASCAL setting is 0.8 / 0.05). */
  beta?: number;
}

/**
 * A cross-stitch network: per-task encoders `backbone.<task>.*`, units `cross_stitch.<stage>.alpha`
 * after layer1..layer4, heads `heads.<task>.*` on each task's mixed features, outputs resized to the
 * input. Only the units are shared: sharedParameters() are the alphas and lastSharedLayer() the
 * last unit's alpha. There is no shared representation (null).
 */
export class CrossStitchModel extends PerTaskEncoderModel<CrossStitchUnit> {
  constructor(tasks: readonly TaskSpec[], opts: CrossStitchOptions = {}) {
    super('CrossStitchModel', tasks, opts, 'cross_stitch', (ch) => {
      const perStage = { layer1: ch.c1, layer2: ch.c2, layer3: ch.c3, layer4: ch.c4 };
      return CROSS_STITCH_STAGES.map((s) => [s, new CrossStitchUnit(tasks.length, perStage[s], opts.alpha ?? 0.9, opts.beta ?? 0.1)] as const);
    });
  }

  /** The cross-stitch units by stage (`cross_stitch.<stage>.*`). */
  get crossStitch(): ModuleDict<CrossStitchUnit> {
    return this.units;
  }

  lastSharedLayer(): Tensor {
    return this.units.get('layer4').alpha;
  }
}
