// Elementwise unary ops on contiguous f32 data, four elements per invocation. OP selects the
// function (the numbering is UNARY_CODES in src/ops/unary.ts); alpha and beta are its parameters.
override OP: u32 = 0u;
override WG: u32 = 64u;

struct Params { n4: u32, alpha: f32, beta: f32, pad: u32 }

@group(0) @binding(0) var<storage, read> x: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read_write> y: array<vec4<f32>>;
@group(0) @binding(2) var<uniform> p: Params;

fn is_nonfinite(v: vec4<f32>) -> vec4<f32> {
  // NaN fails v == v; infinities have an all-ones exponent.
  let bits = bitcast<vec4<u32>>(v) & vec4<u32>(0x7f800000u);
  return select(vec4<f32>(0.0), vec4<f32>(1.0), bits == vec4<u32>(0x7f800000u));
}

fn f(v: vec4<f32>) -> vec4<f32> {
  switch OP {
    case 0u: { return -v; }
    case 1u: { return exp(v); }
    case 2u: { return log(v); }
    case 3u: { return sqrt(v); }
    case 4u: { return inverseSqrt(v); }
    case 5u: { return abs(v); }
    case 6u: { return sign(v); }
    case 7u: { return max(v, vec4<f32>(0.0)); }
    case 8u: { return select(v * p.alpha, v, v > vec4<f32>(0.0)); }
    case 9u: { return 1.0 / (1.0 + exp(-v)); }
    case 10u: {
      // tanh via exp of a clamped argument: the builtin overflows to NaN for |v| > ~44 on some drivers.
      let c = clamp(v, vec4<f32>(-15.0), vec4<f32>(15.0));
      let e = exp(2.0 * c);
      return (e - 1.0) / (e + 1.0);
    }
    case 11u: { return clamp(v, vec4<f32>(p.alpha), vec4<f32>(p.beta)); }
    case 12u: {
      // x^alpha with PyTorch's conventions: integer exponents allow negative bases.
      let a = abs(v);
      var r = pow(a, vec4<f32>(p.alpha));
      r = select(r, vec4<f32>(1.0), vec4<f32>(p.alpha) == vec4<f32>(0.0));
      r = select(r, vec4<f32>(0.0), (a == vec4<f32>(0.0)) & (vec4<f32>(p.alpha) > vec4<f32>(0.0)));
      let odd = fract(p.alpha * 0.5) != 0.0 && fract(p.alpha) == 0.0;
      let neg = v < vec4<f32>(0.0);
      // NaN must be built at run time: constant expressions may not be NaN in WGSL.
      let nanv = bitcast<vec4<f32>>(vec4<u32>(0x7fc00000u | (p.n4 & 0u)));
      if (fract(p.alpha) != 0.0) { r = select(r, nanv, neg); }
      else if (odd) { r = select(r, -r, neg); }
      return r;
    }
    case 13u: { return v * p.alpha + p.beta; }
    case 14u: { return 1.0 / v; }
    case 15u: { return is_nonfinite(v); }
    case 16u: { return v * v; }
    default: { return v; }
  }
}

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * WG;
  if (i >= p.n4) { return; }
  y[i] = f(x[i]);
}
