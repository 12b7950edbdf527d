// Elementwise binary ops on f32. `main` handles equal shapes four elements at a time; `bcast`
// handles broadcasting: each invocation computes four consecutive outputs, reading a and b through
// per-dimension strides (0 along broadcast dims). OP numbering: BINARY_CODES in src/ops/binary.ts.
override OP: u32 = 0u;
override WG: u32 = 64u;

struct Params {
  n: u32, rank: u32, alpha: f32, beta: f32,
  shape: array<vec4<u32>, 2>,
  sa: array<vec4<u32>, 2>,
  sb: array<vec4<u32>, 2>,
}

@group(0) @binding(0) var<storage, read> a: array<f32>;
@group(0) @binding(1) var<storage, read> b: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;
@group(0) @binding(3) var<uniform> p: Params;

fn mask(c: vec4<bool>) -> vec4<f32> {
  return select(vec4<f32>(0.0), vec4<f32>(1.0), c);
}

fn f(u: vec4<f32>, v: vec4<f32>) -> vec4<f32> {
  switch OP {
    case 0u: { return u + v; }
    case 1u: { return u - v; }
    case 2u: { return u * v; }
    case 3u: { return u / v; }
    case 4u: {
      // u^v: integer exponents allow negative bases, as in PyTorch.
      let r = pow(abs(u), v);
      let vi = fract(v) == vec4<f32>(0.0);
      let odd = vi & (fract(v * 0.5) != vec4<f32>(0.0));
      let neg = u < vec4<f32>(0.0);
      // NaN must be built at run time: constant expressions may not be NaN in WGSL.
      let nanv = bitcast<vec4<f32>>(vec4<u32>(0x7fc00000u | (p.n & 0u)));
      var out = select(r, select(nanv, select(r, -r, odd), vi), neg);
      out = select(out, vec4<f32>(1.0), v == vec4<f32>(0.0));
      out = select(out, vec4<f32>(0.0), (u == vec4<f32>(0.0)) & (v > vec4<f32>(0.0)));
      return out;
    }
    case 5u: { return max(u, v); }
    case 6u: { return min(u, v); }
    case 7u: { return mask(u == v); }
    case 8u: { return mask(u != v); }
    case 9u: { return mask(u < v); }
    case 10u: { return mask(u <= v); }
    case 11u: { return mask(u > v); }
    case 12u: { return mask(u >= v); }
    // Backward helpers: u is the output gradient, v the saved input or output.
    case 13u: { return select(vec4<f32>(0.0), u, v > vec4<f32>(0.0)); }
    case 14u: { return select(u * p.alpha, u, v > vec4<f32>(0.0)); }
    case 15u: { return u * v * (1.0 - v); }
    case 16u: { return u * (1.0 - v * v); }
    case 17u: { return select(vec4<f32>(0.0), u, (v >= vec4<f32>(p.alpha)) & (v <= vec4<f32>(p.beta))); }
    default: { return u; }
  }
}

fn dim(arr: array<vec4<u32>, 2>, d: u32) -> u32 {
  return arr[d / 4u][d % 4u];
}

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = (gid.x + gid.y * nwg.x * WG) * 4u;
  if (i >= p.n) { return; }
  // Buffers are padded to 64 bytes, so reading a whole vec4 past n stays in bounds.
  let r = f(vec4<f32>(a[i], a[i + 1u], a[i + 2u], a[i + 3u]), vec4<f32>(b[i], b[i + 1u], b[i + 2u], b[i + 3u]));
  y[i] = r.x;
  if (i + 1u < p.n) { y[i + 1u] = r.y; }
  if (i + 2u < p.n) { y[i + 2u] = r.z; }
  if (i + 3u < p.n) { y[i + 3u] = r.w; }
}

fn offsets(lin: u32) -> vec2<u32> {
  var rem = lin;
  var oa = 0u;
  var ob = 0u;
  for (var d = i32(p.rank) - 1; d >= 0; d--) {
    let ud = u32(d);
    let s = dim(p.shape, ud);
    let c = rem % s;
    rem = rem / s;
    oa += c * dim(p.sa, ud);
    ob += c * dim(p.sb, ud);
  }
  return vec2<u32>(oa, ob);
}

@compute @workgroup_size(WG)
fn bcast(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = (gid.x + gid.y * nwg.x * WG) * 4u;
  if (i >= p.n) { return; }
  var u = vec4<f32>(0.0);
  var v = vec4<f32>(0.0);
  for (var k = 0u; k < 4u; k++) {
    if (i + k < p.n) {
      let o = offsets(i + k);
      u[k] = a[o.x];
      v[k] = b[o.y];
    }
  }
  let r = f(u, v);
  for (var k = 0u; k < 4u; k++) {
    if (i + k < p.n) { y[i + k] = r[k]; }
  }
}
