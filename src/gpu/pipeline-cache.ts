/**
 * Compute pipelines cached by (shader, entry point, override constants), with explicit bind-group
 * layouts built from the kernel's declared bindings.
 */
import { bindingKinds, checkShaderAgainstDescriptor, type KernelDescriptor } from './kernel-descriptor.js';
import { shaderSource } from './shader-source.js';
import { f16Variant } from './shader-f16.js';

/** How a kernel binding is used: read-only storage, read-write storage, or the uniform block. */
export type BindingKind = 'read' | 'write' | 'uniform';

/**
 * A kernel: shaders/`shader`.wgsl, its entry point, and its bindings in @binding order (group 0).
 * By convention storage buffers come first and the uniform block, when present, last.
 */
export interface Kernel {
  shader: string;
  entry?: string;
  bindings: readonly BindingKind[];
  /**
   * Compile the shader's f16 variant (src/gpu/shader-f16.ts): its own module and pipelines, keyed
   * `SHADER+f16`. Only for devices with the `shader-f16` feature.
   */
  f16?: boolean;
  /**
   * The WGSL source itself, for kernels defined at run time (defineKernel); `shader` is then only its
   * name (profiler label). Modules and pipelines are keyed by the source's hash as well, so two
   * kernels of one name with different code never share a pipeline.
   */
  code?: string;
  /**
   * The kernel's contract (kernel-descriptor.ts). A shader file that declares its own bindings is
   * checked against it when its module is first created: a mismatch fails there, naming both.
   */
  descriptor?: KernelDescriptor;
}

/** The Kernel of entry point `entry` (default `main`) of shaders/`shader`.wgsl under descriptor `d`. */
export function fileKernel(d: KernelDescriptor, shader: string, entry?: string): Kernel {
  return { shader, ...(entry ? { entry } : {}), bindings: bindingKinds(d), descriptor: d };
}

/** FNV-1a of a string, as 8 hex digits. */
function hash(s: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193) >>> 0;
  return h.toString(16).padStart(8, '0');
}

export interface CachedPipeline {
  pipeline: GPUComputePipeline;
  layout: GPUBindGroupLayout;
}

/** One pipeline the cache created: what it was built from, and the milliseconds its creation took. */
export interface PipelineRecord {
  key: string;
  kernel: Kernel;
  constants: Record<string, number>;
  createMs: number;
}

export class PipelineCache {
  private pipelines = new Map<string, CachedPipeline>();
  private layouts = new Map<string, GPUBindGroupLayout>();
  private modules = new Map<string, GPUShaderModule>();
  /**
   * Milliseconds spent in createComputePipeline. Not the whole compile: on lavapipe that call only
   * translates the shader (Tint, then Mesa's SPIR-V to NIR), and llvmpipe compiles it with LLVM at its
   * first dispatch, on the queue's thread (10-900 ms per pipeline cold; bench/compile.ts). A model's
   * warm-up cost is its first step's wall time.
   */
  compileMs = 0;
  /** Every pipeline created so far, in creation order (bench/compile.ts replays them one by one). */
  readonly created: PipelineRecord[] = [];

  constructor(private readonly device: GPUDevice) {}

  /** Number of distinct pipelines created so far. */
  get size(): number {
    return this.pipelines.size;
  }

  /** The pipeline for `kernel` specialised with `constants`, created on first use. */
  get(kernel: Kernel, constants: Record<string, number> = {}): CachedPipeline {
    const entry = kernel.entry ?? 'main';
    const ckeys = Object.keys(constants).sort();
    // The bindings are part of the identity: the same entry point under another layout is another pipeline.
    const shader = `${kernel.f16 ? `${kernel.shader}+f16` : kernel.shader}${kernel.code !== undefined ? `#${hash(kernel.code)}` : ''}`;
    const key = `${shader}:${entry}[${kernel.bindings.join(',')}]:${ckeys.map((k) => `${k}=${constants[k]}`).join(',')}`;
    let cached = this.pipelines.get(key);
    if (cached) return cached;
    const t0 = performance.now();
    const layout = this.layout(kernel.bindings);
    // Every entry point is checked against its own descriptor: one shader file may hold several
    // entry points with different layouts.
    if (kernel.descriptor && kernel.code === undefined) checkShaderAgainstDescriptor(kernel.descriptor, shaderSource(kernel.shader), `shaders/${kernel.shader}.wgsl`, entry);
    let module = this.modules.get(shader);
    if (!module) {
      const src = kernel.code ?? shaderSource(kernel.shader);
      module = this.device.createShaderModule({ label: shader, code: kernel.f16 ? f16Variant(kernel.shader, src) : src });
      this.modules.set(shader, module);
    }
    const pipeline = this.device.createComputePipeline({
      label: key,
      layout: this.device.createPipelineLayout({ bindGroupLayouts: [layout] }),
      compute: { module, entryPoint: entry, constants },
    });
    cached = { pipeline, layout };
    this.pipelines.set(key, cached);
    const ms = performance.now() - t0;
    this.compileMs += ms;
    this.created.push({ key, kernel, constants: { ...constants }, createMs: ms });
    return cached;
  }

  private layout(kinds: readonly BindingKind[]): GPUBindGroupLayout {
    const key = kinds.join(',');
    let layout = this.layouts.get(key);
    if (!layout) {
      layout = this.device.createBindGroupLayout({
        entries: kinds.map((kind, binding) => ({
          binding,
          visibility: GPUShaderStage.COMPUTE,
          buffer: { type: kind === 'uniform' ? 'uniform' : kind === 'read' ? 'read-only-storage' : 'storage' },
        })),
      });
      this.layouts.set(key, layout);
    }
    return layout;
  }
}
