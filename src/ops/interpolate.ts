/**
 * Differentiable resizing of NCHW input (torch.nn.functional.interpolate) in 'bilinear' and
 * 'nearest' modes. Source indices and weights follow ATen exactly (float32 scales, clamping, the
 * special cases for equal and doubled sizes); forward and backward are WGSL kernels
 * (shaders/interpolate.wgsl), the backward a gather without atomics.
 */
import { ArgumentError, ShapeError } from '../errors.js';
import { record } from '../autograd/tape.js';
import type { Tensor } from '../tensor/tensor.js';
import { interpolateBackward, interpolateForward, interpolateTables, type InterpolateMode } from './kernels/interpolate.js';
import { requireF32 } from './kernels/util.js';

export type { InterpolateMode } from './kernels/interpolate.js';

/** Options of {@link interpolate}; give exactly one of `size` and `scaleFactor`. */
export interface InterpolateOptions {
  /** Output size: n or [h, w]. */
  size?: number | readonly [number, number];
  /** Output size floor(in * factor) per axis: one factor or [h, w]. */
  scaleFactor?: number | readonly [number, number];
  /** 'bilinear' or 'nearest' (PyTorch's floor rule, not 'nearest-exact'). */
  mode: InterpolateMode;
  /**
   * Bilinear only: map the corner pixel centres onto each other, src = dst (in - 1) / (out - 1).
   * Default false: src = (dst + 0.5) in / out - 0.5, clamped at 0.
   */
  alignCorners?: boolean;
  /**
   * With scaleFactor: compute the source positions from the sizes (in / out) instead of from
   * 1 / scaleFactor (default false, which is PyTorch's recompute_scale_factor=None).
   */
  recomputeScaleFactor?: boolean;
}

function twoOf(v: number | readonly [number, number]): [number, number] {
  return typeof v === 'number' ? [v, v] : [v[0], v[1]];
}

/**
 * Resizes x [n, c, h, w] to [n, c, oh, ow] (torch.nn.functional.interpolate). Bilinear mixes the
 * four nearest source pixels (alignCorners chooses the coordinate mapping); nearest copies the
 * pixel floor(dst * scale), with scale = in / out or 1 / scaleFactor when a factor was given.
 */
export function interpolate(x: Tensor, opts: InterpolateOptions): Tensor {
  const op = 'interpolate';
  x.storageFor(op);
  requireF32(op, x);
  if (x.rank !== 4) throw new ShapeError(op, [x.shape], 'input must be NCHW (rank 4)');
  const [, , h, w] = x.shape as [number, number, number, number];
  const mode = opts.mode;
  if (mode !== 'bilinear' && mode !== 'nearest') throw new ArgumentError(op, `mode must be 'bilinear' or 'nearest', got ${JSON.stringify(mode)}`);
  if (mode === 'nearest' && opts.alignCorners) throw new ArgumentError(op, "alignCorners can only be set with mode 'bilinear'");
  if ((opts.size === undefined) === (opts.scaleFactor === undefined)) {
    throw new ArgumentError(op, 'give exactly one of size and scaleFactor');
  }
  if (h === 0 || w === 0) throw new ShapeError(op, [x.shape], `input height and width must be positive, got ${h}x${w}`);
  let oh: number;
  let ow: number;
  let factors: [number | null, number | null] = [null, null];
  if (opts.size !== undefined) {
    [oh, ow] = twoOf(opts.size);
    if (![oh, ow].every((v) => Number.isInteger(v) && v >= 1)) {
      throw new ArgumentError(op, `size must be one or two positive integers, got ${JSON.stringify(opts.size)}`);
    }
  } else {
    const f = twoOf(opts.scaleFactor!);
    if (!f.every((v) => Number.isFinite(v) && v > 0)) {
      throw new ArgumentError(op, `scaleFactor must be one or two positive finite numbers, got ${JSON.stringify(opts.scaleFactor)}`);
    }
    oh = Math.floor(h * f[0]);
    ow = Math.floor(w * f[1]);
    if (oh < 1 || ow < 1) {
      throw new ShapeError(op, [x.shape], `scaleFactor [${f}] gives an empty output ${oh}x${ow}`);
    }
    if (!opts.recomputeScaleFactor) factors = f;
  }
  const alignCorners = mode === 'bilinear' && (opts.alignCorners ?? false);
  const rt = x.runtime;
  const tables = () => interpolateTables(rt, mode, alignCorners, h, w, oh, ow, factors);
  const y = interpolateForward(x, tables(), mode);
  // d interp: each source pixel receives gy times the weight it had in every output that read it
  return record(op, [x], y, [], (gy) => [interpolateBackward(gy, tables())]);
}
