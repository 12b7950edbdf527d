// y = cond != 0 ? a : b, with all three broadcast to the output through per-dimension strides.
// The contract: WHERE in src/ops/kernels/elementwise-descriptors.ts (checked when compiled).
override WG: u32 = 64u;

struct Params {
  n: u32, rank: u32, pad0: u32, pad1: u32,
  shape: array<vec4<u32>, 2>,
  sc: array<vec4<u32>, 2>,
  sa: array<vec4<u32>, 2>,
  sb: array<vec4<u32>, 2>,
}

@group(0) @binding(0) var<storage, read> c: array<f32>;
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<f32>;
@group(0) @binding(3) var<storage, read_write> y: array<f32>;
@group(0) @binding(4) var<uniform> p: Params;

fn dim(arr: array<vec4<u32>, 2>, d: u32) -> u32 {
  return arr[d / 4u][d % 4u];
}

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * WG;
  if (i >= p.n) { return; }
  var rem = i;
  var oc = 0u;
  var oa = 0u;
  var ob = 0u;
  for (var d = i32(p.rank) - 1; d >= 0; d--) {
    let ud = u32(d);
    let s = dim(p.shape, ud);
    let k = rem % s;
    rem = rem / s;
    oc += k * dim(p.sc, ud);
    oa += k * dim(p.sa, ud);
    ob += k * dim(p.sb, ud);
  }
  // cond is true unless it is +-0 (so NaN is true, as bool(nan) in PyTorch); tested on the bits
  // because compilers may assume no NaNs and fold a float comparison.
  y[i] = select(b[ob], a[oa], (bitcast<u32>(c[oc]) & 0x7fffffffu) != 0u);
}
