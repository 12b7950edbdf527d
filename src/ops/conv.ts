/**
 * Differentiable 2-D convolution and transposed convolution (NCHW input, OIHW weight, PyTorch
 * semantics), with a fused bias + residual + ReLU epilogue for conv2d.
 *
 * Each pass works on the padded input and runs as matmuls over im2col chunks, or as the direct kernel
 * for small and grouped convolutions (src/ops/kernels/conv.ts chooses):
 *   forward           y = w * im2col(pad(x))
 *   input gradient    dx = col2im(w^T * gy)
 *   weight gradient   dw = gy * im2col(pad(x))^T, the pixels as the reduction
 *   convTranspose2d   is conv2d's input gradient, and its gradients are conv2d forward / weight grad.
 */
import { ShapeError, ArgumentError } from '../errors.js';
import { record } from '../autograd/tape.js';
import type { Tensor } from '../tensor/tensor.js';
import * as k from './kernels/index.js';
import { convForward, convInputGrad, convOut, convWeightGrad, dilatePad, type ConvGeom } from './kernels/conv.js';
import { requireF32 } from './kernels/util.js';
import { addFlops } from './flops.js';

type Pair = number | readonly [number, number];

/** Options of {@link conv2d}. */
export interface Conv2dOptions {
  /** Step between output pixels: one number or [h, w] (default 1). */
  stride?: Pair;
  /** Zero padding: n, [h, w] (both sides) or [left, right, top, bottom] (F.pad order). Default 0. */
  padding?: number | readonly [number, number] | readonly [number, number, number, number];
  /** Spacing between kernel taps: one number or [h, w] (default 1). */
  dilation?: Pair;
  /** Channel groups; groups = in channels = out channels is depthwise (default 1). */
  groups?: number;
  /** Fused epilogue: ReLU after bias and residual. */
  activation?: 'relu' | 'none';
  /** Fused epilogue: a tensor of the output's shape added before the activation. */
  residual?: Tensor;
}

function pair(op: string, name: string, v: Pair | undefined, dflt: number, min: number): [number, number] {
  const p: [number, number] = v === undefined ? [dflt, dflt] : typeof v === 'number' ? [v, v] : [v[0], v[1]];
  if (!p.every((x) => Number.isInteger(x) && x >= min)) throw new ArgumentError(op, `${name} must be integers >= ${min}, got [${p}]`);
  return p;
}

/** [left, right, top, bottom] */
function pads(op: string, v: Conv2dOptions['padding']): [number, number, number, number] {
  let p: [number, number, number, number];
  if (v === undefined) p = [0, 0, 0, 0];
  else if (typeof v === 'number') p = [v, v, v, v];
  else if (v.length === 2) p = [v[1], v[1], v[0], v[0]];
  else p = [v[0], v[1], v[2], v[3]];
  if (!p.every((x) => Number.isInteger(x) && x >= 0)) throw new ArgumentError(op, `padding must be non-negative integers, got [${p}]`);
  return p;
}

function checkGroups(op: string, x: Tensor, w: Tensor, groups: number, inPerGroup: number, outTotal: number): void {
  if (!Number.isInteger(groups) || groups < 1) throw new ArgumentError(op, `groups must be a positive integer, got ${groups}`);
  const c = x.shape[1]!;
  if (c % groups !== 0 || outTotal % groups !== 0) {
    throw new ShapeError(op, [x.shape, w.shape], `channels (${c} in, ${outTotal} out) must be divisible by groups=${groups}`);
  }
  if (inPerGroup !== c / groups) {
    throw new ShapeError(op, [x.shape, w.shape], `the weight expects ${inPerGroup * groups} input channels (groups=${groups}) but the input has ${c}`);
  }
}

function checkRank4(op: string, x: Tensor, w: Tensor): void {
  requireF32(op, x, w);
  if (x.rank !== 4) throw new ShapeError(op, [x.shape], 'input must be NCHW (rank 4)');
  if (w.rank !== 4) throw new ShapeError(op, [w.shape], 'weight must be rank 4');
}

function checkBias(op: string, bias: Tensor | null | undefined, n: number): void {
  if (!bias) return;
  requireF32(op, bias);
  if (bias.rank !== 1 || bias.shape[0] !== n) throw new ShapeError(op, [bias.shape], `bias must have shape [${n}]`);
}

/** Sum of gy over batch and space: the bias gradient. */
function biasGrad(gy: Tensor): Tensor {
  return k.reduce('sum', gy, [0, 2, 3]);
}

/**
 * 2-D convolution (cross-correlation, as torch.nn.functional.conv2d) of x [n, c, h, w] with
 * weight [o, c/groups, kh, kw] and optional bias [o]. Options add stride, padding (also per side),
 * dilation, groups and a fused residual add and ReLU.
 */
export function conv2d(x: Tensor, weight: Tensor, bias?: Tensor | null, opts: Conv2dOptions = {}): Tensor {
  const op = 'conv2d';
  checkRank4(op, x, weight);
  const [n, c, h, w] = x.shape as [number, number, number, number];
  const [o, cg, kh, kw] = weight.shape as [number, number, number, number];
  const groups = opts.groups ?? 1;
  checkGroups(op, x, weight, groups, cg, o);
  checkBias(op, bias, o);
  const [sh, sw] = pair(op, 'stride', opts.stride, 1, 1);
  const [dh, dw] = pair(op, 'dilation', opts.dilation, 1, 1);
  const [pl, pr, pt, pb] = pads(op, opts.padding);
  const hp = h + pt + pb;
  const wp = w + pl + pr;
  const ekh = dh * (kh - 1) + 1;
  const ekw = dw * (kw - 1) + 1;
  if (ekh > hp || ekw > wp) {
    throw new ShapeError(op, [x.shape, weight.shape], `kernel extent ${ekh}x${ekw} (with dilation) is larger than the padded input ${hp}x${wp}`);
  }
  const oh = convOut(hp, kh, sh, dh);
  const ow = convOut(wp, kw, sw, dw);
  const res = opts.residual ?? null;
  if (res) {
    requireF32(op, res);
    if (res.rank !== 4 || res.shape[0] !== n || res.shape[1] !== o || res.shape[2] !== oh || res.shape[3] !== ow) {
      throw new ShapeError(op, [res.shape], `residual must have the output shape [${n},${o},${oh},${ow}]`);
    }
  }
  const relu = opts.activation === 'relu';
  addFlops(op, 2 * n * oh * ow * weight.size); // multiply-adds x 2: every output pixel meets the whole filter
  const geom: ConvGeom = { groups, kh, kw, sh, sw, dh, dw };
  const padded = pl + pr + pt + pb > 0;
  const xp = padded ? dilatePad(x, pt, pl, 1, 1, hp, wp) : x;
  const y = convForward(xp, weight, geom, bias ?? null, res, relu);
  const inputs = [x, weight, ...(bias ? [bias] : []), ...(res ? [res] : [])];
  // The graph keeps x (an input) anyway; keeping the padded copy as well would hold every padded
  // convolution's input twice until backward (a third of a ResNet step's activation memory), so
  // the weight gradient pads x again when it runs.
  const saved = [x, weight, ...(relu ? [y] : [])];
  const result = record(op, inputs, y, saved, (gyIn, needs) => {
    // Through the fused ReLU first: d relu = [y > 0]
    const gy = relu ? k.binary('reluGrad', gyIn, y) : gyIn;
    const out: (Tensor | null)[] = inputs.map(() => null);
    // dx = the adjoint of the correlation: w^T gy gathered back onto the input pixels
    if (needs[0]) out[0] = convInputGrad(gy, weight, geom, pt, pl, h, w);
    // dw[o, c, i, j] = sum over n and pixels of gy * the matching input patch element
    if (needs[1]) {
      const xq = padded ? dilatePad(x, pt, pl, 1, 1, hp, wp) : x;
      out[1] = convWeightGrad(xq, gy, geom);
      if (xq !== x) xq.dispose();
    }
    let at = 2;
    if (bias) {
      if (needs[at]) out[at] = biasGrad(gy); // d bias = sum of gy over n, h, w
      at++;
    }
    if (res && needs[at]) out[at] = k.clone(gy); // d residual = gy
    if (gy !== gyIn) gy.dispose();
    return out;
  });
  if (padded) xp.dispose();
  return result;
}

/** Options of {@link convTranspose2d}. */
export interface ConvTranspose2dOptions {
  stride?: Pair;
  /** Implicit zero padding removed from each side of the output: n or [h, w] (default 0). */
  padding?: Pair;
  /** Extra size added to one side of the output, smaller than stride or dilation (default 0). */
  outputPadding?: Pair;
  dilation?: Pair;
  groups?: number;
}

/**
 * Transposed convolution (torch.nn.functional.conv_transpose2d) of x [n, cin, h, w] with weight
 * [cin, cout/groups, kh, kw] and optional bias [cout]. Output size per axis:
 * (in - 1) * stride - 2 * padding + dilation * (k - 1) + outputPadding + 1.
 */
export function convTranspose2d(x: Tensor, weight: Tensor, bias?: Tensor | null, opts: ConvTranspose2dOptions = {}): Tensor {
  const op = 'convTranspose2d';
  checkRank4(op, x, weight);
  const [n, cin, h, w] = x.shape as [number, number, number, number];
  const [wi, coutg, kh, kw] = weight.shape as [number, number, number, number];
  const groups = opts.groups ?? 1;
  if (wi !== cin) throw new ShapeError(op, [x.shape, weight.shape], `the weight's first dim (${wi}) must equal the input channels (${cin})`);
  checkGroups(op, x, weight, groups, cin / groups, cin);
  const cout = coutg * groups;
  checkBias(op, bias, cout);
  const [sh, sw] = pair(op, 'stride', opts.stride, 1, 1);
  const [dh, dw] = pair(op, 'dilation', opts.dilation, 1, 1);
  const [ph, pw] = pair(op, 'padding', opts.padding, 0, 0);
  const [oph, opw] = pair(op, 'outputPadding', opts.outputPadding, 0, 0);
  if ((oph >= sh && oph >= dh) || (opw >= sw && opw >= dw)) {
    throw new ArgumentError(op, `outputPadding [${oph},${opw}] must be smaller than stride or dilation`);
  }
  const ekh = dh * (kh - 1) + 1;
  const ekw = dw * (kw - 1) + 1;
  const oh = (h - 1) * sh - 2 * ph + ekh + oph;
  const ow = (w - 1) * sw - 2 * pw + ekw + opw;
  if (oh <= 0 || ow <= 0) throw new ShapeError(op, [x.shape, weight.shape], `the output size ${oh}x${ow} is not positive`);
  addFlops(op, 2 * n * h * w * weight.size); // multiply-adds x 2: every input pixel meets the whole filter
  const geom: ConvGeom = { groups, kh, kw, sh, sw, dh, dw };
  // conv2d's input gradient, with x in the place of the output gradient
  const y = convInputGrad(x, weight, geom, ph, pw, oh, ow, bias ?? null);
  const inputs = [x, weight, ...(bias ? [bias] : [])];
  return record(op, inputs, y, [x, weight], (gy, needs) => {
    const out: (Tensor | null)[] = inputs.map(() => null);
    const gp = ph + pw > 0 ? dilatePad(gy, ph, pw, 1, 1, oh + 2 * ph, ow + 2 * pw) : gy;
    // dx = conv2d(gy, w) with the same stride, padding and dilation
    if (needs[0]) out[0] = convForward(gp, weight, geom, null, null, false);
    // dw = conv2d weight gradient with gy as the input and x as the output gradient
    if (needs[1]) out[1] = convWeightGrad(gp, x, geom);
    if (bias && needs[2]) out[2] = biasGrad(gy);
    if (gp !== gy) gp.dispose();
    return out;
  });
}

