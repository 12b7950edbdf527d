/**
 * The simplest dense-prediction head: a 3x3 conv-BN-ReLU, then a 1x1 conv to the task's channels
 * (torchvision's FCNHead, without its parameter-free Dropout(0.1)).
 */
import type { Generator } from '../../tensor/random.js';
import { tidy } from '../../tensor/scope.js';
import type { Tensor } from '../../tensor/tensor.js';
import type { BackboneFeatures, FeatureLevel } from '../backbones/features.js';
import { BatchNorm2d, Conv2d, Layer, ReLU, convBn } from '../layers.js';
import { headInput, positiveInt } from './common.js';

/** Options of {@link ConvHead}. */
export interface ConvHeadOptions {
  /** Channels of the 3x3 conv (default floor(inChannels / 4), at least 1, as FCNHead). */
  midChannels?: number;
  /** The level read when forward gets backbone features (default 'c4'). */
  level?: FeatureLevel;
  /** Generator for the initial weights (PyTorch's layer defaults; default: the global generator). */
  generator?: Generator;
}

/**
 * 3x3 conv (no bias) - BN - ReLU - 1x1 conv (bias) to `outChannels`. Parameter names are
 * torchvision FCNHead's: `0.weight` (3x3), `1.*` (BN), `4.weight` / `4.bias` (classifier), so an
 * fcn_resnet `classifier.*` state dict loads by name. `forward` takes a tensor [n, inChannels, h, w]
 * or backbone features (reading `level`) and returns logits [n, outChannels, h, w] at that
 * feature resolution; the caller upsamples them to the input size.
 */
export class ConvHead extends Layer {
  readonly conv: Conv2d;
  readonly bn: BatchNorm2d;
  readonly classifier: Conv2d;
  readonly level: FeatureLevel;

  constructor(
    readonly inChannels: number,
    readonly outChannels: number,
    opts: ConvHeadOptions = {},
  ) {
    super();
    positiveInt('ConvHead', 'inChannels', inChannels);
    positiveInt('ConvHead', 'outChannels', outChannels);
    const mid = positiveInt('ConvHead', 'midChannels', opts.midChannels ?? Math.max(1, Math.floor(inChannels / 4)));
    const g = opts.generator;
    this.level = opts.level ?? 'c4';
    this.conv = this.child('0', new Conv2d(inChannels, mid, 3, { padding: 1, bias: false, generator: g }));
    this.bn = this.child('1', new BatchNorm2d(mid));
    this.child('2', new ReLU());
    // '3' is FCNHead's Dropout, which holds no parameters.
    this.classifier = this.child('4', new Conv2d(mid, outChannels, 1, { generator: g }));
  }

  forward(x: Tensor | BackboneFeatures): Tensor {
    const input = headInput('ConvHead', x, this.level);
    return tidy(() => this.classifier.forward(convBn(this.conv, this.bn, input, { activation: 'relu' })));
  }
}
