/**
 * PAP-Net's two kernels, written with the public custom-op API (defineKernel / customOp), each with
 * a WGSL forward and a WGSL backward:
 *
 *   pixelAffinity(x)            x [B, C, P] (a task's features on the P pixels of the downsampled map)
 *                               -> A [B, P, P], A[b, i, :] = softmax_j(scale * <x[b, :, i], x[b, :, j]>)
 *                               (row-normalised similarity: each row is a distribution over pixels)
 *   diffuseStep(A, x, x0, beta) y[b, c, i] = beta * sum_j A[b, i, j] x[b, c, j] + (1 - beta) * x0[b, c, i]
 *                               (one iteration of the propagation X <- beta A X + (1 - beta) X0)
 *
 * One invocation per output row or element; loops over the pixel axis stay in registers, which is
 * what software adapters reward (no workgroup memory, no barriers). The composed versions (matmul,
 * softmax) are {@link pixelAffinityComposed} and {@link diffuseStepComposed}, the ONNX and PyTorch
 * exports compute the same with their own ops.
 */
import { ArgumentError, ShapeError } from '../../errors.js';
import type { KernelDescriptor } from '../../gpu/kernel-descriptor.js';
import { add, mul } from '../../ops/binary.js';
import { customOp, defineKernel } from '../../ops/custom-op.js';
import { matmul } from '../../ops/matmul.js';
import { softmax } from '../../ops/reduce.js';
import { transpose } from '../../ops/shape-ops.js';
import { empty } from '../../tensor/creation.js';
import type { Tensor } from '../../tensor/tensor.js';

const WG = 64;
const f32 = (name: string, access: 'read' | 'read_write' = 'read') => ({ name, access, type: 'f32' as const });
const dims = [
  { name: 'b', type: 'u32' as const },
  { name: 'c', type: 'u32' as const },
  { name: 'p', type: 'u32' as const },
];
const INDEX = /* wgsl */ `
fn invocation(gid: vec3<u32>, nwg: vec3<u32>) -> u32 { return gid.x + gid.y * nwg.x * WG; }`;

const affinityDesc: KernelDescriptor = {
  name: 'pap_affinity',
  bindings: [f32('x'), f32('a', 'read_write')],
  uniforms: [...dims, { name: 'scale', type: 'f32' }],
  constants: { WG: { type: 'u32', default: WG } },
};
// One row (b, i) per invocation: logits, then a max-shifted softmax in place.
const affinityKernel = defineKernel(
  affinityDesc,
  `${INDEX}
@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let r = invocation(gid, nwg);
  let p = params.p;
  if (r >= params.b * p) { return; }
  let b = r / p;
  let i = r % p;
  let xb = b * params.c * p;
  let row = r * p;
  var m = -3.4e38;
  for (var j = 0u; j < p; j++) {
    var s = 0.0;
    for (var c = 0u; c < params.c; c++) { s += x[xb + c * p + i] * x[xb + c * p + j]; }
    s *= params.scale;
    a[row + j] = s;
    m = max(m, s);
  }
  var z = 0.0;
  for (var j = 0u; j < p; j++) {
    let e = exp(a[row + j] - m);
    a[row + j] = e;
    z += e;
  }
  let inv = 1.0 / z;
  for (var j = 0u; j < p; j++) { a[row + j] *= inv; }
}`,
);

const affinityLogitsGradDesc: KernelDescriptor = {
  name: 'pap_affinity_grad_logits',
  bindings: [f32('a'), f32('ga'), f32('gs', 'read_write')],
  uniforms: [...dims],
  constants: { WG: { type: 'u32', default: WG } },
};
// Softmax backward per row: gs = A * (gA - <A, gA>_row).
const affinityLogitsGrad = defineKernel(
  affinityLogitsGradDesc,
  `${INDEX}
@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let r = invocation(gid, nwg);
  let p = params.p;
  if (r >= params.b * p) { return; }
  let row = r * p;
  var d = 0.0;
  for (var j = 0u; j < p; j++) { d += a[row + j] * ga[row + j]; }
  for (var j = 0u; j < p; j++) { gs[row + j] = a[row + j] * (ga[row + j] - d); }
}`,
);

const affinityInputGradDesc: KernelDescriptor = {
  name: 'pap_affinity_grad_x',
  bindings: [f32('gs'), f32('x'), f32('gx', 'read_write')],
  uniforms: [...dims, { name: 'scale', type: 'f32' }],
  constants: { WG: { type: 'u32', default: WG } },
};
// The logits S = scale X^T X are symmetric in X: gx[b, c, i] = scale sum_j (gs[i, j] + gs[j, i]) x[b, c, j].
const affinityInputGrad = defineKernel(
  affinityInputGradDesc,
  `${INDEX}
@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let e = invocation(gid, nwg);
  let p = params.p;
  let cp = params.c * p;
  if (e >= params.b * cp) { return; }
  let b = e / cp;
  let i = e % p;
  let xrow = e - i;
  let g = b * p * p;
  var s = 0.0;
  for (var j = 0u; j < p; j++) { s += (gs[g + i * p + j] + gs[g + j * p + i]) * x[xrow + j]; }
  gx[e] = params.scale * s;
}`,
);

const diffuseDesc: KernelDescriptor = {
  name: 'pap_diffuse',
  bindings: [f32('a'), f32('x'), f32('x0'), f32('y', 'read_write')],
  uniforms: [...dims, { name: 'beta', type: 'f32' }, { name: 'gamma', type: 'f32' }, { name: 'order', type: 'u32' }],
  constants: { WG: { type: 'u32', default: WG } },
  // rows: y = beta A x + gamma x0; columns: y = beta A^T x + gamma x0 (the backward's gx).
  enums: { order: ['rows', 'columns'] },
};
const diffuseKernel = defineKernel(
  diffuseDesc,
  `${INDEX}
@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let e = invocation(gid, nwg);
  let p = params.p;
  let cp = params.c * p;
  if (e >= params.b * cp) { return; }
  let b = e / cp;
  let i = e % p;
  let xrow = e - i;
  let g = b * p * p;
  var s = 0.0;
  if (params.beta != 0.0) {
    if (params.order == ORDER_ROWS) {
      for (var j = 0u; j < p; j++) { s += a[g + i * p + j] * x[xrow + j]; }
    } else {
      for (var j = 0u; j < p; j++) { s += a[g + j * p + i] * x[xrow + j]; }
    }
  }
  y[e] = params.beta * s + params.gamma * x0[e];
}`,
);

const diffuseAffinityGradDesc: KernelDescriptor = {
  name: 'pap_diffuse_grad_affinity',
  bindings: [f32('gy'), f32('x'), f32('ga', 'read_write')],
  uniforms: [...dims, { name: 'beta', type: 'f32' }],
  constants: { WG: { type: 'u32', default: WG } },
};
// gA[b, i, j] = beta sum_c gy[b, c, i] x[b, c, j]
const diffuseAffinityGrad = defineKernel(
  diffuseAffinityGradDesc,
  `${INDEX}
@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let e = invocation(gid, nwg);
  let p = params.p;
  let pp = p * p;
  if (e >= params.b * pp) { return; }
  let b = e / pp;
  let i = (e % pp) / p;
  let j = e % p;
  let base = b * params.c * p;
  var s = 0.0;
  for (var c = 0u; c < params.c; c++) { s += gy[base + c * p + i] * x[base + c * p + j]; }
  ga[e] = params.beta * s;
}`,
);

function sizes(op: string, x: Tensor): { b: number; c: number; p: number } {
  if (x.rank !== 3 || x.dtype !== 'f32') throw new ShapeError(op, [x.shape], 'expected f32 features [B, C, P]');
  const [b, c, p] = x.shape as [number, number, number];
  return { b, c, p };
}

const groups = (n: number) => ({ invocations: n, workgroupSize: WG });

/** The default similarity scale 1 / sqrt(C) (as scaled dot-product attention). */
export function affinityScale(channels: number): number {
  return 1 / Math.sqrt(channels);
}

const affinityOps = new Map<number, (x: Tensor) => Tensor>();

/**
 * The row-normalised pixel affinity of features x [B, C, P]: A [B, P, P] with A[b, i, :] =
 * softmax over j of scale * <x[:, i], x[:, j]> (default scale 1 / sqrt(C)). Differentiable; forward
 * and backward are WGSL kernels (pap_affinity; pap_affinity_grad_logits then pap_affinity_grad_x).
 */
export function pixelAffinity(x: Tensor, scale = affinityScale(x.shape[1] ?? 1)): Tensor {
  sizes('pixelAffinity', x);
  let op = affinityOps.get(scale);
  if (!op) {
    op = customOp({
      name: 'pixelAffinity',
      forward: (xin) => {
        const d = sizes('pixelAffinity', xin!);
        const a = empty([d.b, d.p, d.p]);
        affinityKernel.dispatch({ tensors: { x: xin!, a }, uniforms: { ...d, scale }, workgroups: groups(d.b * d.p) });
        return a;
      },
      // dS = A * (dA - rowsum(A dA)); dx = scale (dS + dS^T) x along the pixel axis
      backward: ({ gy, inputs: [xin], output }) => {
        const d = sizes('pixelAffinity', xin!);
        const gs = empty([d.b, d.p, d.p]);
        affinityLogitsGrad.dispatch({ tensors: { a: output, ga: gy, gs }, uniforms: d, workgroups: groups(d.b * d.p) });
        const gx = empty(xin!.shape);
        affinityInputGrad.dispatch({ tensors: { gs, x: xin!, gx }, uniforms: { ...d, scale }, workgroups: groups(xin!.size) });
        gs.dispose();
        return [gx];
      },
    });
    affinityOps.set(scale, op);
  }
  return op(x);
}

/** {@link pixelAffinity} from built-in ops (matmul, softmax): the comparison and the reference of its shape. */
export function pixelAffinityComposed(x: Tensor, scale = affinityScale(x.shape[1] ?? 1)): Tensor {
  return softmax(mul(matmul(transpose(x, 1, 2), x), scale), -1);
}

function checkDiffuse(a: Tensor, x: Tensor, x0: Tensor): { b: number; c: number; p: number } {
  const d = sizes('diffuseStep', x);
  if (a.rank !== 3 || a.shape[0] !== d.b || a.shape[1] !== d.p || a.shape[2] !== d.p || x0.shape.join() !== x.shape.join()) {
    throw new ShapeError('diffuseStep', [a.shape, x.shape, x0.shape], 'expected A [B, P, P], x and x0 [B, C, P]');
  }
  return d;
}

const diffuseOps = new Map<number, (a: Tensor, x: Tensor, x0: Tensor) => Tensor>();

function launchDiffuse(a: Tensor, x: Tensor, x0: Tensor, beta: number, gamma: number, order: 'rows' | 'columns'): Tensor {
  const d = sizes('diffuseStep', x);
  const y = empty(x.shape);
  diffuseKernel.dispatch({ tensors: { a, x, x0, y }, uniforms: { ...d, beta, gamma, order: diffuseKernel.enum('order', order) }, workgroups: groups(x.size) });
  return y;
}

/**
 * One propagation step y = beta A x + (1 - beta) x0 for A [B, P, P] and x, x0 [B, C, P], the
 * product taken over the pixel axis (y[:, :, i] = sum_j A[i, j] x[:, :, j]). Differentiable in all
 * three; forward and backward are WGSL kernels (pap_diffuse, its transposed order for dx and its
 * beta = 0 form for dx0; pap_diffuse_grad_affinity for dA).
 */
export function diffuseStep(a: Tensor, x: Tensor, x0: Tensor, beta: number): Tensor {
  checkDiffuse(a, x, x0);
  if (!(beta >= 0 && beta <= 1)) throw new ArgumentError('diffuseStep', `beta must be in [0, 1], got ${beta}`);
  let op = diffuseOps.get(beta);
  if (!op) {
    op = customOp({
      name: 'diffuseStep',
      forward: (ain, xin, x0in) => launchDiffuse(ain!, xin!, x0in!, beta, 1 - beta, 'rows'),
      // dA = beta gy x^T, dx = beta A^T gy, dx0 = (1 - beta) gy
      backward: ({ gy, inputs: [ain, xin], needs }) => {
        const d = sizes('diffuseStep', xin!);
        let ga: Tensor | null = null;
        if (needs[0]) {
          ga = empty(ain!.shape);
          diffuseAffinityGrad.dispatch({ tensors: { gy, x: xin!, ga }, uniforms: { ...d, beta }, workgroups: groups(ain!.size) });
        }
        const gx = needs[1] ? launchDiffuse(ain!, gy, gy, beta, 0, 'columns') : null;
        const gx0 = needs[2] ? launchDiffuse(ain!, gy, gy, 0, 1 - beta, 'rows') : null;
        return [ga, gx, gx0];
      },
    });
    diffuseOps.set(beta, op);
  }
  return op(a, x, x0);
}

/** {@link diffuseStep} from built-in ops: beta x A^T + (1 - beta) x0 (matmul over the pixel axis). */
export function diffuseStepComposed(a: Tensor, x: Tensor, x0: Tensor, beta: number): Tensor {
  return add(mul(matmul(x, transpose(a, 1, 2)), beta), mul(x0, 1 - beta));
}
