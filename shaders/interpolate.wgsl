// Bilinear and nearest resizing of NCHW planes through per-axis tables built on the host, so the
// source indices and weights are exactly PyTorch's (float32 index arithmetic, clamping) and the
// forward and backward passes cannot disagree about them.
//
// Tables (`tab`): per output row oy, tab[oy] = (i0, i1, bits(l0), bits(l1)), the two source rows
// and their weights (nearest: i1 = i0, l0 = 1, l1 = 0); per output column, tab[xf + ox] likewise;
// per input row iy, tab[yb + iy] = the output rows [oy0, oy1) that read it; tab[xb + ix] likewise.
//
// fwd: y = ly0 * (lx0 * x[i0y, i0x] + lx1 * x[i0y, i1x]) + ly1 * (lx0 * x[i1y, i0x] + lx1 * x[i1y, i1x])
// bwd: gx[iy, ix] = sum over the output rows and columns that read it of wy * wx * gy, where
//      wy = [i0y == iy] l0y + [i1y == iy] l1y (both terms when the taps coincide at an edge).
//      A gather: one invocation per input element, no atomics.
//
// The contract of fwd and bwd is declared in src/ops/kernels/interpolate.ts and checked against this file.
override WG: u32 = 64u;
override NEAREST: bool = false;

struct Params {
  total: u32,   // invocations: outputs (fwd) or input elements (bwd)
  h: u32,
  w: u32,
  oh: u32,
  ow: u32,
  xf: u32,      // table offsets (entries of `tab`)
  yb: u32,
  xb: u32,
  // A plane larger than one binding runs in tiles of invocations [i_base, total), src and dst bound
  // from elements src_base and dst_base on (all 0 otherwise).
  i_base: u32,
  src_base: u32,
  dst_base: u32,
  pad0: u32,
}

@group(0) @binding(0) var<storage, read> src: array<f32>;
@group(0) @binding(1) var<storage, read> tab: array<vec4<u32>>;
@group(0) @binding(2) var<storage, read_write> dst: array<f32>;
@group(0) @binding(3) var<uniform> p: Params;

// (column, row, plane) of position i in planes of `rows` x `cols`.
fn split(i: u32, cols: u32, rows: u32) -> vec3<u32> {
  let t = i / cols;
  let plane = t / rows;
  return vec3<u32>(i - t * cols, t - plane * rows, plane);
}

@compute @workgroup_size(WG)
fn fwd(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * WG + p.i_base;
  if (i >= p.total) { return; }
  let o = split(i, p.ow, p.oh);
  let base = o.z * p.h * p.w - p.src_base;
  let ty = tab[o.y];
  let tx = tab[p.xf + o.x];
  let r0 = base + ty.x * p.w;
  if (NEAREST) {
    dst[i - p.dst_base] = src[r0 + tx.x];
    return;
  }
  let r1 = base + ty.y * p.w;
  let ly = bitcast<vec2<f32>>(ty.zw);
  let lx = bitcast<vec2<f32>>(tx.zw);
  dst[i - p.dst_base] = ly.x * (lx.x * src[r0 + tx.x] + lx.y * src[r0 + tx.y]) + ly.y * (lx.x * src[r1 + tx.x] + lx.y * src[r1 + tx.y]);
}

@compute @workgroup_size(WG)
fn bwd(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * WG + p.i_base;
  if (i >= p.total) { return; }
  let e = split(i, p.w, p.h);
  let ix = e.x;
  let iy = e.y;
  let obase = e.z * p.oh * p.ow - p.src_base;
  let ry = tab[p.yb + iy];
  let rx = tab[p.xb + ix];
  var acc = 0.0;
  for (var oy = ry.x; oy < ry.y; oy++) {
    let ty = tab[oy];
    let wy = select(0.0, bitcast<f32>(ty.z), ty.x == iy) + select(0.0, bitcast<f32>(ty.w), ty.y == iy);
    let row = obase + oy * p.ow;
    var r = 0.0;
    for (var ox = rx.x; ox < rx.y; ox++) {
      let tx = tab[p.xf + ox];
      let wx = select(0.0, bitcast<f32>(tx.z), tx.x == ix) + select(0.0, bitcast<f32>(tx.w), tx.y == ix);
      r += wx * src[row + ox];
    }
    acc += wy * r;
  }
  dst[i - p.dst_base] = acc;
}
