/**
 * Raw resizing kernels (shaders/interpolate.wgsl) without autograd: bilinear and nearest
 * interpolation of NCHW planes and their gather backward. Source indices and weights are computed
 * here on the host with PyTorch's float32 arithmetic (ATen's UpSample.h), packed into per-axis
 * tables (see kernels/pool.ts) and cached per geometry.
 */
import type { KernelDescriptor } from '../../gpu/kernel-descriptor.js';
import type { Runtime } from '../../gpu/runtime.js';
import { empty } from '../../tensor/creation.js';
import type { Tensor } from '../../tensor/tensor.js';
import { WG } from './util.js';
import { mapPlanes, over } from './split.js';
import {
  cachedTable,
  f32Bits,
  launchPlane,
  packAxisTables,
  planeKernel,
  readersOf,
  readRows,
  runPlaneKernel,
  type AxisTable,
  type PlaneUniforms,
  type TableLayout,
} from './pool.js';

/**
 * The contract of shaders/interpolate.wgsl's `fwd` and `bwd` (one layout): the source plane, the
 * axis tables, the destination. NEAREST selects one tap per axis (the tables then hold weight 1, 0).
 */
function interpolateDescriptor(entry: 'fwd' | 'bwd'): KernelDescriptor {
  return {
    name: `interpolate.${entry}`,
    entry,
    bindings: [
      { name: 'src', access: 'read', type: 'f32' },
      { name: 'tab', access: 'read', type: 'vec4<u32>' },
      { name: 'dst', access: 'read_write', type: 'f32' },
    ],
    uniforms: ['total', 'h', 'w', 'oh', 'ow', 'xf', 'yb', 'xb', 'i_base', 'src_base', 'dst_base', 'pad0'].map((name) => ({ name, type: 'u32' })),
    constants: { WG: { type: 'u32' }, NEAREST: { type: 'bool' } },
  };
}

const fwdKernel = planeKernel(interpolateDescriptor('fwd'), 'interpolate');
const bwdKernel = planeKernel(interpolateDescriptor('bwd'), 'interpolate');

/** Interpolation modes with PyTorch's meaning ('nearest' is the legacy floor rule, not 'nearest-exact'). */
export type InterpolateMode = 'bilinear' | 'nearest';

const f32 = Math.fround;

/** ATen's compute_scales_value: 1 / scale factor when one was given, else in / out, in float32. */
function scaleValue(inSize: number, out: number, factor: number | null): number {
  return factor !== null && factor > 0 ? f32(1 / factor) : f32(inSize / out);
}

/** Nearest along one axis: src = min(floor(float32(d * scale)), in - 1), exact for out = in and 2 in. */
function nearestAxis(inSize: number, out: number, factor: number | null): AxisTable {
  const fwd = new Uint32Array(4 * out);
  const lo: number[] = [];
  const scale = scaleValue(inSize, out, factor);
  for (let d = 0; d < out; d++) {
    const src = out === inSize ? d : out === 2 * inSize ? d >> 1 : Math.min(Math.floor(f32(d * scale)), inSize - 1);
    fwd.set([src, src, f32Bits(1), 0], 4 * d);
    lo.push(src);
  }
  return { inSize, fwd, lo, hi: lo.map((v) => v + 1) };
}

/**
 * Linear along one axis (ATen's compute_source_index_and_lambda): align corners maps d to
 * d (in - 1) / (out - 1); otherwise src = scale (d + 0.5) - 0.5 clamped at 0. Taps floor(src) and
 * the next one (the same one at the last row), weights 1 - l and l with l = src - floor(src).
 */
function linearAxis(inSize: number, out: number, alignCorners: boolean, factor: number | null): AxisTable {
  const fwd = new Uint32Array(4 * out);
  const lo: number[] = [];
  const hi: number[] = [];
  const scale = alignCorners ? (out > 1 ? f32((inSize - 1) / (out - 1)) : 0) : scaleValue(inSize, out, factor);
  for (let d = 0; d < out; d++) {
    let i0 = d;
    let l1 = 0;
    if (out !== inSize) {
      const src = alignCorners ? f32(scale * d) : Math.max(f32(scale * (d + 0.5) - 0.5), 0);
      i0 = Math.min(Math.floor(src), inSize - 1);
      l1 = Math.min(Math.max(f32(src - i0), 0), 1);
    }
    const i1 = i0 < inSize - 1 && out !== inSize ? i0 + 1 : i0;
    fwd.set([i0, i1, f32Bits(f32(1 - l1)), f32Bits(l1)], 4 * d);
    lo.push(i0);
    hi.push(i1 + 1);
  }
  return { inSize, fwd, lo, hi };
}

/**
 * Packed tables for resizing h x w to oh x ow. `factors` are the user's scale factors per axis
 * (null when the size was given or the scale is recomputed from the sizes).
 */
export function interpolateTables(
  rt: Runtime,
  mode: InterpolateMode,
  alignCorners: boolean,
  h: number,
  w: number,
  oh: number,
  ow: number,
  factors: readonly [number | null, number | null],
): TableLayout {
  const key = `interp:${mode},${alignCorners},${h},${w},${oh},${ow},${factors[0]},${factors[1]}`;
  const ya = mode === 'nearest' ? nearestAxis(h, oh, factors[0]) : linearAxis(h, oh, alignCorners, factors[0]);
  const table = cachedTable(rt, key, () =>
    mode === 'nearest' ? packAxisTables(ya, nearestAxis(w, ow, factors[1])) : packAxisTables(ya, linearAxis(w, ow, alignCorners, factors[1])),
  );
  return { table, h, w, oh, ow, yLo: ya.lo, yHi: ya.hi };
}

/** The uniform values of shaders/interpolate.wgsl: sizes and the offsets of the x fwd, y bwd and x bwd tables. */
function params(total: number, t: TableLayout): PlaneUniforms {
  return { total, h: t.h, w: t.w, oh: t.oh, ow: t.ow, xf: t.oh, yb: t.oh + t.ow, xb: t.oh + t.ow + t.h, i_base: 0, src_base: 0, dst_base: 0, pad0: 0 };
}

/** Resizes x [n, c, h, w] to [n, c, oh, ow] by the tables `t` (one load per output for nearest). */
export function interpolateForward(x: Tensor, t: TableLayout, mode: InterpolateMode): Tensor {
  const [n, c] = x.shape as [number, number];
  x.bufferFor('interpolate'); // a disposed input throws here, before anything is allocated
  if (n * c > 1 && over(x.runtime, x.size, n * c * t.oh * t.ow)) {
    return mapPlanes([x], Math.max(t.h * t.w, t.oh * t.ow) * 4, ([p]) => [interpolateForward(p!, t, mode)])[0]!;
  }
  const y = empty([n, c, t.oh, t.ow]);
  const total = y.size;
  if (total > 0 && n * c === 1 && over(y.runtime, x.size, total)) {
    runPlaneKernel(fwdKernel, { WG, NEAREST: mode === 'nearest' ? 1 : 0 }, x, { t: t.table, like: 'whole' }, y, params(total, t), t.oh, t.ow, t.w, readRows(t.yLo, t.yHi));
  } else if (total > 0) {
    launchPlane(fwdKernel, { WG, NEAREST: mode === 'nearest' ? 1 : 0 }, x, t.table, y, params(total, t), total, 'interpolate');
  }
  return y;
}

/** Gradient of resizing: gx [n, c, h, w], each element gathering the outputs that read it. */
export function interpolateBackward(gy: Tensor, t: TableLayout): Tensor {
  const [n, c] = gy.shape as [number, number];
  gy.bufferFor('interpolate backward'); // a disposed input throws here, before anything is allocated
  if (n * c > 1 && over(gy.runtime, gy.size, n * c * t.h * t.w)) {
    return mapPlanes([gy], Math.max(t.h * t.w, t.oh * t.ow) * 4, ([p]) => [interpolateBackward(p!, t)])[0]!;
  }
  const gx = empty([n, c, t.h, t.w]);
  const total = gx.size;
  if (total > 0 && n * c === 1 && over(gx.runtime, gy.size, total)) {
    runPlaneKernel(bwdKernel, { WG }, gy, { t: t.table, like: 'whole' }, gx, params(total, t), t.h, t.w, t.ow, readersOf(t.yLo, t.yHi));
  } else if (total > 0) {
    launchPlane(bwdKernel, { WG }, gy, t.table, gx, params(total, t), total, 'interpolate backward');
  }
  return gx;
}
