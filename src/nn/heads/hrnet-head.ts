/**
 * The survey's heads for HRNet (models/seg_hrnet.py): the four branch maps resized bilinearly
 * (align_corners false) to the finest one's size and concatenated (18 + 36 + 72 + 144 = 270
 * channels for HRNet-W18), then `last_layer`. HighResolutionHead ends in a 1x1 classifier (one per
 * task, the survey's 'hrnet' head); HighResolutionFuse stops before it and hands the fused map to a
 * decoder (what the survey's PAD-Net on HRNet reads, its `fuse_hrnet` option).
 */
import type { Generator } from '../../tensor/random.js';
import { tidy } from '../../tensor/scope.js';
import type { Tensor } from '../../tensor/tensor.js';
import { concat } from '../../ops/shape-ops.js';
import { interpolate } from '../../ops/interpolate.js';
import { STAGE_LEVELS, pickLevels, type BackboneFeatures } from '../backbones/features.js';
import { BatchNorm2d, Conv2d, ReLU, Sequential, convBn } from '../layers.js';
import { Module } from '../module.js';

/** The maps (backbone features: c1..c4; or tensors, finest first) resized to the first's size and concatenated. */
export function concatBranches(features: BackboneFeatures | readonly Tensor[]): Tensor {
  const xs = Array.isArray(features) ? (features as readonly Tensor[]) : pickLevels(features as BackboneFeatures, STAGE_LEVELS);
  return tidy(() => {
    const [, , h, w] = xs[0]!.shape as [number, number, number, number];
    const sized = xs.map((x) => (x.shape[2] === h && x.shape[3] === w ? x : interpolate(x, { size: [h, w], mode: 'bilinear', alignCorners: false })));
    return concat(sized, 1);
  });
}

/** Sequential(1x1 conv S -> S with bias, BN, ReLU[, 1x1 conv S -> out]) whose first three run as one convBn unit. */
class LastLayer extends Sequential {
  constructor(
    readonly conv: Conv2d,
    readonly bn: BatchNorm2d,
    readonly classifier: Conv2d | null,
  ) {
    super(...(classifier ? [conv, bn, new ReLU(), classifier] : [conv, bn, new ReLU()]));
  }

  override forward(x: Tensor): Tensor {
    return tidy(() => {
      const h = convBn(this.conv, this.bn, x, { activation: 'relu' });
      return this.classifier ? this.classifier.forward(h) : h;
    });
  }
}

/**
 * The survey's HighResolutionHead: the maps concatenated (S = sum of `channels`), then
 * `last_layer` = 1x1 conv S -> S (bias), BN, ReLU, 1x1 conv S -> outChannels (bias). forward takes
 * backbone features (reading c1..c4) or the maps, finest first, and returns logits at the finest
 * map's size (stride 4 on HRNet).
 */
export class HighResolutionHead extends Module {
  readonly last_layer: Sequential;

  constructor(
    readonly channels: readonly number[],
    readonly outChannels: number,
    generator?: Generator,
  ) {
    super();
    const s = channels.reduce((a, c) => a + c, 0);
    this.last_layer = this.child(
      'last_layer',
      new LastLayer(new Conv2d(s, s, 1, { generator }), new BatchNorm2d(s), new Conv2d(s, outChannels, 1, { generator })),
    );
  }

  /** Logits at the first map's size. */
  forward(features: BackboneFeatures | readonly Tensor[]): Tensor {
    return tidy(() => this.last_layer.forward(concatBranches(features)));
  }
}

/**
 * The survey's HighResolutionFuse: the maps concatenated, then `last_layer` = 1x1 conv S -> S
 * (bias), BN, ReLU. Output [n, S, h, w] at the finest map's size, `channels` S.
 */
export class HighResolutionFuse extends Module {
  readonly last_layer: Sequential;
  /** Output channels (the sum of the inputs'). */
  readonly outChannels: number;

  constructor(channels: readonly number[], generator?: Generator) {
    super();
    const s = channels.reduce((a, c) => a + c, 0);
    this.outChannels = s;
    this.last_layer = this.child('last_layer', new LastLayer(new Conv2d(s, s, 1, { generator }), new BatchNorm2d(s), null));
  }

  /** The fused map. */
  forward(features: BackboneFeatures | readonly Tensor[]): Tensor {
    return tidy(() => this.last_layer.forward(concatBranches(features)));
  }
}
