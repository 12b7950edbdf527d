/**
 * ResNet backbones (He et al. 2016, torchvision's v1.5 variant: the stride sits on the 3x3 conv of
 * a Bottleneck) without avgpool and fc: `forward(x)` returns the stem and the four stage outputs.
 * Module and parameter names are torchvision's (`conv1`, `bn1`, `layer1.0.conv1`,
 * `layer2.0.downsample.0` / `.1`, ...) in torchvision's order, so its state dicts load by name
 * (minus `fc.*`; `num_batches_tracked` is an i32 scalar here, an int64 scalar there).
 *
 * Options beyond torchvision: a width multiplier (every channel count, stem included, becomes
 * max(1, round(c * m))), the input channel count, and the output stride, which replaces the stride
 * of the last stages by dilation as torchvision's `replace_stride_with_dilation`. Initialisation is
 * torchvision's: conv weights kaiming normal (fan_out, relu), batch-norm weight 1 and bias 0.
 *
 * Every conv - BN (- add) - ReLU runs through `convBn`: in training the add and ReLU are batch
 * norm's fused epilogue; in eval mode without gradients batch norm folds into the conv, so a
 * BasicBlock is its two (three with a downsample) convolutions plus tiny folding dispatches.
 */
import { ArgumentError } from '../../errors.js';
import { maxPool2d } from '../../ops/pool.js';
import { Generator, defaultGenerator } from '../../tensor/random.js';
import { tidy } from '../../tensor/scope.js';
import type { Tensor } from '../../tensor/tensor.js';
import { BatchNorm2d, Conv2d, Layer, Sequential, convBn } from '../layers.js';
import { expectInput, type LoadResult, type StateDict } from '../module.js';
import { Backbone, stageForward, type BackboneFeatures, type LevelInfo } from './features.js';
import { fillConstant, kaimingNormalFanOut } from './reinit.js';

/** Options of a residual block. */
export interface BlockOptions {
  /** Stride of the block's strided 3x3 conv and of its downsample branch (default 1). */
  stride?: number;
  /** The shortcut branch (1x1 conv + BN) when the block changes shape; null for the identity. */
  downsample?: Sequential | null;
  /** Dilation (and padding) of the strided 3x3 conv: BasicBlock conv1, Bottleneck conv2 (default 1). */
  dilation?: number;
  /**
   * BasicBlock only: dilation of its second 3x3 conv (default `dilation`). When a stage's stride
   * becomes dilation, the first block keeps the previous dilation on the conv that used to stride
   * and its second conv takes the new one, so the dilated network samples the strided one densely.
   */
  dilation2?: number;
  /** Generator for PyTorch's default layer initialisation (ResNet re-initialises afterwards). */
  generator?: Generator;
}

/** A residual block class: its constructor and its channel expansion (output = planes * expansion). */
export interface BlockClass {
  new (inplanes: number, planes: number, opts?: BlockOptions): Layer;
  readonly expansion: number;
}

function conv3x3(inp: number, out: number, stride: number, dilation: number, generator?: Generator): Conv2d {
  return new Conv2d(inp, out, 3, { stride, padding: dilation, dilation, bias: false, generator });
}

function conv1x1(inp: number, out: number, stride: number, generator?: Generator): Conv2d {
  return new Conv2d(inp, out, 1, { stride, bias: false, generator });
}

/** The shortcut of a block: x, or its downsample branch (1x1 conv + BN, through convBn). */
function shortcut(downsample: Sequential | null, x: Tensor): Tensor {
  if (!downsample) return x;
  const [conv, bn] = downsample.layers;
  if (downsample.layers.length === 2 && conv instanceof Conv2d && bn instanceof BatchNorm2d) return convBn(conv, bn, x);
  return downsample.forward(x);
}

/**
 * torchvision's BasicBlock: relu(bn2(conv2(relu(bn1(conv1(x))))) + shortcut(x)), two 3x3 convs,
 * expansion 1. Unlike torchvision it accepts dilation (see {@link BlockOptions.dilation2}).
 */
export class BasicBlock extends Layer {
  static readonly expansion = 1;
  readonly conv1: Conv2d;
  readonly bn1: BatchNorm2d;
  readonly conv2: Conv2d;
  readonly bn2: BatchNorm2d;
  readonly downsample: Sequential | null;

  constructor(
    readonly inplanes: number,
    readonly planes: number,
    opts: BlockOptions = {},
  ) {
    super();
    const d1 = opts.dilation ?? 1;
    this.conv1 = this.child('conv1', conv3x3(inplanes, planes, opts.stride ?? 1, d1, opts.generator));
    this.bn1 = this.child('bn1', new BatchNorm2d(planes));
    this.conv2 = this.child('conv2', conv3x3(planes, planes, 1, opts.dilation2 ?? d1, opts.generator));
    this.bn2 = this.child('bn2', new BatchNorm2d(planes));
    this.downsample = opts.downsample ? this.child('downsample', opts.downsample) : null;
  }

  forward(x: Tensor): Tensor {
    expectInput('BasicBlock', x, 4, this.inplanes);
    return tidy(() => {
      const h = convBn(this.conv1, this.bn1, x, { activation: 'relu' });
      return convBn(this.conv2, this.bn2, h, { activation: 'relu', residual: shortcut(this.downsample, x) });
    });
  }
}

/**
 * torchvision's Bottleneck (ResNet v1.5): 1x1 reduce, 3x3 (strided, dilated), 1x1 expand to
 * planes * 4, each followed by BN, ReLU after the first two and after the residual sum.
 */
export class Bottleneck extends Layer {
  static readonly expansion = 4;
  readonly conv1: Conv2d;
  readonly bn1: BatchNorm2d;
  readonly conv2: Conv2d;
  readonly bn2: BatchNorm2d;
  readonly conv3: Conv2d;
  readonly bn3: BatchNorm2d;
  readonly downsample: Sequential | null;

  constructor(
    readonly inplanes: number,
    readonly planes: number,
    opts: BlockOptions = {},
  ) {
    super();
    const g = opts.generator;
    const out = planes * Bottleneck.expansion;
    this.conv1 = this.child('conv1', conv1x1(inplanes, planes, 1, g));
    this.bn1 = this.child('bn1', new BatchNorm2d(planes));
    this.conv2 = this.child('conv2', conv3x3(planes, planes, opts.stride ?? 1, opts.dilation ?? 1, g));
    this.bn2 = this.child('bn2', new BatchNorm2d(planes));
    this.conv3 = this.child('conv3', conv1x1(planes, out, 1, g));
    this.bn3 = this.child('bn3', new BatchNorm2d(out));
    this.downsample = opts.downsample ? this.child('downsample', opts.downsample) : null;
  }

  forward(x: Tensor): Tensor {
    expectInput('Bottleneck', x, 4, this.inplanes);
    return tidy(() => {
      const h1 = convBn(this.conv1, this.bn1, x, { activation: 'relu' });
      const h2 = convBn(this.conv2, this.bn2, h1, { activation: 'relu' });
      return convBn(this.conv3, this.bn3, h2, { activation: 'relu', residual: shortcut(this.downsample, x) });
    });
  }
}

/** Options of {@link ResNet} and the resnetNN factories. */
export interface ResNetOptions {
  /** Scales every channel count (stem too) to max(1, round(c * m)); default 1. */
  widthMultiplier?: number;
  /**
   * Stride of c4 relative to the input: 32 (default), 16 (layer4 dilated 2) or 8 (layer3 dilated
   * 2, layer4 dilated 4), as torchvision's replace_stride_with_dilation [F,F,F], [F,F,T], [F,T,T].
   */
  outputStride?: 8 | 16 | 32;
  /** Input channels of conv1 (default 3). */
  inChannels?: number;
  /** Generator for the initial weights (default: the global seeded generator). */
  generator?: Generator;
  /** Zero the last BN weight of every block, so blocks start as identities (torchvision's zero_init_residual). */
  zeroInitResidual?: boolean;
}

/** The ResNet stage layout: block class and blocks per stage. */
export type StageDepths = readonly [number, number, number, number];

/**
 * A ResNet feature extractor. `forward(x)` on x [n, inChannels, h, w] returns
 *   stem = relu(bn1(conv1(x)))  stride 2  (before the max pool)
 *   c1 = layer1(maxpool(stem))  stride 4
 *   c2 = layer2(c1)             stride 8
 *   c3 = layer3(c2)             stride 16 (8 when outputStride is 8)
 *   c4 = layer4(c3)             stride 32 (16 or 8 with outputStride 16 or 8)
 * with `channels` and `strides` per level (a map of stride s has ceil(h / s) x ceil(w / s) pixels).
 */
export class ResNet extends Backbone {
  readonly conv1: Conv2d;
  readonly bn1: BatchNorm2d;
  readonly layer1: Sequential;
  readonly layer2: Sequential;
  readonly layer3: Sequential;
  readonly layer4: Sequential;
  readonly channels: LevelInfo;
  readonly strides: LevelInfo;
  /** Dilation of each stage's later blocks (1 unless the output stride replaced strides). */
  readonly dilations: LevelInfo;
  readonly inChannels: number;
  readonly outputStride: 8 | 16 | 32;

  constructor(
    readonly block: BlockClass,
    readonly depths: StageDepths,
    opts: ResNetOptions = {},
  ) {
    super();
    const m = opts.widthMultiplier ?? 1;
    if (!(Number.isFinite(m) && m > 0)) throw new ArgumentError('ResNet', `widthMultiplier must be a positive number, got ${m}`);
    const os = opts.outputStride ?? 32;
    if (os !== 8 && os !== 16 && os !== 32) throw new ArgumentError('ResNet', `outputStride must be 8, 16 or 32, got ${String(os)}`);
    const inCh = opts.inChannels ?? 3;
    if (!Number.isInteger(inCh) || inCh < 1) throw new ArgumentError('ResNet', `inChannels must be a positive integer, got ${inCh}`);
    if (depths.length !== 4 || !depths.every((d) => Number.isInteger(d) && d >= 1)) {
      throw new ArgumentError('ResNet', `depths must be four positive integers, got [${depths.join(', ')}]`);
    }
    this.inChannels = inCh;
    this.outputStride = os;
    const width = (c: number) => Math.max(1, Math.round(c * m));
    // The layers' own default init draws from a scratch stream; torchvision's init below uses the caller's.
    const scratch = new Generator(0x12e5);
    const stem = width(64);
    this.conv1 = this.child('conv1', new Conv2d(inCh, stem, 7, { stride: 2, padding: 3, bias: false, generator: scratch }));
    this.bn1 = this.child('bn1', new BatchNorm2d(stem));

    const replace = os === 32 ? [false, false, false] : os === 16 ? [false, false, true] : [false, true, true];
    let inplanes = stem;
    let dilation = 1;
    const makeLayer = (planes: number, blocks: number, stride: number, dilate: boolean): [Sequential, number] => {
      const prev = dilation;
      if (dilate) {
        dilation *= stride;
        stride = 1;
      }
      const out = planes * block.expansion;
      const downsample =
        stride !== 1 || inplanes !== out ? new Sequential(conv1x1(inplanes, out, stride, scratch), new BatchNorm2d(out)) : null;
      const layers: Layer[] = [new block(inplanes, planes, { stride, downsample, dilation: prev, dilation2: dilation, generator: scratch })];
      inplanes = out;
      for (let i = 1; i < blocks; i++) layers.push(new block(inplanes, planes, { dilation, generator: scratch }));
      return [new Sequential(...layers), dilation];
    };
    const [l1, d1] = makeLayer(width(64), depths[0], 1, false);
    const [l2, d2] = makeLayer(width(128), depths[1], 2, replace[0]!);
    const [l3, d3] = makeLayer(width(256), depths[2], 2, replace[1]!);
    const [l4, d4] = makeLayer(width(512), depths[3], 2, replace[2]!);
    this.layer1 = this.child('layer1', l1);
    this.layer2 = this.child('layer2', l2);
    this.layer3 = this.child('layer3', l3);
    this.layer4 = this.child('layer4', l4);

    const e = block.expansion;
    this.channels = { stem, c1: width(64) * e, c2: width(128) * e, c3: width(256) * e, c4: width(512) * e };
    this.strides = { stem: 2, c1: 4, c2: 8, c3: 16 / d3, c4: 32 / d4 };
    this.dilations = { stem: 1, c1: d1, c2: d2, c3: d3, c4: d4 };

    const g = opts.generator ?? defaultGenerator;
    for (const [, mod] of this.namedModules()) {
      if (mod instanceof Conv2d) kaimingNormalFanOut(mod.weight, g);
      if (opts.zeroInitResidual && mod instanceof Bottleneck) fillConstant(mod.bn3.weight!, 0);
      if (opts.zeroInitResidual && mod instanceof BasicBlock) fillConstant(mod.bn2.weight!, 0);
    }
  }

  /**
   * Module.loadStateDict, reading torchvision's ResNet state dicts as they are: their ImageNet
   * classifier `fc.weight` / `fc.bias` has no place in this backbone and is dropped, reported in the
   * result's `ignored` (strict mode then still requires every other key to match).
   */
  override loadStateDict(state: StateDict | Record<string, Tensor>, opts: { strict?: boolean } = {}): LoadResult {
    const src = state instanceof Map ? state : new Map(Object.entries(state));
    const fc: string[] = [...src.keys()].filter((k) => k === 'fc.weight' || k === 'fc.bias');
    if (fc.length === 0) return super.loadStateDict(src, opts);
    const rest = new Map([...src].filter(([k]) => !fc.includes(k)));
    return { ...super.loadStateDict(rest, opts), ignored: { keys: fc, why: "torchvision's ImageNet classifier (this backbone has no fc layer)" } };
  }

  /** The stem relu(bn1(conv1(x))) at stride 2, before the max pool (the `stem` feature level). */
  stem(x: Tensor): Tensor {
    expectInput('ResNet', x, 4, this.inChannels);
    return convBn(this.conv1, this.bn1, x, { activation: 'relu' });
  }

  /** The multi-scale features of x [n, inChannels, h, w] (see the class comment for levels and strides). */
  forward(x: Tensor): BackboneFeatures {
    expectInput('ResNet', x, 4, this.inChannels);
    return tidy(() => {
      const stem = this.stem(x);
      const c1 = stageForward(this, this.layer1, maxPool2d(stem, { kernelSize: 3, stride: 2, padding: 1 }));
      const c2 = stageForward(this, this.layer2, c1);
      const c3 = stageForward(this, this.layer3, c2);
      const c4 = stageForward(this, this.layer4, c3);
      return { stem, c1, c2, c3, c4 };
    });
  }
}

/** ResNet-18: BasicBlock, stages [2, 2, 2, 2]; 11,176,512 parameters at width 1 (no fc). */
export function resnet18(opts: ResNetOptions = {}): ResNet {
  return new ResNet(BasicBlock, [2, 2, 2, 2], opts);
}

/** ResNet-34: BasicBlock, stages [3, 4, 6, 3]; 21,284,672 parameters at width 1 (no fc). */
export function resnet34(opts: ResNetOptions = {}): ResNet {
  return new ResNet(BasicBlock, [3, 4, 6, 3], opts);
}

/** ResNet-50: Bottleneck (expansion 4), stages [3, 4, 6, 3]; 23,508,032 parameters at width 1 (no fc). */
export function resnet50(opts: ResNetOptions = {}): ResNet {
  return new ResNet(Bottleneck, [3, 4, 6, 3], opts);
}

/** ResNet-101: Bottleneck (expansion 4), stages [3, 4, 23, 3]. */
export function resnet101(opts: ResNetOptions = {}): ResNet {
  return new ResNet(Bottleneck, [3, 4, 23, 3], opts);
}
