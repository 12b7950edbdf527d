/**
 * Custom ops in WGSL: the public way to add a layer of one's own with the engine's discipline.
 *
 *   const k = defineKernel(descriptor, wgsl)   a kernel whose contract is its descriptor (kernel-descriptor.ts):
 *                                              bindings, uniforms and constants by name
 *   k.dispatch({ tensors, uniforms, workgroups }) encodes one dispatch, batched with every other op
 *   const op = customOp({ name, forward, backward })
 *                                              a differentiable op: forward runs kernels (or ops), backward
 *                                              returns the inputs' gradients (kernels or composed ops)
 *
 * What the engine gives such an op: autograd (`record`), gradcheck, tidy/dispose (outputs are
 * ordinary tensors), the profiler's per-kernel times under the descriptor's name, the tuning table
 * (`k.choose`/`tuneCustomKernel` pick among variants of override constants by measurement), and
 * `compareOps` to time it against a composed version. See docs/custom-kernels.md.
 */
import { record } from '../autograd/tape.js';
import { noGrad } from '../autograd/tape.js';
import { ArgumentError, DTypeError, GradError } from '../errors.js';
import { grid } from '../gpu/runtime.js';
import type { BindingKind, Kernel } from '../gpu/pipeline-cache.js';
import {
  checkShaderAgainstDescriptor,
  enumValue,
  packUniformBlock,
  validateDescriptor,
  wgslPrelude,
  type KernelDescriptor,
  type UniformValues,
} from '../gpu/kernel-descriptor.js';
import { runtime } from '../tensor/context.js';
import type { Tensor } from '../tensor/tensor.js';

/** Workgroups of a dispatch: an explicit grid, or enough groups of `workgroupSize` for `invocations`. */
export type Workgroups = readonly [number, number, number] | { readonly invocations: number; readonly workgroupSize: number };

/** One dispatch of a {@link CustomKernel}. */
export interface CustomDispatch {
  /** A tensor per storage binding, by the descriptor's names. */
  readonly tensors: Readonly<Record<string, Tensor>>;
  /** The uniform block's fields by name (all of them). */
  readonly uniforms?: UniformValues;
  /** Override constants (defaults from the descriptor apply to the ones left out). */
  readonly constants?: Readonly<Record<string, number>>;
  readonly workgroups: Workgroups;
}

const ELEMENT_DTYPE: Record<string, 'f32' | 'i32' | 'u32'> = { f32: 'f32', 'vec4<f32>': 'f32', i32: 'i32', 'vec4<i32>': 'i32', u32: 'i32', 'vec4<u32>': 'i32' };

/** A WGSL kernel with a descriptor; made by {@link defineKernel}. */
export class CustomKernel {
  /** What the runtime compiles and caches: the name as shader label, the full source as code. */
  readonly kernel: Kernel;

  constructor(
    readonly descriptor: KernelDescriptor,
    /** The whole WGSL source (the generated prelude and the body, or the checked full shader). */
    readonly code: string,
  ) {
    const bindings: BindingKind[] = descriptor.bindings.map((b) => (b.access === 'read' ? 'read' : 'write'));
    if (descriptor.uniforms?.length) bindings.push('uniform');
    this.kernel = { shader: descriptor.name, entry: descriptor.entry, bindings, code };
  }

  /** The value of an enum member (for a uniform or constant), checked against the descriptor. */
  enum(e: string, member: string): number {
    return enumValue(this.descriptor, e, member);
  }

  /**
   * Encodes one dispatch. Every binding needs a live tensor of a matching dtype (f32 for f32 and
   * vec4<f32> arrays, i32 for i32/u32 ones; vec4 arrays need a size divisible by 4); uniforms are
   * packed by name. Nothing is read back.
   */
  dispatch(d: CustomDispatch): void {
    const desc = this.descriptor;
    const op = `kernel '${desc.name}'`;
    for (const k of Object.keys(d.tensors)) {
      if (!desc.bindings.some((b) => b.name === k)) throw new ArgumentError(op, `has no binding '${k}' (bindings: ${desc.bindings.map((b) => b.name).join(', ')})`);
    }
    const buffers = desc.bindings.map((b) => {
      const t = d.tensors[b.name];
      if (!t) throw new ArgumentError(op, `binding '${b.name}' needs a tensor`);
      const want = ELEMENT_DTYPE[b.type];
      if (want && t.dtype !== want) throw new DTypeError(op, `binding '${b.name}' (array<${b.type}>) needs an ${want} tensor, got ${t.dtype}`);
      if (b.type.startsWith('vec4') && t.size % 4 !== 0) throw new ArgumentError(op, `binding '${b.name}' (array<${b.type}>) needs a size divisible by 4, got ${t.size}`);
      return t.bufferFor(desc.name);
    });
    const constants: Record<string, number> = {};
    for (const [k, v] of Object.entries(d.constants ?? {})) {
      if (!desc.constants?.[k]) throw new ArgumentError(op, `has no override constant '${k}'`);
      constants[k] = v;
    }
    for (const [k, c] of Object.entries(desc.constants ?? {})) {
      if (constants[k] === undefined && c.default === undefined) throw new ArgumentError(op, `override constant '${k}' has no default and was not given`);
    }
    const uniforms = desc.uniforms?.length ? new Uint8Array(packUniformBlock(desc, d.uniforms ?? {})) : null;
    if (!desc.uniforms?.length && d.uniforms && Object.keys(d.uniforms).length) throw new ArgumentError(op, 'declares no uniforms');
    const w = d.workgroups;
    const groups: [number, number, number] = 'invocations' in w ? grid(Math.ceil(w.invocations / w.workgroupSize)) : [w[0], w[1], w[2]];
    runtime().dispatch(this.kernel, constants, buffers, uniforms, groups);
  }

  /**
   * The tuned variant for `key` (e.g. the shapes) among `variants` (name -> override constants), from
   * the runtime's tuning table; the first variant until {@link tuneCustomKernel} measured the key.
   */
  choose(key: string, variants: Readonly<Record<string, Readonly<Record<string, number>>>>): Readonly<Record<string, number>> {
    const names = Object.keys(variants);
    if (names.length === 0) throw new ArgumentError(`kernel '${this.descriptor.name}'`, 'choose() needs at least one variant');
    return variants[runtime().tuning.choose(`${this.descriptor.name} ${key}`, names, names[0]!)]!;
  }
}

/**
 * A kernel from its descriptor and WGSL. `wgsl` is either a body written against the names the
 * descriptor declares (the generated prelude is put before it) or a whole shader with its own
 * declarations, which must then agree with the descriptor (ArgumentError naming both otherwise).
 * Compiled on first dispatch, cached per runtime by name and source.
 */
export function defineKernel(descriptor: KernelDescriptor, wgsl: string): CustomKernel {
  validateDescriptor(descriptor);
  const declares = /@binding\s*\(/.test(wgsl);
  if (declares) checkShaderAgainstDescriptor(descriptor, wgsl, `'${descriptor.name}'`);
  const entry = descriptor.entry ?? 'main';
  if (!new RegExp(`@compute[\\s\\S]*?fn\\s+${entry}\\s*\\(`).test(wgsl)) {
    throw new ArgumentError(`kernel '${descriptor.name}'`, `the WGSL has no @compute entry point '${entry}'`);
  }
  return new CustomKernel(descriptor, declares ? wgsl : `${wgslPrelude(descriptor)}\n${wgsl}`);
}

/** What a custom op's backward receives. */
export interface CustomBackwardContext {
  /** The gradient of the output. */
  readonly gy: Tensor;
  readonly inputs: readonly Tensor[];
  readonly output: Tensor;
  /** needs[i] false: input i's gradient is not wanted (return null for it). */
  readonly needs: readonly boolean[];
}

/** A differentiable custom op (see {@link customOp}). */
export interface CustomOpSpec {
  /** The op's name in errors, graphs and graphMemory. */
  readonly name: string;
  /** The output from the inputs; runs kernels or ops, with recording off. */
  forward(...inputs: Tensor[]): Tensor;
  /**
   * One gradient (or null) per input, new tensors of the inputs' shapes; runs with recording off.
   * Without it the op is not differentiable (backward through it is a GradError).
   */
  backward?(ctx: CustomBackwardContext): (Tensor | null)[];
}

/**
 * A differentiable op from a forward and a backward of one's own (WGSL kernels through
 * defineKernel, or composed ops). The returned function records one graph node per call, keeps the
 * inputs and output for the backward, and checks that the backward returns one gradient per input
 * with the input's shape.
 */
export function customOp(spec: CustomOpSpec): (...inputs: Tensor[]) => Tensor {
  if (!spec.name) throw new ArgumentError('customOp', 'needs a name');
  return (...inputs: Tensor[]) => {
    const out = noGrad(() => spec.forward(...inputs));
    if (inputs.includes(out)) throw new ArgumentError(spec.name, 'forward must return a new tensor, not one of its inputs');
    return record(spec.name, inputs, out, [...inputs, out], (gy, needs) => {
      if (!spec.backward) throw new GradError(`${spec.name}: this custom op has no backward; give customOp a backward() to differentiate through it`);
      const gs = noGrad(() => spec.backward!({ gy, inputs, output: out, needs }));
      if (!Array.isArray(gs) || gs.length !== inputs.length) throw new GradError(`${spec.name}: backward must return ${inputs.length} gradients (one per input, null allowed), got ${Array.isArray(gs) ? gs.length : typeof gs}`);
      gs.forEach((g, i) => {
        const x = inputs[i]!;
        if (g && (g.rank !== x.rank || g.shape.some((d, k) => d !== x.shape[k]))) {
          throw new GradError(`${spec.name}: the gradient of input ${i} has shape [${g.shape.join(',')}], the input [${x.shape.join(',')}]`);
        }
        if (g && inputs.includes(g)) throw new GradError(`${spec.name}: backward returned input ${inputs.indexOf(g)} itself as a gradient; return a new tensor`);
      });
      return gs;
    });
  };
}

/** The result of {@link compareOps}. */
export interface OpComparison {
  /** Median milliseconds of `a` and `b` (each run ended by a GPU sync). */
  aMs: number;
  bMs: number;
  /** b's time over a's (above 1: a is faster). */
  speedup: number;
  /** Largest absolute difference between their outputs. */
  maxAbsDiff: number;
}

/**
 * Times two ways of computing the same tensor (say a custom kernel and its composed version),
 * interleaved round-robin after a warm-up, and compares their outputs. Outputs are disposed.
 */
export async function compareOps(a: () => Tensor, b: () => Tensor, opts: { runs?: number; warmup?: number } = {}): Promise<OpComparison> {
  const rt = runtime();
  const ya = a();
  const yb = b();
  const [va, vb] = [await ya.data(), await yb.data()];
  ya.dispose();
  yb.dispose();
  if (va.length !== vb.length) throw new ArgumentError('compareOps', `the two outputs differ in size: ${va.length} vs ${vb.length}`);
  let maxAbsDiff = 0;
  for (let i = 0; i < va.length; i++) maxAbsDiff = Math.max(maxAbsDiff, Math.abs(va[i]! - vb[i]!));
  const time = async (f: () => Tensor) => {
    const t0 = performance.now();
    f().dispose();
    await rt.sync();
    return performance.now() - t0;
  };
  for (let i = 0; i < (opts.warmup ?? 2); i++) {
    await time(a);
    await time(b);
  }
  const ta: number[] = [];
  const tb: number[] = [];
  for (let i = 0; i < (opts.runs ?? 7); i++) {
    ta.push(await time(a));
    tb.push(await time(b));
  }
  const med = (xs: number[]) => xs.sort((x, y) => x - y)[Math.floor(xs.length / 2)]!;
  const aMs = med(ta);
  const bMs = med(tb);
  return { aMs, bMs, speedup: bMs / aMs, maxAbsDiff };
}

/**
 * Measures every variant of a custom kernel for one key (`run(constants)` encodes the work with
 * those override constants), round-robin over `rounds`, and stores the fastest in the runtime's
 * tuning table under the kernel's name and the key, where {@link CustomKernel.choose} finds it.
 */
export async function tuneCustomKernel(
  k: CustomKernel,
  key: string,
  variants: Readonly<Record<string, Readonly<Record<string, number>>>>,
  run: (constants: Readonly<Record<string, number>>) => void,
  rounds = 5,
): Promise<string> {
  const rt = runtime();
  const names = Object.keys(variants);
  const times = new Map(names.map((n) => [n, [] as number[]]));
  for (const n of names) {
    run(variants[n]!);
    await rt.sync();
  }
  for (let r = 0; r < rounds; r++) {
    for (const n of names) {
      const t0 = performance.now();
      run(variants[n]!);
      await rt.sync();
      times.get(n)!.push(performance.now() - t0);
    }
  }
  const ms: Record<string, number> = {};
  for (const [n, ts] of times) ms[n] = ts.sort((x, y) => x - y)[Math.floor(ts.length / 2)]!;
  const best = names.reduce((a, b) => (ms[b]! < ms[a]! ? b : a));
  rt.tuning.set(`${k.descriptor.name} ${key}`, { variant: best, ms });
  return best;
}
