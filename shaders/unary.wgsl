// Elementwise unary ops on contiguous f32 data, four elements per invocation. OP selects the
// function (UNARY_* below); alpha and beta are its parameters.
override OP: u32 = 0u;
override WG: u32 = 64u;
// The op codes, as the descriptor in src/ops/kernels/elementwise-descriptors.ts declares them
// (checked when the shader is compiled).
const UNARY_NEG: u32 = 0u;
const UNARY_EXP: u32 = 1u;
const UNARY_LOG: u32 = 2u;
const UNARY_SQRT: u32 = 3u;
const UNARY_RSQRT: u32 = 4u;
const UNARY_ABS: u32 = 5u;
const UNARY_SIGN: u32 = 6u;
const UNARY_RELU: u32 = 7u;
const UNARY_LEAKY_RELU: u32 = 8u;
const UNARY_SIGMOID: u32 = 9u;
const UNARY_TANH: u32 = 10u;
const UNARY_CLAMP: u32 = 11u;
const UNARY_POW_SCALAR: u32 = 12u;
const UNARY_AFFINE: u32 = 13u;
const UNARY_RECIPROCAL: u32 = 14u;
const UNARY_NON_FINITE: u32 = 15u;
const UNARY_SQUARE: u32 = 16u;

struct Params { n4: u32, alpha: f32, beta: f32, pad: u32 }

@group(0) @binding(0) var<storage, read> x: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read_write> y: array<vec4<f32>>;
@group(0) @binding(2) var<uniform> p: Params;

fn is_nonfinite(v: vec4<f32>) -> vec4<f32> {
  // NaN and infinities have an all-ones exponent.
  let bits = bitcast<vec4<u32>>(v) & vec4<u32>(0x7f800000u);
  return select(vec4<f32>(0.0), vec4<f32>(1.0), bits == vec4<u32>(0x7f800000u));
}

// NaN tests by bit pattern: WGSL lets compilers assume no NaNs, and lavapipe folds `v != v` to false.
fn is_nan(v: vec4<f32>) -> vec4<bool> {
  return (bitcast<vec4<u32>>(v) & vec4<u32>(0x7fffffffu)) > vec4<u32>(0x7f800000u);
}

// +infinity, built at run time: constant expressions may not be infinite or NaN in WGSL.
fn inf4() -> vec4<f32> {
  return bitcast<vec4<f32>>(vec4<u32>(0x7f800000u | (p.n4 & 0u)));
}

// x^e with PyTorch's (C's) conventions: x^0 = 1 and 1^e = 1 (even for NaN), 0^e is 0 for e > 0
// and inf for e < 0, integer exponents allow negative bases (odd ones keep the sign, also of -0),
// a finite negative base with a fractional exponent gives NaN. The builtin pow is only trusted
// for 0 < |x| < inf (lavapipe's gives 0 for 0^-2).
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
  // NaN: a NaN operand, or a finite negative base with a fractional exponent ((-inf)^e is inf or 0).
  let nan = is_nan(x) | is_nan(e) | ((x < vec4<f32>(0.0)) & (a != inf4()) & !eint);
  r = select(r, bitcast<vec4<f32>>(vec4<u32>(0x7fc00000u | (p.n4 & 0u))), nan);
  return select(r, vec4<f32>(1.0), (e == vec4<f32>(0.0)) | (x == vec4<f32>(1.0)) | ((x == vec4<f32>(-1.0)) & einf));
}

// tanh accurate near 0 (an odd Taylor polynomial, error < 1e-12 for |v| < 0.125) and without
// overflow for large |v| (e^2v of a clamped argument): the builtin turns NaN for |v| > ~44 on some drivers.
fn tanh_stable(v: vec4<f32>) -> vec4<f32> {
  let c = clamp(v, vec4<f32>(-15.0), vec4<f32>(15.0));
  let e = exp(2.0 * c);
  let big = (e - 1.0) / (e + 1.0);
  let v2 = v * v;
  let small = v * (1.0 + v2 * (-1.0 / 3.0 + v2 * (2.0 / 15.0 + v2 * (-17.0 / 315.0 + v2 * (62.0 / 2835.0)))));
  return select(select(big, small, abs(v) < vec4<f32>(0.125)), v, is_nan(v));
}

fn f(v: vec4<f32>) -> vec4<f32> {
  switch OP {
    case UNARY_NEG: { return -v; }
    case UNARY_EXP: { return exp(v); }
    case UNARY_LOG: { return log(v); }
    case UNARY_SQRT: { return sqrt(v); }
    case UNARY_RSQRT: { return inverseSqrt(v); }
    case UNARY_ABS: { return abs(v); }
    // sign(NaN) is 0, as in PyTorch.
    case UNARY_SIGN: { return select(sign(v), vec4<f32>(0.0), is_nan(v)); }
    // relu and clamp propagate NaN, as in PyTorch (the builtins max and clamp need not).
    case UNARY_RELU: { return select(max(v, vec4<f32>(0.0)), v, is_nan(v)); }
    case UNARY_LEAKY_RELU: { return select(v * p.alpha, v, v > vec4<f32>(0.0)); }
    case UNARY_SIGMOID: { return 1.0 / (1.0 + exp(-v)); }
    case UNARY_TANH: { return tanh_stable(v); }
    // min(max(v, lo), hi) spelled out: the builtin clamp is unspecified for lo > hi (PyTorch gives hi).
    case UNARY_CLAMP: { return select(min(max(v, vec4<f32>(p.alpha)), vec4<f32>(p.beta)), v, is_nan(v)); }
    case UNARY_POW_SCALAR: { return pow_torch(v, vec4<f32>(p.alpha)); }
    case UNARY_AFFINE: { return v * p.alpha + p.beta; }
    case UNARY_RECIPROCAL: { return 1.0 / v; }
    case UNARY_NON_FINITE: { return is_nonfinite(v); }
    case UNARY_SQUARE: { return v * v; }
    default: { return v; }
  }
}

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * WG;
  if (i >= p.n4) { return; }
  y[i] = f(x[i]);
}
