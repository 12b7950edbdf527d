/**
 * DeepLab v3's atrous spatial pyramid pooling (Chen et al. 2017) and the head built on it, laid out
 * and named as torchvision's ASPP / DeepLabHead so their state dicts load by name.
 */
import { interpolate } from '../../ops/interpolate.js';
import { adaptiveAvgPool2d } from '../../ops/pool.js';
import { concat } from '../../ops/shape-ops.js';
import type { Generator } from '../../tensor/random.js';
import { tidy } from '../../tensor/scope.js';
import type { Tensor } from '../../tensor/tensor.js';
import type { BackboneFeatures, FeatureLevel } from '../backbones/features.js';
import { BatchNorm2d, Conv2d, Layer, ReLU, Sequential, convBn } from '../layers.js';
import { expectInput } from '../module.js';
import { ModuleList, convBnRelu, headInput, positiveInt } from './common.js';

/**
 * ASPP's image-pooling branch: global average pool, 1x1 conv - BN - ReLU, then bilinear upsampling
 * back to the input size (a broadcast, from 1x1). Children '1', '2', '3' as torchvision's
 * ASPPPooling (its '0' is the parameter-free pool). In training mode its batch norm sees one value
 * per sample and channel, so training needs a batch of at least 2 (as in PyTorch).
 */
export class ASPPPooling extends Layer {
  readonly conv: Conv2d;
  readonly bn: BatchNorm2d;

  constructor(inChannels: number, outChannels: number, generator?: Generator) {
    super();
    this.conv = this.child('1', new Conv2d(inChannels, outChannels, 1, { bias: false, generator }));
    this.bn = this.child('2', new BatchNorm2d(outChannels));
    this.child('3', new ReLU());
  }

  forward(x: Tensor): Tensor {
    const [, , h, w] = x.shape as [number, number, number, number];
    return tidy(() => {
      const y = convBn(this.conv, this.bn, adaptiveAvgPool2d(x, 1), { activation: 'relu' });
      return interpolate(y, { size: [h, w], mode: 'bilinear', alignCorners: false });
    });
  }
}

/**
 * Atrous spatial pyramid pooling: in parallel a 1x1 conv-BN-ReLU (`convs.0`), one dilated 3x3
 * conv-BN-ReLU per rate (`convs.1..`), and the image-pooling branch (`convs.<rates + 1>`); their
 * outputs are concatenated on channels and projected by a 1x1 conv-BN-ReLU (`project`) to
 * `outChannels`. Output size = input size. torchvision's Dropout(0.5) after the projection holds
 * no parameters and is not applied here.
 */
export class ASPP extends Layer {
  readonly convs: ModuleList<Layer>;
  readonly project: Sequential;

  constructor(
    readonly inChannels: number,
    rates: readonly number[],
    readonly outChannels: number,
    generator?: Generator,
  ) {
    super();
    positiveInt('ASPP', 'inChannels', inChannels);
    positiveInt('ASPP', 'outChannels', outChannels);
    for (const r of rates) positiveInt('ASPP', 'each atrous rate', r);
    const branches: Layer[] = [
      convBnRelu(inChannels, outChannels, 1, { generator }),
      ...rates.map((r) => convBnRelu(inChannels, outChannels, 3, { dilation: r, generator })),
      new ASPPPooling(inChannels, outChannels, generator),
    ];
    this.convs = this.child('convs', new ModuleList(branches));
    this.project = this.child('project', convBnRelu(branches.length * outChannels, outChannels, 1, { generator }));
  }

  forward(x: Tensor): Tensor {
    expectInput('ASPP', x, 4, this.inChannels);
    return tidy(() => this.project.forward(concat(this.convs.items.map((b) => b.forward(x)), 1)));
  }
}

/** Options of {@link ASPPHead}. */
export interface ASPPHeadOptions {
  /** Channels of every ASPP branch, of the projection and of the 3x3 conv (default 256). */
  channels?: number;
  /**
   * Dilation rates of the 3x3 branches (default [6, 12, 18], DeepLab v3's choice at output stride
   * 16; use [12, 24, 36] at output stride 8, as torchvision's DeepLabHead).
   */
  rates?: readonly number[];
  /** The level read when forward gets backbone features (default 'c4'). */
  level?: FeatureLevel;
  /** Generator for the initial weights (PyTorch's layer defaults; default: the global generator). */
  generator?: Generator;
}

/**
 * DeepLab v3 head: ASPP (`0`), a 3x3 conv (`1`) - BN (`2`) - ReLU (`3`), and a 1x1 classifier
 * (`4`) to `outChannels` (torchvision's DeepLabHead layout and names, with configurable channels
 * and rates). `forward` takes a tensor [n, inChannels, h, w] or backbone features (reading `level`)
 * and returns logits [n, outChannels, h, w] at that feature resolution; the caller upsamples them
 * to the input size. Training mode needs a batch of at least 2 (the pooling branch's batch norm).
 */
export class ASPPHead extends Layer {
  readonly aspp: ASPP;
  readonly conv: Conv2d;
  readonly bn: BatchNorm2d;
  readonly classifier: Conv2d;
  readonly level: FeatureLevel;

  constructor(
    readonly inChannels: number,
    readonly outChannels: number,
    opts: ASPPHeadOptions = {},
  ) {
    super();
    positiveInt('ASPPHead', 'outChannels', outChannels);
    const c = positiveInt('ASPPHead', 'channels', opts.channels ?? 256);
    const rates = opts.rates ?? [6, 12, 18];
    const g = opts.generator;
    this.level = opts.level ?? 'c4';
    this.aspp = this.child('0', new ASPP(inChannels, rates, c, g));
    this.conv = this.child('1', new Conv2d(c, c, 3, { padding: 1, bias: false, generator: g }));
    this.bn = this.child('2', new BatchNorm2d(c));
    this.child('3', new ReLU());
    this.classifier = this.child('4', new Conv2d(c, outChannels, 1, { generator: g }));
  }

  forward(x: Tensor | BackboneFeatures): Tensor {
    const input = headInput('ASPPHead', x, this.level);
    return tidy(() => this.classifier.forward(convBn(this.conv, this.bn, this.aspp.forward(input), { activation: 'relu' })));
  }
}
