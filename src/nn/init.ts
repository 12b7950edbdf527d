/**
 * Seeded initialisers (PyTorch's formulas). Each returns a new host-generated tensor.
 */
import { ArgumentError } from '../errors.js';
import { full, fromArray } from '../tensor/creation.js';
import { Generator, defaultGenerator } from '../tensor/random.js';
import { sizeOf, type Shape } from '../tensor/shape.js';
import type { Tensor } from '../tensor/tensor.js';

/** fan_in and fan_out of a weight shape ([out, in, ...kernel]), as torch.nn.init. */
export function fans(shape: Shape): { fanIn: number; fanOut: number } {
  if (shape.length < 2) throw new ArgumentError('init', `fan in/out need a weight of rank >= 2, got [${shape.join(',')}]`);
  const field = sizeOf(shape.slice(2));
  return { fanIn: shape[1]! * field, fanOut: shape[0]! * field };
}

/** Gain for a nonlinearity (torch.nn.init.calculate_gain). */
export function gain(nonlinearity: 'linear' | 'relu' | 'leakyRelu' | 'tanh' | 'sigmoid', slope = 0.01): number {
  switch (nonlinearity) {
    case 'relu':
      return Math.SQRT2;
    case 'leakyRelu':
      return Math.sqrt(2 / (1 + slope * slope));
    case 'tanh':
      return 5 / 3;
    default:
      return 1;
  }
}

/** Options shared by the random initialisers. */
export interface InitOptions {
  generator?: Generator;
}

function uniform(shape: Shape, bound: number, g: Generator): Tensor {
  return fromArray(g.uniform(sizeOf(shape), -bound, bound), shape);
}

/** Kaiming (He) normal: std = gain / sqrt(fan), fan = fan_in (default) or fan_out. */
export function kaimingNormal(shape: Shape, opts: InitOptions & { mode?: 'fanIn' | 'fanOut'; nonlinearity?: 'relu' | 'leakyRelu' | 'linear'; slope?: number } = {}): Tensor {
  const f = fans(shape);
  const fan = opts.mode === 'fanOut' ? f.fanOut : f.fanIn;
  const std = gain(opts.nonlinearity ?? 'relu', opts.slope ?? 0) / Math.sqrt(fan);
  return fromArray((opts.generator ?? defaultGenerator).normal(sizeOf(shape), 0, std), shape);
}

/** Kaiming uniform: bound = gain * sqrt(3 / fan). With a = sqrt(5) this is PyTorch's default for conv/linear weights. */
export function kaimingUniform(shape: Shape, opts: InitOptions & { a?: number; mode?: 'fanIn' | 'fanOut'; nonlinearity?: 'relu' | 'leakyRelu' | 'linear' } = {}): Tensor {
  const f = fans(shape);
  const fan = opts.mode === 'fanOut' ? f.fanOut : f.fanIn;
  const g = gain(opts.nonlinearity ?? 'leakyRelu', opts.a ?? 0);
  return uniform(shape, g * Math.sqrt(3 / fan), opts.generator ?? defaultGenerator);
}

/** Xavier (Glorot) uniform: bound = gain * sqrt(6 / (fan_in + fan_out)). */
export function xavierUniform(shape: Shape, opts: InitOptions & { gain?: number } = {}): Tensor {
  const f = fans(shape);
  return uniform(shape, (opts.gain ?? 1) * Math.sqrt(6 / (f.fanIn + f.fanOut)), opts.generator ?? defaultGenerator);
}

/** Xavier (Glorot) normal: std = gain * sqrt(2 / (fan_in + fan_out)). */
export function xavierNormal(shape: Shape, opts: InitOptions & { gain?: number } = {}): Tensor {
  const f = fans(shape);
  const std = (opts.gain ?? 1) * Math.sqrt(2 / (f.fanIn + f.fanOut));
  return fromArray((opts.generator ?? defaultGenerator).normal(sizeOf(shape), 0, std), shape);
}

/** PyTorch's default bias init for a layer with this weight shape: U(-1/sqrt(fan_in), 1/sqrt(fan_in)). */
export function defaultBias(weightShape: Shape, n: number, opts: InitOptions = {}): Tensor {
  const { fanIn } = fans(weightShape);
  return uniform([n], fanIn > 0 ? 1 / Math.sqrt(fanIn) : 0, opts.generator ?? defaultGenerator);
}

/** A constant tensor. */
export function constant(shape: Shape, value: number): Tensor {
  return full(shape, value);
}
