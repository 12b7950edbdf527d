/**
 * Raw launchers of shaders/optim.wgsl: the fused SGD and Adam updates (one dispatch per parameter)
 * and the three passes of gradient-norm clipping. No validation here beyond what the kernels need;
 * the optimisers and clipGradNorm check their arguments before calling these.
 */
import { grid } from '../gpu/runtime.js';
import type { Kernel } from '../gpu/pipeline-cache.js';
import { packUniforms, WG } from '../ops/kernels/util.js';
import type { Tensor } from '../tensor/tensor.js';
import { fits, flatChunks, range } from '../ops/kernels/split.js';

/**
 * The element ranges of a flat update over `size` elements: the whole tensor when it fits one
 * binding, else aligned chunks of one binding each (see src/ops/kernels/split.ts).
 */
function chunks(t: Tensor, size: number): [number, number][] {
  return fits(t.runtime, t) ? [[0, size]] : flatChunks(t.runtime, size);
}

/** The bindings of `ts` for elements [s, s + n): whole buffers when the update is not split. */
function bind(ts: readonly Tensor[], s: number, n: number, whole: boolean, op: string): (GPUBuffer | GPUBufferBinding)[] {
  return ts.map((t) => (whole ? t.bufferFor(op) : range(t, s, n, op)));
}

const KERNELS = {
  sgd: { shader: 'optim', entry: 'sgd', bindings: ['write', 'read', 'uniform'] },
  sgdMomentum: { shader: 'optim', entry: 'sgd_momentum', bindings: ['write', 'read', 'write', 'uniform'] },
  adam: { shader: 'optim', entry: 'adam', bindings: ['write', 'read', 'write', 'write', 'uniform'] },
  adamAmsgrad: { shader: 'optim', entry: 'adam_amsgrad', bindings: ['write', 'read', 'write', 'write', 'write', 'uniform'] },
  clipPartial: { shader: 'optim', entry: 'clip_partial', bindings: ['read', 'write', 'uniform'] },
  clipTotal: { shader: 'optim', entry: 'clip_total', bindings: ['read', 'write', 'uniform'] },
  clipScale: { shader: 'optim', entry: 'clip_scale', bindings: ['write', 'read', 'uniform'] },
} as const satisfies Record<string, Kernel>;

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
    const u = packUniforms([
      ['u', n4], ['u', first ? 1 : 0], ['u', c.nesterov ? 1 : 0], ['u', c.weightDecay !== 0 ? 1 : 0],
      ['f', c.lr], ['f', c.weightDecay], ['f', c.momentum], ['f', 1 - c.dampening],
      ['f', c.maximize ? -1 : 1],
    ], 12);
    const buffers = bind(buf ? [param, grad, buf] : [param, grad], s, n, list.length === 1, 'sgd');
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
    const u = packUniforms([
      ['u', n4], ['u', first ? 1 : 0], ['u', l2 ? 1 : 0], ['u', 0],
      ['f', c.maximize ? -1 : 1], ['f', c.weightDecay], ['f', c.decoupled ? 1 - c.lr * c.weightDecay : 1], ['f', c.eps],
      ['f', c.beta1], ['f', 1 - c.beta1], ['f', c.beta2], ['f', 1 - c.beta2],
      ['f', stepSize], ['f', bc2Sqrt],
    ], 16);
    const buffers = bind(vmax ? [param, grad, m, v, vmax] : [param, grad, m, v], s, n, list.length === 1, op);
    param.runtime.dispatch(vmax ? KERNELS.adamAmsgrad : KERNELS.adam, { WG }, buffers, new Uint8Array(u), grid(Math.ceil(n4 / WG)));
  }
}

/** What the clip passes reduce: squares (2-norm), maxima of |g| (inf-norm) or |g|^p. */
export type NormKind = { kind: 'two' } | { kind: 'inf' } | { kind: 'p'; p: number };

const KIND_CODES = { two: 0, inf: 1, p: 2 } as const;

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
    const u = packUniforms([
      ['u', n], ['u', Math.ceil(n / 4)], ['u', CLIP_CHUNK4], ['u', offset + s / per], ['u', KIND_CODES[norm.kind]],
      ['f', norm.kind === 'p' ? norm.p : 0],
    ], 8);
    const g = step === grad.size ? grad.bufferFor('clipGradNorm') : range(grad, s, n, 'clipGradNorm');
    rt.dispatch(KERNELS.clipPartial, { WG }, [g, parts.bufferFor('clipGradNorm')], new Uint8Array(u), grid(Math.ceil(count / WG)));
  }
}

/** Folds `count` partials into the norm, written to total[0] (one workgroup). */
export function clipTotal(parts: Tensor, count: number, total: Tensor, norm: NormKind): void {
  const u = packUniforms([['u', count], ['u', KIND_CODES[norm.kind]], ['f', norm.kind === 'p' ? 1 / norm.p : 0]], 4);
  total.runtime.dispatch(KERNELS.clipTotal, {}, [parts.bufferFor('clipGradNorm'), total.bufferFor('clipGradNorm')], new Uint8Array(u), [1, 1, 1]);
}

/** grad *= min(maxNorm / (total[0] + 1e-6), 1), in place, reading the norm on the GPU. */
export function clipScale(grad: Tensor, total: Tensor, maxNorm: number): void {
  if (grad.size === 0) return;
  const list = chunks(grad, grad.size);
  for (const [s, n] of list) {
    const n4 = Math.ceil(n / 4);
    const u = packUniforms([['u', n4], ['f', maxNorm]], 4);
    const g = list.length === 1 ? grad.bufferFor('clipGradNorm') : range(grad, s, n, 'clipGradNorm');
    grad.runtime.dispatch(KERNELS.clipScale, { WG }, [g, total.bufferFor('clipGradNorm')], new Uint8Array(u), grid(Math.ceil(n4 / WG)));
  }
}
