// z[n, c, i, j] = x[n, c, (i - top) / sh, (j - left) / sw] when i - top and j - left are
// non-negative multiples of the strides and inside x, else 0. With strides 1 this is zero padding
// (negative top/left and a smaller z crop); with strides s it also inserts s-1 zeros between
// elements, which turns a strided convolution's input gradient into a plain correlation.
override WG: u32 = 64u;

struct Params {
  n: u32,       // elements of z
  h: u32, w: u32,     // x spatial size
  zh: u32, zw: u32,   // z spatial size
  top: i32, left: i32,
  sh: u32, sw: u32,
  pad0: u32, pad1: u32, pad2: u32,
}

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> z: array<f32>;
@group(0) @binding(2) var<uniform> p: Params;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let idx = gid.x + gid.y * nwg.x * WG;
  if (idx >= p.n) { return; }
  let j = i32(idx % p.zw);
  let i = i32((idx / p.zw) % p.zh);
  let plane = idx / (p.zw * p.zh);
  let di = i - p.top;
  let dj = j - p.left;
  let si = di / i32(p.sh);
  let sj = dj / i32(p.sw);
  let inside = di >= 0 && dj >= 0 && di % i32(p.sh) == 0 && dj % i32(p.sw) == 0 && u32(si) < p.h && u32(sj) < p.w;
  var v = 0.0;
  if (inside) { v = x[(plane * p.h + u32(si)) * p.w + u32(sj)]; }
  z[idx] = v;
}
