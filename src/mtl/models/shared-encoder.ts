/**
 * Hard parameter sharing (the survey's multi-task baseline, models.py MultiTaskModel): one encoder
 * shared by all tasks and one head per task, each output resized to the input.
 */
import { FPNHead } from '../../nn/heads/fpn-head.js';
import { HighResolutionHead } from '../../nn/heads/hrnet-head.js';
import { tidy } from '../../tensor/scope.js';
import type { Tensor } from '../../tensor/tensor.js';
import { MultiTaskModel, type MultiTaskOutput } from './model.js';
import { buildBackbone, lastConv, type EncoderBackbone } from './backbone-spec.js';
import { checkImage, checkTasks, resizeTo, type TaskSpec } from './common.js';
import { buildHead, checkHead, withDefaultKind, type DenseHead } from './head-spec.js';
import { ModuleDict } from './module-dict.js';
import type { EncoderModelOptions } from './single-task.js';

/**
 * Shared encoder `backbone.*` (a ResNet, dilated to output stride 8 by default as in the survey, or
 * hrnet18), task heads `decoders.<task>.*` (ASPP by default, 'hrnet' on hrnet18).
 * sharedParameters() are the encoder's parameters, lastSharedLayer() the weight of its last conv
 * (see lastConv), and the representation is the map the heads read: c4 for 'conv' and 'aspp'
 * heads; null for 'fpn' and 'hrnet' heads, which read c1..c4 (no single tensor carries all of the
 * shared gradient).
 */
export class SharedEncoderModel extends MultiTaskModel {
  readonly taskNames: readonly string[];
  readonly backbone: EncoderBackbone;
  readonly decoders: ModuleDict<DenseHead>;

  constructor(
    readonly tasks: readonly TaskSpec[],
    opts: EncoderModelOptions = {},
  ) {
    super();
    try {
      this.taskNames = checkTasks('SharedEncoderModel', tasks);
      const head = withDefaultKind(opts.head, opts.backbone);
      checkHead('SharedEncoderModel', head);
      this.backbone = this.child('backbone', buildBackbone(opts.backbone, opts.generator));
      const heads = tasks.map((t) => [t.name, buildHead('SharedEncoderModel', this.backbone, t.channels, head, opts.generator)] as const);
      this.decoders = this.child('decoders', new ModuleDict(heads));
    } catch (e) {
      // a failed build must not leak the GPU memory of what was already made
      this.dispose();
      throw e;
    }
  }

  forward(x: Tensor): MultiTaskOutput {
    checkImage('SharedEncoderModel', x, this.backbone.inChannels);
    const [, , h, w] = x.shape as [number, number, number, number];
    return tidy(() => {
      const f = this.backbone.forward(x);
      const outputs: Record<string, Tensor> = {};
      for (const [name, head] of this.decoders.entries()) outputs[name] = resizeTo(head.forward(f), h, w);
      const multiLevel = this.decoders.values().some((d) => d instanceof FPNHead || d instanceof HighResolutionHead);
      return { outputs, representation: multiLevel ? null : f.c4 };
    });
  }

  sharedParameters(): Tensor[] {
    return this.backbone.parameters();
  }

  lastSharedLayer(): Tensor {
    return lastConv(this.backbone).weight;
  }
}
