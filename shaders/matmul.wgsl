// Batched matmul C[b] = op(A[b]) * op(B[b]), op = transpose when TRANS_A / TRANS_B. A batch stride of 0
// broadcasts an operand over the batch. Entry points (src/ops/kernels/matmul.ts picks by shape and adapter):
//
//   main   any layout and size: each invocation computes a 4x4 block of C from scalar loads.
//   outer  fast path on CPU adapters: operands given k-major (A' = op(A)^T as [K][4 lda4],
//          B' = op(B) as [K][4 ldb4]); each invocation computes a 16x16 block of C as a sum of outer
//          products of vec4 loads.
//   tiled  the same product shaped for GPUs: 64x64 tiles staged in workgroup memory, 4x4 per invocation.
//   pack   makes a k-major, padded copy of an operand that is not already one; pack_rows4 does the same
//          for a [P][K] source with K % 4 == 0, reading vec4s; pack_narrow and pack_rows4_narrow are
//          the two for copies with rows of at most 32 vec4s.
//
// Why `outer` is shaped this way (lavapipe, Mesa 25.0): every storage-buffer load compiles to a per-lane
// scalar loop (about 13 instructions per lane and component, even when all lanes read the same
// address), while arithmetic runs eight lanes at once. So the cost is loads per multiply-add. With both
// operands k-major, one k step needs 4 + 4 vec4 loads for 256 multiply-adds; a vec4 load costs about half
// of four scalar ones, and no k unrolling is needed (which keeps more values live; it measured 2.5x slower).
// Measurements behind every choice are in bench/README.md.
//
// The contracts: src/ops/kernels/matmul-descriptors.ts, one descriptor per layout (main; outer and
// tiled; pack and pack_narrow; pack_rows4 and pack_rows4_narrow), each entry point checked against its
// own when its pipeline is created.

override TRANS_A: bool = false;
override TRANS_B: bool = false;
override WGX: u32 = 8u;
override WGY: u32 = 8u;
// pack: the source holds the operand as [P][K] (rows of the P x K view are contiguous) rather than [K][P].
override P_MAJOR: bool = false;
// Epilogue of every store into C (convolutions use both): ACCUM adds the product to what C already holds
// (a residual and bias written there first, or the previous chunk of a split reduction); RELU clamps
// the result at zero afterwards.
override ACCUM: bool = false;
override RELU: bool = false;
// Element type of the k-major operands (read by outer and tiled, written by pack and pack_rows4). The
// pipeline cache derives an f16 module from this text by switching this line (src/gpu/shader-f16.ts):
// the same kernels then load half the bytes and still multiply and accumulate in f32.
alias kvec = vec4<f32>; // f16: vec4<f16>

struct Params {
  m: u32, n: u32, k: u32, batch: u32,
  stride_a: u32, stride_b: u32, stride_c: u32,
  // outer: row lengths of the k-major operands, in vec4s.
  lda4: u32, ldb4: u32,
  // Element offsets of the first batch entry of A, B and C (multiples of 4 for the vec4 kernels), so a
  // product can read and write part of a larger buffer.
  off_a: u32, off_b: u32, off_c: u32,
  // Elements between rows of C (n for a dense C; more when C is a column range of a wider matrix).
  ldc: u32,
  pad0: u32, pad1: u32, pad2: u32,
}

struct PackParams {
  // The operand is a P x K view per batch entry (`stride` elements apart, the first at element `off`)
  // whose rows (along K for P_MAJOR, along P otherwise) are `ld` elements apart; the copy is
  // [K][ld4 * 4].
  p: u32, k: u32, ld4: u32, stride: u32,
  off: u32, ld: u32, pad0: u32, pad1: u32,
}

@group(0) @binding(0) var<storage, read> a: array<f32>;
@group(0) @binding(1) var<storage, read> b: array<f32>;
@group(0) @binding(2) var<storage, read_write> c: array<f32>;
@group(0) @binding(3) var<uniform> p: Params;

// The same buffers seen as vec4s (outer), and pack's bindings; no entry point uses two views of one binding.
@group(0) @binding(0) var<storage, read> a4: array<kvec>;
@group(0) @binding(1) var<storage, read> b4: array<kvec>;
@group(0) @binding(2) var<storage, read_write> c4: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read_write> packed: array<kvec>;
// pack_rows4's f32 source seen as vec4s (a4 is f16 in the f16 module).
@group(0) @binding(0) var<storage, read> src4: array<vec4<f32>>;
@group(0) @binding(2) var<uniform> pp: PackParams;

fn la(base: u32, row: u32, col: u32) -> f32 {
  // Element (row, col) of op(A), an M x K matrix.
  if (TRANS_A) { return a[p.off_a + base + col * p.m + row]; }
  return a[p.off_a + base + row * p.k + col];
}

fn lb(base: u32, row: u32, col: u32) -> f32 {
  // Element (row, col) of op(B), a K x N matrix.
  if (TRANS_B) { return b[p.off_b + base + col * p.k + row]; }
  return b[p.off_b + base + row * p.n + col];
}

// General kernel: a 4x4 block of C per invocation. Out-of-range rows/cols read a clamped index and are
// not stored, which keeps the inner loop free of branches.
@compute @workgroup_size(WGX, WGY, 1)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let col0 = gid.x * 4u;
  let row0 = gid.y * 4u;
  let bz = gid.z;
  if (col0 >= p.n || row0 >= p.m || bz >= p.batch) { return; }
  let ba = bz * p.stride_a;
  let bb = bz * p.stride_b;
  let rows = min(vec4<u32>(row0) + vec4<u32>(0u, 1u, 2u, 3u), vec4<u32>(p.m - 1u));
  let cols = min(vec4<u32>(col0) + vec4<u32>(0u, 1u, 2u, 3u), vec4<u32>(p.n - 1u));
  var acc0 = vec4<f32>(0.0);
  var acc1 = vec4<f32>(0.0);
  var acc2 = vec4<f32>(0.0);
  var acc3 = vec4<f32>(0.0);
  for (var k = 0u; k < p.k; k++) {
    let bv = vec4<f32>(lb(bb, k, cols.x), lb(bb, k, cols.y), lb(bb, k, cols.z), lb(bb, k, cols.w));
    acc0 += la(ba, rows.x, k) * bv;
    acc1 += la(ba, rows.y, k) * bv;
    acc2 += la(ba, rows.z, k) * bv;
    acc3 += la(ba, rows.w, k) * bv;
  }
  let cb = p.off_c + bz * p.stride_c;
  let accs = array<vec4<f32>, 4>(acc0, acc1, acc2, acc3);
  for (var i = 0u; i < 4u; i++) {
    let r = row0 + i;
    if (r >= p.m) { break; }
    for (var j = 0u; j < 4u; j++) {
      if (col0 + j < p.n) {
        let o = cb + r * p.ldc + col0 + j;
        var v = accs[i][j];
        if (ACCUM) { v += c[o]; }
        if (RELU) { v = max(v, 0.0); }
        c[o] = v;
      }
    }
  }
}

// The 4x4 block of C from the values x of four of its rows and y of four of its columns: t[i] = x[i] * y,
// in f32 whatever the operands' storage (the conversions are no-ops in the f32 module).
fn outer4(xs: kvec, ys: kvec) -> mat4x4<f32> {
  let x = vec4<f32>(xs);
  let y = vec4<f32>(ys);
  return mat4x4<f32>(y * x.x, y * x.y, y * x.z, y * x.w);
}

// Stores the 4x4 block t (t[i] = row `row + i`, columns `col`..`col + 3`) where it lies inside C, after
// the ACCUM / RELU epilogue; cb is the element offset of the batch entry's C.
fn put4(t: mat4x4<f32>, cb: u32, row: u32, col: u32) {
  if (col >= p.n) { return; }
  let whole = ((p.n | p.ldc | cb) & 3u) == 0u;
  for (var i = 0u; i < 4u; i++) {
    let r = row + i;
    if (r >= p.m) { return; }
    let o = cb + r * p.ldc + col;
    if (whole) {
      var v = t[i];
      if (ACCUM) { v += c4[o / 4u]; }
      if (RELU) { v = max(v, vec4<f32>(0.0)); }
      c4[o / 4u] = v;
    } else {
      // One entry point may not use two views of a binding, so single floats go through c4 too.
      for (var j = 0u; j < 4u; j++) {
        if (col + j < p.n) {
          var v = t[i][j];
          if (ACCUM) { v += c4[(o + j) / 4u][(o + j) % 4u]; }
          if (RELU) { v = max(v, 0.0); }
          c4[(o + j) / 4u][(o + j) % 4u] = v;
        }
      }
    }
  }
}

// Fast kernel: C[16x16 block] = sum over k of A'[k][16 rows] (x) B'[k][16 cols], accumulated in sixteen
// 4x4 blocks. Strides (stride_a, stride_b, stride_c when N % 4 == 0) are multiples of 4.
// Workgroups are 8 invocations (one 8-lane SIMD batch on lavapipe) spanning 1 << lx blocks along N, as
// many as the grid has up to 8, and 8 >> lx along M (outerWorkgroup in src/ops/kernels/matmul.ts sizes
// the grid alike). Derived here rather than set by overrides, so every product shares one pipeline:
// each shape cost a ~0.55 s LLVM compile on a fresh machine and ran no faster (bench/README.md).
@compute @workgroup_size(8, 1, 1)
fn outer(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) li: u32) {
  let lx = min(3u, firstLeadingBit((p.n + 15u) / 16u));
  let gid = vec3<u32>((wid.x << lx) | (li & ((1u << lx) - 1u)), (wid.y << (3u - lx)) | (li >> lx), wid.z);
  // Invocations past the edge of the grid of blocks stop here; their lanes then skip every load.
  if (gid.x * 16u >= p.n || gid.y * 16u >= p.m) { return; }
  let ba = (p.off_a + gid.z * p.stride_a) / 4u;
  let bb = (p.off_b + gid.z * p.stride_b) / 4u;
  // Clamped vec4 indices: blocks past the edge recompute the last valid vec4 and are not stored.
  let qa = min(vec4<u32>(gid.y * 4u) + vec4<u32>(0u, 1u, 2u, 3u), vec4<u32>(p.lda4 - 1u));
  let qb = min(vec4<u32>(gid.x * 4u) + vec4<u32>(0u, 1u, 2u, 3u), vec4<u32>(p.ldb4 - 1u));
  var c00 = mat4x4<f32>(); var c01 = mat4x4<f32>(); var c02 = mat4x4<f32>(); var c03 = mat4x4<f32>();
  var c10 = mat4x4<f32>(); var c11 = mat4x4<f32>(); var c12 = mat4x4<f32>(); var c13 = mat4x4<f32>();
  var c20 = mat4x4<f32>(); var c21 = mat4x4<f32>(); var c22 = mat4x4<f32>(); var c23 = mat4x4<f32>();
  var c30 = mat4x4<f32>(); var c31 = mat4x4<f32>(); var c32 = mat4x4<f32>(); var c33 = mat4x4<f32>();
  for (var k = 0u; k < p.k; k++) {
    let oa = ba + k * p.lda4;
    let ob = bb + k * p.ldb4;
    let a0 = a4[oa + qa.x]; let a1 = a4[oa + qa.y]; let a2 = a4[oa + qa.z]; let a3 = a4[oa + qa.w];
    let b0 = b4[ob + qb.x]; let b1 = b4[ob + qb.y]; let b2 = b4[ob + qb.z]; let b3 = b4[ob + qb.w];
    c00 += outer4(a0, b0); c01 += outer4(a0, b1); c02 += outer4(a0, b2); c03 += outer4(a0, b3);
    c10 += outer4(a1, b0); c11 += outer4(a1, b1); c12 += outer4(a1, b2); c13 += outer4(a1, b3);
    c20 += outer4(a2, b0); c21 += outer4(a2, b1); c22 += outer4(a2, b2); c23 += outer4(a2, b3);
    c30 += outer4(a3, b0); c31 += outer4(a3, b1); c32 += outer4(a3, b2); c33 += outer4(a3, b3);
  }
  // Stored from an array in a loop: the same code unrolled 16 times made the cold shader compile
  // take 4.5 s instead of 0.8 s on lavapipe, and ran no faster.
  let blocks = array<mat4x4<f32>, 16>(c00, c01, c02, c03, c10, c11, c12, c13, c20, c21, c22, c23, c30, c31, c32, c33);
  let cb = p.off_c + gid.z * p.stride_c;
  for (var t = 0u; t < 16u; t++) {
    put4(blocks[t], cb, gid.y * 16u + (t / 4u) * 4u, gid.x * 16u + (t % 4u) * 4u);
  }
}

// `tiled`: the usual shape for GPUs, where workgroup memory is fast and registers are few. A 16x16
// workgroup computes a 64x64 tile of C, 4x4 per invocation; every TK k steps it first copies the
// TK x 64 slices of A' and B' into workgroup memory (one vec4 of each per invocation), then reads them
// there. Same operands and uniforms as `outer`. On lavapipe it runs ~6x slower than `outer` (4.4 vs
// 26 GFLOP/s at 512^3: workgroup memory and barriers cost there), so only other adapters use it.
const TK: u32 = 16u;
var<workgroup> tile_a: array<kvec, 256>;
var<workgroup> tile_b: array<kvec, 256>;

@compute @workgroup_size(16, 16, 1)
fn tiled(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>,
         @builtin(local_invocation_index) li: u32) {
  let ba = (p.off_a + wid.z * p.stride_a) / 4u;
  let bb = (p.off_b + wid.z * p.stride_b) / 4u;
  // This invocation's share of the copy: row li / 16 of the slice, vec4 column li % 16.
  let load_k = li >> 4u;
  let qa = min(wid.y * 16u + (li & 15u), p.lda4 - 1u);
  let qb = min(wid.x * 16u + (li & 15u), p.ldb4 - 1u);
  var acc = mat4x4<f32>();
  for (var k0 = 0u; k0 < p.k; k0 += TK) {
    let k = min(k0 + load_k, p.k - 1u);
    tile_a[li] = a4[ba + k * p.lda4 + qa];
    tile_b[li] = b4[bb + k * p.ldb4 + qb];
    workgroupBarrier();
    let steps = min(TK, p.k - k0);
    for (var kk = 0u; kk < steps; kk++) {
      acc += outer4(tile_a[kk * 16u + lid.y], tile_b[kk * 16u + lid.x]);
    }
    workgroupBarrier();
  }
  put4(acc, p.off_c + wid.z * p.stride_c, (wid.y * 16u + lid.y) * 4u, (wid.x * 16u + lid.x) * 4u);
}

// Element (j, k) of the P x K view of the source batch entry starting at `base` (j, k clamped in range;
// what lands in the padding of the copy is never stored into C).
fn src_at(base: u32, j: u32, k: u32) -> f32 {
  let jj = min(j, pp.p - 1u);
  let kk = min(k, pp.k - 1u);
  if (P_MAJOR) { return a[base + jj * pp.ld + kk]; }
  return a[base + kk * pp.ld + jj];
}

fn src_col(base: u32, j: u32, k: u32) -> vec4<f32> {
  return vec4<f32>(src_at(base, j, k), src_at(base, j + 1u, k), src_at(base, j + 2u, k), src_at(base, j + 3u, k));
}

// Writes the 4x4 tile t (t[i] = packed row k + i, one vec4) of batch entry `out`, rows that exist only.
fn put_tile(out: u32, k: u32, t0: vec4<f32>, t1: vec4<f32>, t2: vec4<f32>, t3: vec4<f32>) {
  packed[out + k * pp.ld4] = kvec(t0);
  if (k + 1u < pp.k) { packed[out + (k + 1u) * pp.ld4] = kvec(t1); }
  if (k + 2u < pp.k) { packed[out + (k + 2u) * pp.ld4] = kvec(t2); }
  if (k + 3u < pp.k) { packed[out + (k + 3u) * pp.ld4] = kvec(t3); }
}

// packed[b][k][j] = element (j, k) of the P x K view, j < 4 * ld4. Each invocation moves 4x4 tiles: x
// indexes vec4s of a packed row, y steps over k four at a time (a grid-stride loop, `ystep` apart, so any K
// fits in the dispatch limits), z the batch. No integer division: lavapipe runs vector division one lane
// at a time.
fn pack_at(x: u32, y: u32, z: u32, ystep: u32) {
  if (x >= pp.ld4) { return; }
  let j = x * 4u;
  let base = pp.off + z * pp.stride;
  let out = z * pp.k * pp.ld4 + x;
  for (var k = y * 4u; k < pp.k; k += ystep * 4u) {
    put_tile(out, k, src_col(base, j, k), src_col(base, j, k + 1u), src_col(base, j, k + 2u), src_col(base, j, k + 3u));
  }
}

// pack for a [P][K] source with K % 4 == 0: reads each source row's four values as one vec4 and
// transposes the 4x4 tile in registers (a vec4 load costs far less than four scalar ones).
fn pack_rows4_at(x: u32, y: u32, z: u32, ystep: u32) {
  if (x >= pp.ld4) { return; }
  let j = x * 4u;
  let base = (pp.off + z * pp.stride) / 4u;
  let out = z * pp.k * pp.ld4 + x;
  let k4 = pp.k / 4u;
  let rows = min(vec4<u32>(j) + vec4<u32>(0u, 1u, 2u, 3u), vec4<u32>(pp.p - 1u)) * (pp.ld / 4u) + vec4<u32>(base);
  for (var q = y; q < k4; q += ystep) {
    let m = transpose(mat4x4<f32>(src4[rows.x + q], src4[rows.y + q], src4[rows.z + q], src4[rows.w + q]));
    put_tile(out, q * 4u, m[0], m[1], m[2], m[3]);
  }
}

// Entry points: rows of more than 32 vec4s take 64 of them per workgroup (`pack`, `pack_rows4`). Shorter
// rows take `_narrow`: a workgroup's 64 invocations cover wg = 8, 16 or 32 vec4s of a row (its length
// rounded up to a power of two, so no lanes idle past its end) and 64 / wg k steps (packKMajor in
// src/ops/kernels/matmul.ts sizes the grid alike). The narrow shape is derived here rather than set by an
// override, so all short rows share one pipeline (each shape cost ~0.15 s of LLVM time cold). It is not
// used for long rows, where its per-lane k loop ran 15-30% slower than the wide one's.
@compute @workgroup_size(64, 1, 1)
fn pack(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  pack_at(gid.x, gid.y, gid.z, nwg.y);
}

@compute @workgroup_size(64, 1, 1)
fn pack_rows4(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  pack_rows4_at(gid.x, gid.y, gid.z, nwg.y);
}

// (vec4 of the packed row, first k step, batch entry, k steps between iterations) in a narrow workgroup.
fn narrow_place(wid: vec3<u32>, li: u32, nwg: vec3<u32>) -> vec4<u32> {
  let lx = clamp(firstLeadingBit(max(pp.ld4, 2u) - 1u) + 1u, 3u, 5u);
  return vec4<u32>((wid.x << lx) | (li & ((1u << lx) - 1u)), (wid.y << (6u - lx)) | (li >> lx), wid.z, nwg.y << (6u - lx));
}

@compute @workgroup_size(64, 1, 1)
fn pack_narrow(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) li: u32, @builtin(num_workgroups) nwg: vec3<u32>) {
  let at = narrow_place(wid, li, nwg);
  pack_at(at.x, at.y, at.z, at.w);
}

@compute @workgroup_size(64, 1, 1)
fn pack_rows4_narrow(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) li: u32, @builtin(num_workgroups) nwg: vec3<u32>) {
  let at = narrow_place(wid, li, nwg);
  pack_rows4_at(at.x, at.y, at.z, at.w);
}
