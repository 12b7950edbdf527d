// Dropout with a counter-based mask: y = x * m with m = scale where hash(seed, offset, j) >= threshold,
// else 0, and j = element index / group (group 1: elementwise; group H*W: whole channels, Dropout2d).
// The mask is a pure function of (seed, offset, j), so the backward pass recomputes it with the same
// uniforms instead of saving it, and a restored (seed, offset) gives the same masks bit for bit.
// Four elements per invocation. src/ops/dropout.ts mirrors the hash on the host (dropoutKeep) and
// declares this kernel's contract (DROPOUT, checked when compiled).
override WG: u32 = 64u;

struct Params {
  n4: u32, group: u32, seed: u32, off_lo: u32,
  off_hi: u32, threshold: u32, scale: f32,
  // The chunk's first vec4 in the whole tensor (a tensor larger than one binding runs in chunks).
  base4: u32,
}

@group(0) @binding(0) var<storage, read> x: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read_write> y: array<vec4<f32>>;
@group(0) @binding(2) var<uniform> p: Params;

// murmur3's 32-bit finaliser: a bijection on u32 with full avalanche.
fn fmix(h0: u32) -> u32 {
  var h = h0;
  h ^= h >> 16u;
  h *= 0x85ebca6bu;
  h ^= h >> 13u;
  h *= 0xc2b2ae35u;
  h ^= h >> 16u;
  return h;
}

fn fmix4(h0: vec4<u32>) -> vec4<u32> {
  var h = h0;
  h ^= h >> vec4<u32>(16u);
  h *= vec4<u32>(0x85ebca6bu);
  h ^= h >> vec4<u32>(13u);
  h *= vec4<u32>(0xc2b2ae35u);
  h ^= h >> vec4<u32>(16u);
  return h;
}

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * WG;
  if (i >= p.n4) { return; }
  // Two 32-bit keys from (seed, offset): a mask repeats only when both collide (about 2^-64).
  let k1 = fmix(p.seed ^ fmix(p.off_lo ^ fmix(p.off_hi ^ 0x243f6a88u)));
  let k2 = fmix(k1 ^ 0x85a308d3u ^ fmix(p.off_lo + 0x13198a2eu));
  // j = (4i + k) / group for lanes k = 0..3 with one scalar division (vector integer division is
  // slow on CPU adapters): with r = 4i mod group + k < 4 group, (r / group) counts the multiples passed.
  let g = p.group;
  let e = (i + p.base4) * 4u;
  var j = vec4<u32>(e) + vec4<u32>(0u, 1u, 2u, 3u);
  if (g != 1u) {
    let j0 = e / g;
    let r = vec4<u32>(e - j0 * g) + vec4<u32>(0u, 1u, 2u, 3u);
    j = vec4<u32>(j0) + vec4<u32>(r >= vec4<u32>(g)) + vec4<u32>(r >= vec4<u32>(2u * g)) + vec4<u32>(r >= vec4<u32>(3u * g));
  }
  // For fixed keys j -> h is a bijection (odd multiply, xor, fmix, add, fmix).
  let h = fmix4(fmix4((j * vec4<u32>(0x9e3779b9u)) ^ vec4<u32>(k1)) + vec4<u32>(k2));
  let m = select(vec4<f32>(0.0), vec4<f32>(p.scale), h >= vec4<u32>(p.threshold));
  y[i] = x[i] * m;
}
