// Batched matmul C[b] = op(A[b]) * op(B[b]) with op = transpose when TRANS_A / TRANS_B.
// Register blocking: each invocation computes a 4x4 block of C, so every loaded value of A and B is
// used four times. Out-of-range rows/cols read a clamped index and are not stored, which keeps the
// inner loop free of branches. A batch stride of 0 broadcasts an operand over the batch.
override TRANS_A: bool = false;
override TRANS_B: bool = false;
override WGX: u32 = 8u;
override WGY: u32 = 8u;

struct Params {
  m: u32, n: u32, k: u32, batch: u32,
  stride_a: u32, stride_b: u32, stride_c: u32, pad: u32,
}

@group(0) @binding(0) var<storage, read> a: array<f32>;
@group(0) @binding(1) var<storage, read> b: array<f32>;
@group(0) @binding(2) var<storage, read_write> c: array<f32>;
@group(0) @binding(3) var<uniform> p: Params;

fn la(base: u32, row: u32, col: u32) -> f32 {
  // Element (row, col) of op(A), an M x K matrix.
  if (TRANS_A) { return a[base + col * p.m + row]; }
  return a[base + row * p.k + col];
}

fn lb(base: u32, row: u32, col: u32) -> f32 {
  // Element (row, col) of op(B), a K x N matrix.
  if (TRANS_B) { return b[base + col * p.k + row]; }
  return b[base + row * p.n + col];
}

@compute @workgroup_size(WGX, WGY, 1)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let col0 = gid.x * 4u;
  let row0 = gid.y * 4u;
  let bz = gid.z;
  if (col0 >= p.n || row0 >= p.m || bz >= p.batch) { return; }
  let ba = bz * p.stride_a;
  let bb = bz * p.stride_b;
  let rows = vec4<u32>(min(row0, p.m - 1u), min(row0 + 1u, p.m - 1u), min(row0 + 2u, p.m - 1u), min(row0 + 3u, p.m - 1u));
  let cols = vec4<u32>(min(col0, p.n - 1u), min(col0 + 1u, p.n - 1u), min(col0 + 2u, p.n - 1u), min(col0 + 3u, p.n - 1u));
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
  let cb = bz * p.stride_c;
  let accs = array<vec4<f32>, 4>(acc0, acc1, acc2, acc3);
  for (var i = 0u; i < 4u; i++) {
    let r = row0 + i;
    if (r >= p.m) { break; }
    for (var j = 0u; j < 4u; j++) {
      if (col0 + j < p.n) { c[cb + r * p.n + col0 + j] = accs[i][j]; }
    }
  }
}
