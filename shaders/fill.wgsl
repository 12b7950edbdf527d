// Fills a buffer with one 32-bit pattern, four words per invocation (the contract: FILL in
// src/tensor/creation.ts, checked when the pipeline is created). Buffers are padded to 64
// bytes, so the last vec4 may write past n into padding.
override WG: u32 = 64;

struct Params { n4: u32, bits: u32 }

@group(0) @binding(0) var<storage, read_write> out: array<vec4<u32>>;
@group(0) @binding(1) var<uniform> p: Params;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * WG;
  if (i >= p.n4) { return; }
  out[i] = vec4<u32>(p.bits);
}
