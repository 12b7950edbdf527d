/**
 * PAD-Net (Xu et al. 2018) as the survey implements it (models/padnet.py): a shared encoder, per-task
 * initial predictions from its last feature map (two Bottlenecks to `channels` task features, then a
 * 1x1 classifier, deep-supervised), multi-modal distillation (each task's features plus
 * spatially-attended features of every other task, SABlock), and per-task final heads (two
 * Bottlenecks and a 1x1 classifier) on the distilled features. Every prediction is resized to the
 * input (bilinear, align_corners false).
 *
 * On hrnet18 the encoder's four branches are first fused as the survey's `fuse_hrnet` option does
 * (HighResolutionFuse: c1..c4 upsampled to c1, concatenated, 1x1 conv-BN-ReLU; 270 channels at
 * stride 4 at width 1), registered as `fuse.*` (the survey nests it as `backbone.1.*`; here the
 * backbone keeps the official HRNet names so pretrained weights load by name).
 *
 * Deviations from the survey's code: the intermediate width is `channels` (default 4 x the stem's
 * channels: the survey's 256 at width 1, 64 at width 0.25) instead of a fixed 256, so narrow
 * encoders get narrow decoders; the survey's auxiliary-only tasks (initial predictions for tasks
 * without a final head) are not offered: every task gets both an initial and a final prediction.
 */
import { HRNet } from '../../nn/backbones/hrnet.js';
import { HighResolutionFuse } from '../../nn/heads/hrnet-head.js';
import type { Sequential } from '../../nn/layers.js';
import type { Generator } from '../../tensor/random.js';
import type { Tensor } from '../../tensor/tensor.js';
import { MultiTaskModel, type MultiTaskOutput } from './model.js';
import { finalTaskHeads, initialPredictionHeads, refineDecoderForward, refineDecoderLastShared, refineDecoderShared } from './refine-decoder.js';
import { buildBackbone, type BackboneSpec, type EncoderBackbone } from './backbone-spec.js';
import { checkTasks, type TaskSpec } from './common.js';
import { MultiTaskDistillation, type InitialTaskPrediction } from './decoder-blocks.js';
import { ModuleDict } from './module-dict.js';

/** Options of {@link PADNetModel}. */
export interface PADNetOptions {
  /** The shared encoder (default resnet18 dilated to output stride 8, as the survey's ResNet models; or hrnet18). */
  backbone?: BackboneSpec;
  /**
   * Channels of the task features (initial heads, distillation, final heads); divisible by 4
   * (default 4 x the encoder's stem channels, at least 8: 256 at width 1 as the survey).
   */
  channels?: number;
  /** Generator for the initial weights (default: the global one). */
  generator?: Generator;
}

/**
 * PAD-Net: encoder `backbone.*`, initial predictions `initial_task_prediction_heads.layers.<t>.*`
 * (Bottlenecks) and `initial_task_prediction_heads.conv_out.<t>.*` (1x1 classifier), distillation
 * `multi_modal_distillation.self_attention.<t>.<s>.*` (SABlock, one per ordered pair of tasks),
 * final heads `heads.<t>.0`, `.1` (Bottlenecks) and `.2` (1x1 classifier).
 * forward() returns the final predictions, the initial ones as `auxiliary` (one per task) and the
 * map the decoder reads (c4; on hrnet18 the fused map) as the representation. sharedParameters()
 * are the encoder's (and the fusion's), lastSharedLayer() the last conv they all read (the
 * encoder's last, or on hrnet18 the fusion's).
 */
export class PADNetModel extends MultiTaskModel {
  readonly taskNames: readonly string[];
  readonly backbone: EncoderBackbone;
  /** On an HRNet: the fusion of its four branches into the map the decoder reads; else null. */
  readonly fuse: HighResolutionFuse | null;
  readonly initial_task_prediction_heads: InitialTaskPrediction;
  readonly multi_modal_distillation: MultiTaskDistillation;
  readonly heads: ModuleDict<Sequential>;
  /** Channels of the task features. */
  readonly channels: number;

  constructor(
    readonly tasks: readonly TaskSpec[],
    opts: PADNetOptions = {},
  ) {
    super();
    try {
      const op = 'PADNetModel';
      this.taskNames = checkTasks(op, tasks);
      const g = opts.generator;
      this.backbone = this.child('backbone', buildBackbone(opts.backbone, g));
      const bc = this.backbone.channels;
      this.fuse = this.backbone instanceof HRNet ? this.child('fuse', new HighResolutionFuse([bc.c1, bc.c2, bc.c3, bc.c4], g)) : null;
      const inC = this.fuse ? this.fuse.outChannels : bc.c4;
      const c = opts.channels ?? Math.max(8, 4 * this.backbone.channels.stem);
      this.channels = c;
      this.initial_task_prediction_heads = this.child('initial_task_prediction_heads', initialPredictionHeads(op, tasks, inC, c, g));
      this.multi_modal_distillation = this.child('multi_modal_distillation', new MultiTaskDistillation(this.taskNames, c, g));
      this.heads = this.child('heads', finalTaskHeads(op, tasks, c, g));
    } catch (e) {
      // a failed build must not leak the GPU memory of what was already made
      this.dispose();
      throw e;
    }
  }

  forward(x: Tensor): MultiTaskOutput {
    return refineDecoderForward(this, 'PADNetModel', x, (features) => this.multi_modal_distillation.forward(features));
  }

  sharedParameters(): Tensor[] {
    return refineDecoderShared(this);
  }

  lastSharedLayer(): Tensor {
    return refineDecoderLastShared(this);
  }
}
