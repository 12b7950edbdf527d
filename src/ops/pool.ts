/**
 * Differentiable 2-D pooling over NCHW input with PyTorch semantics: max pooling (with argmax
 * indices), average pooling and adaptive average pooling. Forward and backward are both WGSL
 * kernels (shaders/pool.wgsl); the backward passes gather, one invocation per input element, so
 * they need no atomics and give the same sums in the same order on every run.
 */
import { ArgumentError, ShapeError } from '../errors.js';
import { record } from '../autograd/tape.js';
import type { Tensor } from '../tensor/tensor.js';
import {
  adaptiveAvgPoolTables,
  avgPoolTables,
  maxPoolBackward,
  maxPoolForward,
  poolOutSize,
  windowPoolBackward,
  windowPoolForward,
  type PoolGeom,
} from './kernels/pool.js';
import { requireF32 } from './kernels/util.js';

/** One number for both spatial axes, or [height, width]. */
export type Pair2d = number | readonly [number, number];

/** Options of {@link maxPool2d} (torch.nn.functional.max_pool2d). */
export interface MaxPool2dOptions {
  /** Window size: n or [h, w]. */
  kernelSize: Pair2d;
  /** Step between windows (default: the kernel size). */
  stride?: Pair2d;
  /** Implicit -inf padding on both sides, at most half the kernel size (default 0). */
  padding?: Pair2d;
  /** Spacing between window taps (default 1). */
  dilation?: Pair2d;
  /** Round the output size up instead of down; a last window starting in the right padding is dropped. */
  ceilMode?: boolean;
}

/** Options of {@link avgPool2d} (torch.nn.functional.avg_pool2d). */
export interface AvgPool2dOptions {
  /** Window size: n or [h, w]. */
  kernelSize: Pair2d;
  /** Step between windows (default: the kernel size). */
  stride?: Pair2d;
  /** Implicit zero padding on both sides, at most half the kernel size (default 0). */
  padding?: Pair2d;
  /** Round the output size up instead of down (default false). */
  ceilMode?: boolean;
  /** Count padded positions in the divisor (default true, as PyTorch). */
  countIncludePad?: boolean;
  /** Divide every window sum by this non-zero integer instead. */
  divisorOverride?: number;
}

/** Output size of {@link adaptiveAvgPool2d}: n, or [h, w] where null keeps that input size. */
export type AdaptiveSize = number | readonly [number | null, number | null];

function pair(op: string, name: string, v: Pair2d | undefined, dflt: readonly [number, number] | null, min: number): [number, number] {
  if (v === undefined) {
    if (!dflt) throw new ArgumentError(op, `${name} is required`);
    return [dflt[0], dflt[1]];
  }
  const p: [number, number] = typeof v === 'number' ? [v, v] : [v[0], v[1]];
  if ((typeof v !== 'number' && v.length !== 2) || !p.every((x) => Number.isInteger(x) && x >= min)) {
    throw new ArgumentError(op, `${name} must be one integer or two, each >= ${min}; got ${JSON.stringify(v)}`);
  }
  return p;
}

/** Checks x is a live f32 NCHW tensor with a non-empty plane; returns its dims. */
function checkInput(op: string, x: Tensor): [number, number, number, number] {
  x.storageFor(op);
  requireF32(op, x);
  if (x.rank !== 4) throw new ShapeError(op, [x.shape], 'input must be NCHW (rank 4)');
  const [n, c, h, w] = x.shape as [number, number, number, number];
  if (h === 0 || w === 0) throw new ShapeError(op, [x.shape], `input height and width must be positive, got ${h}x${w}`);
  return [n, c, h, w];
}

/** Validated window geometry and output size, with PyTorch's checks and ceil-mode rule. */
function geometry(
  op: string,
  x: Tensor,
  o: { kernelSize: Pair2d; stride?: Pair2d; padding?: Pair2d; dilation?: Pair2d; ceilMode?: boolean },
): { g: PoolGeom; oh: number; ow: number } {
  const [, , h, w] = checkInput(op, x);
  const [kh, kw] = pair(op, 'kernelSize', o.kernelSize, null, 1);
  const [sh, sw] = pair(op, 'stride', o.stride, [kh, kw], 1);
  const [ph, pw] = pair(op, 'padding', o.padding, [0, 0], 0);
  const [dh, dw] = pair(op, 'dilation', o.dilation, [1, 1], 1);
  if (ph > Math.floor(kh / 2) || pw > Math.floor(kw / 2)) {
    throw new ArgumentError(op, `padding [${ph},${pw}] must be at most half the kernel size [${kh},${kw}] (input [${x.shape}])`);
  }
  const ekh = dh * (kh - 1) + 1;
  const ekw = dw * (kw - 1) + 1;
  if (ekh > h + 2 * ph || ekw > w + 2 * pw) {
    throw new ShapeError(
      op,
      [x.shape],
      `kernel extent ${ekh}x${ekw} (kernel [${kh},${kw}], dilation [${dh},${dw}]) is larger than the padded input ${h + 2 * ph}x${w + 2 * pw}`,
    );
  }
  const ceil = o.ceilMode ?? false;
  const oh = poolOutSize(h, kh, sh, ph, dh, ceil);
  const ow = poolOutSize(w, kw, sw, pw, dw, ceil);
  if (oh < 1 || ow < 1) throw new ShapeError(op, [x.shape], `the output size ${oh}x${ow} is too small`);
  return { g: { kh, kw, sh, sw, ph, pw, dh, dw }, oh, ow };
}

function maxPool(op: string, x: Tensor, opts: MaxPool2dOptions, withIndices: boolean): { output: Tensor; indices: Tensor } {
  const { g, oh, ow } = geometry(op, x, opts);
  const [, , h, w] = x.shape as [number, number, number, number];
  const { y, indices } = maxPoolForward(x, g, oh, ow);
  // The rule reads the indices through its own handle, so a caller may dispose theirs.
  const saved = withIndices ? indices.view(indices.shape) : indices;
  // d maxpool: each output's gradient goes to the input element it picked (summed where picked twice)
  const output = record(op, [x], y, [saved], (gy) => [maxPoolBackward(gy, saved, g, h, w)]);
  if (!output.requiresGrad) saved.dispose();
  return { output, indices };
}

/**
 * 2-D max pooling of x [n, c, h, w] (torch.nn.functional.max_pool2d): each output is the maximum
 * of its window (stride, -inf padding, dilation, ceil mode as PyTorch). A NaN in a window wins.
 * The gradient flows to the first maximum of each window (the element PyTorch's indices name).
 * The window can be given as PyTorch does, `maxPool2d(x, 2)` or `maxPool2d(x, 3, { stride: 2 })`,
 * or inside the options, `maxPool2d(x, { kernelSize: 2 })`.
 */
export function maxPool2d(x: Tensor, kernelSize: Pair2d, opts?: Omit<MaxPool2dOptions, 'kernelSize'>): Tensor;
export function maxPool2d(x: Tensor, opts: MaxPool2dOptions): Tensor;
export function maxPool2d(x: Tensor, k: Pair2d | MaxPool2dOptions, rest?: Omit<MaxPool2dOptions, 'kernelSize'>): Tensor {
  return maxPool('maxPool2d', x, withKernel(k, rest), false).output;
}

/**
 * The options of a pooling call written either way: `(x, { kernelSize, ... })`, or PyTorch's
 * `(x, kernelSize, { stride, ... })`.
 */
function withKernel<O extends { kernelSize: Pair2d }>(k: Pair2d | O, rest: Omit<O, 'kernelSize'> | undefined): O {
  return typeof k === 'number' || Array.isArray(k) ? ({ ...(rest ?? {}), kernelSize: k as Pair2d } as O) : (k as O);
}

/**
 * {@link maxPool2d} that also returns `indices` (i32, the output's shape): the flat position
 * iy * w + ix of each chosen element within its (n, c) input plane, as PyTorch's return_indices.
 */
export function maxPool2dWithIndices(x: Tensor, kernelSize: Pair2d, opts?: Omit<MaxPool2dOptions, 'kernelSize'>): { output: Tensor; indices: Tensor };
export function maxPool2dWithIndices(x: Tensor, opts: MaxPool2dOptions): { output: Tensor; indices: Tensor };
export function maxPool2dWithIndices(x: Tensor, k: Pair2d | MaxPool2dOptions, rest?: Omit<MaxPool2dOptions, 'kernelSize'>): { output: Tensor; indices: Tensor } {
  return maxPool('maxPool2dWithIndices', x, withKernel(k, rest), true);
}

/**
 * 2-D average pooling of x [n, c, h, w] (torch.nn.functional.avg_pool2d). Windows are clipped to
 * the padded input; the divisor counts the padding (countIncludePad, default true) or only the
 * input elements in the window, or is `divisorOverride`. `avgPool2d(x, 2)` and
 * `avgPool2d(x, { kernelSize: 2 })` are the same call.
 */
export function avgPool2d(x: Tensor, kernelSize: Pair2d, opts?: Omit<AvgPool2dOptions, 'kernelSize'>): Tensor;
export function avgPool2d(x: Tensor, opts: AvgPool2dOptions): Tensor;
export function avgPool2d(x: Tensor, k: Pair2d | AvgPool2dOptions, rest?: Omit<AvgPool2dOptions, 'kernelSize'>): Tensor {
  const op = 'avgPool2d';
  const opts = withKernel<AvgPool2dOptions>(k, rest);
  const { g, oh, ow } = geometry(op, x, { ...opts, dilation: 1 });
  const div = opts.divisorOverride ?? null;
  if (div !== null && (!Number.isInteger(div) || div === 0)) throw new ArgumentError(op, `divisorOverride must be a non-zero integer, got ${div}`);
  const [, , h, w] = x.shape as [number, number, number, number];
  const rt = x.runtime;
  const tables = () => avgPoolTables(rt, h, w, oh, ow, g, opts.countIncludePad ?? true, div);
  const y = windowPoolForward(x, tables(), op);
  // d avg: every element of a window receives gy / divisor of that window
  return record(op, [x], y, [], (gy) => [windowPoolBackward(gy, tables(), op)]);
}

/**
 * Adaptive average pooling (torch.nn.functional.adaptive_avg_pool2d) of x [n, c, h, w] to
 * `outputSize`: output (i, j) averages rows [floor(i h / oh), ceil((i + 1) h / oh)) and likewise
 * columns. Output size 1 is global average pooling.
 */
export function adaptiveAvgPool2d(x: Tensor, outputSize: AdaptiveSize): Tensor {
  const op = 'adaptiveAvgPool2d';
  const [, , h, w] = checkInput(op, x);
  const raw = typeof outputSize === 'number' ? [outputSize, outputSize] : [outputSize[0], outputSize[1]];
  const [oh, ow] = [raw[0] ?? h, raw[1] ?? w];
  if ((typeof outputSize !== 'number' && outputSize.length !== 2) || ![oh, ow].every((v) => Number.isInteger(v) && v >= 1)) {
    throw new ArgumentError(op, `outputSize must be a positive integer or two (null keeps the input size); got ${JSON.stringify(outputSize)} for input ${h}x${w}`);
  }
  const rt = x.runtime;
  const tables = () => adaptiveAvgPoolTables(rt, h, w, oh, ow);
  const y = windowPoolForward(x, tables(), op);
  // d avg: every element of a window receives gy / window size (windows may overlap)
  return record(op, [x], y, [], (gy) => [windowPoolBackward(gy, tables(), op)]);
}
