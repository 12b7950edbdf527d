/**
 * The host a bench result was measured on: CPU model, cores, the WebGPU adapter (driver and
 * version) and, on llvmpipe, the SIMD width it compiles kernels for (its adapter name says
 * "...-256-bits"). Rows from different hosts are never compared; every results file names its host.
 */
import { availableParallelism, cpus } from 'node:os';
import { runtime } from '../src/index.js';

/** What identifies a bench host. */
export interface HostInfo {
  cpu: string;
  cores: number;
  adapter: string;
  /** llvmpipe's vector width in bits, or null on other adapters. */
  vectorBits: number | null;
  node: string;
}

/** The current host (needs an initialised runtime). */
export function hostInfo(): HostInfo {
  const rt = runtime();
  const adapter = rt.adapterName;
  // The adapter key (vendor, architecture, device, description) carries llvmpipe's "...-256-bits".
  const bits = /(\d+)-bits/.exec(`${rt.tuning.adapter} ${adapter}`);
  return {
    cpu: cpus()[0]?.model.trim() ?? 'unknown',
    cores: availableParallelism(),
    adapter,
    vectorBits: bits ? Number(bits[1]) : null,
    node: process.version,
  };
}

/** A short file-name-safe key for the host, e.g. `amd-epyc-9b45-2c-llvmpipe-256`. */
export function hostKey(h: HostInfo): string {
  const cpu = h.cpu.toLowerCase().replace(/\(r\)|\(tm\)|cpu|processor|@.*$/g, '').replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '');
  const driver = /llvmpipe/i.test(h.adapter) ? `llvmpipe-${h.vectorBits ?? 'x'}` : h.adapter.toLowerCase().replace(/[^a-z0-9]+/g, '-').slice(0, 24);
  return `${cpu}-${h.cores}c-${driver}`.replace(/-+/g, '-');
}
