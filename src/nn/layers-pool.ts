/**
 * Resampling layers with PyTorch's names and defaults: MaxPool2d, AvgPool2d, AdaptiveAvgPool2d and
 * Upsample. They hold no parameters; each forwards to its op in src/ops/pool.ts or interpolate.ts.
 */
import { ArgumentError } from '../errors.js';
import { interpolate, type InterpolateMode, type InterpolateOptions } from '../ops/interpolate.js';
import {
  adaptiveAvgPool2d,
  avgPool2d,
  maxPool2d,
  type AdaptiveSize,
  type AvgPool2dOptions,
  type MaxPool2dOptions,
  type Pair2d,
} from '../ops/pool.js';
import type { Tensor } from '../tensor/tensor.js';
import { Layer } from './layers.js';

/** 2-D max pooling; stride defaults to the kernel size (PyTorch's MaxPool2d). */
export class MaxPool2d extends Layer {
  readonly opts: MaxPool2dOptions;

  constructor(kernelSize: Pair2d, opts: Omit<MaxPool2dOptions, 'kernelSize'> = {}) {
    super();
    this.opts = { ...opts, kernelSize };
  }

  forward(x: Tensor): Tensor {
    return maxPool2d(x, this.opts);
  }
}

/** 2-D average pooling; stride defaults to the kernel size, padding counts (PyTorch's AvgPool2d). */
export class AvgPool2d extends Layer {
  readonly opts: AvgPool2dOptions;

  constructor(kernelSize: Pair2d, opts: Omit<AvgPool2dOptions, 'kernelSize'> = {}) {
    super();
    this.opts = { ...opts, kernelSize };
  }

  forward(x: Tensor): Tensor {
    return avgPool2d(x, this.opts);
  }
}

/** Adaptive average pooling to a fixed output size (1: global average pooling). */
export class AdaptiveAvgPool2d extends Layer {
  constructor(readonly outputSize: AdaptiveSize) {
    super();
  }

  forward(x: Tensor): Tensor {
    return adaptiveAvgPool2d(x, this.outputSize);
  }
}

/** Options of {@link Upsample}: exactly one of size and scaleFactor; mode defaults to 'nearest'. */
export type UpsampleOptions = Omit<InterpolateOptions, 'mode'> & { mode?: InterpolateMode };

/** Resizing by a size or a scale factor (PyTorch's Upsample; default mode 'nearest'). */
export class Upsample extends Layer {
  readonly opts: InterpolateOptions;

  constructor(opts: UpsampleOptions) {
    super();
    if ((opts.size === undefined) === (opts.scaleFactor === undefined)) {
      throw new ArgumentError('Upsample', 'give exactly one of size and scaleFactor');
    }
    this.opts = { ...opts, mode: opts.mode ?? 'nearest' };
  }

  forward(x: Tensor): Tensor {
    return interpolate(x, this.opts);
  }
}
