/**
 * The contracts of the normalisation kernels: shaders/norm.wgsl, shaders/norm-vec4.wgsl and the
 * per-element passes they share (shaders/norm-common.wgsl, one text over an element type `Elem`).
 * Those passes are declared once here too, for either element type: the vec4 descriptors differ
 * from the scalar ones only in the element bindings' type. The binding names carry each entry
 * point's prefix (sp_, ap_, ...) because the entry points of one module share binding indices.
 */
import type { KernelDescriptor, OverrideConstant, StorageBinding, StorageElement, UniformField } from '../../gpu/kernel-descriptor.js';
import { fileKernel, type Kernel } from '../../gpu/pipeline-cache.js';

/** Element type of the per-element passes: f32 (norm.wgsl) or vec4<f32> (norm-vec4.wgsl). */
type Elem = 'f32' | 'vec4<f32>';

const read = (name: string, type: StorageElement = 'f32'): StorageBinding => ({ name, access: 'read', type });
const write = (name: string, type: StorageElement = 'f32'): StorageBinding => ({ name, access: 'read_write', type });
const u32 = (...names: string[]): UniformField[] => names.map((name) => ({ name, type: 'u32' }));
const f32 = (name: string): UniformField => ({ name, type: 'f32' });

/** The override constants of the norm shaders, those an entry point reads picked by name. */
const FLAGS = ['HAS_W', 'HAS_B', 'AFF_COL', 'W_COL', 'BATCH', 'HAS_R', 'EVAL_STATS', 'RELU', 'MASK', 'WRITE_R', 'COUNT', 'HAS_CB'] as const;
type Flag = (typeof FLAGS)[number];
function constants(...flags: Flag[]): Record<string, OverrideConstant> {
  const out: Record<string, OverrideConstant> = { WG: { type: 'u32', default: 64 } };
  for (const f of flags) out[f] = { type: 'bool', default: f === 'BATCH' };
  return out;
}

/** Uniforms of the split reductions (struct Red): the [A, M, B] view and its split. */
const RED = u32('a', 'm', 'b', 'sb', 'ach', 'ac', 'sa', 'sm', 'sdiv', 'pad0', 'pad1', 'pad2');
/** Uniforms of the per-group passes (struct Final). */
const FINAL = [...u32('m', 'p'), f32('eps'), f32('momentum')];
/** Uniforms of the row passes (struct Apply). */
const APPLY = [...u32('rows', 'l', 'j', 'sdiv', 'smod', 'c'), f32('eps'), ...u32('pad0')];
/** Uniforms of grad_fold (struct Fold). */
const FOLD = [...u32('s', 'cg', 'c', 'nrep', 'p'), f32('inv_cnt'), ...u32('wmod', 'pad0')];
/** Uniforms of fold_conv (struct FoldConv). */
const FOLD_CONV = [...u32('o', 'k'), f32('eps'), ...u32('pad0')];

/** The per-element passes of norm-common.wgsl over element type `e`, entry points named with `suffix`. */
function elementPasses(e: Elem, shader: string, suffix: string) {
  const d = (entry: string, bindings: StorageBinding[], uniforms: UniformField[], flags: Flag[]): KernelDescriptor => ({
    name: `${shader}.${entry}${suffix}`,
    entry: `${entry}${suffix}`,
    bindings,
    uniforms,
    constants: constants(...flags),
  });
  return {
    /** Partial (count, mean, M2) per m of x seen as [A, M, B]. */
    statsPartial: d('stats_partial', [read('sp_x', e), write('sp_part')], RED, []),
    /** y = (x - mean) * invstd * w + b, then the fused residual and ReLU. */
    apply: d(
      'apply',
      [read('ap_x', e), read('ap_stats'), read('ap_w'), read('ap_b'), read('ap_r', e), read('ap_rvar'), write('ap_y', e)],
      APPLY,
      ['HAS_W', 'HAS_B', 'AFF_COL', 'HAS_R', 'EVAL_STATS', 'RELU'],
    ),
    /** Partial (sum g, sum g * xhat) per m. */
    gradPartial: d(
      'grad_partial',
      [read('gp_x', e), read('gp_gy', e), read('gp_stats'), read('gp_w'), read('gp_y', e), write('gp_part')],
      RED,
      ['W_COL', 'MASK'],
    ),
    /** dx = invstd * (g * w - k1 - xhat * k2), and the fused residual's gradient. */
    applyGrad: d(
      'apply_grad',
      [read('ag_x', e), read('ag_gy', e), read('ag_stats'), read('ag_ks'), read('ag_w'), read('ag_y', e), write('ag_dx', e), write('ag_dr', e)],
      APPLY,
      ['HAS_W', 'AFF_COL', 'BATCH', 'MASK', 'WRITE_R'],
    ),
    /** Eval-mode batch norm folded into the conv weights and bias before it. */
    foldConv: d(
      'fold_conv',
      [read('fc_cw', e), read('fc_rmean'), read('fc_rvar'), read('fc_w'), read('fc_b'), read('fc_cb'), write('fc_wout', e), write('fc_bout')],
      FOLD_CONV,
      ['HAS_W', 'HAS_B', 'HAS_CB'],
    ),
  };
}

/** The per-element passes over f32 (shaders/norm.wgsl: stats_partial, apply, ...). */
export const NORM = elementPasses('f32', 'norm', '');
/** The same passes over vec4<f32>, for rows of 4k elements (shaders/norm-vec4.wgsl: stats_partial4, ...). */
export const NORM4 = elementPasses('vec4<f32>', 'norm-vec4', '4');

/** stats[m] = (mean, invstd) merged from the partials. */
export const STATS_FINAL: KernelDescriptor = {
  name: 'norm.stats_final',
  entry: 'stats_final',
  bindings: [read('sf_part'), write('sf_stats')],
  uniforms: FINAL,
  constants: constants(),
};

/** stats_final that also updates the running statistics in place (and num_batches_tracked with COUNT). */
export const STATS_RUNNING: KernelDescriptor = {
  name: 'norm.stats_running',
  entry: 'stats_running',
  bindings: [read('sf_part'), write('sf_stats'), write('sf_rmean'), write('sf_rvar'), write('sf_count', 'i32')],
  uniforms: FINAL,
  constants: constants('COUNT'),
};

/** stats[c] = (running mean, 1/sqrt(running var + eps)). */
export const EVAL_STATS: KernelDescriptor = {
  name: 'norm.eval_stats',
  entry: 'eval_stats',
  bindings: [read('es_rmean'), read('es_rvar'), write('es_stats')],
  uniforms: FINAL,
  constants: constants(),
};

/** Per-group coefficients ks and per-channel db, dw from the gradient partials. */
export const GRAD_FOLD: KernelDescriptor = {
  name: 'norm.grad_fold',
  entry: 'grad_fold',
  bindings: [read('gf_part'), read('gf_w'), write('gf_ks'), write('gf_db'), write('gf_dw')],
  uniforms: FOLD,
  constants: constants('HAS_W'),
};

const kernels = new WeakMap<KernelDescriptor, Kernel>();

/**
 * The Kernel of one of these descriptors (made once): its shader file is the part of its name
 * before the dot (`norm-vec4.apply4` is entry point apply4 of shaders/norm-vec4.wgsl).
 */
export function normKernel(d: KernelDescriptor): Kernel {
  let k = kernels.get(d);
  if (!k) {
    k = fileKernel(d, d.name.slice(0, d.name.indexOf('.')), d.entry);
    kernels.set(d, k);
  }
  return k;
}
