// The `direct` convolution variant (src/ops/kernels/conv.ts; small and grouped convolutions, and weight
// gradients on GPUs): implicit GEMM over a pre-padded NCHW input, no im2col buffer. Larger ones run as
// im2col chunks times matmul.wgsl's kernels (conv-gemm.wgsl), 3-4x faster on lavapipe.
// A table koff[k] gives, for every reduction index k = (c, kh, kw) of one group, the element offset
// c*Hp*Wp + kh*dil_h*Wp + kw*dil_w inside the padded input, so the inner loop is one table load plus
// register-blocked loads and FMAs, with no bounds checks (padding was materialised by dilate_pad).
//
// main:      y[n, g*og + o, p] = act(sum_k w[g*og + o, k] * xp[base(n, p) + koff[k]] + bias + res)
//            each invocation: 4 output channels x 4 output pixels; gid.z = group.
// wgrad:     dw[split, g*og + o, k] = sum over the split's pixels of dy[n, g*og + o, p] * xp[base + koff[k]]
//            each invocation: BO output channels x 4*BK reduction indices, from one flat index over
//            (k block, channel block, split) so that no lanes idle past og or kdim; gid.z = group.
// row:       main's sums for stride 1 and horizontal dilation 1 (any kernel height, vertical stride and
//            dilation): each invocation BO output channels x 8 consecutive pixels of one output row,
//            which share the input row of each tap row: 8 + kw - 1 loads of xp per tap row instead of
//            8 kw (a window of 8 values slides one column per tap). gid.x = (image row, block of 8).
//            Weights come transposed (`wt`), channels in vec4s.
// dilate_pad: z[n, c, i, j] = x[n, c, (i - top)/sh, (j - left)/sw] where divisible and in range, else 0.
override WGX: u32 = 8u;
override WGY: u32 = 8u;
override BO: u32 = 4u;        // output channels per invocation (1 to 8)
override BP: u32 = 1u;        // groups of 4 output pixels per invocation (1 or 2)
override BK: u32 = 1u;        // wgrad: groups of 4 reduction indices per invocation (1 or 2)

struct Params {
  og: u32,        // output channels per group
  kdim: u32,      // reduction size per group: cg * kh * kw
  pix: u32,       // output pixels over the batch: n * oh * ow
  ohw: u32,       // oh * ow
  ow: u32,
  sh: u32,
  sw: u32,
  wp: u32,        // padded input width
  x_batch: u32,   // elements per image of the padded input
  x_group: u32,   // elements per group of channels of the padded input
  y_batch: u32,   // elements per image of the output (o * oh * ow)
  groups: u32,
  splits: u32,    // wgrad: number of pixel ranges
  chunk: u32,     // wgrad: pixels per range
  flags: u32,     // main's epilogue: 1 adds bias, 2 adds res, 4 applies ReLU
  kw: u32,        // row: kernel width
}

@group(0) @binding(0) var<storage, read> xp: array<f32>;
@group(0) @binding(1) var<storage, read> w: array<f32>;
// row: the weight as wt[g][k][o], o padded to whole vec4s (conv.ts builds it), two vec4 loads per tap
// for 8 channels instead of eight scalar ones. (An alias of `w`: no entry point uses both.)
@group(0) @binding(1) var<storage, read> wt: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> koff: array<u32>;
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<storage, read> res: array<f32>;
@group(0) @binding(5) var<storage, read_write> y: array<f32>;
@group(0) @binding(6) var<uniform> p: Params;

fn pixel_base(pix: u32, g: u32) -> u32 {
  let n = pix / p.ohw;
  let r = pix % p.ohw;
  return n * p.x_batch + g * p.x_group + (r / p.ow) * p.sh * p.wp + (r % p.ow) * p.sw;
}

@compute @workgroup_size(WGX, WGY, 1)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  // Each invocation: BO output channels x 4*BP output pixels (BO 1 to 8, BP 1 or 2).
  let p0 = gid.x * 4u * BP;
  let o0 = gid.y * BO;
  let g = gid.z;
  if (p0 >= p.pix || o0 >= p.og) { return; }
  let last = p.pix - 1u;
  var bases: array<u32, 8>;
  for (var q = 0u; q < 4u * BP; q++) { bases[q] = pixel_base(min(p0 + q, last), g); }
  let olast = p.og - 1u;
  var wrow: array<u32, 8>;
  for (var i = 0u; i < BO; i++) { wrow[i] = (g * p.og + min(o0 + i, olast)) * p.kdim; }
  var acc: array<vec4<f32>, 16>;
  for (var k = 0u; k < p.kdim; k++) {
    let off = koff[k];
    var xv: array<vec4<f32>, 2>;
    for (var j = 0u; j < BP; j++) {
      xv[j] = vec4<f32>(xp[bases[4u * j] + off], xp[bases[4u * j + 1u] + off], xp[bases[4u * j + 2u] + off], xp[bases[4u * j + 3u] + off]);
    }
    for (var i = 0u; i < BO; i++) {
      let wv = w[wrow[i] + k];
      for (var j = 0u; j < BP; j++) { acc[i * 2u + j] += wv * xv[j]; }
    }
  }
  for (var i = 0u; i < BO; i++) {
    let o = o0 + i;
    if (o >= p.og) { break; }
    let oc = g * p.og + o;
    for (var q = 0u; q < 4u * BP; q++) {
      let px = p0 + q;
      if (px >= p.pix) { break; }
      let at = (px / p.ohw) * p.y_batch + oc * p.ohw + px % p.ohw;
      var v = acc[i * 2u + q / 4u][q % 4u];
      if ((p.flags & 1u) != 0u) { v += bias[oc]; }
      if ((p.flags & 2u) != 0u) { v += res[at]; }
      if ((p.flags & 4u) != 0u) { v = max(v, 0.0); }
      y[at] = v;
    }
  }
}

@compute @workgroup_size(WGX, WGY, 1)
fn row(@builtin(global_invocation_id) gid: vec3<u32>) {
  let nb = (p.ow + 7u) / 8u;
  let rid = gid.x / nb;
  let ox0 = (gid.x - rid * nb) * 8u;
  let o0 = gid.y * BO;
  let g = gid.z;
  let oh = p.ohw / p.ow;
  let n = rid / oh;
  let oy = rid - n * oh;
  if (n * p.ohw >= p.pix || o0 >= p.og) { return; }
  // Columns past the row's end read whatever follows (the next row, or a clamped load at the end of
  // xp): their sums are never stored.
  let base = n * p.x_batch + g * p.x_group + oy * p.sh * p.wp + ox0;
  // wt holds o in whole vec4s, and o0 is a multiple of 4 (BO is 4 or 8, or all of og).
  let o4 = (p.og + 3u) / 4u;
  let wbase = g * p.kdim * o4 + o0 / 4u;
  var acc: array<vec4<f32>, 16>;
  let trows = p.kdim / p.kw;
  for (var t = 0u; t < trows; t++) {
    let k0 = t * p.kw;
    let a = base + koff[k0];
    var lo = vec4<f32>(xp[a], xp[a + 1u], xp[a + 2u], xp[a + 3u]);
    var hi = vec4<f32>(xp[a + 4u], xp[a + 5u], xp[a + 6u], xp[a + 7u]);
    for (var j = 0u; j < p.kw; j++) {
      let wi = wbase + (k0 + j) * o4;
      var ws: array<vec4<f32>, 2>;
      ws[0] = wt[wi];
      if (BO > 4u) { ws[1] = wt[wi + 1u]; }
      for (var i = 0u; i < BO; i++) {
        let wv = ws[i / 4u][i % 4u];
        acc[i * 2u] += wv * lo;
        acc[i * 2u + 1u] += wv * hi;
      }
      // Slide the window one column: the same element order as main's sum over k = (c, i, j).
      let next = xp[a + 8u + j];
      lo = vec4<f32>(lo.yzw, hi.x);
      hi = vec4<f32>(hi.yzw, next);
    }
  }
  let ybase = n * p.y_batch + oy * p.ow;
  for (var i = 0u; i < BO; i++) {
    let o = o0 + i;
    if (o >= p.og) { break; }
    let oc = g * p.og + o;
    for (var q = 0u; q < 8u; q++) {
      let ox = ox0 + q;
      if (ox >= p.ow) { break; }
      let at = ybase + oc * p.ohw + ox;
      var v = acc[i * 2u + q / 4u][q % 4u];
      if ((p.flags & 1u) != 0u) { v += bias[oc]; }
      if ((p.flags & 2u) != 0u) { v += res[at]; }
      if ((p.flags & 4u) != 0u) { v = max(v, 0.0); }
      y[at] = v;
    }
  }
}

// Weight gradient. Here `w` holds dy (the output gradient) and y receives partial dw sums. Each pixel
// costs 4*BK loads of xp and BO of dy for 4*BK*BO multiply-adds (lavapipe loads lane by lane, so the
// block sets the speed: bench/README.md, "Small networks").
@compute @workgroup_size(WGX, WGY, 1)
fn wgrad(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let nkb = (p.kdim + 4u * BK - 1u) / (4u * BK);
  let nob = (p.og + BO - 1u) / BO;
  let id = gid.x + gid.y * nwg.x * WGX;
  let t = id / nkb;
  let split = t / nob;
  if (split >= p.splits) { return; }
  let k0 = (id - t * nkb) * 4u * BK;
  let o0 = (t - split * nob) * BO;
  let g = gid.z;
  let klast = p.kdim - 1u;
  var offs: array<u32, 8>;
  for (var j = 0u; j < 4u * BK; j++) { offs[j] = koff[min(k0 + j, klast)]; }
  let olast = p.og - 1u;
  var crow: array<u32, 8>;
  for (var i = 0u; i < BO; i++) { crow[i] = (g * p.og + min(o0 + i, olast)) * p.ohw; }
  let start = split * p.chunk;
  let end = min(p.pix, start + p.chunk);
  var acc: array<vec4<f32>, 16>;
  if (start < end) {
    var n = start / p.ohw;
    var r = start % p.ohw;
    var oh = r / p.ow;
    var ow = r % p.ow;
    for (var px = start; px < end; px++) {
      let base = n * p.x_batch + g * p.x_group + oh * p.sh * p.wp + ow * p.sw;
      var xv: array<vec4<f32>, 2>;
      for (var j = 0u; j < BK; j++) {
        xv[j] = vec4<f32>(xp[base + offs[4u * j]], xp[base + offs[4u * j + 1u]], xp[base + offs[4u * j + 2u]], xp[base + offs[4u * j + 3u]]);
      }
      let yb = n * p.y_batch + r;
      for (var i = 0u; i < BO; i++) {
        let d = w[yb + crow[i]];
        for (var j = 0u; j < BK; j++) { acc[i * 2u + j] += d * xv[j]; }
      }
      r++;
      ow++;
      if (ow == p.ow) {
        ow = 0u;
        oh++;
        if (r == p.ohw) { r = 0u; oh = 0u; n++; }
      }
    }
  }
  let out_base = split * p.groups * p.og * p.kdim;
  for (var i = 0u; i < BO; i++) {
    let o = o0 + i;
    if (o >= p.og) { break; }
    for (var j = 0u; j < 4u * BK; j++) {
      let k = k0 + j;
      if (k >= p.kdim) { break; }
      y[out_base + (g * p.og + o) * p.kdim + k] = acc[i * 2u + j / 4u][j % 4u];
    }
  }
}
