/**
 * What Cross-Stitch and NDDR-CNN share: one ResNet per task (`backbone.<task>.*`), task heads
 * (`heads.<task>.*`) on each task's last fused features, and shared fusion units (one per stage)
 * that mix the tasks' features after the pooled stem (when the model has a 'stem' unit) and after
 * each of layer1..layer4. Only the units are shared; there is no shared representation.
 */
import { stageForward, type BackboneFeatures, type LevelInfo } from '../../nn/backbones/features.js';
import type { ResNet } from '../../nn/backbones/resnet.js';
import type { Module } from '../../nn/module.js';
import { tidy } from '../../tensor/scope.js';
import type { Tensor } from '../../tensor/tensor.js';
import { MultiTaskModel, type MultiTaskOutput } from './model.js';
import { buildResNet, stages, stemForward, stemPool } from './backbone-spec.js';
import { checkImage, checkTasks, resizeTo, type TaskSpec } from './common.js';
import { buildHead, checkHead, type DenseHead } from './head-spec.js';
import { ModuleDict } from './module-dict.js';
import type { EncoderModelOptions } from './single-task.js';

/** A fusion unit: the T tasks' maps in, their fused maps out, in task order. */
export interface FusionUnit extends Module {
  forward(xs: readonly Tensor[]): Tensor[];
}

/** The stages layer1..layer4 a unit may follow (and 'stem', the pooled stem, before them). */
const STAGES = ['layer1', 'layer2', 'layer3', 'layer4'] as const;

/** Per-task encoders with fusion units between their stages (see the file comment). */
export abstract class PerTaskEncoderModel<U extends FusionUnit> extends MultiTaskModel {
  readonly taskNames: readonly string[];
  readonly backbone: ModuleDict<ResNet>;
  readonly heads: ModuleDict<DenseHead>;
  /** The fusion units by stage, registered under `unitsName`. */
  protected readonly units: ModuleDict<U>;

  /**
   * Builds encoders, heads and then the units `makeUnits` returns for the encoders' channels; a
   * failed build frees what was already made. `name` prefixes error messages.
   */
  protected constructor(
    private readonly modelName: string,
    readonly tasks: readonly TaskSpec[],
    opts: EncoderModelOptions,
    unitsName: string,
    makeUnits: (channels: LevelInfo) => (readonly [string, U])[],
  ) {
    super();
    try {
      this.taskNames = checkTasks(modelName, tasks);
      checkHead(modelName, opts.head);
      const encoders = tasks.map((t) => [t.name, buildResNet(modelName, opts.backbone, opts.generator)] as const);
      this.backbone = this.child('backbone', new ModuleDict(encoders));
      const first = encoders[0]![1];
      this.heads = this.child('heads', new ModuleDict(tasks.map((t) => [t.name, buildHead(modelName, first, t.channels, opts.head, opts.generator)] as const)));
      this.units = this.child(unitsName, new ModuleDict(makeUnits(first.channels)));
    } catch (e) {
      // a failed build must not leak the GPU memory of what was already made
      this.dispose();
      throw e;
    }
  }

  forward(x: Tensor): MultiTaskOutput {
    const encoders = this.backbone.values();
    checkImage(this.modelName, x, encoders[0]!.inChannels);
    const [, , h, w] = x.shape as [number, number, number, number];
    return tidy(() => {
      const stem = encoders.map((e) => stemForward(e, x));
      let xs = this.fuse('stem', stem.map(stemPool));
      const levels = STAGES.map((name, k) => (xs = this.fuse(name, encoders.map((e, i) => stageForward(e, stages(e)[k]!, xs[i]!)))));
      const outputs: Record<string, Tensor> = {};
      this.taskNames.forEach((name, i) => {
        const f: BackboneFeatures = { stem: stem[i]!, c1: levels[0]![i]!, c2: levels[1]![i]!, c3: levels[2]![i]!, c4: levels[3]![i]! };
        outputs[name] = resizeTo(this.heads.get(name).forward(f), h, w);
      });
      return { outputs, representation: null };
    });
  }

  /** The tasks' maps after `stage`'s unit, or as they are when the model has none there. */
  private fuse(stage: string, xs: Tensor[]): Tensor[] {
    return this.units.has(stage) ? this.units.get(stage).forward(xs) : xs;
  }

  sharedParameters(): Tensor[] {
    return this.units.parameters();
  }
}
