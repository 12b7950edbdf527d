/**
 * The Tensor handle: shape, dtype and a reference-counted GPU storage. Tensors are always
 * contiguous (row-major); reshape shares storage, every other layout change copies. Autograd fields
 * (`requiresGrad`, `grad`, `gradFn`) live here but are managed by src/autograd.
 */
import { DisposedError, ShapeError, StaleTensorError } from '../errors.js';
import type { Runtime } from '../gpu/runtime.js';
import { sizeOf, type Shape } from './shape.js';
import { released, track } from './scope.js';

export type DType = 'f32' | 'i32';

// Consumers that compile against ES2022 without the esnext.disposable lib (a browser setup) still
// typecheck `[Symbol.dispose]` below: the same declaration the lib and @types/node make.
declare global {
  interface SymbolConstructor {
    readonly dispose: unique symbol;
  }
}

/** A backward node recorded by an op; see src/autograd/tape.ts. */
export interface GradNode {
  readonly op: string;
  readonly inputs: readonly Tensor[];
  /** Tensors the backward rule reads; kept alive as long as the node is reachable. */
  saved: readonly Tensor[];
  /** Gradients for each input given the output gradient; `needs[i]` false means input i may get null. */
  backward: ((gy: Tensor, needs: readonly boolean[]) => (Tensor | null)[]) | null;
}

/** GPU memory shared by a tensor and its reshaped views. */
export class Storage {
  refs = 1;
  constructor(
    readonly runtime: Runtime,
    readonly buffer: GPUBuffer,
    readonly bytes: number,
  ) {}
  release(): void {
    if (--this.refs === 0) this.runtime.free(this.buffer);
  }
}

let nextId = 1;

export class Tensor {
  readonly id = nextId++;
  readonly size: number;
  private storage_: Storage | null;
  /** Set by the autograd layer: gradients are tracked for this tensor. */
  requiresGrad = false;
  /** Accumulated gradient of a leaf after backward(). */
  grad: Tensor | null = null;
  /** The node that produced this tensor (null for leaves and tensors made without tracking). */
  gradFn: GradNode | null = null;
  /** Optional name shown in errors and summaries. */
  name: string | undefined;

  /** Wraps a storage; use the creation functions instead of calling this directly. */
  constructor(
    readonly shape: Shape,
    readonly dtype: DType,
    storage: Storage,
  ) {
    this.size = sizeOf(shape);
    this.storage_ = storage;
    track(this);
  }

  /** Number of dimensions. */
  get rank(): number {
    return this.shape.length;
  }

  /** True once dispose() was called (directly or by the owning tidy scope). */
  get disposed(): boolean {
    return this.storage_ === null;
  }

  /**
   * The storage, or a DisposedError naming `op` when the tensor was disposed (a StaleTensorError
   * when its runtime has ended since it was made).
   */
  storageFor(op: string): Storage {
    if (!this.storage_) throw new DisposedError(op, this.shape);
    const ended = this.storage_.runtime.endedBecause;
    if (ended !== null) throw new StaleTensorError(op, this.shape, ended, this.name);
    return this.storage_;
  }

  /** The GPU buffer, or a DisposedError naming `op` when the tensor was disposed. */
  bufferFor(op: string): GPUBuffer {
    return this.storageFor(op).buffer;
  }

  /** The runtime that owns this tensor's memory. */
  get runtime(): Runtime {
    return this.storageFor('runtime').runtime;
  }

  /** Copies the values back to the host: Float32Array for f32, Int32Array for i32. */
  async data(): Promise<Float32Array | Int32Array> {
    const s = this.storageFor('data');
    const bytes = await s.runtime.read(s.buffer, this.size * 4);
    return this.dtype === 'f32' ? new Float32Array(bytes) : new Int32Array(bytes);
  }

  /** The values as a plain number array. */
  async toArray(): Promise<number[]> {
    return Array.from(await this.data());
  }

  /** The single value of a one-element tensor. */
  async item(): Promise<number> {
    if (this.size !== 1) throw new ShapeError('item', [this.shape], 'item() needs a tensor with exactly one element');
    return (await this.data())[0]!;
  }

  /** Releases this handle's reference to the GPU memory. Idempotent. */
  dispose(): void {
    if (this.storage_) {
      this.storage_.release();
      this.storage_ = null;
    }
    if (this.grad) {
      this.grad.dispose();
      this.grad = null;
    }
    this.gradFn = null;
    released(this);
  }

  [Symbol.dispose](): void {
    this.dispose();
  }

  /** A new handle with another shape over the same storage (sizes must match; checked by callers). */
  view(shape: Shape): Tensor {
    const s = this.storageFor('reshape');
    s.refs++;
    return new Tensor(shape, this.dtype, s);
  }

  toString(): string {
    return `Tensor(${this.dtype}[${this.shape.join(',')}]${this.disposed ? ', disposed' : ''})`;
  }
}
