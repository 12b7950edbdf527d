/**
 * The single-task baseline of the survey (models.py SingleTaskModel): one encoder and one head for
 * one task, the output resized to the input. Comparing a multi-task model against one of these per
 * task gives the multi-task performance delta.
 */
import type { Generator } from '../../tensor/random.js';
import { tidy } from '../../tensor/scope.js';
import type { Tensor } from '../../tensor/tensor.js';
import { MultiTaskModel, type MultiTaskOutput } from './model.js';
import { buildBackbone, type BackboneSpec, type EncoderBackbone } from './backbone-spec.js';
import { checkImage, checkTasks, resizeTo, type TaskSpec } from './common.js';
import { buildHead, checkHead, withDefaultKind, type DenseHead, type HeadOptions } from './head-spec.js';

/** Options shared by the encoder-focused architectures. */
export interface EncoderModelOptions {
  /** The encoder: backbone options (default resnet18, width 1, output stride 8) or a factory. */
  backbone?: BackboneSpec;
  /** The task heads (default: ASPP, or 'hrnet' on hrnet18; see {@link HeadOptions}). */
  head?: HeadOptions;
  /** Generator for every initial weight not given its own (default: the global generator). */
  generator?: Generator;
}

/**
 * One network for one task: `backbone.*` (a ResNet or hrnet18) and `decoder.*` (the head), as the survey's
 * SingleTaskModel names them. Nothing is shared: sharedParameters() is empty and lastSharedLayer()
 * null; the representation is the encoder's last feature map (c4).
 */
export class SingleTaskModel extends MultiTaskModel {
  readonly taskNames: readonly string[];
  readonly backbone: EncoderBackbone;
  readonly decoder: DenseHead;

  constructor(
    readonly task: TaskSpec,
    opts: EncoderModelOptions = {},
  ) {
    super();
    try {
      this.taskNames = checkTasks('SingleTaskModel', [task]);
      const head = withDefaultKind(opts.head, opts.backbone);
      checkHead('SingleTaskModel', head);
      this.backbone = this.child('backbone', buildBackbone(opts.backbone, opts.generator));
      this.decoder = this.child('decoder', buildHead('SingleTaskModel', this.backbone, task.channels, head, opts.generator));
    } catch (e) {
      // a failed build must not leak the GPU memory of what was already made
      this.dispose();
      throw e;
    }
  }

  forward(x: Tensor): MultiTaskOutput {
    checkImage('SingleTaskModel', x, this.backbone.inChannels);
    const [, , h, w] = x.shape as [number, number, number, number];
    return tidy(() => {
      const f = this.backbone.forward(x);
      return { outputs: { [this.task.name]: resizeTo(this.decoder.forward(f), h, w) }, representation: f.c4 };
    });
  }

  sharedParameters(): Tensor[] {
    return [];
  }

  lastSharedLayer(): Tensor | null {
    return null;
  }
}
