// Reduction over the middle dim of a (outer, R, inner) view. Invocation (o, s, i) reduces the
// chunk [s*chunk, min(R, (s+1)*chunk)) of x[o, :, i] into y[o, s, i]; with S > 1 chunks a second
// pass reduces the partial results, which spreads a long reduction over many invocations.
// OP: REDUCE_SUM (times scale), _MAX, _MIN, _ARGMAX, _ARGMIN (indices as i32 bits). max and min
// propagate NaN, as PyTorch does; argmax/argmin take the first extreme index.
override OP: u32 = 0u;
// The op codes, as src/ops/kernels/reduce.ts's descriptor declares them (checked when compiled).
const REDUCE_SUM: u32 = 0u;
const REDUCE_MAX: u32 = 1u;
const REDUCE_MIN: u32 = 2u;
const REDUCE_ARGMAX: u32 = 3u;
const REDUCE_ARGMIN: u32 = 4u;
override WG: u32 = 64u;

struct Params { outer: u32, r: u32, inner: u32, s: u32, chunk: u32, scale: f32, pad0: u32, pad1: u32 }

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> y: array<u32>;
@group(0) @binding(2) var<uniform> p: Params;

// NaN test by bit pattern: WGSL lets compilers assume no NaNs (lavapipe folds `v != v` to false).
fn is_nan(v: f32) -> bool {
  return (bitcast<u32>(v) & 0x7fffffffu) > 0x7f800000u;
}

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let idx = gid.x + gid.y * nwg.x * WG;
  if (idx >= p.outer * p.s * p.inner) { return; }
  let i = idx % p.inner;
  let t = idx / p.inner;
  let s = t % p.s;
  let o = t / p.s;
  let k0 = s * p.chunk;
  let k1 = min(p.r, k0 + p.chunk);
  let base = o * p.r * p.inner + i;
  if (OP == REDUCE_SUM) {
    var acc = 0.0;
    for (var k = k0; k < k1; k++) { acc += x[base + k * p.inner]; }
    y[idx] = bitcast<u32>(acc * p.scale);
    return;
  }
  // The first NaN decides (value and index): NaN propagates through max/min as in PyTorch.
  var best = x[base + k0 * p.inner];
  var arg = k0;
  if (!is_nan(best)) {
    for (var k = k0 + 1u; k < k1; k++) {
      let v = x[base + k * p.inner];
      if (is_nan(v)) {
        best = v;
        arg = k;
        break;
      }
      if (select((v < best), (v > best), OP == REDUCE_MAX || OP == REDUCE_ARGMAX)) {
        best = v;
        arg = k;
      }
    }
  }
  if (OP != REDUCE_ARGMAX && OP != REDUCE_ARGMIN) { y[idx] = bitcast<u32>(best); } else { y[idx] = arg; }
}
