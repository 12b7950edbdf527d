/**
 * A cross-task affinity layer of our own, written as WGSL kernels through webmtl's custom-op API
 * (see docs/custom-kernels.md). Three kernels over a (2R+1) x (2R+1) window of offsets o_j:
 *
 *   local_dot    s[n, j, p] = scale * sum_c a[n, c, p] * b[n, c, p + o_j]      (0 where p + o_j is outside)
 *   local_mix    y[n, c, p] = sum_j w[n, j, p] * x[n, c, p + o_j]
 *   local_mix_t  y[n, c, q] = sum_j w[n, j, q - o_j] * x[n, c, q - o_j]        (local_mix's transpose)
 *
 * and two differentiable ops built from them, each backward made of the same three kernels:
 *
 *   localDot(a, b):  da = scale * local_mix(gs, b),   db = scale * local_mix_t(gs, a)
 *   localMix(w, x):  dw = local_dot(gy, x),           dx = local_mix_t(w, gy)
 *
 * CrossTaskAffinity uses them as PAP-Net-style propagation on a local window: each task's
 * features give a pixel affinity softmax_j(localDot(f, f) / tau); each task mixes all tasks'
 * affinities with learned weights; each task's features diffuse along its mixed affinity.
 */
import * as w from '../../src/index.js';

/** Uniforms every local kernel takes: the shape, the window radius and a scale. */
const UNIFORMS = [
  { name: 'n', type: 'u32' },
  { name: 'c', type: 'u32' },
  { name: 'h', type: 'u32' },
  { name: 'w', type: 'u32' },
  { name: 'radius', type: 'u32' },
  { name: 'total', type: 'u32' },
  { name: 'scale', type: 'f32' },
] as const satisfies readonly w.UniformField[];

const CONSTANTS = { WG: { type: 'u32', default: 64 } } as const;

/** Shared WGSL: the invocation index over a 2-D grid and the j-th offset of the window. */
const COMMON = /* wgsl */ `
fn flat(gid: vec3<u32>, nwg: vec3<u32>) -> u32 { return gid.x + gid.y * nwg.x * WG; }
fn offset(j: u32) -> vec2<i32> {
  let d = 2u * params.radius + 1u;
  return vec2<i32>(i32(j / d) - i32(params.radius), i32(j % d) - i32(params.radius));
}
fn inside(y: i32, x: i32) -> bool { return y >= 0 && x >= 0 && y < i32(params.h) && x < i32(params.w); }
`;

/** The descriptor of a local kernel: two f32 inputs, one f32 output, the shared uniforms. */
function localKernel(name: string, [in1, in2, out]: readonly [string, string, string], extra: Partial<w.KernelDescriptor> = {}): w.KernelDescriptor {
  return {
    name,
    bindings: [
      { name: in1, access: 'read', type: 'f32' },
      { name: in2, access: 'read', type: 'f32' },
      { name: out, access: 'read_write', type: 'f32' },
    ],
    uniforms: UNIFORMS,
    constants: CONSTANTS,
    ...extra,
  };
}

const dotKernel = w.defineKernel(
  localKernel('local_dot', ['a', 'b', 's']),
  /* wgsl */ `${COMMON}
@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = flat(gid, nwg);
  if (i >= params.total) { return; }
  let hw = params.h * params.w;
  let k = (2u * params.radius + 1u) * (2u * params.radius + 1u);
  let p = i % hw;
  let j = (i / hw) % k;
  let n = i / (hw * k);
  let o = offset(j);
  let y = i32(p / params.w) + o.x;
  let x = i32(p % params.w) + o.y;
  var acc = 0.0;
  if (inside(y, x)) {
    let q = u32(y) * params.w + u32(x);
    for (var c = 0u; c < params.c; c++) {
      let base = (n * params.c + c) * hw;
      acc += a[base + p] * b[base + q];
    }
  }
  s[i] = acc * params.scale;
}`,
);

const mixKernel = w.defineKernel(
  localKernel('local_mix', ['wt', 'x', 'y'], {
    constants: { ...CONSTANTS, DIRECTION: { type: 'u32', default: 0 } },
    enums: { direction: ['forward', 'transpose'] },
  }),
  /* wgsl */ `${COMMON}
@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = flat(gid, nwg);
  if (i >= params.total) { return; }
  let hw = params.h * params.w;
  let k = (2u * params.radius + 1u) * (2u * params.radius + 1u);
  let p = i % hw;
  let n = i / (hw * params.c);
  let py = i32(p / params.w);
  let px = i32(p % params.w);
  var acc = 0.0;
  for (var j = 0u; j < k; j++) {
    let o = offset(j);
    // forward: gather x at p + o_j with p's weight; transpose: gather from p - o_j with its weight.
    let sgn = select(-1, 1, DIRECTION == DIRECTION_FORWARD);
    let y = py + sgn * o.x;
    let x2 = px + sgn * o.y;
    if (inside(y, x2)) {
      let q = u32(y) * params.w + u32(x2);
      let wp = select(q, p, DIRECTION == DIRECTION_FORWARD);
      acc += wt[(n * k + j) * hw + wp] * x[i - p + q];
    }
  }
  y[i] = acc * params.scale;
}`,
);

/** Checks the operands of the local kernels and returns their sizes. */
function dims(op: string, t: w.Tensor, radius: number): [number, number, number, number] {
  if (t.rank !== 4) throw new w.ShapeError(op, [t.shape], 'expects NCHW features');
  if (!Number.isInteger(radius) || radius < 0) throw new w.ArgumentError(op, `radius must be a non-negative integer, got ${radius}`);
  return t.shape as [number, number, number, number];
}

function runDot(a: w.Tensor, b: w.Tensor, radius: number, scale: number): w.Tensor {
  const [n, c, h, wd] = dims('localDot', a, radius);
  const k = (2 * radius + 1) ** 2;
  const s = w.empty([n, k, h, wd]);
  const total = n * k * h * wd;
  dotKernel.dispatch({ tensors: { a, b, s }, uniforms: { n, c, h, w: wd, radius, total, scale }, workgroups: { invocations: total, workgroupSize: 64 } });
  return s;
}

function runMix(wt: w.Tensor, x: w.Tensor, radius: number, scale: number, direction: 'forward' | 'transpose'): w.Tensor {
  const [n, c, h, wd] = dims('localMix', x, radius);
  const y = w.empty(x.shape);
  const total = n * c * h * wd;
  mixKernel.dispatch({
    tensors: { wt, x, y },
    uniforms: { n, c, h, w: wd, radius, total, scale },
    constants: { DIRECTION: mixKernel.enum('direction', direction) },
    workgroups: { invocations: total, workgroupSize: 64 },
  });
  return y;
}

/**
 * s [N, (2r+1)^2, H, W] = scale * <a[:, :, p], b[:, :, p + o_j]>: the similarity of every pixel to
 * its window neighbours. Differentiable in a and b.
 */
export function localDot(a: w.Tensor, b: w.Tensor, radius: number, scale = 1): w.Tensor {
  return w.customOp({
    name: 'localDot',
    forward: (x, y) => runDot(x!, y!, radius, scale),
    // d s / d a = scale * b[p + o_j];  d s / d b[q] = scale * a[q - o_j]
    backward: ({ gy, inputs: [x, y], needs }) => [needs[0] ? runMix(gy, y!, radius, scale, 'forward') : null, needs[1] ? runMix(gy, x!, radius, scale, 'transpose') : null],
  })(a, b);
}

/** y [N, C, H, W] = sum_j wt[:, j, p] * x[:, :, p + o_j]: x diffused along window weights. Differentiable in both. */
export function localMix(wt: w.Tensor, x: w.Tensor, radius: number): w.Tensor {
  return w.customOp({
    name: 'localMix',
    forward: (a, b) => runMix(a!, b!, radius, 1, 'forward'),
    // d y / d wt[j, p] = <gy[p], x[p + o_j]>;  d y / d x[q] = sum_j wt[j, q - o_j] gy[q - o_j]
    backward: ({ gy, inputs: [a, b], needs }) => [needs[0] ? runDot(gy, b!, radius, 1) : null, needs[1] ? runMix(a!, gy, radius, 1, 'transpose') : null],
  })(wt, x);
}

/** localMix composed of existing ops (pad, slice, mul, sum): the reference the kernels are timed against. */
export function localMixComposed(wt: w.Tensor, x: w.Tensor, radius: number): w.Tensor {
  return w.tidy(() => {
    const [, , h, wd] = dims('localMixComposed', x, radius);
    const d = 2 * radius + 1;
    const xp = w.pad(x, [radius, radius, radius, radius]);
    let y: w.Tensor | null = null;
    for (let j = 0; j < d * d; j++) {
      const dy = Math.floor(j / d);
      const dx = j % d;
      const shifted = w.slice(xp, [null, null, [dy, dy + h], [dx, dx + wd]]);
      const term = w.mul(w.slice(wt, [null, [j, j + 1]]), shifted);
      y = y ? w.add(y, term) : term;
    }
    return y!;
  });
}

/**
 * Cross-task affinity propagation on a local window, for T tasks' feature maps of C channels:
 *   A_t = softmax_j(localDot(f_t, f_t) / (C tau))        each task's pixel affinity
 *   B_t = sum_s softmax(beta_t)_s A_s                     each task's mix of all tasks' affinities
 *   out_t = f_t + gamma_t * localMix(B_t, f_t)            diffusion, `iterations` times
 * Parameters: beta [T, T] (initialised to prefer the task's own affinity) and gamma [T] (0: starts
 * as the identity, as a residual branch should).
 */
export class CrossTaskAffinity extends w.Module {
  readonly beta: w.Tensor;
  readonly gamma: w.Tensor;

  constructor(
    readonly tasks: number,
    readonly channels: number,
    readonly radius = 2,
    readonly iterations = 2,
    readonly tau = 1,
  ) {
    super();
    const b = new Float32Array(tasks * tasks);
    for (let t = 0; t < tasks; t++) b[t * tasks + t] = 2;
    this.beta = this.param('beta', w.fromArray(b, [tasks, tasks]));
    this.gamma = this.param('gamma', w.zeros([tasks]));
  }

  /** Refines every task's features [N, C, H, W] (same shapes in and out). */
  forward(features: readonly w.Tensor[]): w.Tensor[] {
    if (features.length !== this.tasks) throw new w.ArgumentError('CrossTaskAffinity', `expects ${this.tasks} feature maps, got ${features.length}`);
    return w.tidy(() => {
      const aff = features.map((f) => w.softmax(localDot(f, f, this.radius, 1 / (this.channels * this.tau)), 1));
      const mixW = w.softmax(this.beta, 1);
      return features.map((f, t) => {
        let mixed: w.Tensor | null = null;
        for (let s = 0; s < this.tasks; s++) {
          const term = w.mul(aff[s]!, w.reshape(w.slice(mixW, [[t, t + 1], [s, s + 1]]), [1, 1, 1, 1]));
          mixed = mixed ? w.add(mixed, term) : term;
        }
        const g = w.reshape(w.slice(this.gamma, [[t, t + 1]]), [1, 1, 1, 1]);
        let x = f;
        for (let k = 0; k < this.iterations; k++) x = w.add(x, w.mul(localMix(mixed!, x, this.radius), g));
        return x;
      });
    });
  }
}
