/**
 * The GPU runtime: one device, its buffer pool and pipeline cache, and batched command encoding.
 * Ops encode dispatches into one pending command encoder (one compute pass); it is submitted when a
 * value is read back, at an explicit `flush()`, or after `maxBatch` dispatches.
 */
import { defaultKernelOptions, type KernelOptions } from './kernel-options.js';
import { DeviceLostError, GpuError, OutOfMemoryError, ArgumentError } from '../errors.js';
import { requestDevice, type DeviceOptions } from './adapter.js';
import { BufferPool, type PoolStats } from './buffer-pool.js';
import { PipelineCache, type Kernel } from './pipeline-cache.js';
import { Profiler } from './profiler.js';
import { politeWait } from './polite-wait.js';
import { loadTuning, TuningTable } from './tuning.js';

const UNIFORM_CHUNK = 64 * 1024;

/** Splits `groups` workgroups into an (x, y) grid within the per-dimension limit. */
export function grid(groups: number, maxPerDim = 65535): [number, number, number] {
  if (groups <= maxPerDim) return [Math.max(1, groups), 1, 1];
  const y = Math.ceil(groups / maxPerDim);
  return [Math.ceil(groups / y), y, 1];
}

/** Options for {@link Runtime.create}. */
export interface RuntimeOptions extends DeviceOptions {
  /**
   * Dispatches per submit before an automatic flush (default 128). Smaller batches let the GPU start
   * while the host still encodes: the demo training step (~730 dispatches) ran 10-17% faster on
   * lavapipe with 128 than with 512 (64: between the two); see bench/README.md.
   */
  maxBatch?: number;
  /**
   * Released buffer bytes that wait for a submit before an automatic flush (default 16 MiB). A
   * released buffer is reusable only once the batch that used it was submitted; with large tensors
   * a batch of 128 dispatches holds back hundreds of MiB, which the pool then creates anew. Measured
   * on a ResNet-18 step at 2x240x320 on lavapipe: the pool held 1021 MiB of free buffers with the
   * dispatch count alone, 475 MiB when flushing on released bytes (bench/README.md, "Scale").
   */
  flushReleasedBytes?: number;
  /**
   * Kernel choices by measurement: true (default) loads this adapter's stored table of tuned variants
   * (see tuning.ts; `WEBMTL_TUNING=off` ignores it), false starts empty, or a table to use.
   */
  tuning?: boolean | TuningTable;
  /** Start with {@link Runtime.f16} on (default off); throws ArgumentError without `shader-f16`. */
  f16?: boolean;
  /**
   * The most bytes an op may bind as one storage buffer (default: the adapter's
   * maxStorageBufferBindingSize; `WEBMTL_MAX_BINDING` in the environment sets it when this is absent).
   * Ops split their work over several bindings or dispatches when a tensor or temporary is larger, so
   * a low value (e.g. 65536) exercises every split path on small tensors. Rounded down to a multiple
   * of 256 bytes, never above the adapter's limit, at least 4096.
   */
  maxBindingBytes?: number;
}

/** The binding limit a runtime uses: the option, else `WEBMTL_MAX_BINDING`, capped by the adapter. */
function bindingLimit(opt: number | undefined, adapterMax: number): number {
  const env = typeof process !== 'undefined' ? process.env?.WEBMTL_MAX_BINDING : undefined;
  const asked = opt ?? (env ? Number(env) : Infinity);
  if (!(asked > 0)) throw new ArgumentError('maxBindingBytes', `must be a positive number of bytes, got ${opt ?? env}`);
  return Math.max(4096, Math.floor(Math.min(asked, adapterMax) / 256) * 256);
}

export class Runtime {
  readonly pool: BufferPool;
  readonly pipelines: PipelineCache;
  readonly profiler: Profiler | null;
  private readonly readPool: BufferPool;
  private encoder: GPUCommandEncoder | null = null;
  private pass: GPUComputePassEncoder | null = null;
  private batched = 0;
  private uniformChunks: GPUBuffer[] = [];
  private uniformIndex = 0;
  private uniformData = new Uint8Array(UNIFORM_CHUNK);
  private uniformOffset = 0;
  private readonly uniformAlign: number;
  private error: Error | null = null;
  private lost: string | null = null;
  /** Dispatches encoded since the runtime was created (for dispatch-count reports). */
  dispatchCount = 0;
  /** Queue submits since the runtime was created. */
  submitCount = 0;
  readonly maxBatch: number;
  /** See {@link RuntimeOptions.flushReleasedBytes}. */
  readonly flushReleasedBytes: number;
  /**
   * Wait for the GPU without letting Dawn's completion polling spin a core (see polite-wait.ts;
   * default true). False restores `await` on the bare promise, for comparisons.
   */
  politeWaits = true;
  private f16On = false;
  /**
   * The most bytes one storage binding of a dispatch may span ({@link RuntimeOptions.maxBindingBytes}).
   * Tensors may be larger (up to maxBufferSize); ops split their work so that no binding exceeds this.
   */
  readonly maxBindingBytes: number;
  /** Which kernels ops run where there is a choice (see kernel-options.ts); change with withKernelOptions. */
  kernelOptions: KernelOptions = defaultKernelOptions();

  private constructor(
    readonly device: GPUDevice,
    readonly adapterName: string,
    readonly features: ReadonlySet<string>,
    opts: RuntimeOptions,
    /** Tuned kernel variants for this adapter, consulted by ops with several kernels for one job. */
    public tuning: TuningTable,
  ) {
    this.maxBatch = opts.maxBatch ?? 128;
    this.flushReleasedBytes = opts.flushReleasedBytes ?? 16 << 20;
    this.maxBindingBytes = bindingLimit(opts.maxBindingBytes, device.limits.maxStorageBufferBindingSize);
    if (opts.f16) this.f16 = true;
    this.pool = new BufferPool(device, GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST);
    this.readPool = new BufferPool(device, GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST, 64 << 20);
    this.pipelines = new PipelineCache(device);
    this.uniformAlign = Math.max(16, device.limits.minUniformBufferOffsetAlignment);
    this.profiler = features.has('timestamp-query') ? new Profiler(device, () => this.flush()) : null;
    device.onuncapturederror = (ev: GPUUncapturedErrorEvent) => {
      const e = ev.error;
      const err =
        e.constructor?.name === 'GPUOutOfMemoryError' || /out of memory/i.test(e.message)
          ? new OutOfMemoryError(e.message)
          : new GpuError(`WebGPU reported: ${e.message}`);
      this.error ??= err;
    };
    void device.lost.then((info) => {
      this.lost = `${info.reason}: ${info.message}`;
    });
  }

  /** Acquires a device (see {@link requestDevice}) and wraps it in a runtime. */
  static async create(opts: RuntimeOptions = {}): Promise<Runtime> {
    const { device, adapterName, adapterKey, features } = await requestDevice(opts);
    const t = opts.tuning ?? true;
    const tuning = t instanceof TuningTable ? t : t ? await loadTuning(adapterKey) : new TuningTable(adapterKey);
    return new Runtime(device, adapterName, features, opts, tuning);
  }

  /**
   * Opt-in f16 storage for the k-major operands of large products (src/ops/kernels/f16.ts lists the
   * passes): operands are rounded to f16 (11 significant bits, range +-65504), then multiplied and
   * accumulated in f32; outputs stay f32. Default off, and then every result is bit-identical to a
   * runtime without it. Setting it true throws ArgumentError when the adapter lacks `shader-f16`.
   */
  get f16(): boolean {
    return this.f16On;
  }

  set f16(on: boolean) {
    if (on && !this.features.has('shader-f16')) {
      throw new ArgumentError('f16', `the adapter (${this.adapterName}) lacks the 'shader-f16' feature; leave f16 off on it`);
    }
    this.f16On = on;
  }

  /**
   * Runs `fn` with some kernel options changed (kernel-options.ts), then restores the previous ones,
   * also when fn throws or its promise rejects; returns what fn returns.
   */
  withKernelOptions<T>(patch: Partial<KernelOptions>, fn: () => T): T {
    const old = this.kernelOptions;
    this.kernelOptions = { ...old, ...patch };
    let result: T;
    try {
      result = fn();
    } catch (e) {
      this.kernelOptions = old;
      throw e;
    }
    if (result instanceof Promise) {
      return result.finally(() => {
        this.kernelOptions = old;
      }) as T;
    }
    this.kernelOptions = old;
    return result;
  }

  /** The limits of the device, as granted. */
  get limits(): GPUSupportedLimits {
    return this.device.limits;
  }

  /** Why the runtime can no longer be used (destroyed or device lost), or null while it can. */
  get endedBecause(): string | null {
    return this.lost;
  }

  private checkAlive(): void {
    if (this.lost !== null) throw new DeviceLostError(this.lost);
  }

  /** Throws (once) the first error WebGPU reported asynchronously. */
  private raisePending(): void {
    const e = this.error;
    if (e) {
      this.error = null;
      throw e;
    }
  }

  /**
   * A storage buffer of at least `bytes` bytes from the pool, up to the adapter's maxBufferSize. A
   * request that fits one binding gets a buffer that does too (its pool bucket is capped at
   * {@link maxBindingBytes}), so ops may bind it whole.
   */
  alloc(bytes: number): GPUBuffer {
    this.checkAlive();
    const max = this.device.limits.maxBufferSize;
    if (bytes > max) {
      throw new OutOfMemoryError(`a buffer of ${bytes} bytes exceeds this adapter's maxBufferSize (${max})`);
    }
    return this.pool.acquire(bytes, bytes <= this.maxBindingBytes ? this.maxBindingBytes : Infinity);
  }

  /** Returns a storage buffer to the pool (reusable after the current batch is submitted). */
  free(buf: GPUBuffer): void {
    this.pool.release(buf);
  }

  /** Writes host data into a buffer (queued ahead of not-yet-submitted commands). */
  write(buf: GPUBuffer, data: ArrayBufferView, byteOffset = 0): void {
    this.checkAlive();
    this.device.queue.writeBuffer(buf, byteOffset, data.buffer, data.byteOffset, data.byteLength);
  }

  private getEncoder(): GPUCommandEncoder {
    this.encoder ??= this.device.createCommandEncoder();
    return this.encoder;
  }

  private endPass(): void {
    if (this.pass) {
      this.pass.end();
      this.pass = null;
    }
  }

  /** Copies the uniform block into the current arena chunk and returns its binding. */
  private uniformBinding(data: ArrayBufferView): GPUBufferBinding {
    const size = Math.ceil(data.byteLength / 16) * 16;
    if (size > 4096) throw new ArgumentError('dispatch', `uniform block of ${size} bytes is too large`);
    if (this.uniformOffset + size > UNIFORM_CHUNK) this.uploadUniformChunk();
    let buf = this.uniformChunks[this.uniformIndex];
    if (!buf) {
      buf = this.device.createBuffer({ size: UNIFORM_CHUNK, usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST });
      this.uniformChunks.push(buf);
    }
    const offset = this.uniformOffset;
    this.uniformData.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength), offset);
    this.uniformOffset = Math.ceil((offset + size) / this.uniformAlign) * this.uniformAlign;
    return { buffer: buf, offset, size };
  }

  private uploadUniformChunk(): void {
    if (this.uniformOffset > 0) {
      this.device.queue.writeBuffer(this.uniformChunks[this.uniformIndex]!, 0, this.uniformData.buffer, 0, this.uniformOffset);
      this.uniformIndex++;
      this.uniformOffset = 0;
    }
  }

  /**
   * Encodes one dispatch of `kernel` (specialised by `constants`) over `buffers` (in binding order,
   * the uniform block last when the kernel declares one) and `groups` workgroups. A buffer is bound
   * whole, a {buffer, offset, size} range as given (offset a multiple of the adapter's
   * minStorageBufferOffsetAlignment). No binding may exceed {@link maxBindingBytes}: an op that would
   * bind more gets a GpuError naming the kernel, before anything is encoded.
   */
  dispatch(
    kernel: Kernel,
    constants: Record<string, number>,
    buffers: readonly (GPUBuffer | GPUBufferBinding)[],
    uniforms: ArrayBufferView | null,
    groups: readonly [number, number, number],
  ): void {
    this.checkAlive();
    const entries: GPUBindGroupEntry[] = new Array(buffers.length);
    for (let binding = 0; binding < buffers.length; binding++) {
      const b = buffers[binding]!;
      const range = 'buffer' in b;
      const bytes = range ? (b.size ?? b.buffer.size - (b.offset ?? 0)) : b.size;
      if (bytes > this.maxBindingBytes) {
        throw new GpuError(
          `kernel ${kernel.shader}${kernel.entry ? `.${kernel.entry}` : ''} binds ${bytes} bytes at binding ${binding}, more than the ` +
            `binding limit (${this.maxBindingBytes}); the op must split its work`,
        );
      }
      entries[binding] = { binding, resource: range ? b : { buffer: b } };
    }
    const { pipeline, layout } = this.pipelines.get(kernel, constants);
    if (uniforms) entries.push({ binding: buffers.length, resource: this.uniformBinding(uniforms) });
    const bindGroup = this.device.createBindGroup({ layout, entries });
    const base = kernel.entry && kernel.entry !== 'main' ? `${kernel.shader}.${kernel.entry}` : kernel.shader;
    const label = kernel.f16 ? `${base}+f16` : base;
    if (this.profiler?.enabled) {
      this.endPass();
      const pass = this.getEncoder().beginComputePass({ timestampWrites: this.profiler.slot(label) });
      pass.setPipeline(pipeline);
      pass.setBindGroup(0, bindGroup);
      pass.dispatchWorkgroups(groups[0], groups[1], groups[2]);
      pass.end();
    } else {
      this.pass ??= this.getEncoder().beginComputePass();
      this.pass.setPipeline(pipeline);
      this.pass.setBindGroup(0, bindGroup);
      this.pass.dispatchWorkgroups(groups[0], groups[1], groups[2]);
    }
    this.dispatchCount++;
    if (++this.batched >= this.maxBatch || this.pool.pendingBytes >= this.flushReleasedBytes || this.profiler?.full) this.flush();
  }

  /** Encodes a buffer-to-buffer copy in stream order with the dispatches. */
  copy(src: GPUBuffer, srcOffset: number, dst: GPUBuffer, dstOffset: number, bytes: number): void {
    this.checkAlive();
    // Dawn aborts the process on an invalid copy: check here and throw instead.
    if (srcOffset + bytes > src.size || dstOffset + bytes > dst.size || (srcOffset | dstOffset | bytes) % 4 !== 0) {
      throw new GpuError(`invalid copy of ${bytes} bytes from offset ${srcOffset} of ${src.size} to offset ${dstOffset} of ${dst.size}`);
    }
    this.endPass();
    this.getEncoder().copyBufferToBuffer(src, srcOffset, dst, dstOffset, bytes);
  }

  /** Submits all pending work. Cheap when nothing is pending. */
  flush(): void {
    this.checkAlive();
    if (this.encoder) {
      this.endPass();
      this.profiler?.resolve(this.encoder);
      this.uploadUniformChunk();
      this.device.queue.submit([this.encoder.finish()]);
      this.submitCount++;
      this.encoder = null;
      this.batched = 0;
      this.uniformIndex = 0;
      this.uniformOffset = 0;
      this.profiler?.submitted();
    }
    this.pool.submitted();
    this.readPool.submitted();
    this.raisePending();
  }

  /** Reads `bytes` bytes of `buf` from `offset` back to the host (submits pending work first). */
  async read(buf: GPUBuffer, bytes: number, offset = 0): Promise<ArrayBuffer> {
    const size = Math.ceil(bytes / 4) * 4;
    const staging = this.readPool.acquire(size);
    this.copy(buf, offset, staging, 0, size);
    this.flush();
    try {
      await this.wait(() => staging.mapAsync(GPUMapMode.READ, 0, size));
    } catch (e) {
      this.checkAlive();
      this.raisePending();
      throw new GpuError(`readback failed: ${(e as Error).message}`);
    }
    const out = staging.getMappedRange(0, size).slice(0, bytes);
    staging.unmap();
    this.readPool.release(staging);
    this.raisePending();
    return out;
  }

  /** Waits until the GPU has finished all submitted work (submits pending work first). */
  async sync(): Promise<void> {
    this.flush();
    await this.wait(() => this.device.queue.onSubmittedWorkDone());
    this.raisePending();
  }

  private wait<T>(start: () => Promise<T>): Promise<T> {
    return this.politeWaits ? politeWait(start) : start();
  }

  /** Storage pool counters (live buffers, bytes, peak). */
  memory(): PoolStats {
    return this.pool.getStats();
  }

  /** Releases every GPU resource and destroys the device; the runtime is unusable afterwards. */
  destroy(): void {
    if (this.lost !== null) return;
    try {
      this.flush();
    } catch {
      // Errors from pending work no longer matter once we tear down.
    }
    this.pool.trim();
    this.readPool.trim();
    for (const b of this.uniformChunks) b.destroy();
    this.profiler?.destroy();
    this.lost = 'destroyed: the runtime was destroyed';
    this.device.destroy();
  }
}
