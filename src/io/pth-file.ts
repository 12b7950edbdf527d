/**
 * PyTorch checkpoint files (Node): reads a .pth/.pt file and decodes it with pth.ts. The browser
 * build keeps working: Node's file system is imported lazily (node-fs.ts), so only these functions
 * fail there, pointing at decodePth on bytes.
 */
import type { Tensor } from '../tensor/tensor.js';
import { readFileBytes } from './node-fs.js';
import { decodePth, decodePthHost, type PthOptions, type PthStateDict } from './pth.js';
import type { DecodedHostTensor } from './safetensors.js';

/**
 * Reads the state dict of a checkpoint written by `torch.save` (zip or legacy format) into GPU
 * tensors (floats f32, integers i32), found at the top level or under `state_dict`/`model`, with a
 * DataParallel `module.` prefix removed; see {@link decodePthHost} for the rules and the errors
 * (FormatError, or UnsafePickleError for a pickle that asks for anything but a state dict). Nothing
 * in the file is executed. The caller owns (and disposes) the tensors.
 */
export async function loadPytorch(path: string, opts: PthOptions = {}): Promise<PthStateDict<Tensor>> {
  return decodePth(await readFileBytes(path, 'loadPytorch'), path, opts);
}

/**
 * As {@link loadPytorch}, but the tensors stay on the host (no GPU needed), for conversion and
 * inspection.
 */
export async function loadPytorchHost(path: string, opts: PthOptions = {}): Promise<PthStateDict<DecodedHostTensor>> {
  return decodePthHost(await readFileBytes(path, 'loadPytorchHost'), path, opts);
}
