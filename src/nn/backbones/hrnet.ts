/**
 * HRNet (Wang et al. 2019, "Deep High-Resolution Representation Learning") as the multi-task
 * survey uses it (Vandenhende et al. 2021, models/seg_hrnet.py with models/model_info/hrnet_w18.yml):
 * a stem of two 3x3 / 2 convs (64 channels, stride 4), layer1 (Bottlenecks to 256 channels), then
 * stages 2..4 that keep 2, 3 and 4 parallel branches at strides 4, 8, 16, 32 (C, 2C, 4C, 8C
 * channels, C = 18 for W18) and exchange information after every module (fuse layers: 1x1 conv + BN
 * then bilinear upsampling from coarser branches, chains of 3x3 / 2 conv + BN from finer ones,
 * summed, ReLU). Transitions open each new branch from the coarsest one.
 *
 * Module and parameter names are the official ones (HRNet-Image-Classification, the survey's
 * seg_hrnet.py): `conv1`, `bn1`, `conv2`, `bn2`, `layer1.0.conv1`, `transition1.0.0` (same-size
 * transition: conv, bn), `transition1.1.0.0` (new branch: a Sequential of conv-bn-relu units),
 * `stage2.0.branches.0.1.conv1`, `stage2.0.fuse_layers.1.0.0.0`, ... in the official order, so the
 * published ImageNet weights load by name (minus their classifier, see pretrained-keys.ts).
 *
 * `forward(x)` returns the Backbone levels: stem = relu(bn1(conv1(x))) at stride 2 and c1..c4 =
 * the four branches of stage 4 at strides 4, 8, 16, 32. Initialisation is HRNet's init_weights:
 * conv weights N(0, 0.001), batch-norm weight 1 and bias 0. A width multiplier scales every channel
 * count (stem included) to max(1, round(c * m)) for CPU-sized tests.
 */
import { ArgumentError } from '../../errors.js';
import { add } from '../../ops/binary.js';
import { interpolate } from '../../ops/interpolate.js';
import { relu } from '../../ops/unary.js';
import { Generator, defaultGenerator } from '../../tensor/random.js';
import { tidy } from '../../tensor/scope.js';
import type { Tensor } from '../../tensor/tensor.js';
import { BatchNorm2d, Conv2d, type Layer, ReLU, Sequential, convBn } from '../layers.js';
import { Module, expectInput, type LoadResult, type StateDict } from '../module.js';
import { Backbone, stageForward, type BackboneFeatures, type LevelInfo, type StageModule } from './features.js';
import { overwrite } from './reinit.js';
import { BasicBlock, Bottleneck } from './resnet.js';

/** One of stages 2..4: how many HighResolutionModules, and BasicBlocks per branch (its length = branches). */
export interface HRNetStage {
  readonly modules: number;
  readonly blocks: readonly number[];
}

/** The layout of an HRNet: layer1's Bottlenecks, the first branch's channels C, stages 2..4. */
export interface HRNetConfig {
  readonly layer1Blocks: number;
  /** Channels of branch 0 (branch i has C * 2^i), before the width multiplier: 18 for W18. */
  readonly channels: number;
  readonly stages: readonly [HRNetStage, HRNetStage, HRNetStage];
}

/**
 * HRNet-W18 as the survey configures it (models/model_info/hrnet_w18.yml; the layout of the
 * published "HRNet-W18-C-Small-v2" ImageNet weights it loads): layer1 2 Bottlenecks, stage 2 one
 * module, stage 3 three, stage 4 two, 2 BasicBlocks per branch. 3,860,720 parameters at width 1 (no classifier).
 */
export const HRNET_W18_SURVEY: HRNetConfig = {
  layer1Blocks: 2,
  channels: 18,
  stages: [
    { modules: 1, blocks: [2, 2] },
    { modules: 3, blocks: [2, 2, 2] },
    { modules: 2, blocks: [2, 2, 2, 2] },
  ],
};

/**
 * The full HRNet-W18 of HRNet-Image-Classification (hrnet_w18 / "HRNet-W18-C"): layer1 4
 * Bottlenecks, stages of 1, 4 and 3 modules, 4 BasicBlocks per branch. Same names, more of them.
 */
export const HRNET_W18_FULL: HRNetConfig = {
  layer1Blocks: 4,
  channels: 18,
  stages: [
    { modules: 1, blocks: [4, 4] },
    { modules: 4, blocks: [4, 4, 4] },
    { modules: 3, blocks: [4, 4, 4, 4] },
  ],
};

/** torch.nn.ModuleList with empty slots (None): children named by their index, nulls skipped. */
export class ModuleSlots<M extends Module> extends Module {
  readonly items: readonly (M | null)[];

  constructor(items: readonly (M | null)[]) {
    super();
    this.items = items.map((m, i) => (m ? this.child(String(i), m) : null));
  }
}

/**
 * Sequential(Conv2d, BatchNorm2d[, ReLU]) (names 0, 1[, 2]) run as one convBn unit, ReLU fused
 * into batch norm when present.
 */
export class ConvBnUnit extends Sequential {
  constructor(
    readonly conv: Conv2d,
    readonly bn: BatchNorm2d,
    readonly withRelu: boolean,
  ) {
    super(...(withRelu ? [conv, bn, new ReLU()] : [conv, bn]));
  }

  override forward(x: Tensor): Tensor {
    return convBn(this.conv, this.bn, x, { activation: this.withRelu ? 'relu' : 'none' });
  }
}

function unit(inC: number, outC: number, k: 1 | 3, stride: number, withRelu: boolean, g: Generator): ConvBnUnit {
  return new ConvBnUnit(new Conv2d(inC, outC, k, { stride, padding: k === 3 ? 1 : 0, bias: false, generator: g }), new BatchNorm2d(outC), withRelu);
}

/**
 * One HRNet exchange unit over B branches: `branches.{i}` (BasicBlocks at branch i's width), then
 * `fuse_layers.{i}.{j}` making output i from every branch j: j > i a 1x1 conv + BN whose result is
 * resized bilinearly (align_corners false) to branch i's size; j < i a chain of i - j 3x3 / 2 conv
 * + BN units (ReLU between them, not after the last); j = i the branch itself. Output i is the ReLU
 * of the sum.
 */
export class HighResolutionModule extends Module {
  readonly branches: ModuleSlots<Sequential>;
  readonly fuse_layers: ModuleSlots<ModuleSlots<Sequential>>;

  constructor(
    readonly channels: readonly number[],
    blocks: readonly number[],
    g: Generator,
  ) {
    super();
    const n = channels.length;
    this.branches = this.child(
      'branches',
      new ModuleSlots(channels.map((c, i) => new Sequential(...Array.from({ length: blocks[i]! }, () => new BasicBlock(c, c, { generator: g }))))),
    );
    const rows: ModuleSlots<Sequential>[] = [];
    for (let i = 0; i < n; i++) {
      const row: (Sequential | null)[] = [];
      for (let j = 0; j < n; j++) {
        if (j > i) row.push(unit(channels[j]!, channels[i]!, 1, 1, false, g));
        else if (j === i) row.push(null);
        else {
          const chain: Layer[] = [];
          for (let k = 0; k < i - j; k++) {
            const last = k === i - j - 1;
            chain.push(unit(channels[j]!, last ? channels[i]! : channels[j]!, 3, 2, !last, g));
          }
          row.push(new Sequential(...chain));
        }
      }
      rows.push(new ModuleSlots(row));
    }
    this.fuse_layers = this.child('fuse_layers', new ModuleSlots(rows));
  }

  /**
   * The B branch maps in (finest first), the B exchanged maps out. `run` runs each branch's blocks
   * (the backbone passes its checkpointing switch through it; default: a plain forward).
   */
  forward(xs: readonly Tensor[], run: (stage: StageModule, x: Tensor) => Tensor = (s, x) => s.forward(x)): Tensor[] {
    return tidy(() => {
      const b = this.branches.items.map((br, i) => run(br!, xs[i]!));
      return this.fuse_layers.items.map((row, i) => {
        const [, , h, w] = b[i]!.shape as [number, number, number, number];
        // Output i sums every branch's contribution; when a finer branch j = i - 1 contributes
        // through a conv chain, its last conv-BN takes the other terms as residual and the ReLU.
        const fusedJ = i > 0 ? i - 1 : -1;
        let y: Tensor | null = null;
        for (let j = 0; j < b.length; j++) {
          if (j === fusedJ) continue;
          let t: Tensor;
          if (j === i) t = b[j]!;
          else {
            t = row!.items[j]!.forward(b[j]!);
            if (j > i) t = interpolate(t, { size: [h, w], mode: 'bilinear', alignCorners: false });
          }
          y = y ? add(y, t) : t;
        }
        if (fusedJ < 0) return relu(y!);
        const chain = row!.items[fusedJ]!.layers as ConvBnUnit[];
        let hIn = b[fusedJ]!;
        for (let k = 0; k < chain.length - 1; k++) hIn = chain[k]!.forward(hIn);
        const last = chain[chain.length - 1]!;
        return convBn(last.conv, last.bn, hIn, { activation: 'relu', residual: y });
      });
    });
  }
}

/** Options of {@link HRNet} and {@link hrnet18}. */
export interface HRNetOptions {
  /** The layout (default {@link HRNET_W18_SURVEY}). */
  config?: HRNetConfig;
  /** Scales every channel count (stem too) to max(1, round(c * m)); default 1. */
  widthMultiplier?: number;
  /** Input channels of conv1 (default 3). */
  inChannels?: number;
  /** Generator for the initial weights (default: the global seeded generator). */
  generator?: Generator;
}

/**
 * An HRNet feature extractor (see the file comment): levels stem (stride 2, 64 channels at width 1)
 * and c1..c4 (strides 4, 8, 16, 32; C, 2C, 4C, 8C channels). A map of stride s has
 * ceil(h / s) x ceil(w / s) pixels.
 */
export class HRNet extends Backbone {
  readonly conv1: Conv2d;
  readonly bn1: BatchNorm2d;
  readonly conv2: Conv2d;
  readonly bn2: BatchNorm2d;
  readonly layer1: Sequential;
  readonly transitions: readonly ModuleSlots<Sequential>[];
  readonly stages: readonly ModuleSlots<HighResolutionModule>[];
  readonly channels: LevelInfo;
  readonly strides: LevelInfo = { stem: 2, c1: 4, c2: 8, c3: 16, c4: 32 };
  /** Stride of c4, fixed (HRNet keeps every resolution instead of dilating). */
  readonly outputStride = 32 as const;
  readonly inChannels: number;
  readonly config: HRNetConfig;

  constructor(opts: HRNetOptions = {}) {
    super();
    const cfg = opts.config ?? HRNET_W18_SURVEY;
    const m = opts.widthMultiplier ?? 1;
    if (!(Number.isFinite(m) && m > 0)) throw new ArgumentError('HRNet', `widthMultiplier must be a positive number, got ${m}`);
    const inCh = opts.inChannels ?? 3;
    if (!Number.isInteger(inCh) || inCh < 1) throw new ArgumentError('HRNet', `inChannels must be a positive integer, got ${inCh}`);
    cfg.stages.forEach((s, k) => {
      if (s.blocks.length !== k + 2 || !Number.isInteger(s.modules) || s.modules < 1 || !s.blocks.every((b) => Number.isInteger(b) && b >= 1)) {
        throw new ArgumentError('HRNet', `stage ${k + 2} needs modules >= 1 and ${k + 2} positive block counts, got ${JSON.stringify(s)}`);
      }
    });
    this.inChannels = inCh;
    this.config = cfg;
    const width = (c: number) => Math.max(1, Math.round(c * m));
    // The layers' own default init draws from a scratch stream; HRNet's init below uses the caller's.
    const g = new Generator(0x4a7e);
    const stem = width(64);
    this.conv1 = this.child('conv1', new Conv2d(inCh, stem, 3, { stride: 2, padding: 1, bias: false, generator: g }));
    this.bn1 = this.child('bn1', new BatchNorm2d(stem));
    this.conv2 = this.child('conv2', new Conv2d(stem, stem, 3, { stride: 2, padding: 1, bias: false, generator: g }));
    this.bn2 = this.child('bn2', new BatchNorm2d(stem));
    const planes = width(64);
    const out1 = planes * Bottleneck.expansion;
    const layer1: Layer[] = [];
    for (let i = 0; i < cfg.layer1Blocks; i++) {
      const downsample = i === 0 && stem !== out1 ? new Sequential(new Conv2d(stem, out1, 1, { bias: false, generator: g }), new BatchNorm2d(out1)) : null;
      layer1.push(new Bottleneck(i === 0 ? stem : out1, planes, { downsample, generator: g }));
    }
    this.layer1 = this.child('layer1', new Sequential(...layer1));

    const branch = [0, 1, 2, 3].map((i) => width(cfg.channels * 2 ** i));
    let pre = [out1];
    const transitions: ModuleSlots<Sequential>[] = [];
    const stages: ModuleSlots<HighResolutionModule>[] = [];
    cfg.stages.forEach((s, k) => {
      const cur = branch.slice(0, k + 2);
      const slots = cur.map((c, i) => {
        if (i < pre.length) return c === pre[i] ? null : unit(pre[i]!, c, 3, 1, true, g);
        // A new branch: 3x3 / 2 units from the coarsest existing branch, the last one to its width.
        const chain: Layer[] = [];
        for (let j = 0; j <= i - pre.length; j++) chain.push(unit(pre[pre.length - 1]!, j === i - pre.length ? c : pre[pre.length - 1]!, 3, 2, true, g));
        return new Sequential(...chain);
      });
      transitions.push(this.child(`transition${k + 1}`, new ModuleSlots(slots)));
      stages.push(this.child(`stage${k + 2}`, new ModuleSlots(Array.from({ length: s.modules }, () => new HighResolutionModule(cur, s.blocks, g)))));
      pre = cur;
    });
    this.transitions = transitions;
    this.stages = stages;
    this.channels = { stem, c1: branch[0]!, c2: branch[1]!, c3: branch[2]!, c4: branch[3]! };

    const gen = opts.generator ?? defaultGenerator;
    for (const [, mod] of this.namedModules()) {
      if (mod instanceof Conv2d) overwrite(mod.weight, gen.normal(mod.weight.size, 0, 0.001));
    }
  }

  /**
   * Module.loadStateDict, reading the official checkpoints as they are: the ImageNet classification
   * head (`incre_modules`, `downsamp_modules`, `final_layer`, `classifier`) has no place in this
   * backbone and is dropped, reported in the result's `ignored`.
   */
  override loadStateDict(state: StateDict | Record<string, Tensor>, opts: { strict?: boolean } = {}): LoadResult {
    const src = state instanceof Map ? state : new Map(Object.entries(state));
    const head = [...src.keys()].filter(isClassifierKey);
    if (head.length === 0) return super.loadStateDict(src, opts);
    const rest = new Map([...src].filter(([k]) => !isClassifierKey(k)));
    return { ...super.loadStateDict(rest, opts), ignored: { keys: head, why: "HRNet's ImageNet classification head (this backbone has none)" } };
  }

  /** The stem relu(bn1(conv1(x))) at stride 2 (the `stem` feature level). */
  stem(x: Tensor): Tensor {
    expectInput('HRNet', x, 4, this.inChannels);
    return convBn(this.conv1, this.bn1, x, { activation: 'relu' });
  }

  /** The four branch maps of stage 4, finest first. */
  branchesOf(stem: Tensor): Tensor[] {
    return tidy(() => {
      // With `recompute`, layer1 and every branch's blocks are checkpointed segments.
      const run = (s: StageModule, x: Tensor) => stageForward(this, s, x);
      let xs = [run(this.layer1, convBn(this.conv2, this.bn2, stem, { activation: 'relu' }))];
      this.stages.forEach((stage, k) => {
        const t = this.transitions[k]!.items;
        // A new branch grows from the coarsest map of the previous stage.
        xs = t.map((tr, i) => (tr ? tr.forward(i < xs.length ? xs[i]! : xs[xs.length - 1]!) : xs[i]!));
        for (const mod of stage.items) xs = mod!.forward(xs, run);
      });
      return xs;
    });
  }

  /** The multi-scale features of x [n, inChannels, h, w] (see the class comment for levels and strides). */
  forward(x: Tensor): BackboneFeatures {
    return tidy(() => {
      const stem = this.stem(x);
      const [c1, c2, c3, c4] = this.branchesOf(stem) as [Tensor, Tensor, Tensor, Tensor];
      return { stem, c1, c2, c3, c4 };
    });
  }

  /**
   * The last conv every output reads: conv2 of the last block of branch 0 in stage 4's last module
   * (branch 0 feeds all four outputs through the fuse layers). GradNorm's default shared layer.
   */
  lastConv(): Conv2d {
    const stage = this.stages[this.stages.length - 1]!;
    const mod = stage.items[stage.items.length - 1]!;
    const br = mod.branches.items[0]!;
    return (br.layers[br.layers.length - 1] as BasicBlock).conv2;
  }
}

/** True for the keys of the official checkpoints' ImageNet classification head. */
export function isClassifierKey(key: string): boolean {
  return /^(incre_modules|downsamp_modules|final_layer|classifier)\./.test(key);
}

/**
 * HRNet-W18 as the survey uses it ({@link HRNET_W18_SURVEY}): branches of 18, 36, 72 and 144
 * channels at width 1 (270 when concatenated), 3,860,720 parameters.
 */
export function hrnet18(opts: HRNetOptions = {}): HRNet {
  return new HRNet(opts);
}
