/**
 * More layers with PyTorch's names, parameter shapes and defaults: ConvTranspose2d, GroupNorm,
 * LayerNorm and the activations LeakyReLU, Sigmoid and Tanh.
 */
import { ArgumentError, ShapeError } from '../errors.js';
import { convTranspose2d, type ConvTranspose2dOptions } from '../ops/conv.js';
import { groupNorm, layerNorm } from '../ops/norm.js';
import { leakyRelu, sigmoid, tanh } from '../ops/unary.js';
import { ones, zeros } from '../tensor/creation.js';
import type { Generator } from '../tensor/random.js';
import type { Tensor } from '../tensor/tensor.js';
import { defaultBias, kaimingUniform } from './init.js';
import { Layer } from './layers.js';
import { expectInput } from './module.js';

type Pair = number | readonly [number, number];

const two = (v: Pair | undefined, d: number): [number, number] => (v === undefined ? [d, d] : typeof v === 'number' ? [v, v] : [v[0], v[1]]);

/** Options of {@link ConvTranspose2d}. */
export interface ConvTranspose2dLayerOptions {
  stride?: Pair;
  /** Zero padding removed from each side of the output (default 0). */
  padding?: Pair;
  /** Extra rows/columns on one side of the output, smaller than stride or dilation (default 0). */
  outputPadding?: Pair;
  dilation?: Pair;
  groups?: number;
  /** Learn a bias (default true). */
  bias?: boolean;
  /** Generator for the initial weights (default: the global seeded generator). */
  generator?: Generator;
}

/**
 * Transposed 2-D convolution: `weight` [in, out/groups, kh, kw], `bias` [out]. PyTorch's default
 * initialisation, whose fan_in is taken from that weight shape: (out/groups) * kh * kw.
 */
export class ConvTranspose2d extends Layer {
  readonly weight: Tensor;
  readonly bias: Tensor | null;
  readonly opts: ConvTranspose2dOptions;

  constructor(
    readonly inChannels: number,
    readonly outChannels: number,
    kernelSize: Pair,
    opts: ConvTranspose2dLayerOptions = {},
  ) {
    super();
    const [kh, kw] = two(kernelSize, 1);
    const groups = opts.groups ?? 1;
    if (inChannels % groups !== 0 || outChannels % groups !== 0) {
      throw new ArgumentError('ConvTranspose2d', `channels ${inChannels} -> ${outChannels} must be divisible by groups=${groups}`);
    }
    const shape = [inChannels, outChannels / groups, kh, kw];
    this.weight = this.param('weight', kaimingUniform(shape, { a: Math.sqrt(5), generator: opts.generator }));
    this.bias = opts.bias === false ? null : this.param('bias', defaultBias(shape, outChannels, { generator: opts.generator }));
    this.opts = { stride: opts.stride, padding: opts.padding, outputPadding: opts.outputPadding, dilation: opts.dilation, groups };
  }

  /**
   * The transposed convolution of x [n, in, h, w]. `outputSize` [h, w] picks among the sizes a
   * strided forward could produce, overriding outputPadding (PyTorch's output_size argument).
   */
  forward(x: Tensor, outputSize?: readonly [number, number]): Tensor {
    expectInput('ConvTranspose2d', x, 4, this.inChannels);
    if (!outputSize) return convTranspose2d(x, this.weight, this.bias, this.opts);
    const [kh, kw] = [this.weight.shape[2]!, this.weight.shape[3]!];
    const s = two(this.opts.stride, 1);
    const p = two(this.opts.padding, 0);
    const d = two(this.opts.dilation, 1);
    const outputPadding = [0, 1].map((a) => {
      const min = (x.shape[2 + a]! - 1) * s[a]! - 2 * p[a]! + d[a]! * ([kh, kw][a]! - 1) + 1;
      const extra = outputSize[a]! - min;
      if (!Number.isInteger(outputSize[a]) || extra < 0 || extra >= Math.max(s[a]!, d[a]!)) {
        throw new ShapeError('ConvTranspose2d', [x.shape, [...outputSize]], `output size ${outputSize[a]} on axis ${a} must be in [${min}, ${min + Math.max(s[a]!, d[a]!) - 1}]`);
      }
      return extra;
    }) as [number, number];
    return convTranspose2d(x, this.weight, this.bias, { ...this.opts, outputPadding });
  }
}

/** Group normalisation (PyTorch's GroupNorm): `weight` [C] = 1 and `bias` [C] = 0 when affine. */
export class GroupNorm extends Layer {
  readonly weight: Tensor | null;
  readonly bias: Tensor | null;

  constructor(
    readonly numGroups: number,
    readonly numChannels: number,
    readonly opts: { eps?: number; affine?: boolean } = {},
  ) {
    super();
    if (!Number.isInteger(numGroups) || numGroups < 1 || numChannels % numGroups !== 0) {
      throw new ArgumentError('GroupNorm', `numChannels (${numChannels}) must be divisible by numGroups (${numGroups})`);
    }
    const affine = opts.affine ?? true;
    this.weight = affine ? this.param('weight', ones([numChannels])) : null;
    this.bias = affine ? this.param('bias', zeros([numChannels])) : null;
  }

  forward(x: Tensor): Tensor {
    if (x.rank < 2 || x.shape[1] !== this.numChannels) {
      throw new ShapeError('GroupNorm', [x.shape], `expected [N, ${this.numChannels}, ...]`);
    }
    return groupNorm(x, this.numGroups, this.weight, this.bias, this.opts.eps ?? 1e-5);
  }
}

/**
 * Layer normalisation over the trailing `normalizedShape` dims (PyTorch's LayerNorm): `weight` = 1
 * and `bias` = 0 of that shape when elementwiseAffine (bias: false drops only the bias).
 */
export class LayerNorm extends Layer {
  readonly normalizedShape: readonly number[];
  readonly weight: Tensor | null;
  readonly bias: Tensor | null;

  constructor(
    normalizedShape: number | readonly number[],
    readonly opts: { eps?: number; elementwiseAffine?: boolean; bias?: boolean } = {},
  ) {
    super();
    this.normalizedShape = typeof normalizedShape === 'number' ? [normalizedShape] : [...normalizedShape];
    const affine = opts.elementwiseAffine ?? true;
    this.weight = affine ? this.param('weight', ones(this.normalizedShape)) : null;
    this.bias = affine && opts.bias !== false ? this.param('bias', zeros(this.normalizedShape)) : null;
  }

  forward(x: Tensor): Tensor {
    return layerNorm(x, this.normalizedShape, this.weight, this.bias, this.opts.eps ?? 1e-5);
  }
}

/** x for x > 0, negativeSlope * x otherwise (default 0.01, as PyTorch). */
export class LeakyReLU extends Layer {
  constructor(readonly negativeSlope = 0.01) {
    super();
  }

  forward(x: Tensor): Tensor {
    return leakyRelu(x, this.negativeSlope);
  }
}

/** 1 / (1 + e^-x). */
export class Sigmoid extends Layer {
  forward(x: Tensor): Tensor {
    return sigmoid(x);
  }
}

/** Hyperbolic tangent. */
export class Tanh extends Layer {
  forward(x: Tensor): Tensor {
    return tanh(x);
  }
}
