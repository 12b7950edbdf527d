/**
 * Raw pooling kernels (shaders/pool.wgsl) without autograd: max pooling with argmax indices and its
 * gather backward, and "window" pooling (avg_pool2d and adaptive_avg_pool2d) driven by per-axis
 * tables built here on the host. Also the per-axis table machinery shared with interpolation.
 */
import { bindingsByName, packUniformBlock, type KernelDescriptor, type StorageBinding, type UniformField } from '../../gpu/kernel-descriptor.js';
import { fileKernel, type Kernel } from '../../gpu/pipeline-cache.js';
import { grid, type Runtime } from '../../gpu/runtime.js';
import { empty, fromArray } from '../../tensor/creation.js';
import { keep } from '../../tensor/scope.js';
import type { Tensor } from '../../tensor/tensor.js';
import { WG } from './util.js';
import { mapPlanes, over, rowWindows, windowOf } from './split.js';

/**
 * A plane kernel's contract: bindings `src`, one middle binding (named by `mid`) and `dst`, and a
 * uniform block holding at least `total`, `i_base`, `src_base` and `dst_base` (the row tiles of a
 * plane too large for one binding rewrite those four).
 */
export interface PlaneKernel {
  readonly d: KernelDescriptor;
  readonly kernel: Kernel;
  readonly mid: string;
  /** Consecutive elements per invocation (its SPAN constant; 1 for kernels without one). */
  readonly span: number;
}

/** The Kernel of `d` in shaders/`shader`.wgsl, with the name of its middle binding. */
export function planeKernel(d: KernelDescriptor, shader: string, span = 1): PlaneKernel {
  return { d, kernel: fileKernel(d, shader, d.entry), mid: d.bindings[1]!.name, span };
}

/** The workgroup grid of a plane kernel over `total` elements. */
function planeGrid(pk: PlaneKernel, total: number): [number, number, number] {
  return grid(Math.ceil(Math.ceil(total / pk.span) / WG));
}

/** The uniform struct shared by all entry points of shaders/pool.wgsl (its `Params`). */
const POOL_UNIFORMS: readonly UniformField[] = [
  'total', 'h', 'w', 'oh', 'ow', 'kh', 'kw', 'sh', 'sw', 'ph', 'pw', 'dh', 'dw', 'ext_h', 'ext_w',
  'xf', 'yb', 'xb', 'i_base', 'src_base', 'dst_base', 'pad0', 'pad1', 'pad2',
].map((name) => ({ name, type: 'u32' }));

/** A pool entry point: src, the middle binding of that entry point, dst; the shared uniforms. */
function poolDescriptor(entry: string, mid: StorageBinding, span = false): KernelDescriptor {
  return {
    name: `pool.${entry}`,
    entry,
    bindings: [{ name: 'src', access: 'read', type: 'f32' }, mid, { name: 'dst', access: 'read_write', type: 'f32' }],
    uniforms: POOL_UNIFORMS,
    constants: span ? { WG: { type: 'u32' }, SPAN: { type: 'u32' } } : { WG: { type: 'u32' } },
  };
}

/** Elements per invocation of the max-pool kernels. */
const SPAN = 16;

// Binding 1 differs per entry point: the index output, the indices read back, or the axis table.
const maxFwdKernel = planeKernel(poolDescriptor('max_fwd', { name: 'idx_out', access: 'read_write', type: 'i32' }, true), 'pool', SPAN);
const maxBwdKernel = planeKernel(poolDescriptor('max_bwd', { name: 'idx_in', access: 'read', type: 'u32' }, true), 'pool', SPAN);
const maxFwdTileKernel = planeKernel(poolDescriptor('max_fwd_tile', { name: 'idx_out', access: 'read_write', type: 'i32' }, true), 'pool', SPAN);
const maxBwdTileKernel = planeKernel(poolDescriptor('max_bwd_tile', { name: 'idx_in', access: 'read', type: 'u32' }, true), 'pool', SPAN);
const MAX_CONSTS = { WG, SPAN };

/** True when the windows of g tile an h x w plane into oh x ow exactly (each input in one window). */
function tilesExactly(g: PoolGeom, h: number, w: number, oh: number, ow: number): boolean {
  return g.kh === g.sh && g.kw === g.sw && g.ph === 0 && g.pw === 0 && g.dh === 1 && g.dw === 1 && h === oh * g.kh && w === ow * g.kw;
}
const avgFwdKernel = planeKernel(poolDescriptor('avg_fwd', { name: 'tab', access: 'read', type: 'vec4<u32>' }), 'pool');
const avgBwdKernel = planeKernel(poolDescriptor('avg_bwd', { name: 'tab', access: 'read', type: 'vec4<u32>' }), 'pool');

/** Geometry of one max pooling along both axes (kernel, stride, padding, dilation). */
export interface PoolGeom {
  kh: number;
  kw: number;
  sh: number;
  sw: number;
  ph: number;
  pw: number;
  dh: number;
  dw: number;
}

/**
 * PyTorch's pooling output size along one axis: floor (or ceil) of
 * (in + 2 pad - dilation (k - 1) - 1) / stride, plus 1; in ceil mode the last window must start
 * inside the input or the left padding, else it is dropped.
 */
export function poolOutSize(inSize: number, k: number, s: number, p: number, d: number, ceil: boolean): number {
  const ext = d * (k - 1) + 1;
  let out = Math.floor((inSize + 2 * p - ext + (ceil ? s - 1 : 0)) / s) + 1;
  if (ceil && (out - 1) * s >= inSize + p) out--;
  return out;
}

/** Uniform values by field name (every field of the kernel's block). */
export type PlaneUniforms = Record<string, number>;

/** One dispatch of a plane kernel over `total` invocations with src, middle and dst bound whole. */
export function launchPlane(pk: PlaneKernel, consts: Record<string, number>, src: Tensor, mid: Tensor, dst: Tensor, u: PlaneUniforms, total: number, op: string): void {
  const buffers = bindingsByName(pk.d, { src: src.bufferFor(op), [pk.mid]: mid.bufferFor(op), dst: dst.bufferFor(op) });
  dst.runtime.dispatch(pk.kernel, consts, buffers, new Uint8Array(packUniformBlock(pk.d, u)), planeGrid(pk, total));
}

/** Binding 1 of a windowed kernel: a table bound whole, or a tensor indexed like src or like dst. */
export type MidBinding = { t: Tensor; like: 'whole' | 'src' | 'dst' };

/**
 * Runs a plane kernel (src, mid, dst, uniforms `u`) over `rows` x `cols` invocations: in one
 * dispatch when src and dst fit one binding, else over row tiles of the plane whose source rows
 * (`srcRows`) and outputs each fit one binding, each tile with its own total, i_base, src_base and
 * dst_base.
 */
export function runPlaneKernel(
  pk: PlaneKernel,
  consts: Record<string, number>,
  src: Tensor,
  mid: MidBinding,
  dst: Tensor,
  u: PlaneUniforms,
  rows: number,
  cols: number,
  srcCols: number,
  srcRows: (r0: number, r1: number) => [number, number],
): void {
  const rt = dst.runtime;
  const op = pk.kernel.shader;
  if (!over(rt, src.size, dst.size, mid.like === 'whole' ? 0 : mid.t.size)) {
    launchPlane(pk, consts, src, mid.t, dst, u, rows * cols, op);
    return;
  }
  for (const r of rowWindows(rt, rows, cols, srcCols, srcRows)) {
    const sw = windowOf(src, r.s0, r.s1, op);
    const dw = windowOf(dst, r.i0, r.i1, op);
    const mb = mid.like === 'whole' ? mid.t.bufferFor(op) : mid.like === 'src' ? windowOf(mid.t, r.s0, r.s1, op).binding : windowOf(mid.t, r.i0, r.i1, op).binding;
    const ut = packUniformBlock(pk.d, { ...u, total: r.i1, i_base: r.i0, src_base: sw.base, dst_base: dw.base });
    const buffers = bindingsByName(pk.d, { src: sw.binding, [pk.mid]: mb, dst: dw.binding });
    rt.dispatch(pk.kernel, consts, buffers, new Uint8Array(ut), planeGrid(pk, r.i1 - r.i0));
  }
}

/** The range [lo[r0], hi[r1 - 1]) of input rows that output rows r0 .. r1 - 1 read (monotone windows). */
export function readRows(lo: ArrayLike<number>, hi: ArrayLike<number>): (r0: number, r1: number) => [number, number] {
  return (r0, r1) => [lo[r0]!, hi[r1 - 1]!];
}

/** The range of output rows whose windows [lo, hi) hold any of input rows r0 .. r1 - 1. */
export function readersOf(lo: ArrayLike<number>, hi: ArrayLike<number>): (r0: number, r1: number) => [number, number] {
  return (r0, r1) => {
    let a = 0;
    while (a < lo.length && hi[a]! <= r0) a++;
    let b = a;
    while (b < lo.length && lo[b]! < r1) b++;
    return [a, Math.max(a, b)];
  };
}

/** The uniform values of shaders/pool.wgsl: sizes, the max-pool geometry (g) or the table offsets. */
function params(total: number, h: number, w: number, oh: number, ow: number, g: PoolGeom | null, xf = 0, yb = 0, xb = 0): PlaneUniforms {
  const geom = g
    ? { kh: g.kh, kw: g.kw, sh: g.sh, sw: g.sw, ph: g.ph, pw: g.pw, dh: g.dh, dw: g.dw, ext_h: g.dh * (g.kh - 1) + 1, ext_w: g.dw * (g.kw - 1) + 1 }
    : { kh: 0, kw: 0, sh: 0, sw: 0, ph: 0, pw: 0, dh: 0, dw: 0, ext_h: 0, ext_w: 0 };
  return { total, h, w, oh, ow, ...geom, xf, yb, xb, i_base: 0, src_base: 0, dst_base: 0, pad0: 0, pad1: 0, pad2: 0 };
}

/**
 * Max pooling of x [n, c, h, w] into [n, c, oh, ow]: the values and, as i32, the flat index
 * iy * w + ix of each chosen element within its (n, c) plane. Every window must hold at least one
 * input element (the op validates padding <= kernel / 2 as PyTorch does).
 */
export function maxPoolForward(x: Tensor, g: PoolGeom, oh: number, ow: number): { y: Tensor; indices: Tensor } {
  const [n, c, h, w] = x.shape as [number, number, number, number];
  x.bufferFor('maxPool2d'); // a disposed input throws here, before anything is allocated
  if (n * c > 1 && over(x.runtime, x.size, n * c * oh * ow)) {
    const [y, indices] = mapPlanes([x], Math.max(h * w, oh * ow) * 4, ([p]) => {
      const r = maxPoolForward(p!, g, oh, ow);
      return [r.y, r.indices];
    });
    return { y: y!, indices: indices! };
  }
  const y = empty([n, c, oh, ow]);
  const indices = empty([n, c, oh, ow], 'i32');
  const total = y.size;
  if (total > 0 && n * c === 1 && over(y.runtime, x.size, total)) {
    const ext = g.dh * (g.kh - 1) + 1;
    const rows = (r0: number, r1: number): [number, number] => [Math.max(0, r0 * g.sh - g.ph), Math.min(h, (r1 - 1) * g.sh - g.ph + ext)];
    runPlaneKernel(maxFwdKernel, MAX_CONSTS, x, { t: indices, like: 'dst' }, y, params(total, h, w, oh, ow, g), oh, ow, w, rows);
  } else if (total > 0) {
    launchPlane(tilesExactly(g, h, w, oh, ow) ? maxFwdTileKernel : maxFwdKernel, MAX_CONSTS, x, indices, y, params(total, h, w, oh, ow, g), total, 'maxPool2d');
  }
  return { y, indices };
}

/**
 * Gradient of max pooling: gx [n, c, h, w] where each element sums the gy of the outputs whose
 * argmax (`indices`) it is. A gather over the outputs whose window extent covers the element.
 */
export function maxPoolBackward(gy: Tensor, indices: Tensor, g: PoolGeom, h: number, w: number): Tensor {
  const [n, c, oh, ow] = gy.shape as [number, number, number, number];
  gy.bufferFor('maxPool2d backward'); // disposed inputs throw here, before anything is allocated
  indices.bufferFor('maxPool2d backward');
  if (n * c > 1 && over(gy.runtime, gy.size, n * c * h * w)) {
    return mapPlanes([gy, indices], Math.max(h * w, oh * ow) * 4, ([a, b]) => [maxPoolBackward(a!, b!, g, h, w)])[0]!;
  }
  const gx = empty([n, c, h, w]);
  const total = gx.size;
  if (total > 0 && n * c === 1 && over(gx.runtime, gy.size, total)) {
    const ext = g.dh * (g.kh - 1) + 1;
    const rows = (r0: number, r1: number): [number, number] => {
      const a = Math.max(0, Math.ceil((r0 + g.ph + 1 - ext) / g.sh));
      return [Math.min(a, oh), Math.max(Math.min(a, oh), Math.min(oh, Math.floor((r1 - 1 + g.ph) / g.sh) + 1))];
    };
    runPlaneKernel(maxBwdKernel, MAX_CONSTS, gy, { t: indices, like: 'src' }, gx, params(total, h, w, oh, ow, g), h, w, ow, rows);
  } else if (total > 0 && tilesExactly(g, h, w, oh, ow)) {
    // One invocation per SPAN outputs, each writing its whole window.
    launchPlane(maxBwdTileKernel, MAX_CONSTS, gy, indices, gx, params(gy.size, h, w, oh, ow, g), gy.size, 'maxPool2d backward');
  } else if (total > 0) launchPlane(maxBwdKernel, MAX_CONSTS, gy, indices, gx, params(total, h, w, oh, ow, g), total, 'maxPool2d backward');
  return gx;
}

/**
 * One axis of a separable table: for every output index d, a vec4 entry (`fwd[4d .. 4d+3]`) for the
 * forward kernel and the interval [lo[d], hi[d]) of input indices that d reads; the backward ranges
 * (which outputs read input i) are derived from those intervals.
 */
export interface AxisTable {
  inSize: number;
  fwd: Uint32Array;
  lo: ArrayLike<number>;
  hi: ArrayLike<number>;
}

/**
 * Packs the y and x axis tables as vec4 entries [y fwd: oh][x fwd: ow][y bwd: h][x bwd: w]; a bwd
 * entry (oLo, oHi, 0, 0) lists the outputs whose interval holds that input. Intervals are
 * non-decreasing in d (windows and interpolation taps move forward), so those outputs are contiguous.
 */
export function packAxisTables(y: AxisTable, x: AxisTable): Int32Array {
  const oh = y.lo.length;
  const ow = x.lo.length;
  const out = new Uint32Array(4 * (oh + ow + y.inSize + x.inSize));
  out.set(y.fwd, 0);
  out.set(x.fwd, 4 * oh);
  const ranges = (t: AxisTable, at: number) => {
    const seen = new Uint8Array(t.inSize);
    for (let d = 0; d < t.lo.length; d++) {
      for (let i = t.lo[d]!; i < t.hi[d]!; i++) {
        if (!seen[i]) {
          seen[i] = 1;
          out[4 * (at + i)] = d;
        }
        out[4 * (at + i) + 1] = d + 1;
      }
    }
  };
  ranges(y, oh + ow);
  ranges(x, oh + ow + y.inSize);
  return new Int32Array(out.buffer);
}

/** Layout facts of a packed table, for the uniform block. */
export interface TableLayout {
  table: Tensor;
  h: number;
  w: number;
  oh: number;
  ow: number;
  /** Input rows [yLo[oy], yHi[oy]) that output row oy reads (for row tiles of a too-large plane). */
  yLo: ArrayLike<number>;
  yHi: ArrayLike<number>;
}

// Tables are tiny and reused by every step of a training run: cache them per runtime and geometry.
// Rules fetch them again at backward time, so an evicted table is rebuilt, never used after dispose.
const tableCache = new WeakMap<Runtime, Map<string, Tensor>>();
const MAX_TABLES = 256;

/** The table cached under `key` for `rt`, built with `build` on a miss (least recently used evicted). */
export function cachedTable(rt: Runtime, key: string, build: () => Int32Array): Tensor {
  let cache = tableCache.get(rt);
  if (!cache) tableCache.set(rt, (cache = new Map()));
  let t = cache.get(key);
  if (t && !t.disposed) {
    cache.delete(key);
    cache.set(key, t);
    return t;
  }
  const data = build();
  t = keep(fromArray(data, [data.length], { dtype: 'i32' }));
  if (cache.size >= MAX_TABLES) {
    const [oldKey, old] = cache.entries().next().value as [string, Tensor];
    old.dispose();
    cache.delete(oldKey);
  }
  cache.set(key, t);
  return t;
}

/** The float32 bit pattern of v (rounded to float32), for table entries. */
export const f32Bits = (v: number): number => new Uint32Array(Float32Array.of(v).buffer)[0]!;

/** Windows [lo, hi) per output along one axis with reciprocal divisors `rcp` (1 when none). */
function windowAxis(inSize: number, lo: number[], hi: number[], rcp: number[]): AxisTable {
  const fwd = new Uint32Array(4 * lo.length);
  lo.forEach((l, d) => fwd.set([l, hi[d]!, f32Bits(rcp[d]!), 0], 4 * d));
  return { inSize, fwd, lo, hi };
}

/** avg_pool2d windows along one axis: PyTorch clips to the input and counts padding up to in + pad. */
function avgAxis(inSize: number, out: number, k: number, s: number, p: number, includePad: boolean, divisor: number | null): AxisTable {
  const lo: number[] = [];
  const hi: number[] = [];
  const rcp: number[] = [];
  for (let d = 0; d < out; d++) {
    const start = d * s - p;
    const end = Math.min(start + k, inSize + p);
    lo.push(Math.max(start, 0));
    hi.push(Math.min(end, inSize));
    // An empty window (impossible after the op's checks) averages to 0, as in PyTorch.
    const count = includePad ? end - start : hi[d]! - lo[d]!;
    rcp.push(hi[d]! <= lo[d]! ? 0 : divisor !== null ? 1 / divisor : 1 / count);
  }
  return windowAxis(inSize, lo, hi, rcp);
}

/** Packed avg_pool2d tables; the divisor of output (oy, ox) is ry[oy] * rx[ox] (it is separable). */
export function avgPoolTables(
  rt: Runtime,
  h: number,
  w: number,
  oh: number,
  ow: number,
  g: PoolGeom,
  countIncludePad: boolean,
  divisorOverride: number | null,
): TableLayout {
  const key = `avg:${h},${w},${oh},${ow},${g.kh},${g.kw},${g.sh},${g.sw},${g.ph},${g.pw},${countIncludePad},${divisorOverride}`;
  const ya = avgAxis(h, oh, g.kh, g.sh, g.ph, countIncludePad, divisorOverride);
  const table = cachedTable(rt, key, () =>
    packAxisTables(
      ya,
      // With an override the whole divisor goes on the y axis.
      avgAxis(w, ow, g.kw, g.sw, g.pw, countIncludePad, divisorOverride === null ? null : 1),
    ),
  );
  return { table, h, w, oh, ow, yLo: ya.lo, yHi: ya.hi };
}

/** adaptive_avg_pool2d windows along one axis: [floor(d in / out), ceil((d + 1) in / out)). */
function adaptiveAxis(inSize: number, out: number): AxisTable {
  const lo: number[] = [];
  const hi: number[] = [];
  const rcp: number[] = [];
  for (let d = 0; d < out; d++) {
    lo.push(Math.floor((d * inSize) / out));
    hi.push(Math.ceil(((d + 1) * inSize) / out));
    rcp.push(1 / (hi[d]! - lo[d]!));
  }
  return windowAxis(inSize, lo, hi, rcp);
}

/** Packed adaptive_avg_pool2d tables for h x w -> oh x ow. */
export function adaptiveAvgPoolTables(rt: Runtime, h: number, w: number, oh: number, ow: number): TableLayout {
  const ya = adaptiveAxis(h, oh);
  const table = cachedTable(rt, `adaptive:${h},${w},${oh},${ow}`, () => packAxisTables(ya, adaptiveAxis(w, ow)));
  return { table, h, w, oh, ow, yLo: ya.lo, yHi: ya.hi };
}

/** The uniform values of a table-driven pool kernel (offsets of the x fwd, y bwd and x bwd tables). */
function tableParams(total: number, t: TableLayout): PlaneUniforms {
  return params(total, t.h, t.w, t.oh, t.ow, null, t.oh, t.oh + t.ow, t.oh + t.ow + t.h);
}

/** Window (average) pooling of x [n, c, h, w] into [n, c, oh, ow] by the tables `t`. */
export function windowPoolForward(x: Tensor, t: TableLayout, op: string): Tensor {
  const [n, c] = x.shape as [number, number];
  x.bufferFor(op); // a disposed input throws here, before anything is allocated
  if (n * c > 1 && over(x.runtime, x.size, n * c * t.oh * t.ow)) {
    return mapPlanes([x], Math.max(t.h * t.w, t.oh * t.ow) * 4, ([p]) => [windowPoolForward(p!, t, op)])[0]!;
  }
  const y = empty([n, c, t.oh, t.ow]);
  const total = y.size;
  if (total > 0 && n * c === 1 && over(y.runtime, x.size, total)) {
    runPlaneKernel(avgFwdKernel, { WG }, x, { t: t.table, like: 'whole' }, y, tableParams(total, t), t.oh, t.ow, t.w, readRows(t.yLo, t.yHi));
  } else if (total > 0) launchPlane(avgFwdKernel, { WG }, x, t.table, y, tableParams(total, t), total, op);
  return y;
}

/** Gradient of window pooling: gx [n, c, h, w] gathers gy over the windows that hold each element. */
export function windowPoolBackward(gy: Tensor, t: TableLayout, op: string): Tensor {
  const [n, c] = gy.shape as [number, number];
  gy.bufferFor(op); // a disposed input throws here, before anything is allocated
  if (n * c > 1 && over(gy.runtime, gy.size, n * c * t.h * t.w)) {
    return mapPlanes([gy], Math.max(t.h * t.w, t.oh * t.ow) * 4, ([p]) => [windowPoolBackward(p!, t, op)])[0]!;
  }
  const gx = empty([n, c, t.h, t.w]);
  const total = gx.size;
  if (total > 0 && n * c === 1 && over(gx.runtime, gy.size, total)) {
    runPlaneKernel(avgBwdKernel, { WG }, gy, { t: t.table, like: 'whole' }, gx, tableParams(total, t), t.h, t.w, t.ow, readersOf(t.yLo, t.yHi));
  } else if (total > 0) launchPlane(avgBwdKernel, { WG }, gy, t.table, gx, tableParams(total, t), total, op);
  return gx;
}
