/**
 * Core layers: Conv2d, Linear, BatchNorm2d, ReLU, Identity and Sequential, with PyTorch's parameter
 * names, shapes and default initialisation (kaiming-uniform with a = sqrt(5), bias U(+-1/sqrt(fan_in))),
 * and `convBn`, a conv - BN (- add) (- ReLU) unit in the fewest dispatches.
 */
import { ArgumentError } from '../errors.js';
import { isGradEnabled, isRecomputing } from '../autograd/tape.js';
import { add } from '../ops/binary.js';
import { conv2d, type Conv2dOptions } from '../ops/conv.js';
import { linear } from '../ops/matmul.js';
import { incrementCounter } from '../ops/kernels/counter.js';
import { batchNorm2d, foldBatchNorm2d } from '../ops/norm.js';
import { relu } from '../ops/unary.js';
import { tidy } from '../tensor/scope.js';
import { ones, zeros } from '../tensor/creation.js';
import type { Generator } from '../tensor/random.js';
import type { Tensor } from '../tensor/tensor.js';
import { defaultBias, kaimingUniform } from './init.js';
import { Module, expectInput } from './module.js';

/** A module whose forward maps one tensor to one tensor (what Sequential chains). */
export abstract class Layer extends Module {
  abstract forward(x: Tensor): Tensor;
}

type Pair = number | readonly [number, number];

/** Options of {@link Conv2d}. */
export interface Conv2dLayerOptions {
  stride?: Pair;
  padding?: Conv2dOptions['padding'];
  dilation?: Pair;
  groups?: number;
  /** Learn a bias (default true). */
  bias?: boolean;
  /** Generator for the initial weights (default: the global seeded generator). */
  generator?: Generator;
}

/** 2-D convolution layer: `weight` [out, in/groups, kh, kw], `bias` [out]. */
export class Conv2d extends Layer {
  readonly weight: Tensor;
  readonly bias: Tensor | null;
  readonly opts: Conv2dOptions;

  constructor(
    readonly inChannels: number,
    readonly outChannels: number,
    kernelSize: Pair,
    opts: Conv2dLayerOptions = {},
  ) {
    super();
    const [kh, kw] = typeof kernelSize === 'number' ? [kernelSize, kernelSize] : kernelSize;
    const groups = opts.groups ?? 1;
    if (inChannels % groups !== 0 || outChannels % groups !== 0) {
      throw new ArgumentError('Conv2d', `channels ${inChannels} -> ${outChannels} must be divisible by groups=${groups}`);
    }
    const shape = [outChannels, inChannels / groups, kh, kw];
    this.weight = this.param('weight', kaimingUniform(shape, { a: Math.sqrt(5), generator: opts.generator }));
    this.bias = opts.bias === false ? null : this.param('bias', defaultBias(shape, outChannels, { generator: opts.generator }));
    this.opts = { stride: opts.stride, padding: opts.padding, dilation: opts.dilation, groups };
  }

  forward(x: Tensor, extra: Pick<Conv2dOptions, 'activation' | 'residual'> = {}): Tensor {
    expectInput('Conv2d', x, 4, this.inChannels);
    return conv2d(x, this.weight, this.bias, { ...this.opts, ...extra });
  }
}

/** Fully connected layer: `weight` [out, in], `bias` [out]. */
export class Linear extends Layer {
  readonly weight: Tensor;
  readonly bias: Tensor | null;

  constructor(
    readonly inFeatures: number,
    readonly outFeatures: number,
    opts: { bias?: boolean; generator?: Generator } = {},
  ) {
    super();
    const shape = [outFeatures, inFeatures];
    this.weight = this.param('weight', kaimingUniform(shape, { a: Math.sqrt(5), generator: opts.generator }));
    this.bias = opts.bias === false ? null : this.param('bias', defaultBias(shape, outFeatures, { generator: opts.generator }));
  }

  forward(x: Tensor): Tensor {
    return linear(x, this.weight, this.bias);
  }
}


/** What may follow a batch norm in one pass: a residual added, then ReLU. */
export interface BatchNormEpilogue {
  activation?: 'relu' | 'none';
  /** A tensor of the output's shape added before the activation. */
  residual?: Tensor | null;
}

/** Batch normalisation over NCHW channels with running statistics (PyTorch's BatchNorm2d). */
export class BatchNorm2d extends Layer {
  /**
   * The fused path (default on): the epilogue (residual, ReLU) and the step counter run inside batch
   * norm's own passes; off, they are separate add, relu and counter dispatches (the composition, for
   * A/B measurements). Per module, so switching it never reaches another model; see
   * setBatchNormFusion() for a whole model.
   */
  fused = true;
  /**
   * Eval-mode folding into the preceding convolution (default off; see convBn). Off by measurement
   * on lavapipe: conv2d's im2col path applies a bias or residual in a pass of its own before the
   * product, so the fold saves no dispatch and adds a pass over the weights; the demo's eval
   * forward took 58.7 ms of GPU time folded against 48.3 ms with batch norm's single fused eval pass
   * (8x3x64x64; 632 vs 544 ms at 192x192).
   */
  evalFold = false;
  readonly weight: Tensor | null;
  readonly bias: Tensor | null;
  readonly runningMean: Tensor;
  readonly runningVar: Tensor;
  readonly numBatchesTracked: Tensor;

  constructor(
    readonly numFeatures: number,
    readonly opts: { eps?: number; momentum?: number; affine?: boolean } = {},
  ) {
    super();
    const affine = opts.affine ?? true;
    this.weight = affine ? this.param('weight', ones([numFeatures])) : null;
    this.bias = affine ? this.param('bias', zeros([numFeatures])) : null;
    this.runningMean = this.buffer('running_mean', zeros([numFeatures]));
    this.runningVar = this.buffer('running_var', ones([numFeatures]));
    // Training-mode forwards so far, as PyTorch (an i32 here; PyTorch stores int64).
    this.numBatchesTracked = this.buffer('num_batches_tracked', zeros([], { dtype: 'i32' }));
  }

  /**
   * bn(x), or relu(bn(x) + residual) with the epilogue fused into the normalising pass (see
   * batchNorm2d). As PyTorch, every training-mode forward counts in num_batches_tracked, on the GPU
   * (in the statistics pass), so a step never reads it back.
   */
  forward(x: Tensor, extra: BatchNormEpilogue = {}): Tensor {
    expectInput('BatchNorm2d', x, 4, this.numFeatures);
    const fused = this.fused;
    // The replay of a checkpointed segment normalises with the batch statistics again but leaves the
    // running statistics and the counter alone: its first forward updated them.
    const track = !this.training || !isRecomputing();
    const opts = {
      runningMean: track ? this.runningMean : null,
      runningVar: track ? this.runningVar : null,
      training: this.training,
      momentum: this.opts.momentum ?? 0.1,
      eps: this.opts.eps ?? 1e-5,
    };
    if (fused) return batchNorm2d(x, this.weight, this.bias, { ...opts, ...extra, numBatchesTracked: this.training && track ? this.numBatchesTracked : null });
    if (this.training && track) incrementCounter(this.numBatchesTracked);
    return tidy(() => {
      let y = batchNorm2d(x, this.weight, this.bias, opts);
      if (extra.residual) y = add(y, extra.residual);
      return extra.activation === 'relu' ? relu(y) : y;
    });
  }
}

/** True when a forward over these tensors records a graph (some tensor requires a gradient). */
function gradNeeded(ts: readonly (Tensor | null | undefined)[]): boolean {
  return isGradEnabled() && ts.some((t) => t?.requiresGrad);
}

/**
 * relu?(bn(conv(x)) + residual?) for a Conv2d followed by a BatchNorm2d: the conv, then batch norm
 * with its fused epilogue (in eval mode without a graph, one pass that reads the running statistics
 * itself). With the batch norm's `evalFold`, eval mode when nothing needs a gradient (under noGrad, or no
 * tensor involved requires one) instead folds batch norm into the conv's weight and bias (one small
 * dispatch, from the current parameters and running statistics) and runs the conv with its own
 * bias, residual and ReLU epilogue. Values equal the unfused composition up to float rounding.
 */
export function convBn(conv: Conv2d, bn: BatchNorm2d, x: Tensor, extra: BatchNormEpilogue = {}): Tensor {
  const res = extra.residual ?? null;
  const fold =
    !bn.training && bn.evalFold && !gradNeeded([x, conv.weight, conv.bias, bn.weight, bn.bias, res]) && conv.outChannels === bn.numFeatures;
  if (!fold) return bn.forward(conv.forward(x), extra);
  expectInput('Conv2d', x, 4, conv.inChannels);
  return tidy(() => {
    const f = foldBatchNorm2d(conv.weight, conv.bias, {
      weight: bn.weight,
      bias: bn.bias,
      runningMean: bn.runningMean,
      runningVar: bn.runningVar,
      eps: bn.opts.eps,
    });
    return conv2d(x, f.weight, f.bias, { ...conv.opts, activation: extra.activation ?? 'none', ...(res ? { residual: res } : {}) });
  });
}

/** max(x, 0). */
export class ReLU extends Layer {
  forward(x: Tensor): Tensor {
    return relu(x);
  }
}

/** Returns its input unchanged. */
export class Identity extends Layer {
  forward(x: Tensor): Tensor {
    return x;
  }
}

/** Layers applied in order; children are named '0', '1', ... as in PyTorch. */
export class Sequential extends Layer {
  readonly layers: Layer[];

  constructor(...layers: Layer[]) {
    super();
    this.layers = layers.map((l, i) => this.child(String(i), l));
  }

  forward(x: Tensor): Tensor {
    let y = x;
    for (const l of this.layers) y = l.forward(y);
    return y;
  }
}

/**
 * Sets the fused-path switches of every BatchNorm2d in `module` (itself included; see
 * BatchNorm2d.fused and .evalFold) and returns how many there were.
 */
export function setBatchNormFusion(module: Module, opts: { fused?: boolean; evalFold?: boolean }): number {
  let n = 0;
  for (const m of new Set([module, ...module.namedModules().map(([, c]) => c)])) {
    if (!(m instanceof BatchNorm2d)) continue;
    if (opts.fused !== undefined) m.fused = opts.fused;
    if (opts.evalFold !== undefined) m.evalFold = opts.evalFold;
    n++;
  }
  return n;
}
