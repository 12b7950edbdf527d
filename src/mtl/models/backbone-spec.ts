/**
 * How the architectures build their encoders: a typed table of the backbones (the ResNets, dilated
 * to output stride 8 by default as the survey's, and HRNet-W18 with its four fixed resolutions),
 * the check that an architecture built on ResNet stages gets a ResNet, and the stage-wise forward
 * pieces that Cross-Stitch, NDDR-CNN and MTAN interleave with their fusion layers.
 */
import { ArgumentError } from '../../errors.js';
import { HRNet, hrnet18 } from '../../nn/backbones/hrnet.js';
import { ResNet, resnet18, resnet34, resnet50, type ResNetOptions } from '../../nn/backbones/resnet.js';
import { Conv2d, type Layer, type Sequential } from '../../nn/layers.js';
import { maxPool2d } from '../../ops/pool.js';
import type { Generator } from '../../tensor/random.js';
import type { Tensor } from '../../tensor/tensor.js';

/** The ResNet encoders an architecture can be built on. */
export type ResNetName = 'resnet18' | 'resnet34' | 'resnet50';

/** ResNet name -> factory (typed, so a name without a factory does not compile). */
export const RESNETS: { readonly [K in ResNetName]: (opts: ResNetOptions) => ResNet } = { resnet18, resnet34, resnet50 };

/** Every backbone an architecture can be built on. */
export type BackboneName = ResNetName | 'hrnet18';

/** The backbone names (ResNets first), for messages and checks. */
export const BACKBONE_NAMES: readonly BackboneName[] = [...(Object.keys(RESNETS) as ResNetName[]), 'hrnet18'];

/** An encoder: a ResNet or an HRNet (both Backbones with levels stem, c1..c4). */
export type EncoderBackbone = ResNet | HRNet;

/** Options of the encoder that {@link buildBackbone} makes. */
export interface BackboneOptions {
  /** Which backbone (default 'resnet18'). */
  name?: BackboneName;
  /** Channel width multiplier (default 1; e.g. 0.25 for CPU-sized models). */
  widthMultiplier?: number;
  /** Output stride of a ResNet's c4 (default 8: the survey's dilated ResNet); HRNet's is 32, fixed. */
  outputStride?: 8 | 16 | 32;
  /** Image channels (default 3). */
  inChannels?: number;
  /** Generator for the initial weights (default: the model's generator, else the global one). */
  generator?: Generator;
}

/** An encoder: options for {@link buildBackbone}, or a factory returning a fresh backbone per call. */
export type BackboneSpec = BackboneOptions | (() => EncoderBackbone);

/**
 * A fresh encoder from `spec` (a factory is called once per encoder, so per-task encoders get
 * their own weights). `generator` is used when the options name none. Unknown names are rejected
 * with the list of valid ones; an output stride other than 32 for HRNet (whose four branches keep
 * strides 4..32) is rejected too.
 */
export function buildBackbone(spec: BackboneSpec = {}, generator?: Generator): EncoderBackbone {
  if (typeof spec === 'function') return spec();
  const name = spec.name ?? 'resnet18';
  const g = spec.generator ?? generator;
  if (name === 'hrnet18') {
    if (spec.outputStride !== undefined && spec.outputStride !== 32) {
      throw new ArgumentError('buildBackbone', `hrnet18 keeps all four resolutions (c4 at stride 32); outputStride ${spec.outputStride} does not apply (leave it out)`);
    }
    return hrnet18({ widthMultiplier: spec.widthMultiplier, inChannels: spec.inChannels, generator: g });
  }
  if (!Object.hasOwn(RESNETS, name)) {
    throw new ArgumentError('buildBackbone', `unknown backbone '${String(name)}' (valid: ${BACKBONE_NAMES.join(', ')})`);
  }
  return RESNETS[name]({
    widthMultiplier: spec.widthMultiplier,
    outputStride: spec.outputStride ?? 8,
    inChannels: spec.inChannels,
    generator: g,
  });
}

/**
 * A fresh ResNet encoder for an architecture that works on ResNet stages (`op` names it in the
 * error): as {@link buildBackbone}, but an HRNet is refused, saying which backbones fit.
 */
export function buildResNet(op: string, spec: BackboneSpec = {}, generator?: Generator): ResNet {
  if (typeof spec !== 'function' && spec.name === 'hrnet18') {
    throw new ArgumentError(op, `needs a ResNet: it works between the stages layer1..layer4, which hrnet18 does not have (valid backbones here: ${Object.keys(RESNETS).join(', ')}; hrnet18 fits single-task, shared-encoder, pad-net and mti-net)`);
  }
  const b = buildBackbone(spec, generator);
  if (!(b instanceof ResNet)) {
    b.dispose();
    throw new ArgumentError(op, `needs a ResNet (it works between ResNet stages); the backbone factory returned a ${b.constructor.name}`);
  }
  return b;
}

/**
 * The last convolution of the encoder that every output reads: for a ResNet the last block of
 * layer4, its last conv (conv2 of a BasicBlock, conv3 of a Bottleneck); for an HRNet
 * {@link HRNet.lastConv}. Its weight is GradNorm's default shared layer.
 */
export function lastConv(backbone: EncoderBackbone): Conv2d {
  if (backbone instanceof HRNet) return backbone.lastConv();
  const block = backbone.layer4.layers[backbone.layer4.layers.length - 1] as Layer & { conv2: Conv2d; conv3?: Conv2d };
  const conv = block.conv3 ?? block.conv2;
  if (!(conv instanceof Conv2d)) throw new ArgumentError('lastConv', 'the last block of layer4 has no conv2/conv3');
  return conv;
}

/**
 * The stem relu(bn1(conv1(x))) at stride 2, before the max pool (the `stem` feature level): the
 * encoder's own {@link ResNet.stem}, ReLU fused into batch norm.
 */
export function stemForward(backbone: ResNet, x: Tensor): Tensor {
  return backbone.stem(x);
}

/** The stem's 3x3 / 2 max pool (padding 1), the input of layer1. */
export function stemPool(stem: Tensor): Tensor {
  return maxPool2d(stem, { kernelSize: 3, stride: 2, padding: 1 });
}

/** The four stages of a ResNet, finest first. */
export function stages(backbone: ResNet): readonly Sequential[] {
  return [backbone.layer1, backbone.layer2, backbone.layer3, backbone.layer4];
}

/**
 * Default DeepLab rates for an output stride: [12, 24, 36] at 8 (the survey's DeepLabHead),
 * [6, 12, 18] at 16 (DeepLab v3), [3, 6, 9] at 32 (the same receptive field scaled).
 */
export function defaultRates(outputStride: number): number[] {
  const base = [6, 12, 18];
  return base.map((r) => Math.max(1, Math.round((r * 16) / outputStride)));
}
