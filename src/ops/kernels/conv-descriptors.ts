/**
 * The contracts of shaders/conv2d.wgsl (entry points `main`, `row` and `wgrad`) and shaders/dilate-pad.wgsl:
 * bindings and uniform fields by name, checked against the WGSL when the pipelines are created, and
 * the flag bits of the forward epilogue. Launch code fills uniforms by these names.
 */
import type { KernelDescriptor } from '../../gpu/kernel-descriptor.js';

/** The direct convolution: forward (`main`, `row`) and weight gradient (`wgrad`) share one layout. */
export const CONV2D: KernelDescriptor = {
  name: 'conv2d',
  bindings: [
    { name: 'xp', access: 'read', type: 'f32' },
    { name: 'w', access: 'read', type: 'f32' },
    { name: 'koff', access: 'read', type: 'u32' },
    { name: 'bias', access: 'read', type: 'f32' },
    { name: 'res', access: 'read', type: 'f32' },
    { name: 'y', access: 'read_write', type: 'f32' },
  ],
  uniforms: [
    { name: 'og', type: 'u32' },
    { name: 'kdim', type: 'u32' },
    { name: 'pix', type: 'u32' },
    { name: 'ohw', type: 'u32' },
    { name: 'ow', type: 'u32' },
    { name: 'sh', type: 'u32' },
    { name: 'sw', type: 'u32' },
    { name: 'wp', type: 'u32' },
    { name: 'x_batch', type: 'u32' },
    { name: 'x_group', type: 'u32' },
    { name: 'y_batch', type: 'u32' },
    { name: 'groups', type: 'u32' },
    { name: 'splits', type: 'u32' },
    { name: 'chunk', type: 'u32' },
    { name: 'flags', type: 'u32' },
    { name: 'kw', type: 'u32' },
  ],
  constants: { WGX: { type: 'u32' }, WGY: { type: 'u32' }, BO: { type: 'u32' }, BP: { type: 'u32' }, BK: { type: 'u32' } },
};

/** The forward's `row` entry: CONV2D's layout with the weight transposed into vec4s of channels (`wt`). */
export const CONV2D_ROW: KernelDescriptor = {
  ...CONV2D,
  name: 'conv2d.row',
  bindings: CONV2D.bindings.map((b) => (b.name === 'w' ? { name: 'wt', access: 'read', type: 'vec4<f32>' } : b)),
};

/** Bits of CONV2D's `flags` uniform: what the forward epilogue adds. */
export const CONV2D_FLAGS = { bias: 1, residual: 2, relu: 4 } as const;

/** z = x dilated by the strides and padded (or cropped) by top/left, as conv.ts's dilatePad. */
export const DILATE_PAD: KernelDescriptor = {
  name: 'dilate-pad',
  bindings: [
    { name: 'x', access: 'read', type: 'f32' },
    { name: 'z', access: 'read_write', type: 'vec4<f32>' },
  ],
  uniforms: [
    { name: 'n', type: 'u32' },
    { name: 'h', type: 'u32' },
    { name: 'w', type: 'u32' },
    { name: 'zh', type: 'u32' },
    { name: 'zw', type: 'u32' },
    { name: 'top', type: 'i32' },
    { name: 'left', type: 'i32' },
    { name: 'sh', type: 'u32' },
    { name: 'sw', type: 'u32' },
    { name: 'pad0', type: 'u32' },
    { name: 'pad1', type: 'u32' },
    { name: 'pad2', type: 'u32' },
  ],
  constants: { WG: { type: 'u32' } },
};
