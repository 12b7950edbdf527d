/**
 * Finding a WebGPU device: `navigator.gpu` in a browser, Dawn (the `webgpu` package) in Node.
 */
import { NoAdapterError } from '../errors.js';
import { withoutDawnStartupNoise } from './dawn-startup-log.js';

// Dawn crashes when its GPU object is garbage-collected while work is pending, so the object lives
// for the whole process (see shared/WEBGPU-ON-CPU.md).
let nodeGpu: GPU | null = null;

/** The Dawn release webmtl is tested with (package.json's peer dependency). */
export const DAWN_VERSION = '0.6.2';

async function nodeWebGpu(): Promise<GPU> {
  if (nodeGpu) return nodeGpu;
  if (typeof process !== 'undefined' && !process.env.XDG_RUNTIME_DIR) {
    // Silences a harmless Vulkan loader warning on headless machines.
    process.env.XDG_RUNTIME_DIR = '/tmp';
  }
  let mod: { create: (flags: string[]) => GPU; globals: Record<string, unknown> };
  try {
    const name = 'webgpu';
    mod = await import(/* @vite-ignore */ name);
  } catch (e) {
    // Dawn is an optional peer dependency (browser-only users never download it), so in Node it may
    // simply not be installed: say which package to add.
    const err = e as Error & { code?: string };
    const missing = err.code === 'ERR_MODULE_NOT_FOUND' || /Cannot find (package|module) 'webgpu'/.test(err.message);
    throw new NoAdapterError(
      missing
        ? "WebGPU in Node comes from Dawn, the 'webgpu' package, which is not installed"
        : `the 'webgpu' package could not be loaded (${err.message})`,
      `Install it next to webmtl: \`npm install webgpu@${DAWN_VERSION}\``,
    );
  }
  for (const [k, v] of Object.entries(mod.globals)) {
    if (!(k in globalThis)) (globalThis as Record<string, unknown>)[k] = v;
  }
  const gpu = mod.create([]);
  // Dawn discovers adapters inside the first requestAdapter() call: run that one with its start-up
  // noise filtered (see dawn-startup-log.ts). Later calls print nothing.
  const fsName = 'node:fs';
  const osName = 'node:os';
  const fs = (await import(/* @vite-ignore */ fsName)) as typeof import('node:fs');
  const os = (await import(/* @vite-ignore */ osName)) as typeof import('node:os');
  const first = gpu.requestAdapter.bind(gpu);
  let discovered = false;
  gpu.requestAdapter = (options?: GPURequestAdapterOptions) => {
    if (discovered) return first(options);
    discovered = true;
    return withoutDawnStartupNoise(fs, `${os.tmpdir()}/webmtl-dawn-${process.pid}.log`, () => first(options));
  };
  nodeGpu = gpu;
  return nodeGpu;
}

/** Options for {@link requestDevice}. */
export interface DeviceOptions {
  /** Adapter power preference passed to requestAdapter. */
  powerPreference?: GPUPowerPreference;
  /** Ask for `timestamp-query` when the adapter has it (default true). */
  timestamps?: boolean;
}

/** A device with the adapter it came from and the adapter's description. */
export interface AcquiredDevice {
  device: GPUDevice;
  adapter: GPUAdapter;
  /** Human-readable adapter name, e.g. `llvmpipe (Mesa 25.0.7)`. */
  adapterName: string;
  /**
   * The adapter's identity for per-adapter caches: vendor, architecture, device and description
   * (which carries the driver version on Mesa), joined.
   */
  adapterKey: string;
  features: ReadonlySet<string>;
}

/**
 * Gets a WebGPU device with the adapter's real limits (not the spec defaults, which cap storage
 * buffers at 128 MiB and workgroup storage at 16 KiB). Uses `navigator.gpu` when present, else the
 * `webgpu` package in Node. Throws {@link NoAdapterError} naming the fix when there is none.
 */
export async function requestDevice(opts: DeviceOptions = {}): Promise<AcquiredDevice> {
  const nav = (globalThis as { navigator?: { gpu?: GPU } }).navigator;
  const gpu = nav?.gpu ?? (typeof process !== 'undefined' && process.versions?.node ? await nodeWebGpu() : null);
  if (!gpu) throw new NoAdapterError('this environment has no navigator.gpu');
  const adapter = await gpu.requestAdapter(opts.powerPreference ? { powerPreference: opts.powerPreference } : {});
  if (!adapter) throw new NoAdapterError('requestAdapter() returned null (no Vulkan/Metal/D3D driver found)');
  const wanted: GPUFeatureName[] = [];
  if (opts.timestamps !== false && adapter.features.has('timestamp-query')) wanted.push('timestamp-query');
  if (adapter.features.has('shader-f16')) wanted.push('shader-f16');
  const limits: Record<string, number> = {};
  for (const key of [
    'maxStorageBufferBindingSize',
    'maxBufferSize',
    'maxComputeWorkgroupStorageSize',
    'maxComputeInvocationsPerWorkgroup',
    'maxComputeWorkgroupSizeX',
    'maxComputeWorkgroupSizeY',
    'maxComputeWorkgroupSizeZ',
    'maxComputeWorkgroupsPerDimension',
    'maxStorageBuffersPerShaderStage',
  ] as const) {
    limits[key] = adapter.limits[key];
  }
  const device = await adapter.requestDevice({ requiredFeatures: wanted, requiredLimits: limits });
  const info = adapter.info;
  const adapterName =
    [info?.description, info?.device, info?.architecture].find((s) => s && s.length > 0) ?? info?.vendor ?? 'unknown adapter';
  const parts = [info?.vendor, info?.architecture, info?.device, info?.description].map((s) => s ?? '');
  // A CPU adapter (lavapipe, SwiftShader) is as fast as the CPU under it, and the same driver build
  // runs on very different CPUs: the host's CPU model is part of its identity for the tuning table.
  if (isCpuAdapter(parts.join(' '))) parts.push(`cpu ${await hostCpuModel()}`);
  const adapterKey = parts.join(' | ');
  return { device, adapter, adapterName, adapterKey, features: new Set(wanted) };
}

/** True for software adapters that run kernels on the CPU (Mesa's llvmpipe/lavapipe, SwiftShader). */
export function isCpuAdapter(description: string): boolean {
  return /llvmpipe|lavapipe|swiftshader/i.test(description);
}

/** The host CPU's model name in Node ('unknown' elsewhere: a page cannot see it). */
async function hostCpuModel(): Promise<string> {
  if (typeof process === 'undefined' || !process.versions?.node) return 'unknown';
  try {
    const name = 'node:os';
    const os = (await import(/* @vite-ignore */ name)) as typeof import('node:os');
    return os.cpus()[0]?.model.trim() || 'unknown';
  } catch {
    return 'unknown';
  }
}
