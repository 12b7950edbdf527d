// Pooling over NCHW planes. Backward passes gather: each input element sums the output gradients that
// depend on it, so no two invocations write the same address and no atomics are needed.
//
// max_fwd: y = max over the dilated window, idx = flat index iy*W + ix of the chosen element in its
//          plane (the first maximum in row-major order; a NaN wins, the last NaN if several, as PyTorch).
// max_bwd: gx[i] = sum of gy[o] over the outputs o whose window extent covers i and whose idx[o] == i.
//          Both take SPAN consecutive elements (outputs, inputs) per invocation and divide only where
//          the span starts, walking coordinates and window bounds from there: lavapipe runs integer
//          division one lane at a time, and one element per invocation with six divisions each made
//          max_bwd several times slower (bench/README.md, "Small networks").
// max_fwd_tile: max_fwd where the windows tile the plane exactly (as max_bwd_tile): no padding to skip,
//          every window full, so the window loops have the same bounds in every lane.
// max_bwd_tile: max_bwd where the windows tile the plane exactly (kernel = stride, no padding or
//          dilation, h = oh * kh, w = ow * kw): each input lies in one window, so each output writes
//          its whole window (its gy at its argmax, zeros elsewhere): 2 loads per window instead of 2
//          per input element. SPAN outputs per invocation, walked like max_fwd.
// avg_fwd: y = (sum over [y0, y1) x [x0, x1)) * ry * rx, windows and reciprocal divisors from tables.
// avg_bwd: gx[i] = sum over the outputs o whose window holds i of gy[o] * ry[o] * rx[o].
//          The avg kernels take one element per invocation.
//
// avg tables (`tab`, built on the host): per output row oy, tab[oy] = (y0, y1, bits(ry), 0); per
// output column ox, tab[xf + ox] = (x0, x1, bits(rx), 0); per input row iy, tab[yb + iy] = the
// output rows [oy0, oy1) whose window holds iy, and tab[xb + ix] likewise for columns.
// avg_pool2d and adaptive_avg_pool2d differ only in these tables.
//
// Binding 1 is the table, the indices (max_bwd) or the index output (max_fwd): WGSL allows such
// aliases because each entry point uses only one of these variables.
// Each entry point's contract is declared in src/ops/kernels/pool.ts and checked against this file.
override WG: u32 = 64u;
override SPAN: u32 = 16u;     // elements per invocation of the max_* entry points

struct Params {
  total: u32,   // invocations: outputs (forward) or input elements (backward)
  h: u32,
  w: u32,
  oh: u32,
  ow: u32,
  kh: u32,
  kw: u32,
  sh: u32,
  sw: u32,
  ph: u32,
  pw: u32,
  dh: u32,
  dw: u32,
  ext_h: u32,   // dilated kernel extent dh*(kh-1)+1
  ext_w: u32,
  xf: u32,      // table offsets (entries of `tab`)
  yb: u32,
  xb: u32,
  // A plane larger than one binding runs in tiles of invocations [i_base, total): src (and idx_in) and
  // dst (and idx_out) are then bound from elements src_base and dst_base on (all 0 otherwise).
  i_base: u32,
  src_base: u32,
  dst_base: u32,
  pad0: u32,
  pad1: u32,
  pad2: u32,
}

@group(0) @binding(0) var<storage, read> src: array<f32>;
@group(0) @binding(1) var<storage, read> tab: array<vec4<u32>>;
@group(0) @binding(1) var<storage, read> idx_in: array<u32>;
@group(0) @binding(1) var<storage, read_write> idx_out: array<i32>;
@group(0) @binding(2) var<storage, read_write> dst: array<f32>;
@group(0) @binding(3) var<uniform> p: Params;

// NaN test by bit pattern: WGSL lets compilers assume no NaNs (lavapipe folds `v != v` to false).
fn is_nan(v: f32) -> bool {
  return (bitcast<u32>(v) & 0x7fffffffu) > 0x7f800000u;
}

fn linear_id(gid: vec3<u32>, nwg: vec3<u32>) -> u32 {
  return gid.x + gid.y * nwg.x * WG;
}

// (column, row, plane) of position i in planes of `rows` x `cols`.
fn split(i: u32, cols: u32, rows: u32) -> vec3<u32> {
  let t = i / cols;
  let plane = t / rows;
  return vec3<u32>(i - t * cols, t - plane * rows, plane);
}

// The output after (column, row, plane) o, walking planes of p.oh rows of p.ow columns in order.
fn next_output(o: vec3<u32>) -> vec3<u32> {
  if (o.x + 1u < p.ow) { return vec3<u32>(o.x + 1u, o.y, o.z); }
  if (o.y + 1u < p.oh) { return vec3<u32>(0u, o.y + 1u, o.z); }
  return vec3<u32>(0u, 0u, o.z + 1u);
}

@compute @workgroup_size(WG)
fn max_fwd(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i0 = linear_id(gid, nwg) * SPAN + p.i_base;
  if (i0 >= p.total) { return; }
  let i1 = min(i0 + SPAN, p.total);
  var o = split(i0, p.ow, p.oh);
  let w = i32(p.w);
  for (var i = i0; i < i1; i++) {
    // Output (ox, oy) of the plane at `base`. Skip the taps that fall in the padding (at most
    // kernel/2 of them).
    let ox = o.x;
    let oy = o.y;
    let base = i32(o.z * p.h * p.w) - i32(p.src_base);
    var y0 = i32(oy * p.sh) - i32(p.ph);
    var x0 = i32(ox * p.sw) - i32(p.pw);
    let y1 = min(y0 + i32(p.ext_h), i32(p.h));
    let x1 = min(x0 + i32(p.ext_w), w);
    while (y0 < 0) { y0 += i32(p.dh); }
    while (x0 < 0) { x0 += i32(p.dw); }
    var best_i = y0 * w + x0;
    var best = src[u32(base + best_i)];
    for (var yy = y0; yy < y1; yy += i32(p.dh)) {
      let row = yy * w;
      for (var xx = x0; xx < x1; xx += i32(p.dw)) {
        let v = src[u32(base + row + xx)];
        if (is_nan(v) || (!is_nan(best) && v > best)) {
          best = v;
          best_i = row + xx;
        }
      }
    }
    dst[i - p.dst_base] = best;
    idx_out[i - p.dst_base] = best_i;
    o = next_output(o);
  }
}

// Window bounds along one axis of max_bwd, walked without dividing. For input coordinate a (padded:
// a + pad), the outputs whose window extent covers it are [max(lo, 0), min(hi + 1, out)) with
// hi = floor((a + pad) / s) and lo = floor((a + pad + s - ext) / s) = ceil((a + pad + 1 - ext) / s);
// both numerators grow by one per step of a, so each quotient grows when its remainder wraps.
struct AxisWalk {
  hq: i32,
  hr: i32,
  lq: i32,
  lr: i32,
}

// Floor division by a positive s: the walk of coordinate a (the only divisions).
fn axis_at(a: u32, pad: u32, s: u32, ext: u32) -> AxisWalk {
  let si = i32(s);
  let h = i32(a + pad);
  let l = h + si - i32(ext);
  var lq = l / si;
  var lr = l - lq * si;
  if (lr < 0) { lq -= 1; lr += si; }
  let hq = h / si;
  return AxisWalk(hq, h - hq * si, lq, lr);
}

fn axis_step(a: AxisWalk, s: u32) -> AxisWalk {
  var r = a;
  r.hr += 1;
  if (r.hr == i32(s)) { r.hr = 0; r.hq += 1; }
  r.lr += 1;
  if (r.lr == i32(s)) { r.lr = 0; r.lq += 1; }
  return r;
}

@compute @workgroup_size(WG)
fn max_bwd(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i0 = linear_id(gid, nwg) * SPAN + p.i_base;
  if (i0 >= p.total) { return; }
  let i1 = min(i0 + SPAN, p.total);
  let e = split(i0, p.w, p.h);
  var ix = e.x;
  var iy = e.y;
  var obase = e.z * p.oh * p.ow - p.src_base;
  let x_first = axis_at(0u, p.pw, p.sw, p.ext_w);
  let y_first = axis_at(0u, p.ph, p.sh, p.ext_h);
  var wx = axis_at(ix, p.pw, p.sw, p.ext_w);
  var wy = axis_at(iy, p.ph, p.sh, p.ext_h);
  for (var i = i0; i < i1; i++) {
    // Input (ix, iy) of the plane whose outputs start at obase.
    let target_idx = iy * p.w + ix;
    let oy0 = u32(max(wy.lq, 0));
    let ox0 = u32(max(wx.lq, 0));
    let oy1 = min(u32(wy.hq) + 1u, p.oh);
    let ox1 = min(u32(wx.hq) + 1u, p.ow);
    var acc = 0.0;
    for (var oy = oy0; oy < oy1; oy++) {
      let row = obase + oy * p.ow;
      for (var ox = ox0; ox < ox1; ox++) {
        acc += select(0.0, src[row + ox], idx_in[row + ox] == target_idx);
      }
    }
    dst[i - p.dst_base] = acc;
    ix++;
    wx = axis_step(wx, p.sw);
    if (ix == p.w) {
      ix = 0u;
      wx = x_first;
      iy++;
      wy = axis_step(wy, p.sh);
      if (iy == p.h) {
        iy = 0u;
        wy = y_first;
        obase += p.oh * p.ow;
      }
    }
  }
}

@compute @workgroup_size(WG)
fn max_fwd_tile(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i0 = linear_id(gid, nwg) * SPAN;
  if (i0 >= p.total) { return; }
  let i1 = min(i0 + SPAN, p.total);
  var o = split(i0, p.ow, p.oh);
  for (var i = i0; i < i1; i++) {
    let ox = o.x;
    let oy = o.y;
    let base = o.z * p.h * p.w;
    // max_fwd's scan in the same order: the first maximum, a NaN wins (the last of several).
    let y0 = oy * p.kh;
    let x0 = ox * p.kw;
    var best_i = y0 * p.w + x0;
    var best = src[base + best_i];
    for (var a = 0u; a < p.kh; a++) {
      let row = (y0 + a) * p.w + x0;
      for (var b = 0u; b < p.kw; b++) {
        let v = src[base + row + b];
        if (is_nan(v) || (!is_nan(best) && v > best)) {
          best = v;
          best_i = row + b;
        }
      }
    }
    dst[i] = best;
    idx_out[i] = i32(best_i);
    o = next_output(o);
  }
}

@compute @workgroup_size(WG)
fn max_bwd_tile(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i0 = linear_id(gid, nwg) * SPAN;
  if (i0 >= p.total) { return; }
  let i1 = min(i0 + SPAN, p.total);
  var o = split(i0, p.ow, p.oh);
  for (var i = i0; i < i1; i++) {
    let ox = o.x;
    let oy = o.y;
    let base = o.z * p.h * p.w;
    let g = src[i];
    let at = idx_in[i];
    let y0 = oy * p.kh;
    let x0 = ox * p.kw;
    for (var a = 0u; a < p.kh; a++) {
      let row = (y0 + a) * p.w + x0;
      for (var b = 0u; b < p.kw; b++) {
        // (0.0 + as max_bwd's sum starts from 0.0)
        dst[base + row + b] = 0.0 + select(0.0, g, at == row + b);
      }
    }
    o = next_output(o);
  }
}

@compute @workgroup_size(WG)
fn avg_fwd(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = linear_id(gid, nwg) + p.i_base;
  if (i >= p.total) { return; }
  let o = split(i, p.ow, p.oh);
  let base = o.z * p.h * p.w - p.src_base;
  let ty = tab[o.y];
  let tx = tab[p.xf + o.x];
  var acc = 0.0;
  for (var yy = ty.x; yy < ty.y; yy++) {
    let row = base + yy * p.w;
    for (var xx = tx.x; xx < tx.y; xx++) { acc += src[row + xx]; }
  }
  dst[i - p.dst_base] = acc * (bitcast<f32>(ty.z) * bitcast<f32>(tx.z));
}

@compute @workgroup_size(WG)
fn avg_bwd(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = linear_id(gid, nwg) + p.i_base;
  if (i >= p.total) { return; }
  let e = split(i, p.w, p.h);
  let obase = e.z * p.oh * p.ow - p.src_base;
  let ry = tab[p.yb + e.y];
  let rx = tab[p.xb + e.x];
  var acc = 0.0;
  for (var oy = ry.x; oy < ry.y; oy++) {
    let row = obase + oy * p.ow;
    var r = 0.0;
    for (var ox = rx.x; ox < rx.y; ox++) {
      r += src[row + ox] * bitcast<f32>(tab[p.xf + ox].z);
    }
    acc += r * bitcast<f32>(tab[oy].z);
  }
  dst[i - p.dst_base] = acc;
}
