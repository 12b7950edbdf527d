/**
 * Raw batched matmul (shaders/matmul.wgsl): C[b] = op(A[b]) op(B[b]) over 3-D views with batch
 * strides (0 broadcasts an operand); callers pass transposes as flags, never as copies.
 * `chooseMatmulVariant` picks the kernel by shape; the fast kernels read k-major operands, and an
 * operand not already in that layout is packed into a temporary copy first (bench/README.md has the
 * measurements behind every choice here).
 */
import { ArgumentError } from '../../errors.js';
import { bindingsByName, packUniformBlock } from '../../gpu/kernel-descriptor.js';
import { fileKernel, type Kernel } from '../../gpu/pipeline-cache.js';
import { empty, zeros } from '../../tensor/creation.js';
import { splitMatmul } from './matmul-split.js';
import { fits, over } from './split.js';
import type { Tensor } from '../../tensor/tensor.js';
import { f16Kernel, useF16 } from './f16.js';
import { MATMUL_GENERAL, MATMUL_KMAJOR, MATMUL_PACK, MATMUL_PACK_ROWS4 } from './matmul-descriptors.js';

const generalKernel = fileKernel(MATMUL_GENERAL, 'matmul');
const outerKernel = fileKernel(MATMUL_KMAJOR, 'matmul', 'outer');
const tiledKernel = fileKernel(MATMUL_KMAJOR, 'matmul', 'tiled');
const packKernel = fileKernel(MATMUL_PACK, 'matmul', 'pack');
const packRows4Kernel = fileKernel(MATMUL_PACK_ROWS4, 'matmul', 'pack_rows4');
const packNarrowKernel = fileKernel(MATMUL_PACK, 'matmul', 'pack_narrow');
const packRows4NarrowKernel = fileKernel(MATMUL_PACK_ROWS4, 'matmul', 'pack_rows4_narrow');
const PACK_WG = 64;
/** Rows and columns of C per `outer` invocation. */
const OUTER_TILE = 16;
/** Workgroups per dispatch dimension (WebGPU's default maxComputeWorkgroupsPerDimension). */
export const MAX_GROUPS_PER_DIM = 65535;
/**
 * The most rows or columns of C one dispatch covers in every variant: each maps columns to x and
 * rows to y, at least 16 of either per workgroup (`outer` with an 8x1 workgroup covers 16 rows), so
 * a longer side is split into tiles (matmul-split.ts), as a too-large operand is.
 */
export const MATMUL_GRID_SAFE = MAX_GROUPS_PER_DIM * 16;
/** Rows and columns of C per `tiled` workgroup (16x16 invocations, 4x4 each). */
const TILED_TILE = 64;
/** Adapters that run shaders on the CPU (lavapipe/llvmpipe, SwiftShader). */
const SOFTWARE_ADAPTER = /llvmpipe|lavapipe|swiftshader|software/i;

/** True for adapters that run shaders on the CPU, where kernels are shaped for SIMD lanes, not GPUs. */
export function isSoftwareAdapter(adapterName: string): boolean {
  return SOFTWARE_ADAPTER.test(adapterName);
}

/** Shape and layout of one batched product. */
export interface MatmulPlan {
  batch: number;
  m: number;
  n: number;
  k: number;
  transA: boolean;
  transB: boolean;
  /** Elements between consecutive batch entries of A and B (0 = broadcast). */
  strideA: number;
  strideB: number;
}

/**
 * The kernel that runs a product: `general` (4x4 blocks, any layout), `outer` (16x16 blocks per
 * invocation over k-major vec4 operands; for CPU adapters) or `tiled` (the same operands staged through
 * workgroup memory in 64x64 tiles; for GPUs).
 */
export type MatmulVariant = 'general' | 'outer' | 'tiled';

/**
 * Picks the kernel for a product by its shape and adapter. `outer` does 3-5x more multiply-adds per
 * second than `general` on lavapipe, but works in 16x16 blocks of C and may first pack an operand (one
 * more dispatch), so small or skinny products stay on `general`. Measured crossovers (lavapipe,
 * bench/README.md):
 *
 * | shape                       | kernel  | why                                                      |
 * |-----------------------------|---------|----------------------------------------------------------|
 * | m < 16 or n < 16            | general | 4x256x256: 125 vs 232 us; 1x1024x1024: 1.3 vs 10 ms       |
 * | batch * m * n * k <= 64^3   | general | 48^3: 74-102 vs 135-170 us with a pack; 64^3 about even   |
 * | anything larger             | outer   | 16x256x256: 201 vs 458 us; 256^3: 1.7 vs 4.6 ms           |
 *
 * On a GPU adapter the large case goes to `tiled` instead: workgroup memory is what GPUs are built for,
 * and 256 accumulators per invocation would spill their registers. That choice is by convention, not
 * measured here (no GPU at hand); `tiled` runs 4-5 GFLOP/s on lavapipe.
 */
export function chooseMatmulVariant(plan: MatmulPlan, adapterName = ''): MatmulVariant {
  const { batch, m, n, k } = plan;
  if (m < 16 || n < 16) return 'general';
  if (batch * m * n * k <= 64 * 64 * 64) return 'general';
  return SOFTWARE_ADAPTER.test(adapterName) ? 'outer' : 'tiled';
}

/** Every matmul kernel; each runs any shape, so each is a candidate for autotuning. */
export const MATMUL_VARIANTS: readonly MatmulVariant[] = ['general', 'outer', 'tiled'];

/**
 * The tuning-table key of a product: batch, m x n x k, transposes, and which operands are broadcast
 * over the batch (they are packed once instead of per entry). Parsed back by {@link parseMatmulTuneKey}.
 */
export function matmulTuneKey(plan: MatmulPlan): string {
  const { batch, m, n, k } = plan;
  const bc = batch > 1 ? `${plan.strideA === 0 ? 'a' : ''}${plan.strideB === 0 ? 'b' : ''}` : '';
  return `matmul ${batch}x${m}x${n}x${k} ${plan.transA ? 't' : 'n'}${plan.transB ? 't' : 'n'}${bc ? ` bcast-${bc}` : ''}`;
}

/** The plan a {@link matmulTuneKey} describes (dense operands), or null for another key. */
export function parseMatmulTuneKey(key: string): MatmulPlan | null {
  const r = /^matmul (\d+)x(\d+)x(\d+)x(\d+) ([nt])([nt])(?: bcast-(a?)(b?))?$/.exec(key);
  if (!r) return null;
  const [batch, m, n, k] = r.slice(1, 5).map(Number) as [number, number, number, number];
  return { batch, m, n, k, transA: r[5] === 't', transB: r[6] === 't', strideA: r[7] ? 0 : m * k, strideB: r[8] ? 0 : k * n };
}

/**
 * Runs the product into a new tensor of shape `outShape` (batch * m * n elements) with the kernel
 * `variant` names (tests run every variant on the same shapes), else the one the runtime's tuning
 * table measured fastest for this shape, else the one {@link chooseMatmulVariant} picks.
 */
export function matmulRaw(
  a: Tensor,
  b: Tensor,
  plan: MatmulPlan,
  outShape: readonly number[],
  variant?: MatmulVariant,
): Tensor {
  const { batch, m, n, k } = plan;
  const rt = a.runtime;
  const r4 = (x: number) => Math.ceil(x / 4) * 4;
  const gridTooLarge = m > MATMUL_GRID_SAFE || n > MATMUL_GRID_SAFE || batch > MAX_GROUPS_PER_DIM;
  if (k > 0 && batch * m * n > 0 && (gridTooLarge || !fits(rt, a, b) || over(rt, batch * m * n, batch * r4(m) * k, batch * k * r4(n)))) {
    return splitMatmul(a, b, plan, outShape, variant, matmulRaw);
  }
  if (batch * m * n === 0) return empty(outShape);
  // An empty reduction: zeros (creation.ts's fill, split across bindings when C exceeds one).
  if (k === 0) return zeros(outShape);
  const c = empty(outShape);
  const chosen = variant ?? c.runtime.tuning.choose(matmulTuneKey(plan), MATMUL_VARIANTS, chooseMatmulVariant(plan, c.runtime.adapterName));
  if (chosen === 'general') runGeneral(a, b, c, plan);
  else runKMajor(a, b, c, plan, chosen);
  return c;
}

function runGeneral(a: Tensor, b: Tensor, c: Tensor, plan: MatmulPlan): void {
  const { batch, m, n, k } = plan;
  const WGX = 8;
  const WGY = 8;
  // (lda4, ldb4: only the k-major kernels read them)
  const u = packUniformBlock(MATMUL_GENERAL, {
    m, n, k, batch,
    stride_a: plan.strideA, stride_b: plan.strideB, stride_c: m * n,
    lda4: 0, ldb4: 0,
    off_a: 0, off_b: 0, off_c: 0,
    ldc: n,
    pad0: 0, pad1: 0, pad2: 0,
  });
  c.runtime.dispatch(
    generalKernel,
    { TRANS_A: plan.transA ? 1 : 0, TRANS_B: plan.transB ? 1 : 0, WGX, WGY },
    bindingsByName(MATMUL_GENERAL, { a: a.bufferFor('matmul'), b: b.bufferFor('matmul'), c: c.bufferFor('matmul') }),
    new Uint8Array(u),
    [Math.ceil(n / 4 / WGX), Math.ceil(m / 4 / WGY), batch],
  );
}

/**
 * An operand in the layout `outer` and `tiled` read: [batch][K][ld4 * 4], k-major, the first batch entry
 * at element `offset` of `buffer` (a multiple of 4).
 */
export interface KMajor {
  buffer: GPUBuffer;
  ld4: number;
  stride: number;
  offset: number;
  /** A packed copy to dispose once its use is encoded. */
  copy: Tensor | null;
  /** Stored as f16 (vec4<f16>, indices still in vec4s), for the f16 kernels (./f16.ts). */
  f16?: boolean;
}

/** Where one operand lies in its tensor, for {@link packKMajor}. */
export interface OperandView {
  /** Length of the operand's non-reduction dimension (M for A, N for B). */
  rows: number;
  /** Reduction length K. */
  k: number;
  /** True when the source stores the operand as [K][rows] (already k-major), false for [rows][K]. */
  kMajorSource: boolean;
  /** Elements between batch entries (0 = one entry shared by all). */
  stride: number;
  batch: number;
  /** Element of the first batch entry (default 0). */
  offset?: number;
  /** Elements between the source's rows (default: their length, rows or K). */
  ld?: number;
  /**
   * Where to pack (at least count * K * ld4 * 4 elements); the result's `copy` is then null and the
   * caller keeps ownership (loops over chunks reuse one buffer).
   */
  into?: Tensor;
  /** Pack into f16 storage (always a copy: the source is f32); half the elements' bytes. */
  f16?: boolean;
}

/**
 * An operand k-major. One stored [K][rows] with whole vec4 rows (and aligned offset and strides) is used
 * in place; anything else is packed first into a dense [count][K][ld4 * 4] copy, whose batch entries
 * follow each other, so a batch of them also reads as one operand with batch * K rows. An f16 operand
 * (`v.f16`) is always such a copy, rounded to f16.
 */
export function packKMajor(x: Tensor, v: OperandView): KMajor {
  const { rows, k, kMajorSource, stride, batch } = v;
  const offset = v.offset ?? 0;
  const ld = v.ld ?? (kMajorSource ? rows : k);
  if (!v.f16 && kMajorSource && rows % 4 === 0 && ld === rows && offset % 4 === 0 && stride % 4 === 0) {
    return { buffer: x.bufferFor('matmul'), ld4: rows / 4, stride, offset, copy: null };
  }
  const ld4 = Math.ceil(rows / 4);
  const count = stride === 0 ? 1 : batch;
  // An f16 copy takes two halves per f32 element of the tensor that holds it.
  const copy = v.into ?? empty([count, k, ld4 * (v.f16 ? 2 : 4)]);
  // A [P][K] source with whole vec4 rows is read as vec4s; anything else one float at a time.
  const rows4 = !kMajorSource && k % 4 === 0 && ld % 4 === 0 && stride % 4 === 0 && offset % 4 === 0;
  const launch = packLaunch(ld4, k, count, rows4);
  const src = x.bufferFor('matmul');
  const packed = copy.bufferFor('matmul');
  const d = rows4 ? MATMUL_PACK_ROWS4 : MATMUL_PACK;
  copy.runtime.dispatch(
    f16Kernel(launch.kernel, v.f16),
    { P_MAJOR: kMajorSource ? 0 : 1 },
    bindingsByName(d, rows4 ? { src4: src, packed } : { a: src, packed }),
    new Uint8Array(packUniformBlock(d, { p: rows, k, ld4, stride, off: offset, ld, pad0: 0, pad1: 0 })),
    launch.groups,
  );
  return { buffer: copy.bufferFor('matmul'), ld4, stride: stride === 0 ? 0 : k * ld4 * 4, offset: 0, copy: v.into ? null : copy, f16: v.f16 };
}

/**
 * Entry point and grid of a pack. Workgroups (64 invocations) span the packed row, no wider than it (a
 * 64-wide one over 16 vec4s idled 3/4 of its lanes): rows of more than 32 vec4s take 64 vec4s per
 * workgroup; shorter ones the `_narrow` entry points, whose workgroups cover the row's length rounded up
 * to 8, 16 or 32 vec4s and 64 / that k steps (the shader derives the same split from ld4, so all short
 * rows share one pipeline rather than one per width).
 */
function packLaunch(ld4: number, k: number, count: number, rows4: boolean): { kernel: Kernel; groups: [number, number, number] } {
  const k4 = Math.ceil(k / 4);
  if (ld4 > PACK_WG / 2) return { kernel: rows4 ? packRows4Kernel : packKernel, groups: [Math.ceil(ld4 / PACK_WG), Math.min(k4, 65535), count] };
  const wg = Math.max(8, 2 ** Math.ceil(Math.log2(ld4)));
  return { kernel: rows4 ? packRows4NarrowKernel : packNarrowKernel, groups: [1, Math.min(Math.ceil(k4 / (PACK_WG / wg)), 65535), count] };
}

function kMajor(x: Tensor, rows: number, k: number, kMajorSource: boolean, stride: number, batch: number, f16: boolean): KMajor {
  return packKMajor(x, { rows, k, kMajorSource, stride, batch, f16 });
}

/** The largest power of two <= x (x >= 1). */
function floorPow2(x: number): number {
  return 2 ** Math.floor(Math.log2(x));
}

/**
 * Workgroup shape for `outer`: 8 invocations (one 8-lane SIMD batch on lavapipe), as wide as the grid of
 * 16x16 blocks allows up to 8. Shapes from 8x8 to 1x8 measured alike on 128^2 to 1024^2; small
 * workgroups leave more of them to share among threads. The kernel derives the same shape from N itself
 * (shaders/matmul.wgsl, `outer`), so all shapes share one pipeline (~0.6 s to compile, cold); this only
 * sizes the grid and must agree with it.
 */
function outerWorkgroup(n: number): [number, number] {
  const x = Math.min(8, floorPow2(Math.ceil(n / OUTER_TILE)));
  return [x, 8 / x];
}

/** `outer` or `tiled`: k-major operands (packed when needed), then one dispatch. */
function runKMajor(a: Tensor, b: Tensor, c: Tensor, plan: MatmulPlan, variant: 'outer' | 'tiled'): void {
  const { batch, m, n, k } = plan;
  const f16 = useF16(c.runtime, 'matmul');
  const A = kMajor(a, m, k, plan.transA, plan.strideA, batch, f16);
  const B = kMajor(b, n, k, !plan.transB, plan.strideB, batch, f16);
  productKMajor(A, B, c, { batch, m, n, k, strideC: m * n, offC: 0, ldc: n }, variant);
  A.copy?.dispose();
  B.copy?.dispose();
}

/** Shape and output placement of {@link productKMajor}: C[b] (m x n) at offC + b * strideC, rows ldc apart. */
export interface KMajorProduct {
  batch: number;
  m: number;
  n: number;
  k: number;
  strideC: number;
  offC: number;
  ldc: number;
  /** C += product instead of C = product (what C held: a residual, a bias, an earlier partial sum). */
  accumulate?: boolean;
  /** Clamp the stored result at zero (after the accumulation). */
  relu?: boolean;
}

/**
 * Encodes C[b] = A'[b]^T B'[b] (+ C[b] when accumulating, then ReLU when asked) with `outer` or
 * `tiled`, for k-major operands from {@link packKMajor}, into part of `c`'s buffer. Convolutions use it
 * to run im2col products chunk by chunk into one output. Operands are both f32 or both f16 (the f16
 * kernels then run, accumulating in f32).
 */
export function productKMajor(A: KMajor, B: KMajor, c: Tensor, plan: KMajorProduct, variant: 'outer' | 'tiled'): void {
  const { batch, m, n, k } = plan;
  // One module reads both operands through one alias, so they share their storage type.
  if (!A.f16 !== !B.f16) throw new ArgumentError('matmul', 'k-major operands must both be f16 or both f32');
  const u = new Uint8Array(
    packUniformBlock(MATMUL_KMAJOR, {
      m, n, k, batch,
      stride_a: A.stride, stride_b: B.stride, stride_c: plan.strideC,
      lda4: A.ld4, ldb4: B.ld4,
      off_a: A.offset, off_b: B.offset, off_c: plan.offC,
      ldc: plan.ldc,
      pad0: 0, pad1: 0, pad2: 0,
    }),
  );
  const buffers = bindingsByName(MATMUL_KMAJOR, { a4: A.buffer, b4: B.buffer, c4: c.bufferFor('matmul') });
  const epilogue = { ACCUM: plan.accumulate ? 1 : 0, RELU: plan.relu ? 1 : 0 };
  if (variant === 'tiled') {
    c.runtime.dispatch(f16Kernel(tiledKernel, A.f16), epilogue, buffers, u, [Math.ceil(n / TILED_TILE), Math.ceil(m / TILED_TILE), batch]);
  } else {
    const [WGX, WGY] = outerWorkgroup(n);
    c.runtime.dispatch(f16Kernel(outerKernel, A.f16), epilogue, buffers, u, [Math.ceil(n / OUTER_TILE / WGX), Math.ceil(m / OUTER_TILE / WGY), batch]);
  }
}
