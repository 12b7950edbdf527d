/**
 * A kernel's full WGSL text: shaders/NAME.wgsl with its includes spliced in. WGSL has no include,
 * so shaders share helpers (the NaN test, the norm kernels' bindings and reductions) through a
 * comment directive that keeps each file valid WGSL on its own line:
 *
 *   // #include "norm-common.wgsl"
 *
 * Each included file is spliced in once per shader (a second include of it is dropped), and an
 * include cycle or an unknown file is an error naming the chain.
 */
import { ArgumentError } from '../errors.js';
import { readShaderFile } from './shader-files.js';

const INCLUDE = /^[ \t]*\/\/[ \t]*#include[ \t]+"([A-Za-z0-9_-]+)\.wgsl"[ \t]*$/gm;

const cache = new Map<string, string>();

/** Splices the includes of `src` (the text of shaders/`name`.wgsl), reading files with `read`. */
export function resolveIncludes(name: string, src: string, read: (name: string) => string, chain: string[] = [name], seen = new Set<string>()): string {
  return src.replace(INCLUDE, (_, inc: string) => {
    if (chain.includes(inc)) throw new ArgumentError(`shaders/${chain[0]}.wgsl`, `include cycle: ${[...chain, inc].map((n) => `${n}.wgsl`).join(' -> ')}`);
    if (seen.has(inc)) return `// (${inc}.wgsl is already included)`;
    seen.add(inc);
    let text: string;
    try {
      text = read(inc);
    } catch {
      throw new ArgumentError(`shaders/${name}.wgsl`, `includes "${inc}.wgsl", which does not exist in shaders/`);
    }
    return `// ---- begin ${inc}.wgsl\n${resolveIncludes(inc, text, read, [...chain, inc], seen)}\n// ---- end ${inc}.wgsl`;
  });
}

/** The WGSL of shaders/`name`.wgsl with its includes resolved (cached per name). */
export function shaderSource(name: string): string {
  let src = cache.get(name);
  if (src === undefined) {
    src = resolveIncludes(name, readShaderFile(name), readShaderFile);
    cache.set(name, src);
  }
  return src;
}
