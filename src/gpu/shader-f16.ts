/**
 * The f16 variant of a shader module: the same WGSL text with `enable f16;` first and each alias
 * line that names an f16 alternative (`alias kvec = vec4<f32>; // f16: vec4<f16>`) switched to it.
 * A module that enables f16 does not compile on adapters without the `shader-f16` feature, so f16
 * kernels cannot live in the f32 module; deriving them from its text keeps one copy of each kernel.
 * This works on the text the loader returns (Node reads shaders/, the browser build inlines them), so
 * both builds share it.
 */
import { ArgumentError } from '../errors.js';

/** `alias NAME = F32TYPE; // f16: F16TYPE`, one per line. */
const F16_ALIAS = /^alias\s+(\w+)\s*=\s*[^;]+;\s*\/\/\s*f16:\s*([^\s].*?)\s*$/gm;

/**
 * The f16 variant of shaders/`name`.wgsl, whose text is `source`. Throws when the source has no
 * f16 alias line: such a shader was not written to read or write f16, and enabling f16 alone would
 * change nothing but the pipeline's key.
 */
export function f16Variant(name: string, source: string): string {
  let swapped = 0;
  const text = source.replace(F16_ALIAS, (_line, alias: string, f16: string) => {
    swapped++;
    return `alias ${alias} = ${f16};`;
  });
  if (swapped === 0) throw new ArgumentError('f16', `shaders/${name}.wgsl has no f16 variant (no 'alias T = ...; // f16: ...' line)`);
  return `enable f16;\n${text}`;
}
