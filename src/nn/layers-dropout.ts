/**
 * Dropout layers (PyTorch's Dropout and Dropout2d): active in training mode, the identity in eval
 * mode. Masks come from a {@link DropoutRng} (the shared default unless one is given), so a run is
 * reproducible from its seed and resumes exactly from a saved (seed, offset).
 */
import { ArgumentError } from '../errors.js';
import { defaultDropoutRng, dropout, dropout2d, type DropoutRng } from '../ops/dropout.js';
import type { Tensor } from '../tensor/tensor.js';
import { Layer } from './layers.js';

/** Options of {@link Dropout} and {@link Dropout2d}. */
export interface DropoutLayerOptions {
  /** The generator to draw masks from (default: defaultDropoutRng, shared by all layers). */
  rng?: DropoutRng;
}

abstract class DropoutBase extends Layer {
  constructor(
    readonly p: number,
    readonly opts: DropoutLayerOptions,
  ) {
    super();
    if (!(p >= 0 && p <= 1)) throw new ArgumentError(new.target.name, `dropout probability must be in [0, 1], got ${p}`);
  }

  /** The generator this layer draws its masks from. */
  get rng(): DropoutRng {
    return this.opts.rng ?? defaultDropoutRng;
  }
}

/** Zeroes each element with probability p (default 0.5) and scales the rest by 1 / (1 - p). */
export class Dropout extends DropoutBase {
  constructor(p = 0.5, opts: DropoutLayerOptions = {}) {
    super(p, opts);
  }

  forward(x: Tensor): Tensor {
    return dropout(x, this.p, { training: this.training, rng: this.rng });
  }
}

/** Zeroes whole channels of NCHW input with probability p (default 0.5), scaling the rest by 1 / (1 - p). */
export class Dropout2d extends DropoutBase {
  constructor(p = 0.5, opts: DropoutLayerOptions = {}) {
    super(p, opts);
  }

  forward(x: Tensor): Tensor {
    return dropout2d(x, this.p, { training: this.training, rng: this.rng });
  }
}
