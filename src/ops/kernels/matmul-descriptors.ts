/**
 * The contracts of shaders/matmul.wgsl's entry points: `main` (any layout), `outer` and `tiled`
 * (k-major vec4 operands) and the four packs. The file declares other names for the same binding
 * indices per entry point (a / a4 / src4, b / b4 / packed, c / c4); each entry point is checked
 * against its own descriptor when its pipeline is created. The k-major operands are declared through
 * the shader's `kvec` alias (vec4<f32>, vec4<f16> in the f16 module), checked as the f32 type.
 */
import type { KernelDescriptor, UniformField } from '../../gpu/kernel-descriptor.js';

/** struct Params: the product's shape, batch strides, k-major row lengths and offsets, C's row pitch. */
const PRODUCT_UNIFORMS: readonly UniformField[] = [
  'm', 'n', 'k', 'batch', 'stride_a', 'stride_b', 'stride_c', 'lda4', 'ldb4',
  'off_a', 'off_b', 'off_c', 'ldc', 'pad0', 'pad1', 'pad2',
].map((name) => ({ name, type: 'u32' as const }));

/** struct PackParams: a P x K view per batch entry, packed into [K][ld4 * 4]. */
const PACK_UNIFORMS: readonly UniformField[] = ['p', 'k', 'ld4', 'stride', 'off', 'ld', 'pad0', 'pad1'].map((name) => ({ name, type: 'u32' as const }));

/** The epilogue of every store into C: ACCUM adds what C held, RELU clamps afterwards. */
const EPILOGUE = { ACCUM: { type: 'bool', default: false }, RELU: { type: 'bool', default: false } } as const;

/** `main`: C = op(A) op(B) in 4x4 blocks from scalar loads, any layout. */
export const MATMUL_GENERAL: KernelDescriptor = {
  name: 'matmul',
  bindings: [
    { name: 'a', access: 'read', type: 'f32' },
    { name: 'b', access: 'read', type: 'f32' },
    { name: 'c', access: 'read_write', type: 'f32' },
  ],
  uniforms: PRODUCT_UNIFORMS,
  constants: {
    TRANS_A: { type: 'bool', default: false },
    TRANS_B: { type: 'bool', default: false },
    WGX: { type: 'u32', default: 8 },
    WGY: { type: 'u32', default: 8 },
    ...EPILOGUE,
  },
};

/** `outer` and `tiled`: C = A'^T B' over k-major operands (vec4 rows), the same uniforms as `main`. */
export const MATMUL_KMAJOR: KernelDescriptor = {
  name: 'matmul-kmajor',
  bindings: [
    { name: 'a4', access: 'read', type: 'vec4<f32>' },
    { name: 'b4', access: 'read', type: 'vec4<f32>' },
    { name: 'c4', access: 'read_write', type: 'vec4<f32>' },
  ],
  uniforms: PRODUCT_UNIFORMS,
  constants: EPILOGUE,
};

/** `pack` and `pack_narrow`: a k-major copy of an operand read one float at a time. */
export const MATMUL_PACK: KernelDescriptor = {
  name: 'matmul-pack',
  bindings: [
    { name: 'a', access: 'read', type: 'f32' },
    { name: 'packed', access: 'read_write', type: 'vec4<f32>' },
  ],
  uniforms: PACK_UNIFORMS,
  constants: { P_MAJOR: { type: 'bool', default: false } },
};

/** `pack_rows4` and `pack_rows4_narrow`: the same copy from a [P][K] source read as vec4s. */
export const MATMUL_PACK_ROWS4: KernelDescriptor = {
  name: 'matmul-pack-rows4',
  bindings: [
    { name: 'src4', access: 'read', type: 'vec4<f32>' },
    { name: 'packed', access: 'read_write', type: 'vec4<f32>' },
  ],
  uniforms: PACK_UNIFORMS,
  constants: { P_MAJOR: { type: 'bool', default: false } },
};
