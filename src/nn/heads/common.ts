/**
 * Pieces the heads share: torch.nn.ModuleList-style indexed containers, conv-BN-ReLU stacks named
 * like torch.nn.Sequential, and the rule that turns a head's input (a tensor or backbone features)
 * into the tensor it reads.
 */
import { ArgumentError } from '../../errors.js';
import { Tensor } from '../../tensor/tensor.js';
import type { Generator } from '../../tensor/random.js';
import type { BackboneFeatures, FeatureLevel } from '../backbones/features.js';
import { BatchNorm2d, Conv2d, ReLU, Sequential, convBn } from '../layers.js';
import { Module } from '../module.js';

/** Children named '0', '1', ... (torch.nn.ModuleList), reachable as `items`. */
export class ModuleList<M extends Module> extends Module {
  readonly items: readonly M[];

  constructor(items: readonly M[]) {
    super();
    this.items = items.map((m, i) => this.child(String(i), m));
  }
}

/**
 * Sequential(Conv2d, BatchNorm2d, ReLU) whose forward runs the three as one `convBn` unit (ReLU
 * fused into batch norm, or in eval mode without gradients batch norm folded into the conv).
 */
export class ConvBnReLU extends Sequential {
  constructor(
    readonly conv: Conv2d,
    readonly bn: BatchNorm2d,
  ) {
    super(conv, bn, new ReLU());
  }

  override forward(x: Tensor): Tensor {
    return convBn(this.conv, this.bn, x, { activation: 'relu' });
  }
}

/**
 * Sequential(Conv2d(bias=false), BatchNorm2d, ReLU): names 0, 1, 2 as torchvision's ASPPConv and
 * the sequential heads. Padding keeps the size for odd kernels: dilation * (k - 1) / 2.
 */
export function convBnRelu(inC: number, outC: number, k: number, opts: { dilation?: number; generator?: Generator } = {}): ConvBnReLU {
  const dilation = opts.dilation ?? 1;
  const conv = new Conv2d(inC, outC, k, { padding: (dilation * (k - 1)) / 2, dilation, bias: false, generator: opts.generator });
  return new ConvBnReLU(conv, new BatchNorm2d(outC));
}

/** The tensor a single-input head reads: x itself, or the level `level` of backbone features. */
export function headInput(op: string, x: Tensor | BackboneFeatures, level: FeatureLevel): Tensor {
  if (x instanceof Tensor) return x;
  const t = x[level];
  if (!(t instanceof Tensor)) throw new ArgumentError(op, `the features have no level '${level}'`);
  return t;
}

/** Checks a positive integer option. */
export function positiveInt(op: string, name: string, v: number): number {
  if (!Number.isInteger(v) || v < 1) throw new ArgumentError(op, `${name} must be a positive integer, got ${v}`);
  return v;
}
