/**
 * Raw convolution kernels over a padded input: padding/dilation (shaders/dilate-pad.wgsl), the forward
 * with fused bias/residual/ReLU, the input gradient (also convTranspose2d's forward) and the weight
 * gradient. Each pass has variants, chosen by {@link chooseConvVariant}: im2col chunks multiplied by
 * matmul's k-major `outer` (CPU adapters) or `tiled` (GPUs) kernel (conv-gemm.ts), and `direct`
 * (implicit GEMM in shaders/conv2d.wgsl, no im2col buffer; small and grouped convolutions), whose
 * input gradient is a forward pass over a dilated, padded gy with a flipped, transposed weight.
 */
import { bindingsByName, packUniformBlock } from '../../gpu/kernel-descriptor.js';
import { grid, type Runtime } from '../../gpu/runtime.js';
import { fileKernel } from '../../gpu/pipeline-cache.js';
import { CONV2D, CONV2D_FLAGS, CONV2D_ROW, DILATE_PAD } from './conv-descriptors.js';
import { empty, fromArray } from '../../tensor/creation.js';
import { keep } from '../../tensor/scope.js';
import { stridesOf } from '../../tensor/shape.js';
import type { Tensor } from '../../tensor/tensor.js';
import { stridedCopy } from './copy.js';
import { gemmForward, gemmInputGrad, gemmWeightGrad } from './conv-gemm.js';
import { chooseMatmulVariant, isSoftwareAdapter } from './matmul.js';
import { reduce } from './reduce.js';
import { tiledForward, tiledWeightGrad } from './conv-split.js';
import { fits, mapRows, takeRows } from './split.js';

const fwdKernel = fileKernel(CONV2D, 'conv2d');
const wgradKernel = fileKernel(CONV2D, 'conv2d', 'wgrad');
const rowKernel = fileKernel(CONV2D_ROW, 'conv2d', 'row');
const padKernel = fileKernel(DILATE_PAD, 'dilate-pad');
const WGX = 8;
const WGY = 8;

/**
 * z[n, c, i, j] = x[n, c, (i - top)/sh, (j - left)/sw] where that is an exact, in-range index, else 0;
 * z has spatial size zh x zw. Strides 1 give zero padding (or cropping for negative top/left).
 */
export function dilatePad(x: Tensor, top: number, left: number, sh: number, sw: number, zh: number, zw: number): Tensor {
  const [n, c, h, w] = x.shape as [number, number, number, number];
  const rt = x.runtime;
  if (n * c > 1 && (!fits(rt, x) || n * c * zh * zw * 4 > rt.maxBindingBytes)) {
    // Planes are independent: chunks of the n*c planes, each chunk one binding.
    const planes = x.view([n * c, 1, h, w]);
    const z = mapRows(rt, n * c, Math.max(h * w, zh * zw) * 4, (p0, pb) => {
      const part = takeRows(planes, p0, pb);
      const r = dilatePad(part, top, left, sh, sw, zh, zw);
      part.dispose();
      return r;
    });
    planes.dispose();
    const out = z.view([n, c, zh, zw]);
    z.dispose();
    return out;
  }
  const z = empty([n, c, zh, zw]);
  const total = z.size;
  if (total === 0) return z;
  const u = packUniformBlock(DILATE_PAD, { n: total, h, w, zh, zw, top, left, sh, sw, pad0: 0, pad1: 0, pad2: 0 });
  // Each invocation writes 32 consecutive elements (SPAN in the shader).
  z.runtime.dispatch(padKernel, { WG: 64 }, bindingsByName(DILATE_PAD, { x: x.bufferFor('conv2d'), z: z.bufferFor('conv2d') }), new Uint8Array(u), grid(Math.ceil(total / 32 / 64)));
  return z;
}

// Offset tables are tiny and reused by every step of a training run: cache them per runtime and
// geometry.
const koffCache = new WeakMap<Runtime, Map<string, Tensor>>();

/** koff[k] for k = (c, kh, kw): c*hp*wp + kh*dh*wp + kw*dw. */
function koffTable(rt: Runtime, cg: number, kh: number, kw: number, dh: number, dw: number, hp: number, wp: number): Tensor {
  let cache = koffCache.get(rt);
  if (!cache) koffCache.set(rt, (cache = new Map()));
  const key = `${cg},${kh},${kw},${dh},${dw},${hp},${wp}`;
  let t = cache.get(key);
  if (!t) {
    const tab = new Int32Array(cg * kh * kw);
    let k = 0;
    for (let c = 0; c < cg; c++) for (let i = 0; i < kh; i++) for (let j = 0; j < kw; j++) tab[k++] = c * hp * wp + i * dh * wp + j * dw;
    t = keep(fromArray(tab, [tab.length], { dtype: 'i32' }));
    if (cache.size >= 256) {
      const [firstKey, first] = cache.entries().next().value as [string, Tensor];
      first.dispose();
      cache.delete(firstKey);
    }
    cache.set(key, t);
  }
  return t;
}

/** Geometry of one convolution over an already padded input xp [n, c, hp, wp]. */
export interface ConvGeom {
  groups: number;
  kh: number;
  kw: number;
  sh: number;
  sw: number;
  dh: number;
  dw: number;
}

/** Output size along one axis of a convolution over a padded extent `padded`. */
export function convOut(padded: number, k: number, s: number, d: number): number {
  return Math.floor((padded - (d * (k - 1) + 1)) / s) + 1;
}

/** The CONV2D uniform block (by field name) of a pass over xp [n, c, hp, wp] with o output channels. */
function params(xp: Tensor, o: number, g: ConvGeom, splits = 1, chunk = 0, flags = 0): { u: Uint8Array; oh: number; ow: number; kdim: number } {
  const [n, c, hp, wp] = xp.shape as [number, number, number, number];
  const oh = convOut(hp, g.kh, g.sh, g.dh);
  const ow = convOut(wp, g.kw, g.sw, g.dw);
  const cg = c / g.groups;
  const kdim = cg * g.kh * g.kw;
  const u = packUniformBlock(CONV2D, {
    og: o / g.groups,
    kdim,
    pix: n * oh * ow,
    ohw: oh * ow,
    ow,
    sh: g.sh,
    sw: g.sw,
    wp,
    x_batch: c * hp * wp,
    x_group: cg * hp * wp,
    y_batch: o * oh * ow,
    groups: g.groups,
    splits,
    chunk,
    flags,
    kw: g.kw,
  });
  return { u: new Uint8Array(u), oh, ow, kdim };
}

/**
 * y = act(conv(xp, w) + bias + res) over the padded input xp [n, c, hp, wp] with weight
 * w [o, c/groups, kh, kw]; res (optional) has the output's shape.
 */
export function convForward(xp: Tensor, w: Tensor, g: ConvGeom, bias: Tensor | null, res: Tensor | null, relu: boolean): Tensor {
  const [n, c, hp, wp] = xp.shape as [number, number, number, number];
  const o = w.shape[0]!;
  const pix = n * convOut(hp, g.kh, g.sh, g.dh) * convOut(wp, g.kw, g.sw, g.dw);
  if (!fits(xp.runtime, xp, w, res) || pix * o * 4 > xp.runtime.maxBindingBytes) {
    return tiledForward(xp, w, g, convOut(hp, g.kh, g.sh, g.dh), convOut(wp, g.kw, g.sw, g.dw), bias, res, relu, convForward);
  }
  const v = convVariant(xp.runtime, 'forward', g, o, c * g.kh * g.kw, pix, { n, c, h: hp, w: wp, o, pt: 0, pl: 0, oh: 0, ow: 0 });
  if (v === 'direct') return directForward(xp, w, g, bias, res, relu);
  const koff = () => koffTable(xp.runtime, c, g.kh, g.kw, g.dh, g.dw, hp, wp).bufferFor('conv2d');
  return gemmForward(xp, w, g, convOut(hp, g.kh, g.sh, g.dh), convOut(wp, g.kw, g.sw, g.dw), koff, bias, res, relu, v);
}

function directForward(xp: Tensor, w: Tensor, g: ConvGeom, bias: Tensor | null, res: Tensor | null, relu: boolean): Tensor {
  const [n, c, hp, wp] = xp.shape as [number, number, number, number];
  const o = w.shape[0]!;
  // The epilogue's switches are uniforms, not override constants: one pipeline for all of them (each
  // constant combination cost its own 0.2-0.4 s LLVM compile on a fresh lavapipe; same run time).
  const flags = (bias ? CONV2D_FLAGS.bias : 0) | (res ? CONV2D_FLAGS.residual : 0) | (relu ? CONV2D_FLAGS.relu : 0);
  const { u, oh, ow } = params(xp, o, g, 1, 0, flags);
  const y = empty([n, o, oh, ow]);
  if (y.size === 0) return y;
  const koff = koffTable(xp.runtime, c / g.groups, g.kh, g.kw, g.dh, g.dw, hp, wp);
  const og = o / g.groups;
  const opts = xp.runtime.kernelOptions;
  const { bo, bp } = opts.convForwardBlock ?? directForwardBlock(og);
  // `row`: one invocation per 8 pixels of an output row (grid x over image rows x blocks of 8). It reads
  // the weight's channels in vec4s from o0 on, so o0 must be a multiple of 4.
  const rowGroups = Math.ceil((n * oh * Math.ceil(ow / 8)) / WGX);
  const row = opts.convForwardRow && g.sw === 1 && g.dw === 1 && rowGroups <= 65535 && (bo === 4 || bo === 8 || bo >= og);
  const dummy = koff.bufferFor('conv2d');
  const bindings = { xp: xp.bufferFor('conv2d'), koff: dummy, bias: bias ? bias.bufferFor('conv2d') : dummy, res: res ? res.bufferFor('conv2d') : dummy, y: y.bufferFor('conv2d') };
  if (row) {
    const wt = transposeWeight(w, g.groups);
    y.runtime.dispatch(rowKernel, { WGX, WGY, BO: bo }, bindingsByName(CONV2D_ROW, { ...bindings, wt: wt.bufferFor('conv2d') }), u, [rowGroups, Math.ceil(og / bo / WGY), g.groups]);
    wt.dispose();
  } else {
    const groups: [number, number, number] = [Math.ceil((n * oh * ow) / (4 * bp) / WGX), Math.ceil(og / bo / WGY), g.groups];
    y.runtime.dispatch(fwdKernel, { WGX, WGY, BO: bo, BP: bp }, bindingsByName(CONV2D, { ...bindings, w: w.bufferFor('conv2d') }), u, groups);
  }
  return y;
}

/**
 * The weight w [groups * og, kdim] (kdim = c/groups * kh * kw) as wt [groups][kdim][o4 * 4] with
 * o4 = ceil(og / 4): the channels of one tap in whole vec4s, zeros past og (the `row` kernel's layout).
 */
function transposeWeight(w: Tensor, groups: number): Tensor {
  const og = w.shape[0]! / groups;
  const kdim = w.size / w.shape[0]!;
  const opad = Math.ceil(og / 4) * 4;
  const wt = empty([groups * kdim * opad]);
  stridedCopy(w, wt, {
    shape: [groups, kdim, opad],
    start: [0, 0, 0],
    step: [1, 1, 1],
    bound: [groups, kdim, og],
    srcStride: [og * kdim, 1, kdim],
    dstStride: [kdim * opad, opad, 1],
    fill: 0,
  });
  return wt;
}

/**
 * The direct forward's register block for og output channels per group: og channels when og <= 8 (one
 * block, no idle rows: every channel of the block costs a weight load per tap), else 8; x 8 pixels.
 * lavapipe runs every storage load lane by lane, so the cost is loads per multiply-add: 8 x 8 makes 16
 * loads per 64 of them in `main`, 4 x 4 (the old default) 8 per 16. Measured round-robin on lavapipe
 * (bench/README.md, "Small networks").
 */
export function directForwardBlock(og: number): { bo: number; bp: 1 | 2 } {
  return { bo: Math.min(og, 8), bp: 2 };
}

/**
 * The direct weight gradient's register block for og output channels per group and kdim reduction
 * indices: min(og, 8) channels (as the forward) x 8 indices, or 4 when kdim <= 4 (16 loads per 64
 * multiply-adds against 4 x 4's 8 per 16). Measured round-robin on lavapipe: bench/README.md, "Small
 * networks".
 */
export function directWeightBlock(og: number, kdim: number): { bo: number; bk: 1 | 2 } {
  return { bo: Math.min(og, 8), bk: kdim <= 4 ? 1 : 2 };
}

/**
 * Below this many output blocks (of 4 x 4, whatever the kernel's register block, so that the pixel
 * ranges and with them the sums' order stay the same) the pixel reduction of the weight gradient is split.
 */
const WGRAD_TARGET_INVOCATIONS = 4096;

/** dw [o, c/groups, kh, kw] = sum over pixels of dy x patches of xp (padded input). */
export function convWeightGrad(xp: Tensor, dy: Tensor, g: ConvGeom): Tensor {
  const [n, c, hp, wp] = xp.shape as [number, number, number, number];
  const o = dy.shape[1]!;
  const pix = n * convOut(hp, g.kh, g.sh, g.dh) * convOut(wp, g.kw, g.sw, g.dw);
  if (!fits(xp.runtime, xp, dy) || o * c / g.groups * g.kh * g.kw * 4 > xp.runtime.maxBindingBytes) {
    return tiledWeightGrad(xp, dy, g, convWeightGrad);
  }
  // The product here is o x kdim with the pixels as its reduction (M and N swap roles with forward's).
  const v = convVariant(xp.runtime, 'weight', g, o, c * g.kh * g.kw, pix, { n, c, h: hp, w: wp, o, pt: 0, pl: 0, oh: 0, ow: 0 });
  if (v === 'direct') return directWeightGrad(xp, dy, g);
  return gemmWeightGrad(xp, dy, g, () => koffTable(xp.runtime, c, g.kh, g.kw, g.dh, g.dw, hp, wp).bufferFor('conv2d'), v);
}

function directWeightGrad(xp: Tensor, dy: Tensor, g: ConvGeom): Tensor {
  const [, c, hp, wp] = xp.shape as [number, number, number, number];
  const o = dy.shape[1]!;
  const cg = c / g.groups;
  const kdim = cg * g.kh * g.kw;
  const pix = xp.shape[0]! * convOut(hp, g.kh, g.sh, g.dh) * convOut(wp, g.kw, g.sw, g.dw);
  const og = o / g.groups;
  const blocks = Math.ceil(kdim / 4) * Math.ceil(og / 4) * g.groups;
  // The partial sums must fit one binding too.
  const most = Math.floor(xp.runtime.maxBindingBytes / (4 * o * kdim));
  const splits = Math.max(1, Math.min(Math.ceil(pix / 64), Math.ceil(WGRAD_TARGET_INVOCATIONS / blocks), most));
  const chunk = Math.ceil(pix / splits);
  const { u } = params(xp, o, g, splits, chunk);
  const koff = koffTable(xp.runtime, cg, g.kh, g.kw, g.dh, g.dw, hp, wp);
  const part = empty([splits, o, cg, g.kh, g.kw]);
  const dummy = koff.bufferFor('conv2d');
  const { bo, bk } = xp.runtime.kernelOptions.convWeightBlock ?? directWeightBlock(og, kdim);
  // One flat index over (k block, channel block, split) in 64-wide workgroups; gid.z = group.
  const flat = Math.ceil(kdim / (4 * bk)) * Math.ceil(og / bo) * splits;
  const [gx, gy] = grid(Math.ceil(flat / 64));
  part.runtime.dispatch(
    wgradKernel,
    { WGX: 64, WGY: 1, BO: bo, BK: bk },
    // wgrad reads the output gradient through the `w` binding and writes partial sums to `y`.
    bindingsByName(CONV2D, { xp: xp.bufferFor('conv2d'), w: dy.bufferFor('conv2d'), koff: dummy, bias: dummy, res: dummy, y: part.bufferFor('conv2d') }),
    u,
    [gx, gy, g.groups],
  );
  if (splits === 1) {
    const v = part.view([o, cg, g.kh, g.kw]);
    part.dispose();
    return v;
  }
  const dw = reduce('sum', part, [0]);
  part.dispose();
  return dw;
}

/**
 * The weight of the equivalent correlation for input gradients / transposed convolution:
 * w [groups*a, b, kh, kw] -> w' [groups*b, a, kh, kw] with w'[g*b + j, i] = w[g*a + i, j] flipped
 * in both spatial dims.
 */
export function flipTransposeWeight(w: Tensor, groups: number): Tensor {
  const [oa, b, kh, kw] = w.shape as [number, number, number, number];
  const a = oa / groups;
  const out = empty([groups * b, a, kh, kw]);
  const st = stridesOf([groups, a, b, kh, kw]);
  stridedCopy(w, out, {
    shape: [groups, b, a, kh, kw],
    start: [0, 0, 0, kh - 1, kw - 1],
    step: [1, 1, 1, -1, -1],
    bound: [groups, b, a, kh, kw],
    srcStride: [st[0]!, st[2]!, st[1]!, st[3]!, st[4]!],
    dstStride: stridesOf([groups, b, a, kh, kw]),
  });
  return out;
}

/**
 * How a convolution pass runs: `direct` (shaders/conv2d.wgsl) or im2col chunks multiplied by matmul's
 * `outer` (CPU adapters) or `tiled` (GPUs) kernel.
 */
export type ConvVariant = 'direct' | 'outer' | 'tiled';


/** The three passes of a convolution: they choose their variants apart. */
export type ConvPass = 'forward' | 'input' | 'weight';

/**
 * Picks the variant of one pass of a convolution with o output channels, kdim = c/groups * kh * kw
 * patch elements and pix output pixels over the batch. Grouped convolutions stay `direct` (each group's
 * product is as small as the group). Otherwise, measured on lavapipe (bench/README.md):
 *
 * | pass    | product (m x n, reduction)  | rule                                                        |
 * |---------|-----------------------------|-------------------------------------------------------------|
 * | forward | o x pix, kdim               | on CPU adapters `direct` (its `row` kernel) at horizontal    |
 * |         |                             | stride and dilation 1 with o <= 16; else as a matmul of that |
 * |         |                             | shape ({@link chooseMatmulVariant}): `general` there (small, |
 * |         |                             | skinny) means `direct` here                                  |
 * | input   | kdim x pix, o               | always im2col's adjoint (product + col2im): 1.5-10x faster   |
 * |         |                             | than `direct` at every size tried, even 1x4x8x8              |
 * | weight  | o x kdim, pix               | as a matmul of that shape; on GPUs `direct`, whose split-K   |
 * |         |                             | spreads the long reduction over many workgroups (a           |
 * |         |                             | convention, unmeasured)                                      |
 *
 * The im2col variants use matmul's `outer` on CPU adapters and `tiled` on others.
 */
export function chooseConvVariant(pass: ConvPass, g: ConvGeom, o: number, kdim: number, pix: number, adapterName: string, rowKernel = true): ConvVariant {
  if (g.groups !== 1) return 'direct';
  const software = isSoftwareAdapter(adapterName);
  const gemm = software ? 'outer' : 'tiled';
  if (pass === 'input') return gemm;
  // The direct forward's `row` kernel (horizontal stride and dilation 1) matched or beat im2col + `outer`
  // at every shape tried with up to 16 output channels on lavapipe (bench/README.md, "Small networks").
  if (pass === 'forward' && software && rowKernel && g.sw === 1 && g.dw === 1 && o <= 16) return 'direct';
  if (pass === 'weight' && !software) return 'direct';
  const [m, n, k] = pass === 'forward' ? [o, pix, kdim] : [o, kdim, pix];
  const mv = chooseMatmulVariant({ batch: 1, m, n, k, transA: false, transB: false, strideA: 0, strideB: 0 }, adapterName);
  return mv === 'general' ? 'direct' : gemm;
}

function convVariant(rt: Runtime, pass: ConvPass, g: ConvGeom, o: number, kdim: number, pix: number, io: ConvTuneShape): ConvVariant {
  const forced = rt.kernelOptions.convVariant;
  if (forced) return g.groups === 1 ? forced : 'direct';
  const rule = chooseConvVariant(pass, g, o, kdim, pix, rt.adapterName, rt.kernelOptions.convForwardRow);
  if (g.groups !== 1) return rule;
  return rt.tuning.choose(convTuneKey({ pass, ...io, kh: g.kh, kw: g.kw, sh: g.sh, sw: g.sw, dh: g.dh, dw: g.dw }), CONV_VARIANTS, rule);
}

/** Every variant of an ungrouped convolution pass (grouped ones are always `direct`). */
export const CONV_VARIANTS: readonly ConvVariant[] = ['direct', 'outer', 'tiled'];

/**
 * Sizes of a convolution pass besides its geometry: input n x c x h x w (padded for forward and
 * weight), o output channels.
 */
interface ConvTuneShape {
  n: number;
  c: number;
  h: number;
  w: number;
  o: number;
  /**
   * Input gradient only (0 for the others, whose input is padded and fixes the output): the forward
   * padding on top and left and the output gradient's size.
   */
  pt: number;
  pl: number;
  oh: number;
  ow: number;
}

/** One ungrouped convolution pass as the tuning table keys it (the geometry's groups are 1). */
export interface ConvTuneCase extends ConvTuneShape, Omit<ConvGeom, 'groups'> {
  pass: ConvPass;
}

/** The tuning-table key of one convolution pass; parsed back by {@link parseConvTuneKey}. */
export function convTuneKey(k: ConvTuneCase): string {
  const pad = k.pass === 'input' ? ` p${k.pt}x${k.pl} y${k.oh}x${k.ow}` : '';
  return `conv.${k.pass} ${k.n}x${k.c}x${k.h}x${k.w} o${k.o} k${k.kh}x${k.kw} s${k.sh}x${k.sw} d${k.dh}x${k.dw}${pad}`;
}

/** The case a {@link convTuneKey} describes, or null for another key. */
export function parseConvTuneKey(key: string): ConvTuneCase | null {
  const r = /^conv\.(forward|input|weight) (\d+)x(\d+)x(\d+)x(\d+) o(\d+) k(\d+)x(\d+) s(\d+)x(\d+) d(\d+)x(\d+)(?: p(\d+)x(\d+) y(\d+)x(\d+))?$/.exec(key);
  if (!r) return null;
  const v = r.slice(2).map((x) => (x === undefined ? 0 : Number(x)));
  const [n, c, h, w, o, kh, kw, sh, sw, dh, dw, pt, pl, oh, ow] = v as number[] as [number, number, number, number, number, number, number, number, number, number, number, number, number, number, number];
  return { pass: r[1] as ConvPass, n, c, h, w, o, kh, kw, sh, sw, dh, dw, pt, pl, oh, ow };
}


/**
 * The input gradient dx [n, c, h, w] of a convolution (weight w [o, c/groups, kh, kw], geometry g,
 * forward padding pt on top and pl on the left) from its output gradient gy [n, o, oh, ow], plus a
 * per-channel bias when given: this is also convTranspose2d's forward.
 *
 * im2col variants: w^T gy, then col2im (conv-gemm.ts). `direct`, and single images too large for one
 * im2col chunk: the correlation of gy, dilated by the stride and padded, with the flipped, transposed
 * weight (at stride s that multiplies s^2 - 1 zeros for each useful product).
 */
export function convInputGrad(gy: Tensor, w: Tensor, g: ConvGeom, pt: number, pl: number, h: number, wd: number, bias: Tensor | null = null): Tensor {
  const [n, o, oh, ow] = gy.shape as [number, number, number, number];
  const [, cg, kh, kw] = w.shape as [number, number, number, number];
  const rt = gy.runtime;
  const big = !fits(rt, gy, w) || n * cg * g.groups * h * wd * 4 > rt.maxBindingBytes;
  const perImage = Math.max(o * oh * ow, cg * g.groups * h * wd) * 4;
  if (big && n > 1 && perImage <= rt.maxBindingBytes && fits(rt, w)) {
    return mapRows(rt, n, perImage, (n0, nb) => {
      const part = takeRows(gy, n0, nb);
      const r = convInputGrad(part, w, g, pt, pl, h, wd, bias);
      part.dispose();
      return r;
    });
  }
  const v = convVariant(gy.runtime, 'input', g, o, cg * kh * kw, n * oh * ow, { n, c: cg * g.groups, h, w: wd, o, pt, pl, oh, ow });
  // Too large for one binding even per image: the direct form, whose forward pass tiles.
  const dx = v === 'direct' || big ? null : gemmInputGrad(gy, w, g, pt, pl, h, wd, bias, v);
  if (dx) return dx;
  const ekh = g.dh * (kh - 1) + 1;
  const ekw = g.dw * (kw - 1) + 1;
  const z = dilatePad(gy, ekh - 1 - pt, ekw - 1 - pl, g.sh, g.sw, h + ekh - 1, wd + ekw - 1);
  const wt = flipTransposeWeight(w, g.groups);
  const y = convForward(z, wt, { groups: g.groups, kh, kw, sh: 1, sw: 1, dh: g.dh, dw: g.dw }, bias, null, false);
  z.dispose();
  wt.dispose();
  return y;
}
