// Elementwise binary ops on f32. `main` handles equal shapes four elements at a time; `bcast`
// handles broadcasting: each invocation computes four consecutive outputs, reading a and b through
// per-dimension strides (0 along broadcast dims). OP is one of the BINARY_* codes below.
override OP: u32 = 0u;
override WG: u32 = 64u;
// The op codes, as the descriptor in src/ops/kernels/elementwise-descriptors.ts declares them
// (checked when the shader is compiled).
const BINARY_ADD: u32 = 0u;
const BINARY_SUB: u32 = 1u;
const BINARY_MUL: u32 = 2u;
const BINARY_DIV: u32 = 3u;
const BINARY_POW: u32 = 4u;
const BINARY_MAXIMUM: u32 = 5u;
const BINARY_MINIMUM: u32 = 6u;
const BINARY_EQ: u32 = 7u;
const BINARY_NE: u32 = 8u;
const BINARY_LT: u32 = 9u;
const BINARY_LE: u32 = 10u;
const BINARY_GT: u32 = 11u;
const BINARY_GE: u32 = 12u;
const BINARY_RELU_GRAD: u32 = 13u;
const BINARY_LEAKY_RELU_GRAD: u32 = 14u;
const BINARY_SIGMOID_GRAD: u32 = 15u;
const BINARY_TANH_GRAD: u32 = 16u;
const BINARY_CLAMP_GRAD: u32 = 17u;

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

// NaN tests by bit pattern: WGSL lets compilers assume no NaNs, so `v != v` and the builtins max,
// min and != need not see them (on lavapipe `NaN != 1` is false).
fn is_nan(v: vec4<f32>) -> vec4<bool> {
  return (bitcast<vec4<u32>>(v) & vec4<u32>(0x7fffffffu)) > vec4<u32>(0x7f800000u);
}

// +infinity, built at run time: constant expressions may not be infinite or NaN in WGSL.
fn inf4() -> vec4<f32> {
  return bitcast<vec4<f32>>(vec4<u32>(0x7f800000u | (p.n & 0u)));
}

// x^e with PyTorch's (C's) conventions: x^0 = 1 and 1^e = 1 (even for NaN), 0^e is 0 for e > 0
// and inf for e < 0, integer exponents allow negative bases (odd ones keep the sign, also of -0),
// a finite negative base with a fractional exponent gives NaN. The builtin pow is only trusted
// for 0 < |x| < inf (lavapipe's gives 0 for 0^-2).
// (The same function as in unary.wgsl; each shader file is its own module.)
fn pow_torch(x: vec4<f32>, e: vec4<f32>) -> vec4<f32> {
  let a = abs(x);
  var r = pow(a, e);
  r = select(r, select(vec4<f32>(0.0), inf4(), e < vec4<f32>(0.0)), a == vec4<f32>(0.0));
  r = select(r, select(inf4(), vec4<f32>(0.0), e < vec4<f32>(0.0)), a == inf4());
  // An infinite exponent counts as even: (-2)^inf = inf, (-0.5)^inf = 0, as in C.
  let einf = abs(e) == inf4();
  let eint = (fract(e) == vec4<f32>(0.0)) | einf;
  let odd = eint & (fract(e * 0.5) != vec4<f32>(0.0));
  let signbit = (bitcast<vec4<u32>>(x) & vec4<u32>(0x80000000u)) != vec4<u32>(0u);
  r = select(r, -r, signbit & odd);
  let nan = is_nan(x) | is_nan(e) | ((x < vec4<f32>(0.0)) & (a != inf4()) & !eint);
  r = select(r, bitcast<vec4<f32>>(vec4<u32>(0x7fc00000u | (p.n & 0u))), nan);
  return select(r, vec4<f32>(1.0), (e == vec4<f32>(0.0)) | (x == vec4<f32>(1.0)) | ((x == vec4<f32>(-1.0)) & einf));
}

fn f(u: vec4<f32>, v: vec4<f32>) -> vec4<f32> {
  // Comparisons with a NaN operand are false, except != (true), as in IEEE and PyTorch.
  let nan = is_nan(u) | is_nan(v);
  switch OP {
    case BINARY_ADD: { return u + v; }
    case BINARY_SUB: { return u - v; }
    case BINARY_MUL: { return u * v; }
    case BINARY_DIV: { return u / v; }
    case BINARY_POW: { return pow_torch(u, v); }
    // maximum and minimum propagate NaN (u + v is NaN then), as in PyTorch.
    case BINARY_MAXIMUM: { return select(max(u, v), u + v, nan); }
    case BINARY_MINIMUM: { return select(min(u, v), u + v, nan); }
    case BINARY_EQ: { return mask((u == v) & !nan); }
    case BINARY_NE: { return mask((u != v) | nan); }
    case BINARY_LT: { return mask((u < v) & !nan); }
    case BINARY_LE: { return mask((u <= v) & !nan); }
    case BINARY_GT: { return mask((u > v) & !nan); }
    case BINARY_GE: { return mask((u >= v) & !nan); }
    // Backward helpers: u is the output gradient, v the saved input or output.
    case BINARY_RELU_GRAD: { return select(vec4<f32>(0.0), u, v > vec4<f32>(0.0)); }
    case BINARY_LEAKY_RELU_GRAD: { return select(u * p.alpha, u, v > vec4<f32>(0.0)); }
    case BINARY_SIGMOID_GRAD: { return u * v * (1.0 - v); }
    case BINARY_TANH_GRAD: { return u * (1.0 - v * v); }
    case BINARY_CLAMP_GRAD: { return select(vec4<f32>(0.0), u, (v >= vec4<f32>(p.alpha)) & (v <= vec4<f32>(p.beta))); }
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
