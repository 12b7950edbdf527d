/**
 * safetensors files (Node): the in-memory codec of safetensors.ts plus atomic writes.
 */
import type { Tensor } from '../tensor/tensor.js';
import { readFileBytes, writeFileAtomic } from './node-fs.js';
import { decodeSafetensors, encodeSafetensors, type SafetensorsMetadata } from './safetensors.js';

/**
 * Writes tensors (read back from the GPU first) and optional string metadata to a safetensors file
 * at `path`, byte-compatible with `safetensors.torch.save_file`. The file is replaced atomically
 * (temporary file, fsync, rename), so an interrupted save leaves the previous file intact. Throws
 * ArgumentError for an invalid name or metadata value, and Node's errors for I/O failures.
 */
export async function saveSafetensors(
  path: string,
  tensors: ReadonlyMap<string, Tensor> | Readonly<Record<string, Tensor>>,
  metadata?: SafetensorsMetadata,
): Promise<void> {
  await writeFileAtomic(path, await encodeSafetensors(tensors, metadata), 'saveSafetensors');
}

/**
 * Reads a safetensors file into GPU tensors (floats as f32, integers and booleans as i32) and its
 * `__metadata__` map (`{}` when absent). The whole file is validated before anything is allocated;
 * a malformed file raises FormatError naming the path and the problem. The caller owns (and
 * disposes) the returned tensors.
 */
export async function loadSafetensors(path: string): Promise<{ tensors: Map<string, Tensor>; metadata: SafetensorsMetadata }> {
  return decodeSafetensors(await readFileBytes(path, 'loadSafetensors'), path);
}
