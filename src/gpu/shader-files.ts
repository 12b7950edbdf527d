/**
 * Reads a kernel's WGSL text from shaders/NAME.wgsl. This Node version reads the file from disk;
 * the browser build replaces this module with one that has every shader inlined as text.
 */
import { readFileSync } from 'node:fs';

const cache = new Map<string, string>();

/** The WGSL source of shaders/`name`.wgsl. */
export function readShaderFile(name: string): string {
  let src = cache.get(name);
  if (src === undefined) {
    src = readFileSync(new URL(`../../shaders/${name}.wgsl`, import.meta.url), 'utf8');
    cache.set(name, src);
  }
  return src;
}
