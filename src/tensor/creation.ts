/**
 * Creating tensors: from host data, constant fills on the GPU, ranges and seeded random values.
 */
import { ArgumentError, DTypeError, ShapeError } from '../errors.js';
import { bindingsByName, packUniformBlock, type KernelDescriptor } from '../gpu/kernel-descriptor.js';
import { fileKernel } from '../gpu/pipeline-cache.js';
import { grid } from '../gpu/runtime.js';
import { runtime } from './context.js';
import { Generator, defaultGenerator } from './random.js';
import { checkShape, sizeOf, type Shape } from './shape.js';
import { Storage, Tensor, type DType } from './tensor.js';

const WG = 64;
/** The contract of shaders/fill.wgsl: one 32-bit pattern written four words per invocation. */
export const FILL: KernelDescriptor = {
  name: 'fill',
  bindings: [{ name: 'out', access: 'read_write', type: 'vec4<u32>' }],
  uniforms: [
    { name: 'n4', type: 'u32' },
    { name: 'bits', type: 'u32' },
  ],
  constants: { WG: { type: 'u32' } },
};
const fillKernel = fileKernel(FILL, 'fill');

/** An uninitialised tensor (contents undefined); ops use it for their outputs. */
export function empty(shape: Shape, dtype: DType = 'f32'): Tensor {
  checkShape('empty', shape);
  const rt = runtime();
  const bytes = Math.max(4, sizeOf(shape) * 4);
  return new Tensor([...shape], dtype, new Storage(rt, rt.alloc(bytes), bytes));
}

/** Options shared by creation functions. */
export interface CreateOptions {
  dtype?: DType;
  /** Mark the result as a leaf that gradients are tracked for. */
  requiresGrad?: boolean;
}

function finish(t: Tensor, opts: CreateOptions): Tensor {
  if (opts.requiresGrad) {
    if (t.dtype !== 'f32') throw new DTypeError('requiresGrad', 'only f32 tensors can require gradients');
    t.requiresGrad = true;
  }
  return t;
}

/** A tensor holding `data` (row-major) with the given shape (default: 1-D). */
export function fromArray(
  data: ArrayLike<number>,
  shape: Shape = [data.length],
  opts: CreateOptions = {},
): Tensor {
  const dtype = opts.dtype ?? (data instanceof Int32Array ? 'i32' : 'f32');
  checkShape('fromArray', shape);
  if (sizeOf(shape) !== data.length) {
    throw new ShapeError('fromArray', [shape], `${data.length} values do not fill the shape`);
  }
  if (opts.requiresGrad && dtype !== 'f32') throw new DTypeError('requiresGrad', 'only f32 tensors can require gradients');
  // Validate before allocating, so a rejected call leaks no GPU memory.
  if (dtype === 'i32' && !(data instanceof Int32Array)) {
    for (let i = 0; i < data.length; i++) {
      const v = data[i]!;
      if (!Number.isInteger(v)) throw new DTypeError('fromArray', `value ${v} at ${i} is not an integer (dtype i32)`);
      if (v < -2147483648 || v > 2147483647) throw new DTypeError('fromArray', `value ${v} at ${i} is outside the i32 range`);
    }
  }
  const t = empty(shape, dtype);
  if (data.length > 0) {
    const host = dtype === 'f32' ? Float32Array.from(data) : Int32Array.from(data);
    t.runtime.write(t.bufferFor('fromArray'), host);
  }
  return finish(t, opts);
}

/** A scalar (shape []) tensor. */
export function scalar(value: number, opts: CreateOptions = {}): Tensor {
  return fromArray([value], [], opts);
}

/** A tensor of the given shape filled with `value` (written on the GPU). */
export function full(shape: Shape, value: number, opts: CreateOptions = {}): Tensor {
  const dtype = opts.dtype ?? 'f32';
  if (dtype === 'i32' && !(Number.isInteger(value) && value >= -2147483648 && value <= 2147483647)) {
    throw new DTypeError('full', `value ${value} is not an integer in the i32 range (dtype i32)`);
  }
  if (opts.requiresGrad && dtype !== 'f32') throw new DTypeError('requiresGrad', 'only f32 tensors can require gradients');
  const t = empty(shape, dtype);
  const bits = new Uint32Array(1);
  if (dtype === 'f32') new Float32Array(bits.buffer)[0] = value;
  else new Int32Array(bits.buffer)[0] = value;
  // Chunks of one binding each (at multiples of the binding limit, so offsets stay aligned).
  const rt = t.runtime;
  const buffer = t.bufferFor('full');
  const step = rt.maxBindingBytes / 4;
  for (let s = 0; s < t.size; s += step) {
    const n4 = Math.ceil(Math.min(step, t.size - s) / 4);
    const binding = t.size <= step ? buffer : { buffer, offset: s * 4, size: Math.min(n4 * 16, buffer.size - s * 4) };
    const u = packUniformBlock(FILL, { n4, bits: bits[0]! });
    rt.dispatch(fillKernel, { WG }, bindingsByName(FILL, { out: binding }), new Uint8Array(u), grid(Math.ceil(n4 / WG)));
  }
  return finish(t, opts);
}

/** Zeros of the given shape. */
export function zeros(shape: Shape, opts: CreateOptions = {}): Tensor {
  return full(shape, 0, opts);
}

/** Ones of the given shape. */
export function ones(shape: Shape, opts: CreateOptions = {}): Tensor {
  return full(shape, 1, opts);
}

/** Zeros with the shape and dtype of `t`. */
export function zerosLike(t: Tensor): Tensor {
  return full(t.shape, 0, { dtype: t.dtype });
}

/** Ones with the shape and dtype of `t`. */
export function onesLike(t: Tensor): Tensor {
  return full(t.shape, 1, { dtype: t.dtype });
}

/** Values start, start+step, ... below end (like torch.arange); i32 when all arguments are integers. */
export function arange(start: number, end?: number, step = 1, opts: CreateOptions = {}): Tensor {
  if (end === undefined) [start, end] = [0, start];
  if (step === 0) throw new ArgumentError('arange', 'step must not be 0');
  if (![start, end, step].every(Number.isFinite)) throw new ArgumentError('arange', `needs finite start, end and step (got ${start}, ${end}, ${step})`);
  const n = Math.max(0, Math.ceil((end - start) / step));
  const ints = [start, end, step].every(Number.isInteger);
  const dtype = opts.dtype ?? (ints ? 'i32' : 'f32');
  const host = dtype === 'i32' ? new Int32Array(n) : new Float32Array(n);
  for (let i = 0; i < n; i++) host[i] = start + i * step;
  return fromArray(host, [n], { ...opts, dtype });
}

/** Options for random creation: a seed (or generator) for reproducibility. */
export interface RandomOptions extends CreateOptions {
  seed?: number;
  generator?: Generator;
}

function gen(opts: RandomOptions): Generator {
  return opts.generator ?? (opts.seed !== undefined ? new Generator(opts.seed) : defaultGenerator);
}

/** Uniform values in [low, high) (default [0, 1)), generated on the host from a seeded generator. */
export function rand(shape: Shape, opts: RandomOptions & { low?: number; high?: number } = {}): Tensor {
  checkShape('rand', shape);
  return fromArray(gen(opts).uniform(sizeOf(shape), opts.low ?? 0, opts.high ?? 1), shape, { ...opts, dtype: 'f32' });
}

/** Normal values (default mean 0, std 1), generated on the host from a seeded generator. */
export function randn(shape: Shape, opts: RandomOptions & { mean?: number; std?: number } = {}): Tensor {
  checkShape('randn', shape);
  return fromArray(gen(opts).normal(sizeOf(shape), opts.mean ?? 0, opts.std ?? 1), shape, { ...opts, dtype: 'f32' });
}

/** Uniform integers in [low, high) as an i32 tensor (e.g. random labels). */
export function randint(shape: Shape, low: number, high: number, opts: RandomOptions = {}): Tensor {
  checkShape('randint', shape);
  if (!Number.isInteger(low) || !Number.isInteger(high) || high <= low) {
    throw new ArgumentError('randint', `needs integers low < high (got low ${low}, high ${high})`);
  }
  const g = gen(opts);
  const host = new Int32Array(sizeOf(shape));
  for (let i = 0; i < host.length; i++) host[i] = low + Math.floor(g.next() * (high - low));
  return fromArray(host, shape, { dtype: 'i32' });
}
