/**
 * Compute pipelines cached by (shader, entry point, override constants), with explicit bind-group
 * layouts built from the kernel's declared bindings.
 */
import { readShaderFile } from './shader-files.js';

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
}

export interface CachedPipeline {
  pipeline: GPUComputePipeline;
  layout: GPUBindGroupLayout;
}

export class PipelineCache {
  private pipelines = new Map<string, CachedPipeline>();
  private layouts = new Map<string, GPUBindGroupLayout>();
  private modules = new Map<string, GPUShaderModule>();
  /** Milliseconds spent creating pipelines (shader compiles), for warm-up reports. */
  compileMs = 0;

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
    const key = `${kernel.shader}:${entry}[${kernel.bindings.join(',')}]:${ckeys.map((k) => `${k}=${constants[k]}`).join(',')}`;
    let cached = this.pipelines.get(key);
    if (cached) return cached;
    const t0 = performance.now();
    const layout = this.layout(kernel.bindings);
    let module = this.modules.get(kernel.shader);
    if (!module) {
      module = this.device.createShaderModule({ label: kernel.shader, code: readShaderFile(kernel.shader) });
      this.modules.set(kernel.shader, module);
    }
    const pipeline = this.device.createComputePipeline({
      label: key,
      layout: this.device.createPipelineLayout({ bindGroupLayouts: [layout] }),
      compute: { module, entryPoint: entry, constants },
    });
    cached = { pipeline, layout };
    this.pipelines.set(key, cached);
    this.compileMs += performance.now() - t0;
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
