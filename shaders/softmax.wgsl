// Numerically stable softmax-family along the middle dim of an (outer, L, inner) view; one
// invocation per (o, i) row. MODE: MODE_SOFTMAX, MODE_LOG_SOFTMAX (both write L values per row),
// MODE_LOGSUMEXP (writes one value per row). The row maximum is subtracted before exp; a row whose
// maximum is -inf yields -inf for logsumexp and NaN for softmax/log-softmax, as PyTorch.
override MODE: u32 = 0u;
// The modes, as src/ops/kernels/softmax.ts's descriptor declares them (checked when compiled).
const MODE_SOFTMAX: u32 = 0u;
const MODE_LOG_SOFTMAX: u32 = 1u;
const MODE_LOGSUMEXP: u32 = 2u;
override WG: u32 = 64u;

struct Params { outer: u32, len: u32, inner: u32, pad: u32 }

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> y: array<f32>;
@group(0) @binding(2) var<uniform> p: Params;

// NaN test by bit pattern: WGSL lets compilers assume no NaNs (lavapipe folds `v != v` to false).
fn is_nan(v: f32) -> bool {
  return (bitcast<u32>(v) & 0x7fffffffu) > 0x7f800000u;
}

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let idx = gid.x + gid.y * nwg.x * WG;
  if (idx >= p.outer * p.inner) { return; }
  let i = idx % p.inner;
  let o = idx / p.inner;
  let base = o * p.len * p.inner + i;
  var m = x[base];
  for (var k = 1u; k < p.len; k++) {
    let v = x[base + k * p.inner];
    if (v > m || is_nan(v)) { m = v; }
  }
  // An all -inf row shifts by 0, so exp gives zeros instead of NaN; logsumexp also shifts a +inf
  // maximum by 0 (the result is then +inf, not NaN), as PyTorch does.
  let inf = bitcast<f32>(0x7f800000u | (p.pad & 0u));
  let shift = select(m, 0.0, m == -inf || (MODE == MODE_LOGSUMEXP && m == inf));
  var s = 0.0;
  for (var k = 0u; k < p.len; k++) { s += exp(x[base + k * p.inner] - shift); }
  if (MODE == MODE_LOGSUMEXP) {
    y[idx] = log(s) + shift;
    return;
  }
  let ls = log(s);
  let inv = 1.0 / s;
  for (var k = 0u; k < p.len; k++) {
    let j = base + k * p.inner;
    if (MODE == MODE_SOFTMAX) { y[j] = exp(x[j] - shift) * inv; } else { y[j] = x[j] - shift - ls; }
  }
}
