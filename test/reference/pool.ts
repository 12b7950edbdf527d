/**
 * Float64 references for pooling and interpolation, written as PyTorch's CPU loops: max pooling
 * (values and argmax indices), average and adaptive average pooling, and bilinear / nearest
 * resizing. The linear ops are expressed as lists of (output, input, weight) terms, so their
 * gradient is the same list read backwards (a scatter, unlike the kernels' gather).
 */
import { ND } from './ndarray.js';

type P2 = [number, number];

/** One term y[out] += w * x[in] of a linear map, with flat (n, c, h, w) offsets. */
interface Term {
  out: number;
  in: number;
  w: number;
}

/** A linear map given as terms: forward sums them, the gradient scatters gy through them. */
class LinearMap {
  constructor(
    readonly inShape: number[],
    readonly outShape: number[],
    readonly terms: Term[],
  ) {}
  apply(x: ND): ND {
    const y = new Float64Array(this.outShape.reduce((a, b) => a * b, 1));
    for (const t of this.terms) y[t.out] += t.w * x.data[t.in]!;
    return new ND(this.outShape, y);
  }
  transpose(gy: ND): ND {
    const gx = new Float64Array(this.inShape.reduce((a, b) => a * b, 1));
    for (const t of this.terms) gx[t.in] += t.w * gy.data[t.out]!;
    return new ND(this.inShape, gx);
  }
}

/** PyTorch's pooling_output_shape: floor or ceil, and the ceil-mode rule for the last window. */
export function poolOut(inSize: number, k: number, s: number, p: number, d: number, ceil: boolean): number {
  const num = inSize + 2 * p - d * (k - 1) - 1 + (ceil ? s - 1 : 0);
  let out = Math.floor(num / s) + 1;
  if (ceil && (out - 1) * s >= inSize + p) out -= 1;
  return out;
}

export interface RefPoolOpts {
  kernel: P2;
  stride?: P2;
  padding?: P2;
  dilation?: P2;
  ceil?: boolean;
}

/** max_pool2d with return_indices: first maximum in row-major tap order; a NaN replaces it. */
export function maxPool2d(x: ND, o: RefPoolOpts): { y: ND; indices: number[] } {
  const [n, c, h, w] = x.shape as [number, number, number, number];
  const [kh, kw] = o.kernel;
  const [sh, sw] = o.stride ?? o.kernel;
  const [ph, pw] = o.padding ?? [0, 0];
  const [dh, dw] = o.dilation ?? [1, 1];
  const oh = poolOut(h, kh, sh, ph, dh, o.ceil ?? false);
  const ow = poolOut(w, kw, sw, pw, dw, o.ceil ?? false);
  const y = new Float64Array(n * c * oh * ow);
  const indices: number[] = [];
  let at = 0;
  for (let plane = 0; plane < n * c; plane++)
    for (let i = 0; i < oh; i++)
      for (let j = 0; j < ow; j++) {
        let best = -Infinity;
        let arg = -1;
        for (let u = 0; u < kh; u++)
          for (let v = 0; v < kw; v++) {
            const iy = i * sh - ph + u * dh;
            const ix = j * sw - pw + v * dw;
            if (iy < 0 || iy >= h || ix < 0 || ix >= w) continue;
            const val = x.data[plane * h * w + iy * w + ix]!;
            if (arg < 0) arg = iy * w + ix;
            if (val > best || Number.isNaN(val)) {
              best = val;
              arg = iy * w + ix;
            }
          }
        y[at] = best;
        indices.push(arg);
        at++;
      }
  return { y: new ND([n, c, oh, ow], y), indices };
}

/** Gradient of max_pool2d: gy scattered onto the chosen elements. */
export function maxPool2dGrad(xShape: readonly number[], indices: readonly number[], gy: ND): ND {
  const [, , h, w] = xShape as [number, number, number, number];
  const [, , oh, ow] = gy.shape as [number, number, number, number];
  const gx = new Float64Array(xShape.reduce((a, b) => a * b, 1));
  for (let o = 0; o < gy.size; o++) gx[Math.floor(o / (oh * ow)) * h * w + indices[o]!] += gy.data[o]!;
  return new ND([...xShape], gx);
}

export interface RefAvgOpts {
  kernel: P2;
  stride?: P2;
  padding?: P2;
  ceil?: boolean;
  countIncludePad?: boolean;
  divisor?: number;
}

function avgMap(shape: readonly number[], o: RefAvgOpts): LinearMap {
  const [n, c, h, w] = shape as [number, number, number, number];
  const [kh, kw] = o.kernel;
  const [sh, sw] = o.stride ?? o.kernel;
  const [ph, pw] = o.padding ?? [0, 0];
  const oh = poolOut(h, kh, sh, ph, 1, o.ceil ?? false);
  const ow = poolOut(w, kw, sw, pw, 1, o.ceil ?? false);
  const terms: Term[] = [];
  for (let plane = 0; plane < n * c; plane++)
    for (let i = 0; i < oh; i++)
      for (let j = 0; j < ow; j++) {
        let y0 = i * sh - ph;
        let x0 = j * sw - pw;
        let y1 = Math.min(y0 + kh, h + ph);
        let x1 = Math.min(x0 + kw, w + pw);
        const poolSize = (y1 - y0) * (x1 - x0);
        y0 = Math.max(y0, 0);
        x0 = Math.max(x0, 0);
        y1 = Math.min(y1, h);
        x1 = Math.min(x1, w);
        const div = o.divisor ?? ((o.countIncludePad ?? true) ? poolSize : (y1 - y0) * (x1 - x0));
        const out = (plane * oh + i) * ow + j;
        for (let iy = y0; iy < y1; iy++) for (let ix = x0; ix < x1; ix++) terms.push({ out, in: plane * h * w + iy * w + ix, w: 1 / div });
      }
  return new LinearMap([n, c, h, w], [n, c, oh, ow], terms);
}

/** avg_pool2d (no dilation, as PyTorch). */
export const avgPool2d = (x: ND, o: RefAvgOpts): ND => avgMap(x.shape, o).apply(x);
/** Gradient of avg_pool2d at any x of shape `xShape`. */
export const avgPool2dGrad = (xShape: readonly number[], o: RefAvgOpts, gy: ND): ND => avgMap(xShape, o).transpose(gy);

function adaptiveMap(shape: readonly number[], [oh, ow]: P2): LinearMap {
  const [n, c, h, w] = shape as [number, number, number, number];
  const terms: Term[] = [];
  for (let plane = 0; plane < n * c; plane++)
    for (let i = 0; i < oh; i++)
      for (let j = 0; j < ow; j++) {
        const y0 = Math.floor((i * h) / oh);
        const y1 = Math.ceil(((i + 1) * h) / oh);
        const x0 = Math.floor((j * w) / ow);
        const x1 = Math.ceil(((j + 1) * w) / ow);
        const out = (plane * oh + i) * ow + j;
        const wt = 1 / ((y1 - y0) * (x1 - x0));
        for (let iy = y0; iy < y1; iy++) for (let ix = x0; ix < x1; ix++) terms.push({ out, in: plane * h * w + iy * w + ix, w: wt });
      }
  return new LinearMap([n, c, h, w], [n, c, oh, ow], terms);
}

/** adaptive_avg_pool2d. */
export const adaptiveAvgPool2d = (x: ND, size: P2): ND => adaptiveMap(x.shape, size).apply(x);
/** Gradient of adaptive_avg_pool2d. */
export const adaptiveAvgPool2dGrad = (xShape: readonly number[], size: P2, gy: ND): ND => adaptiveMap(xShape, size).transpose(gy);

export interface RefInterpOpts {
  mode: 'bilinear' | 'nearest';
  size?: P2;
  scaleFactor?: P2;
  alignCorners?: boolean;
  recompute?: boolean;
}

/** Output size and, per axis, the scale factor ATen sees (null when sizes decide). */
export function interpSizes(h: number, w: number, o: RefInterpOpts): { out: P2; factors: [number | null, number | null] } {
  if (o.size) return { out: o.size, factors: [null, null] };
  const f = o.scaleFactor!;
  return { out: [Math.floor(h * f[0]), Math.floor(w * f[1])], factors: o.recompute ? [null, null] : [f[0], f[1]] };
}

/** Source taps (index, weight) of output d along one axis, per ATen's UpSample.h. */
function taps(inSize: number, out: number, d: number, o: RefInterpOpts, factor: number | null): [number, number][] {
  if (o.mode === 'nearest') {
    // nearest_idx: exact for equal and doubled sizes, otherwise floor(d * scale) with a float32 scale.
    if (out === inSize) return [[d, 1]];
    if (out === 2 * inSize) return [[d >> 1, 1]];
    const scale = Math.fround(factor !== null ? 1 / factor : inSize / out);
    return [[Math.min(Math.floor(Math.fround(d * scale)), inSize - 1), 1]];
  }
  if (out === inSize) return [[d, 1]];
  let src: number;
  if (o.alignCorners) src = out > 1 ? (d * (inSize - 1)) / (out - 1) : 0;
  else src = Math.max((d + 0.5) * (factor !== null ? 1 / factor : inSize / out) - 0.5, 0);
  const i0 = Math.min(Math.floor(src), inSize - 1);
  const l = Math.min(Math.max(src - i0, 0), 1);
  return [
    [i0, 1 - l],
    [Math.min(i0 + 1, inSize - 1), l],
  ];
}

function interpMap(shape: readonly number[], o: RefInterpOpts): LinearMap {
  const [n, c, h, w] = shape as [number, number, number, number];
  const { out, factors } = interpSizes(h, w, o);
  const [oh, ow] = out;
  const terms: Term[] = [];
  for (let plane = 0; plane < n * c; plane++)
    for (let i = 0; i < oh; i++)
      for (let j = 0; j < ow; j++) {
        const outIdx = (plane * oh + i) * ow + j;
        for (const [iy, wy] of taps(h, oh, i, o, factors[0]))
          for (const [ix, wx] of taps(w, ow, j, o, factors[1])) terms.push({ out: outIdx, in: plane * h * w + iy * w + ix, w: wy * wx });
      }
  return new LinearMap([n, c, h, w], [n, c, oh, ow], terms);
}

/** F.interpolate in 'bilinear' or 'nearest' mode. */
export const interpolate = (x: ND, o: RefInterpOpts): ND => interpMap(x.shape, o).apply(x);
/** Gradient of F.interpolate. */
export const interpolateGrad = (xShape: readonly number[], o: RefInterpOpts, gy: ND): ND => interpMap(xShape, o).transpose(gy);
