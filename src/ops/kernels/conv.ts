/**
 * Raw convolution kernels (shaders/conv2d.wgsl, shaders/dilate-pad.wgsl): padding/dilation of
 * the input, implicit-GEMM forward with fused bias/residual/ReLU, and the split-K weight gradient.
 * The input gradient and transposed convolution are forward passes over a dilated, padded input
 * with a flipped, transposed weight (see src/ops/conv.ts).
 */
import { grid, type Runtime } from '../../gpu/runtime.js';
import { empty, fromArray } from '../../tensor/creation.js';
import { keep } from '../../tensor/scope.js';
import { stridesOf } from '../../tensor/shape.js';
import type { Tensor } from '../../tensor/tensor.js';
import { stridedCopy } from './copy.js';
import { reduce } from './reduce.js';

const fwdKernel = { shader: 'conv2d', bindings: ['read', 'read', 'read', 'read', 'read', 'write', 'uniform'] } as const;
const wgradKernel = { shader: 'conv2d', entry: 'wgrad', bindings: ['read', 'read', 'read', 'read', 'read', 'write', 'uniform'] } as const;
const padKernel = { shader: 'dilate-pad', bindings: ['read', 'write', 'uniform'] } as const;
const WGX = 8;
const WGY = 8;

/** Register block of the forward kernel: bo output channels x 4*bp pixels per invocation. */
export const fwdBlock = { bo: 4, bp: 1 };

/**
 * z[n, c, i, j] = x[n, c, (i - top)/sh, (j - left)/sw] where that is an exact, in-range index, else 0;
 * z has spatial size zh x zw. Strides 1 give zero padding (or cropping for negative top/left).
 */
export function dilatePad(x: Tensor, top: number, left: number, sh: number, sw: number, zh: number, zw: number): Tensor {
  const [n, c, h, w] = x.shape as [number, number, number, number];
  const z = empty([n, c, zh, zw]);
  const total = z.size;
  if (total === 0) return z;
  const u = new ArrayBuffer(48);
  const u32 = new Uint32Array(u);
  const i32 = new Int32Array(u);
  u32.set([total, h, w, zh, zw]);
  i32[5] = top;
  i32[6] = left;
  u32[7] = sh;
  u32[8] = sw;
  z.runtime.dispatch(padKernel, { WG: 64 }, [x.bufferFor('conv2d'), z.bufferFor('conv2d')], u32, grid(Math.ceil(total / 64)));
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

function params(xp: Tensor, o: number, g: ConvGeom, splits = 1, chunk = 0): { u: Uint32Array; oh: number; ow: number; kdim: number } {
  const [n, c, hp, wp] = xp.shape as [number, number, number, number];
  const oh = convOut(hp, g.kh, g.sh, g.dh);
  const ow = convOut(wp, g.kw, g.sw, g.dw);
  const cg = c / g.groups;
  const kdim = cg * g.kh * g.kw;
  const u = new Uint32Array([o / g.groups, kdim, n * oh * ow, oh * ow, ow, g.sh, g.sw, wp, c * hp * wp, cg * hp * wp, o * oh * ow, g.groups, splits, chunk, 0, 0]);
  return { u, oh, ow, kdim };
}

/**
 * y = act(conv(xp, w) + bias + res) over the padded input xp [n, c, hp, wp] with weight
 * w [o, c/groups, kh, kw]; res (optional) has the output's shape.
 */
export function convForward(xp: Tensor, w: Tensor, g: ConvGeom, bias: Tensor | null, res: Tensor | null, relu: boolean): Tensor {
  const [n, c, hp, wp] = xp.shape as [number, number, number, number];
  const o = w.shape[0]!;
  const { u, oh, ow } = params(xp, o, g);
  const y = empty([n, o, oh, ow]);
  if (y.size === 0) return y;
  const koff = koffTable(xp.runtime, c / g.groups, g.kh, g.kw, g.dh, g.dw, hp, wp);
  const og = o / g.groups;
  const { bo, bp } = fwdBlock;
  const groups: [number, number, number] = [Math.ceil((n * oh * ow) / (4 * bp) / WGX), Math.ceil(og / bo / WGY), g.groups];
  const dummy = koff.bufferFor('conv2d');
  y.runtime.dispatch(
    fwdKernel,
    { WGX, WGY, ACT: relu ? 1 : 0, HAS_BIAS: bias ? 1 : 0, HAS_RES: res ? 1 : 0, BO: bo, BP: bp },
    [xp.bufferFor('conv2d'), w.bufferFor('conv2d'), dummy, bias ? bias.bufferFor('conv2d') : dummy, res ? res.bufferFor('conv2d') : dummy, y.bufferFor('conv2d')],
    u,
    groups,
  );
  return y;
}

/** Below this many output blocks the pixel reduction of the weight gradient is split. */
const WGRAD_TARGET_INVOCATIONS = 4096;

/** dw [o, c/groups, kh, kw] = sum over pixels of dy x patches of xp (padded input). */
export function convWeightGrad(xp: Tensor, dy: Tensor, g: ConvGeom): Tensor {
  const [, c, hp, wp] = xp.shape as [number, number, number, number];
  const o = dy.shape[1]!;
  const cg = c / g.groups;
  const { u: u0, kdim } = params(xp, o, g);
  const pix = u0[2]!;
  const og = o / g.groups;
  const blocks = Math.ceil(kdim / 4) * Math.ceil(og / 4) * g.groups;
  const splits = Math.max(1, Math.min(Math.ceil(pix / 64), Math.ceil(WGRAD_TARGET_INVOCATIONS / blocks)));
  const chunk = Math.ceil(pix / splits);
  const { u } = params(xp, o, g, splits, chunk);
  const koff = koffTable(xp.runtime, cg, g.kh, g.kw, g.dh, g.dw, hp, wp);
  const part = empty([splits, o, cg, g.kh, g.kw]);
  const dummy = koff.bufferFor('conv2d');
  part.runtime.dispatch(
    wgradKernel,
    { WGX, WGY },
    [xp.bufferFor('conv2d'), dy.bufferFor('conv2d'), dummy, dummy, dummy, part.bufferFor('conv2d')],
    u,
    [Math.ceil(kdim / 4 / WGX), Math.ceil(og / 4 / WGY), g.groups * splits],
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
