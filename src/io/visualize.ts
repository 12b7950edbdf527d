/**
 * Predictions and ground truths as pictures: pure functions from host typed arrays (as read back
 * from tensors) to RGBA images, and a PNG encoder. Browser-safe (no Node imports), so the demo page
 * can use the same colours as the reports.
 */
import { encode } from 'fast-png';
import { ArgumentError } from '../errors.js';

/** An 8-bit RGBA image, row-major, 4 bytes per pixel. */
export interface RgbaImage {
  data: Uint8ClampedArray;
  width: number;
  height: number;
}

function checkSize(op: string, len: number, h: number, w: number, channels: number): void {
  if (!Number.isInteger(h) || !Number.isInteger(w) || h <= 0 || w <= 0) {
    throw new ArgumentError(op, `height and width must be positive integers, got ${h}x${w}`);
  }
  if (len !== channels * h * w) {
    throw new ArgumentError(op, `expected ${channels}x${h}x${w} = ${channels * h * w} values, got ${len}`);
  }
}

const to8 = (v: number): number => Math.min(255, Math.max(0, Math.round(v * 255)));

/**
 * Undoes the input normalisation of src/io/image.ts (x = (rgb/255 - mean) / std) for a [3, H, W]
 * (or [1, H, W], shown grey with mean[0]/std[0]) float image: pixel = round((x*std + mean) * 255),
 * clamped to [0, 255]. Non-finite values become 0.
 */
export function imageToRgba(
  chw: Float32Array,
  h: number,
  w: number,
  mean: readonly number[],
  std: readonly number[],
): RgbaImage {
  const n = h * w;
  const channels = n > 0 && chw.length === n ? 1 : 3;
  checkSize('imageToRgba', chw.length, h, w, channels);
  const data = new Uint8ClampedArray(4 * n);
  for (let c = 0; c < 3; c++) {
    const src = channels === 1 ? 0 : c;
    const m = mean[src] ?? 0;
    const s = std[src] ?? 1;
    for (let p = 0; p < n; p++) {
      const v = chw[src * n + p]! * s + m;
      data[4 * p + c] = Number.isFinite(v) ? to8(v) : 0;
    }
  }
  for (let p = 0; p < n; p++) data[4 * p + 3] = 255;
  return { data, width: w, height: h };
}

/**
 * The colour of class `c`: PASCAL VOC's bit-interleaved colour map taken at index c + 1, so that
 * every class (background included) differs from the black used for ignored pixels. The colours of
 * any 2^24 - 1 classes are distinct.
 */
export function classColor(c: number): [number, number, number] {
  let i = c + 1;
  let r = 0;
  let g = 0;
  let b = 0;
  for (let j = 0; j < 8; j++) {
    r |= (i & 1) << (7 - j);
    g |= ((i >> 1) & 1) << (7 - j);
    b |= ((i >> 2) & 1) << (7 - j);
    i >>= 3;
  }
  return [r, g, b];
}

/**
 * Colours a label map [H, W] with {@link classColor}; the `ignore` label (default 255) is black.
 * Any other label outside [0, numClasses) is an ArgumentError naming the value and its pixel.
 */
export function labelsToRgba(labels: Int32Array, h: number, w: number, numClasses: number, ignore = 255): RgbaImage {
  checkSize('labelsToRgba', labels.length, h, w, 1);
  const palette = Array.from({ length: numClasses }, (_, c) => classColor(c));
  const data = new Uint8ClampedArray(4 * h * w);
  for (let p = 0; p < labels.length; p++) {
    const l = labels[p]!;
    data[4 * p + 3] = 255;
    if (l === ignore) continue;
    const col = palette[l];
    if (col === undefined) {
      throw new ArgumentError('labelsToRgba', `label ${l} at (y=${Math.floor(p / w)}, x=${p % w}) is outside [0, ${numClasses}) and is not the ignore label ${ignore}`);
    }
    data[4 * p] = col[0];
    data[4 * p + 1] = col[1];
    data[4 * p + 2] = col[2];
  }
  return { data, width: w, height: h };
}

// Ten evenly spaced samples of matplotlib's viridis (t = 0, 1/9, ..., 1), interpolated linearly.
const VIRIDIS: readonly (readonly [number, number, number])[] = [
  [68, 1, 84], [72, 40, 120], [62, 74, 137], [49, 104, 142], [38, 130, 142],
  [31, 158, 137], [53, 183, 121], [109, 205, 89], [180, 222, 44], [253, 231, 37],
];

/** Viridis at t in [0, 1] (clamped): dark purple at 0, yellow at 1, as 8-bit RGB. */
export function viridis(t: number): [number, number, number] {
  const x = Math.min(1, Math.max(0, t)) * (VIRIDIS.length - 1);
  const i = Math.min(VIRIDIS.length - 2, Math.floor(x));
  const f = x - i;
  const a = VIRIDIS[i]!;
  const b = VIRIDIS[i + 1]!;
  return [0, 1, 2].map((k) => Math.round(a[k]! + (b[k]! - a[k]!) * f)) as [number, number, number];
}

/** Options of {@link depthToRgba}. */
export interface DepthRange {
  /** Depth shown at the dark end of the colormap (clamped below). */
  min: number;
  /** Depth shown at the bright end (clamped above). */
  max: number;
}

/**
 * The [min, max] of the valid (finite, > 0) values over one or more depth maps, so a prediction and
 * its ground truth can share one colour scale; [0, 1] when nothing is valid.
 */
export function depthRange(...maps: Float32Array[]): DepthRange {
  let min = Infinity;
  let max = -Infinity;
  for (const m of maps) {
    for (const v of m) {
      if (Number.isFinite(v) && v > 0) {
        if (v < min) min = v;
        if (v > max) max = v;
      }
    }
  }
  return min <= max ? { min, max } : { min: 0, max: 1 };
}

/**
 * Colours a depth map [H, W] with viridis over `range` (near = dark purple, far = yellow); invalid
 * depths (non-finite or <= 0, the datasets' "no measurement") are black. A range with max <= min
 * maps every valid pixel to the middle of the colormap.
 */
export function depthToRgba(depth: Float32Array, h: number, w: number, range: DepthRange): RgbaImage {
  checkSize('depthToRgba', depth.length, h, w, 1);
  const span = range.max - range.min;
  const data = new Uint8ClampedArray(4 * h * w);
  for (let p = 0; p < depth.length; p++) {
    const v = depth[p]!;
    data[4 * p + 3] = 255;
    if (!Number.isFinite(v) || v <= 0) continue;
    const [r, g, b] = viridis(span > 0 ? (v - range.min) / span : 0.5);
    data[4 * p] = r;
    data[4 * p + 1] = g;
    data[4 * p + 2] = b;
  }
  return { data, width: w, height: h };
}

/**
 * Colours a surface-normal map [3, H, W] (components in [-1, 1]) as rgb = round((n + 1) / 2 * 255),
 * clamped; pixels whose vector is zero (no ground truth) or has a non-finite component are black.
 */
export function normalsToRgba(chw: Float32Array, h: number, w: number): RgbaImage {
  checkSize('normalsToRgba', chw.length, h, w, 3);
  const n = h * w;
  const data = new Uint8ClampedArray(4 * n);
  for (let p = 0; p < n; p++) {
    const x = chw[p]!;
    const y = chw[n + p]!;
    const z = chw[2 * n + p]!;
    data[4 * p + 3] = 255;
    if ((x === 0 && y === 0 && z === 0) || !Number.isFinite(x + y + z)) continue;
    data[4 * p] = to8((x + 1) / 2);
    data[4 * p + 1] = to8((y + 1) / 2);
    data[4 * p + 2] = to8((z + 1) / 2);
  }
  return { data, width: w, height: h };
}

/**
 * Shows a probability map [H, W] (edges, saliency; values in [0, 1], clamped) in grey levels:
 * 0 black, 1 white; non-finite values are black.
 */
export function probToRgba(prob: Float32Array, h: number, w: number): RgbaImage {
  checkSize('probToRgba', prob.length, h, w, 1);
  const data = new Uint8ClampedArray(4 * h * w);
  for (let p = 0; p < prob.length; p++) {
    const v = prob[p]!;
    const g = Number.isFinite(v) ? to8(v) : 0;
    data[4 * p] = g;
    data[4 * p + 1] = g;
    data[4 * p + 2] = g;
    data[4 * p + 3] = 255;
  }
  return { data, width: w, height: h };
}

/** Encodes an RGBA image (4 bytes per pixel, row-major) as an 8-bit RGBA PNG file with fast-png. */
export function encodePng(rgba: Uint8ClampedArray | Uint8Array, w: number, h: number): Uint8Array {
  checkSize('encodePng', rgba.length, h, w, 4);
  const data = new Uint8Array(rgba.buffer, rgba.byteOffset, rgba.byteLength);
  return encode({ width: w, height: h, data, channels: 4, depth: 8 });
}
