/**
 * Feature pyramid network (Lin et al. 2017) as torchvision.ops.FeaturePyramidNetwork, and a
 * dense-prediction head on it that fuses all pyramid levels at the finest one (the semantic FPN
 * recipe: upsample and sum), then classifies with a {@link ConvHead}.
 */
import { ArgumentError, ShapeError } from '../../errors.js';
import { add } from '../../ops/binary.js';
import { interpolate, type InterpolateMode } from '../../ops/interpolate.js';
import type { Generator } from '../../tensor/random.js';
import { defaultGenerator } from '../../tensor/random.js';
import { tidy } from '../../tensor/scope.js';
import type { Tensor } from '../../tensor/tensor.js';
import { STAGE_LEVELS, pickLevels, type BackboneFeatures, type FeatureLevel } from '../backbones/features.js';
import { fillConstant, kaimingUniformFanIn } from '../backbones/reinit.js';
import { Conv2d, Sequential } from '../layers.js';
import { Module } from '../module.js';
import { ConvHead } from './conv-head.js';
import { ModuleList, positiveInt } from './common.js';

/** Options of {@link FeaturePyramidNetwork}. */
export interface FPNOptions {
  /** Upsampling of the coarser level in the top-down path (default 'nearest', as torchvision). */
  topDownMode?: InterpolateMode;
  /** Generator for the initial weights (default: the global generator). */
  generator?: Generator;
}

/**
 * FPN over feature maps given finest first: lateral 1x1 convs (`inner_blocks.i.0`, with bias) map
 * each level to `channels`; from the coarsest down, each lateral adds the coarser merged map
 * upsampled to its size; a 3x3 conv (`layer_blocks.i.0`, with bias) smooths every merged map.
 * Names, maths and initialisation (kaiming uniform a = 1, zero bias) are torchvision's, so its
 * FeaturePyramidNetwork state dicts load by name. Returns one map per input, finest first, each of
 * its input's size with `channels` channels.
 */
export class FeaturePyramidNetwork extends Module {
  readonly innerBlocks: ModuleList<Sequential>;
  readonly layerBlocks: ModuleList<Sequential>;
  readonly topDownMode: InterpolateMode;

  constructor(
    readonly inChannels: readonly number[],
    readonly channels: number,
    opts: FPNOptions = {},
  ) {
    super();
    if (inChannels.length === 0) throw new ArgumentError('FeaturePyramidNetwork', 'needs at least one input level');
    for (const c of inChannels) positiveInt('FeaturePyramidNetwork', 'each input channel count', c);
    positiveInt('FeaturePyramidNetwork', 'channels', channels);
    this.topDownMode = opts.topDownMode ?? 'nearest';
    const g = opts.generator ?? defaultGenerator;
    const inner = inChannels.map((c) => new Sequential(new Conv2d(c, channels, 1, { generator: g })));
    const layer = inChannels.map(() => new Sequential(new Conv2d(channels, channels, 3, { padding: 1, generator: g })));
    this.innerBlocks = this.child('inner_blocks', new ModuleList(inner));
    this.layerBlocks = this.child('layer_blocks', new ModuleList(layer));
    for (const s of [...inner, ...layer]) {
      const conv = s.layers[0] as Conv2d;
      kaimingUniformFanIn(conv.weight, 1, g);
      fillConstant(conv.bias!, 0);
    }
  }

  /** The pyramid of `xs` (finest first, channels as constructed): one merged, smoothed map per level. */
  forward(xs: readonly Tensor[]): Tensor[] {
    const n = this.inChannels.length;
    if (xs.length !== n) {
      throw new ShapeError('FeaturePyramidNetwork', xs.map((x) => x.shape), `expected ${n} feature maps, got ${xs.length}`);
    }
    const inner = (i: number) => this.innerBlocks.items[i]!.layers[0] as Conv2d;
    const smooth = (i: number) => this.layerBlocks.items[i]!.layers[0] as Conv2d;
    return tidy(() => {
      const out: Tensor[] = new Array<Tensor>(n);
      let last = inner(n - 1).forward(xs[n - 1]!);
      out[n - 1] = smooth(n - 1).forward(last);
      for (let i = n - 2; i >= 0; i--) {
        const x = xs[i]!;
        if (x.rank !== 4) throw new ShapeError('FeaturePyramidNetwork', [x.shape], 'feature maps must be NCHW (rank 4)');
        const top = interpolate(last, { size: [x.shape[2]!, x.shape[3]!], mode: this.topDownMode });
        // lateral(x) + top-down, the sum taken in the lateral conv's epilogue
        last = inner(i).forward(x, { residual: top });
        out[i] = smooth(i).forward(last);
      }
      return out;
    });
  }
}

/** Options of {@link FPNHead}. */
export interface FPNHeadOptions {
  /** Channels of the pyramid and of the classifier's 3x3 conv (default 256). */
  channels?: number;
  /** The levels read when forward gets backbone features, finest first (default c1..c4). */
  levels?: readonly FeatureLevel[];
  /** Upsampling in the pyramid's top-down path (default 'nearest'). */
  topDownMode?: InterpolateMode;
  /** Upsampling of the coarser pyramid levels to the finest before the sum (default 'bilinear'). */
  fuseMode?: InterpolateMode;
  /** Generator for the initial weights (default: the global generator). */
  generator?: Generator;
}

/**
 * FPN head: a {@link FeaturePyramidNetwork} (`fpn.*`) over the levels, every pyramid level
 * upsampled to the finest level's size (bilinear, align_corners false by default) and summed, then
 * a {@link ConvHead} (`head.*`: 3x3 conv-BN-ReLU with `channels` channels, 1x1 classifier).
 * `forward` takes backbone features (reading `levels`) or the maps themselves, finest first, and
 * returns logits [n, outChannels, h, w] at the finest level's resolution (stride 4 for c1..c4 of
 * a ResNet); the caller upsamples them to the input size.
 */
export class FPNHead extends Module {
  readonly fpn: FeaturePyramidNetwork;
  readonly head: ConvHead;
  readonly levels: readonly FeatureLevel[];
  readonly fuseMode: InterpolateMode;

  constructor(
    readonly inChannels: readonly number[],
    readonly outChannels: number,
    opts: FPNHeadOptions = {},
  ) {
    super();
    const c = opts.channels ?? 256;
    this.levels = opts.levels ?? STAGE_LEVELS;
    if (this.levels.length !== inChannels.length) {
      throw new ArgumentError('FPNHead', `${inChannels.length} input channel counts for ${this.levels.length} levels [${this.levels.join(', ')}]`);
    }
    this.fuseMode = opts.fuseMode ?? 'bilinear';
    this.fpn = this.child('fpn', new FeaturePyramidNetwork(inChannels, c, { topDownMode: opts.topDownMode, generator: opts.generator }));
    this.head = this.child('head', new ConvHead(c, outChannels, { midChannels: c, generator: opts.generator }));
  }

  forward(features: BackboneFeatures | readonly Tensor[]): Tensor {
    const xs = Array.isArray(features) ? (features as readonly Tensor[]) : pickLevels(features as BackboneFeatures, this.levels);
    return tidy(() => {
      const pyramid = this.fpn.forward(xs);
      const finest = pyramid[0]!;
      const size: [number, number] = [finest.shape[2]!, finest.shape[3]!];
      let fused = finest;
      for (const p of pyramid.slice(1)) {
        fused = add(fused, interpolate(p, this.fuseMode === 'bilinear' ? { size, mode: 'bilinear', alignCorners: false } : { size, mode: 'nearest' }));
      }
      return this.head.forward(fused);
    });
  }
}
