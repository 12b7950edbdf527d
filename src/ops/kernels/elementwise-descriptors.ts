/**
 * The contracts of shaders/unary.wgsl, shaders/binary.wgsl (entry points `main` and `bcast`) and
 * shaders/where.wgsl: bindings, uniforms and op codes by name. The op-code enums are the code tables' names in order;
 * each shader declares the same constants (UNARY_NEG, BINARY_ADD, ...), checked when it compiles.
 */
import type { KernelDescriptor } from '../../gpu/kernel-descriptor.js';

/** Unary ops, in shaders/unary.wgsl's numbering. */
export const UNARY_OPS = [
  'neg', 'exp', 'log', 'sqrt', 'rsqrt', 'abs', 'sign', 'relu', 'leakyRelu', 'sigmoid',
  'tanh', 'clamp', 'powScalar', 'affine', 'reciprocal', 'nonFinite', 'square',
] as const;
export type UnaryCode = (typeof UNARY_OPS)[number];

/** Binary ops, in shaders/binary.wgsl's numbering (the last five are backward helpers). */
export const BINARY_OPS = [
  'add', 'sub', 'mul', 'div', 'pow', 'maximum', 'minimum', 'eq', 'ne', 'lt', 'le',
  'gt', 'ge', 'reluGrad', 'leakyReluGrad', 'sigmoidGrad', 'tanhGrad', 'clampGrad',
] as const;
export type BinaryCode = (typeof BINARY_OPS)[number];

/** y = f(x) four elements at a time; alpha and beta are the op's parameters. */
export const UNARY: KernelDescriptor = {
  name: 'unary',
  bindings: [
    { name: 'x', access: 'read', type: 'vec4<f32>' },
    { name: 'y', access: 'read_write', type: 'vec4<f32>' },
  ],
  uniforms: [
    { name: 'n4', type: 'u32' },
    { name: 'alpha', type: 'f32' },
    { name: 'beta', type: 'f32' },
    { name: 'pad', type: 'u32' },
  ],
  constants: { OP: { type: 'u32' }, WG: { type: 'u32' } },
  enums: { unary: UNARY_OPS },
};

/** y = f(a, b): `main` on equal shapes, `bcast` through per-dimension strides (rank <= 8). */
export const BINARY: KernelDescriptor = {
  name: 'binary',
  bindings: [
    { name: 'a', access: 'read', type: 'f32' },
    { name: 'b', access: 'read', type: 'f32' },
    { name: 'y', access: 'read_write', type: 'f32' },
  ],
  uniforms: [
    { name: 'n', type: 'u32' },
    { name: 'rank', type: 'u32' },
    { name: 'alpha', type: 'f32' },
    { name: 'beta', type: 'f32' },
    { name: 'shape', type: 'vec4<u32>', count: 2 },
    { name: 'sa', type: 'vec4<u32>', count: 2 },
    { name: 'sb', type: 'vec4<u32>', count: 2 },
  ],
  constants: { OP: { type: 'u32' }, WG: { type: 'u32' } },
  enums: { binary: BINARY_OPS },
};

/** y = cond != 0 ? a : b, all three broadcast through per-dimension strides (rank <= 8). */
export const WHERE: KernelDescriptor = {
  name: 'where',
  bindings: [
    { name: 'c', access: 'read', type: 'f32' },
    { name: 'a', access: 'read', type: 'f32' },
    { name: 'b', access: 'read', type: 'f32' },
    { name: 'y', access: 'read_write', type: 'f32' },
  ],
  uniforms: [
    { name: 'n', type: 'u32' },
    { name: 'rank', type: 'u32' },
    { name: 'pad0', type: 'u32' },
    { name: 'pad1', type: 'u32' },
    { name: 'shape', type: 'vec4<u32>', count: 2 },
    { name: 'sc', type: 'vec4<u32>', count: 2 },
    { name: 'sa', type: 'vec4<u32>', count: 2 },
    { name: 'sb', type: 'vec4<u32>', count: 2 },
  ],
  constants: { WG: { type: 'u32' } },
};
