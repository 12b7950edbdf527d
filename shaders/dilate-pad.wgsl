// z[n, c, i, j] = x[n, c, (i - top) / sh, (j - left) / sw] when i - top and j - left are
// non-negative multiples of the strides and inside x, else 0. With strides 1 this is zero padding
// (negative top/left and a smaller z crop); with strides s it also inserts s-1 zeros between
// elements, which turns a strided convolution's input gradient into a plain correlation.
//
// Each invocation writes SPAN consecutive elements of z as vec4s, dividing only to find where its
// span starts and counting from there, rows included: lavapipe runs vector integer division one lane
// at a time, and the first version (six divisions per element) took 25 ms to pad an 8x64x64x64 input.
// The loop over the span's vec4s has a bound from the uniforms, so it is not unrolled: unrolled (16
// elements per invocation, a division at each row change) it took 0.4 s of LLVM time to compile cold
// against 0.1 s now, and ran 15-35% slower than this 32-element span (bench/README.md).
override WG: u32 = 64u;
const SPAN: u32 = 32u;

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

// (d / s, d % s) for d > 0, else (0, 0): where an offset d into z falls among x's strided elements.
fn start_state(d: i32, s: u32) -> vec2<u32> {
  if (d <= 0) { return vec2<u32>(0u); }
  let q = u32(d) / s;
  return vec2<u32>(q, u32(d) - q * s);
}

// The start of the row of x that z's row (plane, di = i - top, r = start_state(di)) reads, or -1 when
// that row is padding.
fn row_start(plane: u32, di: i32, r: vec2<u32>) -> i32 {
  if (di < 0 || r.y != 0u || r.x >= p.h) { return -1; }
  return i32((plane * p.h + r.x) * p.w);
}

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let e0 = (gid.x + gid.y * nwg.x * WG) * SPAN;
  if (e0 >= p.n) { return; }
  let row = e0 / p.zw;
  var j = e0 - row * p.zw;
  var plane = row / p.zh;
  var i = row - plane * p.zh;
  // Row state: di = i - top and r = start_state(di, sh), the source row and phase; d0 starts a plane.
  let d0 = start_state(-p.top, p.sh);
  var di = i32(i) - p.top;
  var r = start_state(di, p.sh);
  // Column state: dj = j - left and c = start_state(dj, sw), the source column and phase; c0 starts a row.
  let c0 = start_state(-p.left, p.sw);
  var dj = i32(j) - p.left;
  var c = start_state(dj, p.sw);
  var src = row_start(plane, di, r);
  let e_end = min(e0 + SPAN, p.n);
  for (var e = e0; e < e_end; e += 4u) {
    var v = vec4<f32>(0.0);
    for (var t = 0u; t < 4u; t++) {
      if (src >= 0 && dj >= 0 && c.y == 0u && c.x < p.w) { v[t] = x[u32(src) + c.x]; }
      j++;
      dj++;
      if (dj > 0) {
        c.y++;
        if (c.y == p.sw) { c = vec2<u32>(c.x + 1u, 0u); }
      }
      if (j == p.zw) {
        // The next row, found by counting as the columns are: no division inside the loop.
        j = 0u;
        dj = -p.left;
        c = c0;
        i++;
        di++;
        if (di > 0) {
          r.y++;
          if (r.y == p.sh) { r = vec2<u32>(r.x + 1u, 0u); }
        }
        if (i == p.zh) {
          i = 0u;
          plane++;
          di = -p.top;
          r = d0;
        }
        src = row_start(plane, di, r);
      }
    }
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
