/**
 * PAP-Net (Zhang et al., "Pattern-Affinitive Propagation across Depth, Surface Normal and Semantic
 * Segmentation", CVPR 2019): a shared encoder, per-task initial predictions as PAD-Net's (two
 * Bottlenecks to `channels` task features, then a deep-supervised 1x1 classifier; on hrnet18 the
 * branches are fused first, see padnet.ts), then pattern-affinitive propagation, then per-task final
 * heads (two Bottlenecks and a 1x1 classifier) as PAD-Net's. Predictions are resized to the input.
 *
 * The propagation (module {@link PAPropagation}), for T tasks with features f_t [B, C, h, w]:
 *  1. task-specific affinity: f_t is resized (bilinear) to a downsampled grid of P = ceil(h/s) x
 *     ceil(w/s) pixels (the paper's memory-aware choice: A is P x P per image) and
 *     A_t[i, :] = softmax_j(<x_i, x_j> / sqrt(C)) (similarity of feature vectors, each row
 *     normalised to a distribution over pixels);
 *  2. cross-task combination: Â_t = sum_s w_ts A_s with w_t = softmax(cross_task[t, :]) learned (a
 *     convex combination, so Â_t's rows stay normalised);
 *  3. iterative diffusion on the grid: X <- beta Â_t X + (1 - beta) X0 (X0 the downsampled
 *     features), `iterations` times; the result is resized back and added to f_t (a residual).
 * The affinity and each diffusion step are custom WGSL ops (pap-kernels.ts).
 *
 * Deviations from the paper: its backbone, multi-scale heads and losses are replaced by this
 * library's encoders and PAD-Net's initial/final heads (as the survey compares decoders); the
 * affinity uses a softmax over dot products, and beta and the number of iterations are fixed
 * hyperparameters (defaults 0.5 and 3), not learned.
 */
import { ArgumentError } from '../../errors.js';
import { HRNet } from '../../nn/backbones/hrnet.js';
import { HighResolutionFuse } from '../../nn/heads/hrnet-head.js';
import type { Sequential } from '../../nn/layers.js';
import { Module } from '../../nn/module.js';
import { add } from '../../ops/binary.js';
import { matmul } from '../../ops/matmul.js';
import { softmax } from '../../ops/reduce.js';
import { narrow, reshape, stack } from '../../ops/shape-ops.js';
import { fromArray } from '../../tensor/creation.js';
import type { Generator } from '../../tensor/random.js';
import { tidy } from '../../tensor/scope.js';
import type { Tensor } from '../../tensor/tensor.js';
import { MultiTaskModel, type MultiTaskOutput } from './model.js';
import { finalTaskHeads, initialPredictionHeads, refineDecoderForward, refineDecoderLastShared, refineDecoderShared } from './refine-decoder.js';
import { buildBackbone, type BackboneSpec, type EncoderBackbone } from './backbone-spec.js';
import { checkTasks, resizeTo, type TaskSpec } from './common.js';
import type { InitialTaskPrediction } from './decoder-blocks.js';
import { ModuleDict } from './module-dict.js';
import { diffuseStep, pixelAffinity } from './pap-kernels.js';

/** Options of {@link PAPropagation}. */
export interface PAPropagationOptions {
  /** Downsampling factor of the affinity grid (default 2; 1 keeps the task features' size). */
  scale?: number;
  /** Diffusion iterations (default 3). */
  iterations?: number;
  /** Weight of the propagated features in each iteration, in [0, 1] (default 0.5). */
  beta?: number;
}

/**
 * Pattern-affinitive propagation over `tasks` (see the file comment). Parameter `cross_task` [T, T]
 * (row t: the logits of task t's weights over every task's affinity; initialised to 1 on the
 * diagonal, 0 elsewhere), absent for a single task (nothing to combine).
 */
export class PAPropagation extends Module {
  readonly cross_task: Tensor | null;
  readonly scale: number;
  readonly iterations: number;
  readonly beta: number;

  constructor(
    readonly tasks: readonly string[],
    opts: PAPropagationOptions = {},
  ) {
    super();
    const op = 'PAPropagation';
    this.scale = opts.scale ?? 2;
    this.iterations = opts.iterations ?? 3;
    this.beta = opts.beta ?? 0.5;
    if (!Number.isInteger(this.scale) || this.scale < 1) throw new ArgumentError(op, `scale must be a positive integer, got ${this.scale}`);
    if (!Number.isInteger(this.iterations) || this.iterations < 1) throw new ArgumentError(op, `iterations must be a positive integer, got ${this.iterations}`);
    if (!(this.beta > 0 && this.beta <= 1)) throw new ArgumentError(op, `beta must be in (0, 1], got ${this.beta}`);
    const t = tasks.length;
    this.cross_task = t > 1 ? this.param('cross_task', fromArray(Float32Array.from({ length: t * t }, (_, k) => (k % (t + 1) === 0 ? 1 : 0)), [t, t])) : null;
  }

  /** The size of the affinity grid for task features of size h x w. */
  gridSize(h: number, w: number): [number, number] {
    return [Math.ceil(h / this.scale), Math.ceil(w / this.scale)];
  }

  /** Task name -> propagated features [B, C, h, w], from task name -> features of one shape. */
  forward(features: Readonly<Record<string, Tensor>>): Record<string, Tensor> {
    return tidy(() => {
      const [b, c, h, w] = features[this.tasks[0]!]!.shape as [number, number, number, number];
      const [hs, ws] = this.gridSize(h, w);
      const p = hs * ws;
      const x0 = this.tasks.map((t) => reshape(resizeTo(features[t]!, hs, ws), [b, c, p]));
      const affinities = x0.map((x) => pixelAffinity(x));
      let combined = affinities;
      if (this.cross_task) {
        const n = this.tasks.length;
        const mixed = matmul(softmax(this.cross_task, 1), reshape(stack(affinities, 0), [n, b * p * p]));
        combined = this.tasks.map((_, i) => reshape(narrow(mixed, 0, i, 1), [b, p, p]));
      }
      const out: Record<string, Tensor> = {};
      this.tasks.forEach((t, i) => {
        let y = x0[i]!;
        for (let k = 0; k < this.iterations; k++) y = diffuseStep(combined[i]!, y, x0[i]!, this.beta);
        out[t] = add(features[t]!, resizeTo(reshape(y, [b, c, hs, ws]), h, w));
      });
      return out;
    });
  }
}

/** Options of {@link PAPNetModel}. */
export interface PAPNetOptions extends PAPropagationOptions {
  /** The shared encoder (default resnet18 dilated to output stride 8; or resnet34/50, hrnet18). */
  backbone?: BackboneSpec;
  /** Channels of the task features, divisible by 4 (default 4 x the stem's, at least 8, as PAD-Net). */
  channels?: number;
  /** Generator for the initial weights (default: the global one). */
  generator?: Generator;
}

/**
 * PAP-Net: encoder `backbone.*` (on hrnet18 with `fuse.*`), initial predictions
 * `initial_task_prediction_heads.layers.<t>.*` / `.conv_out.<t>.*` (as PAD-Net), propagation
 * `propagation.cross_task`, final heads `heads.<t>.0`, `.1` (Bottlenecks) and `.2` (1x1 classifier).
 * forward() returns the final predictions, the initial ones as `auxiliary` (one per task) and the map
 * the decoder reads as the representation; sharedParameters() are the encoder's (and fusion's).
 */
export class PAPNetModel extends MultiTaskModel {
  readonly taskNames: readonly string[];
  readonly backbone: EncoderBackbone;
  readonly fuse: HighResolutionFuse | null;
  readonly initial_task_prediction_heads: InitialTaskPrediction;
  readonly propagation: PAPropagation;
  readonly heads: ModuleDict<Sequential>;
  readonly channels: number;

  constructor(
    readonly tasks: readonly TaskSpec[],
    opts: PAPNetOptions = {},
  ) {
    super();
    try {
      const op = 'PAPNetModel';
      this.taskNames = checkTasks(op, tasks);
      const g = opts.generator;
      this.backbone = this.child('backbone', buildBackbone(opts.backbone, g));
      const bc = this.backbone.channels;
      this.fuse = this.backbone instanceof HRNet ? this.child('fuse', new HighResolutionFuse([bc.c1, bc.c2, bc.c3, bc.c4], g)) : null;
      const inC = this.fuse ? this.fuse.outChannels : bc.c4;
      const c = opts.channels ?? Math.max(8, 4 * bc.stem);
      this.channels = c;
      this.initial_task_prediction_heads = this.child('initial_task_prediction_heads', initialPredictionHeads(op, tasks, inC, c, g));
      this.propagation = this.child('propagation', new PAPropagation(this.taskNames, opts));
      this.heads = this.child('heads', finalTaskHeads(op, tasks, c, g));
    } catch (e) {
      // a failed build must not leak the GPU memory of what was already made
      this.dispose();
      throw e;
    }
  }

  forward(x: Tensor): MultiTaskOutput {
    return refineDecoderForward(this, 'PAPNetModel', x, (features) => this.propagation.forward(features));
  }

  sharedParameters(): Tensor[] {
    return refineDecoderShared(this);
  }

  lastSharedLayer(): Tensor {
    return refineDecoderLastShared(this);
  }
}
