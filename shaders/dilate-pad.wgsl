// z[n, c, i, j] = x[n, c, (i - top) / sh, (j - left) / sw] when i - top and j - left are
// non-negative multiples of the strides and inside x, else 0. With strides 1 this is zero padding
// (negative top/left and a smaller z crop); with strides s it also inserts s-1 zeros between
// elements, which turns a strided convolution's input gradient into a plain correlation.
//
// Each invocation writes SPAN consecutive elements of z as vec4s, dividing only to find where its
// span starts and at row changes: lavapipe runs vector integer division one lane at a time, and the
// first version (six divisions per element) took 25 ms to pad an 8x64x64x64 input.
override WG: u32 = 64u;
const SPAN: u32 = 16u;

struct Params {
  n: u32,       // elements of z
  h: u32, w: u32,     // x spatial size
  zh: u32, zw: u32,   // z spatial size
  top: i32, left: i32,
  sh: u32, sw: u32,
  pad0: u32, pad1: u32, pad2: u32,
}

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> z: array<vec4<f32>>;
@group(0) @binding(2) var<uniform> p: Params;

// Where row `row` of z (plane * zh + i) reads from: the start of its source row in x, or -1 when the
// row is padding.
fn source_row(row: u32) -> i32 {
  let plane = row / p.zh;
  let di = i32(row - plane * p.zh) - p.top;
  if (di < 0) { return -1; }
  let si = u32(di) / p.sh;
  if (si * p.sh != u32(di) || si >= p.h) { return -1; }
  return i32((plane * p.h + si) * p.w);
}

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let e0 = (gid.x + gid.y * nwg.x * WG) * SPAN;
  if (e0 >= p.n) { return; }
  var row = e0 / p.zw;
  var j = e0 - row * p.zw;
  var src = source_row(row);
  // Column state: dj = j - left; when dj >= 0, sj = dj / sw and ph = dj % sw.
  var dj = i32(j) - p.left;
  var sj = 0u;
  var ph = 0u;
  if (dj > 0) { sj = u32(dj) / p.sw; ph = u32(dj) - sj * p.sw; }
  for (var q = 0u; q < SPAN / 4u; q++) {
    var v = vec4<f32>(0.0);
    for (var t = 0u; t < 4u; t++) {
      if (src >= 0 && dj >= 0 && ph == 0u && sj < p.w) { v[t] = x[u32(src) + sj]; }
      j++;
      dj++;
      if (dj > 0) {
        ph++;
        if (ph == p.sw) { ph = 0u; sj++; }
      }
      if (j == p.zw) {
        j = 0u;
        row++;
        src = source_row(row);
        dj = -p.left;
        sj = 0u;
        ph = 0u;
        if (dj > 0) { sj = u32(dj) / p.sw; ph = u32(dj) - sj * p.sw; }
      }
    }
    let e = e0 + q * 4u;
    if (e + 4u <= p.n) {
      z[e / 4u] = v;
    } else {
      for (var t = 0u; t < 4u; t++) {
        if (e + t < p.n) { z[e / 4u][t] = v[t]; }
      }
      return;
    }
  }
}
