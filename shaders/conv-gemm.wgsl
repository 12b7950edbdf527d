// Data movement for convolutions run as matmuls (src/ops/kernels/conv.ts, the `gemm` variant): the
// products themselves are matmul.wgsl's `outer` (or `tiled`) over k-major operands built here.
//
//   cols      im2col, pixels along rows: col[b][k][j] = xp[image n0 + b, patch element k of pixel p0 + j]
//             (the B operand of the forward product y[o, p] = sum_k w[o, k] col[k, p]).
//   cols3     cols for the common kw = 3 (shared loads among the taps of a kernel row)
//   rows      im2col, patch elements along rows: row[r][k] = xp[patch element k of global pixel P0 + r]
//             (the B operand of the weight gradient dw[o, k] = sum_p dy[o, p] row[p, k]).
//   init_out  y = bias[channel] + res, written before the product accumulates into it (ACCUM).
//   col2im    dx from the product w^T gy: the sum over taps of the columns each input pixel fed.
//
// xp is the padded input [n][c][hp][wp]; koff[k] is the offset of patch element k = (c, i, j) from a
// pixel's top-left tap (c*hp*wp + i*dh*wp + j*dw), so no kernel divides per element: lavapipe runs
// vector integer division one lane at a time. Pixels past the end of a row of `col` repeat the last
// pixel (their products land in columns that are never stored).
//
// The contracts: src/ops/kernels/conv-gemm.ts, one descriptor per layout (cols, cols3 and rows share
// one; init_out; col2im), each entry point checked against its own when its pipeline is created.
override WG: u32 = 64u;
override HAS_BIAS: bool = false;
override HAS_RES: bool = false;
override SW: u32 = 1u;
// Element type of `col` (the im2col output, a k-major operand of matmul.wgsl's products): the pipeline
// cache derives an f16 module by switching this line (src/gpu/shader-f16.ts), for matmul's f16 kernels.
alias kvec = vec4<f32>; // f16: vec4<f16>

struct Params {
  kdim: u32,     // patch elements (reduction length)
  ld4: u32,      // cols: vec4s per row of col (ceil(cols / 4)); rows: vec4s per row of row (ceil(kdim / 4))
  count: u32,    // cols: pixels per image in this chunk; rows: pixels in this chunk
  first: u32,    // cols: first pixel within each image; rows: first global pixel (image * ohw + pixel)
  n0: u32,       // cols: first image of the chunk
  ohw: u32,
  ow: u32,
  oh: u32,
  sh: u32,
  sw: u32,
  wp: u32,
  x_batch: u32,  // elements per padded image (c * hp * wp)
  seg: u32,      // rows: pixels per invocation
  pad0: u32, pad1: u32, pad2: u32,
}

@group(0) @binding(0) var<storage, read> xp: array<f32>;
@group(0) @binding(1) var<storage, read> koff: array<u32>;
@group(0) @binding(2) var<storage, read_write> col: array<kvec>;
@group(0) @binding(3) var<uniform> q: Params;

// Each invocation: one vec4 of pixels (x), every NWG.y-th patch element (y, a grid-stride loop), one
// image (z). The four pixels' offsets are computed once, with the only divisions.
@compute @workgroup_size(WG, 1, 1)
fn cols(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  if (gid.x >= q.ld4) { return; }
  let px = min(vec4<u32>(q.first + gid.x * 4u) + vec4<u32>(0u, 1u, 2u, 3u), vec4<u32>(q.first + q.count - 1u));
  let oy = px / q.ow;
  let ox = px - oy * q.ow;
  let base = vec4<u32>((q.n0 + gid.z) * q.x_batch) + oy * (q.sh * q.wp) + ox * q.sw;
  let out = gid.z * q.kdim * q.ld4 + gid.x;
  for (var k = gid.y; k < q.kdim; k += nwg.y) {
    let o = koff[k];
    col[out + k * q.ld4] = kvec(vec4<f32>(xp[base.x + o], xp[base.y + o], xp[base.z + o], xp[base.w + o]));
  }
}

// `cols` for kw = 3, horizontal dilation 1 and stride SW (1 or 2), when ow % 4 == 0 so that a vec4 of
// pixels lies in one output row: the three taps of a kernel row share their loads (6 or 9 loads for
// 12 values instead of 12, and one table load instead of three).
@compute @workgroup_size(WG, 1, 1)
fn cols3(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  if (gid.x >= q.ld4) { return; }
  let p0 = q.first + gid.x * 4u;
  let oy = p0 / q.ow;
  let ox = p0 - oy * q.ow;
  let base = (q.n0 + gid.z) * q.x_batch + oy * q.sh * q.wp + ox * SW;
  let out = gid.z * q.kdim * q.ld4 + gid.x;
  let ld = q.ld4;
  for (var r = gid.y; r < q.kdim / 3u; r += nwg.y) {
    let a = base + koff[r * 3u];
    let o = out + r * 3u * ld;
    if (SW == 1u) {
      let x0 = xp[a]; let x1 = xp[a + 1u]; let x2 = xp[a + 2u];
      let x3 = xp[a + 3u]; let x4 = xp[a + 4u]; let x5 = xp[a + 5u];
      col[o] = kvec(vec4<f32>(x0, x1, x2, x3));
      col[o + ld] = kvec(vec4<f32>(x1, x2, x3, x4));
      col[o + 2u * ld] = kvec(vec4<f32>(x2, x3, x4, x5));
    } else {
      let x0 = xp[a]; let x1 = xp[a + 1u]; let x2 = xp[a + 2u];
      let x3 = xp[a + 3u]; let x4 = xp[a + 4u]; let x5 = xp[a + 5u];
      let x6 = xp[a + 6u]; let x7 = xp[a + 7u]; let x8 = xp[a + 8u];
      col[o] = kvec(vec4<f32>(x0, x2, x4, x6));
      col[o + ld] = kvec(vec4<f32>(x1, x3, x5, x7));
      col[o + 2u * ld] = kvec(vec4<f32>(x2, x4, x6, x8));
    }
  }
}

// Each invocation: one vec4 of patch elements (x) for `seg` consecutive pixels (y), walking along the
// output rows without dividing.
@compute @workgroup_size(WG, 1, 1)
fn rows(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  if (gid.x >= q.ld4) { return; }
  let start = (gid.y + gid.z * nwg.y) * q.seg;
  if (start >= q.count) { return; }
  let end = min(q.count, start + q.seg);
  let ks = min(vec4<u32>(gid.x * 4u) + vec4<u32>(0u, 1u, 2u, 3u), vec4<u32>(q.kdim - 1u));
  let offs = vec4<u32>(koff[ks.x], koff[ks.y], koff[ks.z], koff[ks.w]);
  let g = q.first + start;
  var n = g / q.ohw;
  let r = g - n * q.ohw;
  var oy = r / q.ow;
  var ox = r - oy * q.ow;
  var rowbase = n * q.x_batch + oy * q.sh * q.wp;
  var base = rowbase + ox * q.sw;
  for (var t = start; t < end; t++) {
    col[t * q.ld4 + gid.x] = kvec(vec4<f32>(xp[base + offs.x], xp[base + offs.y], xp[base + offs.z], xp[base + offs.w]));
    ox++;
    base += q.sw;
    if (ox == q.ow) {
      ox = 0u;
      oy++;
      rowbase += q.sh * q.wp;
      if (oy == q.oh) {
        oy = 0u;
        n++;
        rowbase = n * q.x_batch;
      }
      base = rowbase;
    }
  }
}

struct InitParams {
  total: u32,    // elements of y
  ohw: u32,
  o: u32,        // channels
  pad0: u32,
}

@group(0) @binding(0) var<storage, read> bias: array<f32>;
@group(0) @binding(1) var<storage, read> res: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;
@group(0) @binding(3) var<uniform> ip: InitParams;

// y[i] = bias[channel of i] + res[i], four consecutive elements per invocation.
@compute @workgroup_size(WG, 1, 1)
fn init_out(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i0 = (gid.x + gid.y * nwg.x * WG) * 4u;
  if (i0 >= ip.total) { return; }
  var plane = i0 / ip.ohw;
  var j = i0 - plane * ip.ohw;
  for (var t = 0u; t < 4u; t++) {
    let i = i0 + t;
    if (i >= ip.total) { return; }
    var v = 0.0;
    if (HAS_BIAS) { v += bias[plane % ip.o]; }
    if (HAS_RES) { v += res[i]; }
    y[i] = v;
    j++;
    if (j == ip.ohw) { j = 0u; plane++; }
  }
}

// col2im for the input gradient: dx[n0 + b, ch, y, x] = sum over taps (i, j) of
// dcol[b][(ch, i, j)][oy * ow + ox] where y + pt = oy * SH + i * dh and x + pl = ox * SW + j * dw.
// dcol [nb][c * kh * kw][oh * ow] is the product w^T gy. The strides are override constants (the
// divisions by them become shifts); the taps and dilations are uniforms walked by runtime loops, so
// one pipeline per stride serves every kernel size and dilation. With the taps unrolled by constants
// each (kh, kw, dh, dw) cost its own ~0.35 s LLVM compile on a fresh lavapipe and ran no faster on
// stride 1 (bench/README.md). Each invocation: four consecutive x of one row (y) of one channel of one
// image.
override SH: u32 = 1u;

struct Col2imParams {
  w4: u32,      // vec4s per row of dx (ceil(w / 4))
  h: u32,
  w: u32,
  rows: u32,    // rows of dx in this chunk: nb * c * h
  oh: u32,
  ow: u32,
  pt: u32,
  pl: u32,
  out0: u32,    // first element of the chunk in dx (n0 * c * h * w)
  c: u32,       // channels of dx
  kh: u32,
  kw: u32,
  dh: u32,
  dw: u32,
  pad0: u32, pad1: u32,
}

@group(0) @binding(0) var<storage, read> dcol: array<f32>;
@group(0) @binding(1) var<storage, read> cbias: array<f32>;
@group(0) @binding(2) var<storage, read_write> dx: array<vec4<f32>>;
@group(0) @binding(3) var<uniform> cp: Col2imParams;

@compute @workgroup_size(WG, 1, 1)
fn col2im(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let e = gid.x + gid.y * nwg.x * WG;
  let row = e / cp.w4;
  if (row >= cp.rows) { return; }
  let bc = row / cp.h;
  // (the row's y, named apart from init_out's binding `y`: the descriptor check reads names)
  let yi = row - bc * cp.h;
  let x0 = (e - row * cp.w4) * 4u;
  let ohw = cp.oh * cp.ow;
  var v = vec4<f32>(0.0);
  // (convTranspose2d, which is this pass, adds its bias here)
  if (HAS_BIAS) { v = vec4<f32>(cbias[bc % cp.c]); }
  for (var i = 0u; i < cp.kh; i++) {
    let ty = i32(yi + cp.pt) - i32(i * cp.dh);
    if (ty < 0 || u32(ty) % SH != 0u || u32(ty) / SH >= cp.oh) { continue; }
    let rbase = (bc * cp.kh + i) * cp.kw * ohw + (u32(ty) / SH) * cp.ow;
    for (var j = 0u; j < cp.kw; j++) {
      for (var t = 0u; t < 4u; t++) {
        let tx = i32(x0 + t + cp.pl) - i32(j * cp.dw);
        if (tx >= 0 && u32(tx) % SW == 0u && u32(tx) / SW < cp.ow) {
          v[t] += dcol[rbase + j * ohw + u32(tx) / SW];
        }
      }
    }
  }
  let o = cp.out0 + row * cp.w + x0;
  if ((cp.w & 3u) == 0u) {
    dx[o / 4u] = v;
  } else {
    for (var t = 0u; t < 4u; t++) {
      if (x0 + t < cp.w) { dx[(o + t) / 4u][(o + t) % 4u] = v[t]; }
    }
  }
}
