/**
 * The contracts of shaders/loss.wgsl, one descriptor per entry point: bindings, uniforms, override
 * constants and op codes by name. The entry points share binding numbers under other names, so each
 * binding name carries its entry point's prefix (cf_ for ce_forward, pb_ for pw_backward, ...); the
 * shader declares the op-code constants (LOSS_L1, POS_WEIGHT_SCALAR, ...), checked when it compiles.
 */
import type { KernelDescriptor, OverrideConstant, StorageBinding, UniformField } from '../../gpu/kernel-descriptor.js';

/** The pointwise losses, in shaders/loss.wgsl's numbering (its OP override). */
export const POINTWISE_LOSSES = ['l1', 'mse', 'bce'] as const;
export type PointwiseLoss = (typeof POINTWISE_LOSSES)[number];

/** Where BCE's pos_weight comes from (the PW_MODE override): none, the uniform `pw`, or a tensor. */
export const POS_WEIGHT_MODES = ['none', 'scalar', 'tensor'] as const;
export type PosWeightMode = (typeof POS_WEIGHT_MODES)[number];

const read = (name: string, type: StorageBinding['type'] = 'f32'): StorageBinding => ({ name, access: 'read', type });
const write = (name: string): StorageBinding => ({ name, access: 'read_write', type: 'f32' });
const u32 = (name: string): UniformField => ({ name, type: 'u32' });
const f32 = (name: string): UniformField => ({ name, type: 'f32' });
const U32: OverrideConstant = { type: 'u32' };
const FLAG: OverrideConstant = { type: 'bool' };

/** The struct `Ce` (cross-entropy and the label check): pixels, classes, spatial size, ignore_index. */
const CE_UNIFORMS: readonly UniformField[] = [u32('p'), u32('c'), u32('s'), { name: 'ignore', type: 'i32' }];

/**
 * The struct `Pw` of the pointwise losses: element count, gradient scale, the scalar pos_weight, and
 * per broadcast operand (mask, weight, pos_weight) its walk extents `geo[k]` and strides `st[k]`.
 */
const PW_UNIFORMS: readonly UniformField[] = [
  u32('n'), f32('scale'), f32('pw'), u32('pad0'),
  { name: 'geo', type: 'vec4<u32>', count: 3 },
  { name: 'st', type: 'vec4<u32>', count: 3 },
];

/** The struct `Cos` of the cosine normal loss: pixels, channels, spatial size, eps, gradient scale. */
const COS_UNIFORMS: readonly UniformField[] = [u32('p'), u32('c'), u32('s'), f32('eps'), f32('scale'), u32('pad0'), u32('pad1'), u32('pad2')];

const PW_ENUMS = { loss: POINTWISE_LOSSES, posWeight: POS_WEIGHT_MODES };

/** Per-pixel logsumexp and weighted loss (and with MEAN the weights after the losses). */
export const CE_FORWARD: KernelDescriptor = {
  name: 'loss.ce_forward',
  entry: 'ce_forward',
  bindings: [read('cf_x'), read('cf_t', 'i32'), read('cf_w'), write('cf_loss'), write('cf_lse')],
  uniforms: CE_UNIFORMS,
  constants: { WG: U32, MEAN: FLAG, HAS_W: FLAG },
};

/** dx of the cross-entropy from the saved logsumexp; g per pixel with G_EACH, else g[0]. */
export const CE_BACKWARD: KernelDescriptor = {
  name: 'loss.ce_backward',
  entry: 'ce_backward',
  bindings: [read('cb_x'), read('cb_t', 'i32'), read('cb_w'), read('cb_lse'), read('cb_g'), write('cb_dx')],
  uniforms: CE_UNIFORMS,
  constants: { WG: U32, HAS_W: FLAG, G_EACH: FLAG },
};

/** Pointwise loss LOSS_* times broadcast mask and weight; with MASK_ROW the mask follows the losses. */
export const PW_FORWARD: KernelDescriptor = {
  name: 'loss.pw_forward',
  entry: 'pw_forward',
  bindings: [read('pf_x'), read('pf_t'), read('pf_mask'), read('pf_w'), read('pf_pw'), write('pf_out')],
  uniforms: PW_UNIFORMS,
  constants: { WG: U32, OP: U32, HAS_MASK: FLAG, HAS_W: FLAG, PW_MODE: U32, MASK_ROW: FLAG },
  enums: PW_ENUMS,
};

/** dx (and with GRAD_T dt) of a pointwise loss; g per element with G_EACH, else g[0]. */
export const PW_BACKWARD: KernelDescriptor = {
  name: 'loss.pw_backward',
  entry: 'pw_backward',
  bindings: [read('pb_x'), read('pb_t'), read('pb_mask'), read('pb_w'), read('pb_pw'), read('pb_g'), write('pb_dx'), write('pb_dt')],
  uniforms: PW_UNIFORMS,
  constants: { WG: U32, OP: U32, HAS_MASK: FLAG, HAS_W: FLAG, PW_MODE: U32, G_EACH: FLAG, GRAD_T: FLAG },
  enums: PW_ENUMS,
};

/** Per-pixel cosine normal loss, masked; with MASK_ROW the mask follows the losses. */
export const COS_FORWARD: KernelDescriptor = {
  name: 'loss.cos_forward',
  entry: 'cos_forward',
  bindings: [read('nf_x'), read('nf_t'), read('nf_mask'), write('nf_out')],
  uniforms: COS_UNIFORMS,
  constants: { WG: U32, HAS_MASK: FLAG, MASK_ROW: FLAG },
};

/** dx of the cosine normal loss; g per pixel with G_EACH, else g[0]. */
export const COS_BACKWARD: KernelDescriptor = {
  name: 'loss.cos_backward',
  entry: 'cos_backward',
  bindings: [read('nb_x'), read('nb_t'), read('nb_mask'), read('nb_g'), write('nb_dx')],
  uniforms: COS_UNIFORMS,
  constants: { WG: U32, HAS_MASK: FLAG, G_EACH: FLAG },
};

/** y[0] = a[ia] / max(b[ib], floor). */
export const RATIO: KernelDescriptor = {
  name: 'loss.ratio',
  entry: 'ratio',
  bindings: [read('ra_a'), read('ra_b'), write('ra_y')],
  uniforms: [u32('ia'), u32('ib'), f32('floor'), u32('pad0')],
  constants: { WG: U32 },
};

/** flags[i] = 1 for labels outside [0, c) that are not ignore_index (the `Ce` struct, s unused). */
export const LABEL_CHECK: KernelDescriptor = {
  name: 'loss.label_check',
  entry: 'label_check',
  bindings: [read('lc_t', 'i32'), write('lc_flags')],
  uniforms: CE_UNIFORMS,
  constants: { WG: U32 },
};
