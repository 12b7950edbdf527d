/**
 * MTAN, the multi-task attention network (Liu et al. 2019), over a shared ResNet as in the survey's
 * code (models/mtan.py). Per stage k, with u_k^b the stage's features before its last block and
 * u_k^t after it, each task computes a soft mask from u_k^b (and, from stage 2 on, its own attended
 * features of the previous stage), multiplies it into u_k^t, and passes the product through a
 * refinement block shared by the tasks (a Bottleneck to the next stage's channels) and a 2x2 max pool
 * where the encoder downsamples. Task heads read the attended features of stage 4.
 */
import { ArgumentError } from '../../errors.js';
import { Bottleneck } from '../../nn/backbones/resnet.js';
import type { ResNet } from '../../nn/backbones/resnet.js';
import { stageForward } from '../../nn/backbones/features.js';
import { BatchNorm2d, Conv2d, ReLU, Sequential } from '../../nn/layers.js';
import { Sigmoid } from '../../nn/layers-extra.js';
import { mul } from '../../ops/binary.js';
import { maxPool2d } from '../../ops/pool.js';
import { concat } from '../../ops/shape-ops.js';
import type { Generator } from '../../tensor/random.js';
import { tidy } from '../../tensor/scope.js';
import type { Tensor } from '../../tensor/tensor.js';
import { MultiTaskModel, type MultiTaskOutput } from './model.js';
import { buildResNet, lastConv, stages, stemForward, stemPool } from './backbone-spec.js';
import { ConvBnSequential, checkImage, checkTasks, resizeTo, type TaskSpec } from './common.js';
import { buildHead, checkHead, runSingleLevelHead, type DenseHead, type HeadOptions, type SingleLevelHeadKind } from './head-spec.js';
import { ModuleDict } from './module-dict.js';
import type { EncoderModelOptions } from './single-task.js';

/**
 * The attention mask generator: 1x1 conv (with bias) - BN - ReLU - 1x1 conv (with bias) - BN -
 * sigmoid, children `0`..`5` as the survey's AttentionLayer (conv - BN - ReLU and conv - BN each
 * run as one convBn unit). Outputs a mask in (0, 1).
 */
export function attentionLayer(inChannels: number, midChannels: number, outChannels: number, generator?: Generator): Sequential {
  return new ConvBnSequential(
    new Conv2d(inChannels, midChannels, 1, { generator }),
    new BatchNorm2d(midChannels),
    new ReLU(),
    new Conv2d(midChannels, outChannels, 1, { generator }),
    new BatchNorm2d(outChannels),
    new Sigmoid(),
  );
}

/**
 * The survey's RefinementBlock: one Bottleneck (child `0`) from `inChannels` to `outChannels`
 * (planes = outChannels / 4) with a 1x1 conv + BN shortcut, stride 1.
 */
export function refinementBlock(inChannels: number, outChannels: number, generator?: Generator): Sequential {
  if (outChannels % Bottleneck.expansion !== 0) {
    throw new ArgumentError('MTANModel', `the refinement blocks need stage channels divisible by 4, got ${outChannels} (choose another width)`);
  }
  const downsample = new Sequential(new Conv2d(inChannels, outChannels, 1, { bias: false, generator }), new BatchNorm2d(outChannels));
  return new Sequential(new Bottleneck(inChannels, outChannels / Bottleneck.expansion, { downsample, generator }));
}

/** Options of {@link MTANModel}: heads read one map, so 'fpn' is not available. */
export interface MTANOptions extends EncoderModelOptions {
  head?: HeadOptions<SingleLevelHeadKind>;
}

/** What {@link MTANModel.forwardWithMasks} returns: the outputs and each task's four masks. */
export interface MTANOutput extends MultiTaskOutput {
  /** Task name -> the attention masks of stages 1..4 (each the shape of that stage's u^t). */
  readonly masks: Readonly<Record<string, readonly Tensor[]>>;
}

/**
 * MTAN: the shared encoder `backbone.*`, heads `heads.<task>.*`, per-task attention
 * `attention_<k>.<task>.*` (k = 1..4; stage 1 reads C1 channels, later stages 2 Ck), shared
 * refinement blocks `refine_<k>.*` (k = 1..3, Ck -> Ck+1). sharedParameters() are the encoder's and
 * the refinement blocks'; lastSharedLayer() is the encoder's last conv weight (every mask multiplies
 * its output). The representation is null: tasks reach the shared weights through several maps
 * (u_k^b, u_k^t of every stage and the refinement blocks), not through one tensor.
 */
export class MTANModel extends MultiTaskModel {
  readonly taskNames: readonly string[];
  readonly backbone: ResNet;
  readonly heads: ModuleDict<DenseHead>;
  readonly attention: readonly ModuleDict<Sequential>[];
  readonly refine: readonly Sequential[];
  /** Whether a 2x2 max pool follows refinement block k (where the encoder's next stage downsamples). */
  readonly downsample: readonly boolean[];

  constructor(
    readonly tasks: readonly TaskSpec[],
    opts: MTANOptions = {},
  ) {
    super();
    try {
      const op = 'MTANModel';
      this.taskNames = checkTasks(op, tasks);
      checkHead(op, opts.head, ['conv', 'aspp']);
      const g = opts.generator;
      this.backbone = this.child('backbone', buildResNet('MTANModel', opts.backbone, g));
      const bb = this.backbone;
      if (stages(bb).some((s) => s.layers.length < 2)) throw new ArgumentError(op, 'every encoder stage needs at least two blocks (attention reads the features before the last one)');
      this.heads = this.child('heads', new ModuleDict(tasks.map((t) => [t.name, buildHead(op, bb, t.channels, opts.head, g, ['conv', 'aspp'])] as const)));
      const ch = [bb.channels.c1, bb.channels.c2, bb.channels.c3, bb.channels.c4];
      const st = [bb.strides.c1, bb.strides.c2, bb.strides.c3, bb.strides.c4];
      for (const c of ch) if (c < 4) throw new ArgumentError(op, `stage channels must be at least 4 (attention uses C/4), got ${c}`);
      this.attention = ch.map((c, k) =>
        this.child(`attention_${k + 1}`, new ModuleDict(tasks.map((t) => [t.name, attentionLayer(k === 0 ? c : 2 * c, Math.floor(c / 4), c, g)] as const))),
      );
      this.refine = [0, 1, 2].map((k) => this.child(`refine_${k + 1}`, refinementBlock(ch[k]!, ch[k + 1]!, g)));
      this.downsample = [0, 1, 2].map((k) => st[k + 1]! > st[k]!);
    } catch (e) {
      // a failed build must not leak the GPU memory of what was already made
      this.dispose();
      throw e;
    }
  }

  forward(x: Tensor): MultiTaskOutput {
    return this.run(x, false);
  }

  /** forward(x) plus every task's attention masks (for inspection; they are in (0, 1)). */
  forwardWithMasks(x: Tensor): MTANOutput {
    return this.run(x, true) as MTANOutput;
  }

  private run(x: Tensor, withMasks: boolean): MultiTaskOutput | MTANOutput {
    const bb = this.backbone;
    checkImage('MTANModel', x, bb.inChannels);
    const [, , h, w] = x.shape as [number, number, number, number];
    return tidy(() => {
      // The shared encoder, stage by stage: u^b before each stage's last block, u^t after it.
      const ub: Tensor[] = [];
      const ut: Tensor[] = [];
      let cur = stemPool(stemForward(bb, x));
      for (const stage of stages(bb)) {
        const blocks = stage.layers;
        const last = blocks[blocks.length - 1]!;
        const head = blocks.slice(0, -1);
        cur = stageForward(bb, { forward: (t: Tensor) => head.reduce((y, b) => b.forward(y), t), parameters: () => head.flatMap((b) => b.parameters()) }, cur);
        ub.push(cur);
        cur = stageForward(bb, last, cur);
        ut.push(cur);
      }
      const outputs: Record<string, Tensor> = {};
      const masks: Record<string, Tensor[]> = {};
      for (const name of this.taskNames) {
        const taskMasks: Tensor[] = [];
        let a: Tensor | null = null;
        for (let k = 0; k < 4; k++) {
          const mask: Tensor = this.attention[k]!.get(name).forward(a ? concat([ub[k]!, a], 1) : ub[k]!);
          taskMasks.push(mask);
          a = mul(mask, ut[k]!);
          if (k < 3) {
            a = this.refine[k]!.forward(a);
            // ceil mode: the pooled map matches the strided conv's ceil(h / 2) also for odd sizes
            if (this.downsample[k]) a = maxPool2d(a, { kernelSize: 2, stride: 2, ceilMode: true });
          }
        }
        outputs[name] = resizeTo(runSingleLevelHead(this.heads.get(name), a!), h, w);
        masks[name] = taskMasks;
      }
      return withMasks ? { outputs, representation: null, masks } : { outputs, representation: null };
    });
  }

  sharedParameters(): Tensor[] {
    return [...this.backbone.parameters(), ...this.refine.flatMap((r) => r.parameters())];
  }

  lastSharedLayer(): Tensor {
    return lastConv(this.backbone).weight;
  }
}
