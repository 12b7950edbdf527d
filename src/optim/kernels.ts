/**
 * Raw launchers of shaders/optim.wgsl: the fused SGD and Adam updates (one dispatch per parameter)
 * and the three passes of gradient-norm clipping. No validation here beyond what the kernels need;
 * the optimisers and clipGradNorm check their arguments before calling these.
 */
import { bindingsByName, enumValue, packUniformBlock, type KernelDescriptor, type StorageBinding, type UniformField } from '../gpu/kernel-descriptor.js';
import { fileKernel } from '../gpu/pipeline-cache.js';
import { grid } from '../gpu/runtime.js';
import { WG } from '../ops/kernels/util.js';
import type { Tensor } from '../tensor/tensor.js';
import { fits, flatChunks, range } from '../ops/kernels/split.js';

/**
 * The element ranges of a flat update over `size` elements: the whole tensor when it fits one
 * binding, else aligned chunks of one binding each (see src/ops/kernels/split.ts).
 */
function chunks(t: Tensor, size: number): [number, number][] {
  return fits(t.runtime, t) ? [[0, size]] : flatChunks(t.runtime, size);
}

/**
 * The bindings of `d` for elements [s, s + n) of the tensors named by binding: whole buffers when
 * the update is not split.
 */
function bind(d: KernelDescriptor, ts: Readonly<Record<string, Tensor>>, s: number, n: number, whole: boolean, op: string): (GPUBuffer | GPUBufferBinding)[] {
  return bindingsByName(d, ts).map((t) => (whole ? t.bufferFor(op) : range(t, s, n, op)));
}

// The contracts of shaders/optim.wgsl, one per entry point. Its entry points share binding numbers
// under other names, so every binding name carries the entry point's prefix (sgd_, adam_, cp_ ...).
const vec4rw = (name: string): StorageBinding => ({ name, access: 'read_write', type: 'vec4<f32>' });
const vec4r = (name: string): StorageBinding => ({ name, access: 'read', type: 'vec4<f32>' });
const fields = (type: 'u32' | 'f32', ...names: string[]): UniformField[] => names.map((name) => ({ name, type }));
const WG_ONLY = { WG: { type: 'u32' } } as const;

/** The struct `Sgd` of both SGD entry points. */
const SGD_UNIFORMS = [
  ...fields('u32', 'n4', 'first', 'nesterov', 'decay'),
  ...fields('f32', 'lr', 'wd', 'momentum', 'keep', 'sign'),
  ...fields('u32', 'pad0', 'pad1', 'pad2'),
];
/** The struct `Adam` of both Adam entry points. */
const ADAM_UNIFORMS = [
  ...fields('u32', 'n4', 'first', 'l2', 'pad0'),
  ...fields('f32', 'sign', 'wd', 'shrink', 'eps', 'beta1', 'c1', 'beta2', 'c2', 'step_size', 'bc2_sqrt'),
  ...fields('u32', 'pad1', 'pad2'),
];
/** What the clip passes reduce, in shaders/optim.wgsl's numbering (NORM_TWO, NORM_INF, NORM_P). */
const NORM_ENUM = { norm: ['two', 'inf', 'p'] } as const;

const SGD: KernelDescriptor = { name: 'optim.sgd', entry: 'sgd', bindings: [vec4rw('sgd_w'), vec4r('sgd_g')], uniforms: SGD_UNIFORMS, constants: WG_ONLY };
const SGD_MOMENTUM: KernelDescriptor = {
  name: 'optim.sgd_momentum',
  entry: 'sgd_momentum',
  bindings: [vec4rw('sgdm_w'), vec4r('sgdm_g'), vec4rw('sgdm_buf')],
  uniforms: SGD_UNIFORMS,
  constants: WG_ONLY,
};
const ADAM: KernelDescriptor = {
  name: 'optim.adam',
  entry: 'adam',
  bindings: [vec4rw('adam_w'), vec4r('adam_g'), vec4rw('adam_m'), vec4rw('adam_v')],
  uniforms: ADAM_UNIFORMS,
  constants: WG_ONLY,
};
const ADAM_AMSGRAD: KernelDescriptor = {
  name: 'optim.adam_amsgrad',
  entry: 'adam_amsgrad',
  bindings: [vec4rw('ams_w'), vec4r('ams_g'), vec4rw('ams_m'), vec4rw('ams_v'), vec4rw('ams_vmax')],
  uniforms: ADAM_UNIFORMS,
  constants: WG_ONLY,
};
const CLIP_PARTIAL: KernelDescriptor = {
  name: 'optim.clip_partial',
  entry: 'clip_partial',
  bindings: [vec4r('cp_g'), { name: 'cp_part', access: 'read_write', type: 'f32' }],
  uniforms: [...fields('u32', 'n', 'n4', 'chunk4', 'offset', 'kind'), ...fields('f32', 'p'), ...fields('u32', 'pad0', 'pad1')],
  constants: WG_ONLY,
  enums: NORM_ENUM,
};
// clip_total runs one workgroup of the shader's own constant size: no override constants.
const CLIP_TOTAL: KernelDescriptor = {
  name: 'optim.clip_total',
  entry: 'clip_total',
  bindings: [{ name: 'ct_part', access: 'read', type: 'f32' }, { name: 'ct_total', access: 'read_write', type: 'f32' }],
  uniforms: [...fields('u32', 'count', 'kind'), ...fields('f32', 'inv_p'), ...fields('u32', 'pad0')],
  enums: NORM_ENUM,
};
const CLIP_SCALE: KernelDescriptor = {
  name: 'optim.clip_scale',
  entry: 'clip_scale',
  bindings: [vec4rw('cs_g'), { name: 'cs_total', access: 'read', type: 'f32' }],
  uniforms: [...fields('u32', 'n4'), ...fields('f32', 'max_norm'), ...fields('u32', 'pad0', 'pad1')],
  constants: WG_ONLY,
};

const KERNELS = {
  sgd: fileKernel(SGD, 'optim', 'sgd'),
  sgdMomentum: fileKernel(SGD_MOMENTUM, 'optim', 'sgd_momentum'),
  adam: fileKernel(ADAM, 'optim', 'adam'),
  adamAmsgrad: fileKernel(ADAM_AMSGRAD, 'optim', 'adam_amsgrad'),
  clipPartial: fileKernel(CLIP_PARTIAL, 'optim', 'clip_partial'),
  clipTotal: fileKernel(CLIP_TOTAL, 'optim', 'clip_total'),
  clipScale: fileKernel(CLIP_SCALE, 'optim', 'clip_scale'),
};

/** Scalar coefficients of one SGD update, in the arithmetic of torch's single-tensor SGD. */
export interface SgdCoefficients {
  lr: number;
  weightDecay: number;
  momentum: number;
  dampening: number;
  nesterov: boolean;
  maximize: boolean;
}

/**
 * One SGD step on `param` in place. With `buf` (momentum > 0) the momentum buffer is updated too;
 * `first` means buf holds nothing yet and becomes d_p (torch's clone-on-first-use rule).
 */
export function sgdUpdate(param: Tensor, grad: Tensor, buf: Tensor | null, first: boolean, c: SgdCoefficients): void {
  if (param.size === 0) return;
  const list = chunks(param, param.size);
  for (const [s, n] of list) {
    const n4 = Math.ceil(n / 4);
    const d = buf ? SGD_MOMENTUM : SGD;
    const u = packUniformBlock(d, {
      n4, first: first ? 1 : 0, nesterov: c.nesterov ? 1 : 0, decay: c.weightDecay !== 0 ? 1 : 0,
      lr: c.lr, wd: c.weightDecay, momentum: c.momentum, keep: 1 - c.dampening, sign: c.maximize ? -1 : 1,
      pad0: 0, pad1: 0, pad2: 0,
    });
    const named: Record<string, Tensor> = buf ? { sgdm_w: param, sgdm_g: grad, sgdm_buf: buf } : { sgd_w: param, sgd_g: grad };
    const buffers = bind(d, named, s, n, list.length === 1, 'sgd');
    param.runtime.dispatch(buf ? KERNELS.sgdMomentum : KERNELS.sgd, { WG }, buffers, new Uint8Array(u), grid(Math.ceil(n4 / WG)));
  }
}

/** Scalar coefficients of one Adam/AdamW update at a parameter's step `step` (1 on its first update). */
export interface AdamCoefficients {
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
  /** AdamW: weight decay scales the parameter by 1 - lr * wd; Adam: it is added to the gradient. */
  decoupled: boolean;
  maximize: boolean;
  step: number;
}

/**
 * One Adam or AdamW step on `param` in place, updating exp_avg `m`, exp_avg_sq `v` and, with
 * AMSGrad, max_exp_avg_sq `vmax`. When `first`, the state buffers hold nothing yet and are treated
 * as zeros (they need no initialising fill). The bias corrections are computed here, in float64,
 * from the step count, exactly as torch computes its Python-float coefficients.
 */
export function adamUpdate(param: Tensor, grad: Tensor, m: Tensor, v: Tensor, vmax: Tensor | null, first: boolean, c: AdamCoefficients): void {
  if (param.size === 0) return;
  const stepSize = c.lr / (1 - c.beta1 ** c.step);
  const bc2Sqrt = Math.sqrt(1 - c.beta2 ** c.step);
  const l2 = !c.decoupled && c.weightDecay !== 0;
  const op = vmax ? 'adam_amsgrad' : 'adam';
  const list = chunks(param, param.size);
  for (const [s, n] of list) {
    const n4 = Math.ceil(n / 4);
    const d = vmax ? ADAM_AMSGRAD : ADAM;
    const u = packUniformBlock(d, {
      n4, first: first ? 1 : 0, l2: l2 ? 1 : 0, pad0: 0,
      sign: c.maximize ? -1 : 1, wd: c.weightDecay, shrink: c.decoupled ? 1 - c.lr * c.weightDecay : 1, eps: c.eps,
      beta1: c.beta1, c1: 1 - c.beta1, beta2: c.beta2, c2: 1 - c.beta2,
      step_size: stepSize, bc2_sqrt: bc2Sqrt, pad1: 0, pad2: 0,
    });
    const named: Record<string, Tensor> = vmax ? { ams_w: param, ams_g: grad, ams_m: m, ams_v: v, ams_vmax: vmax } : { adam_w: param, adam_g: grad, adam_m: m, adam_v: v };
    const buffers = bind(d, named, s, n, list.length === 1, op);
    param.runtime.dispatch(vmax ? KERNELS.adamAmsgrad : KERNELS.adam, { WG }, buffers, new Uint8Array(u), grid(Math.ceil(n4 / WG)));
  }
}

/** What the clip passes reduce: squares (2-norm), maxima of |g| (inf-norm) or |g|^p. */
export type NormKind = { kind: 'two' } | { kind: 'inf' } | { kind: 'p'; p: number };


/** vec4s each invocation of clip_partial reduces (1024 elements). */
export const CLIP_CHUNK4 = 256;

/** Number of partial results clip_partial writes for a gradient of `size` elements. */
export function partialCount(size: number): number {
  return Math.ceil(Math.ceil(size / 4) / CLIP_CHUNK4);
}

/** Writes the partial reductions of `grad` into parts[offset, offset + partialCount(grad.size)). */
export function clipPartial(grad: Tensor, parts: Tensor, offset: number, norm: NormKind): void {
  if (grad.size === 0) return;
  const rt = grad.runtime;
  // Chunks of whole partials (CLIP_CHUNK4 vec4s each), so chunk k's partials follow chunk k-1's.
  const per = CLIP_CHUNK4 * 4;
  const step = fits(rt, grad) ? grad.size : Math.floor(rt.maxBindingBytes / 4 / per) * per;
  for (let s = 0; s < grad.size; s += step) {
    const n = Math.min(step, grad.size - s);
    const count = partialCount(n);
    const u = packUniformBlock(CLIP_PARTIAL, {
      n, n4: Math.ceil(n / 4), chunk4: CLIP_CHUNK4, offset: offset + s / per, kind: enumValue(CLIP_PARTIAL, 'norm', norm.kind),
      p: norm.kind === 'p' ? norm.p : 0, pad0: 0, pad1: 0,
    });
    const g = step === grad.size ? grad.bufferFor('clipGradNorm') : range(grad, s, n, 'clipGradNorm');
    const buffers = bindingsByName<GPUBuffer | GPUBufferBinding>(CLIP_PARTIAL, { cp_g: g, cp_part: parts.bufferFor('clipGradNorm') });
    rt.dispatch(KERNELS.clipPartial, { WG }, buffers, new Uint8Array(u), grid(Math.ceil(count / WG)));
  }
}

/** Folds `count` partials into the norm, written to total[0] (one workgroup). */
export function clipTotal(parts: Tensor, count: number, total: Tensor, norm: NormKind): void {
  const u = packUniformBlock(CLIP_TOTAL, { count, kind: enumValue(CLIP_TOTAL, 'norm', norm.kind), inv_p: norm.kind === 'p' ? 1 / norm.p : 0, pad0: 0 });
  const buffers = bindingsByName(CLIP_TOTAL, { ct_part: parts.bufferFor('clipGradNorm'), ct_total: total.bufferFor('clipGradNorm') });
  total.runtime.dispatch(KERNELS.clipTotal, {}, buffers, new Uint8Array(u), [1, 1, 1]);
}

/** grad *= min(maxNorm / (total[0] + 1e-6), 1), in place, reading the norm on the GPU. */
export function clipScale(grad: Tensor, total: Tensor, maxNorm: number): void {
  if (grad.size === 0) return;
  const list = chunks(grad, grad.size);
  for (const [s, n] of list) {
    const n4 = Math.ceil(n / 4);
    const u = packUniformBlock(CLIP_SCALE, { n4, max_norm: maxNorm, pad0: 0, pad1: 0 });
    const g = list.length === 1 ? grad.bufferFor('clipGradNorm') : range(grad, s, n, 'clipGradNorm');
    const buffers = bindingsByName<GPUBuffer | GPUBufferBinding>(CLIP_SCALE, { cs_g: g, cs_total: total.bufferFor('clipGradNorm') });
    grad.runtime.dispatch(KERNELS.clipScale, { WG }, buffers, new Uint8Array(u), grid(Math.ceil(n4 / WG)));
  }
}
