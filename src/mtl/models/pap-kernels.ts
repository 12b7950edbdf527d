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
 * Five kernels do it all: pap_gram (sum over channels of two maps' products, 4 x 4 register
 * blocks), pap_softmax_rows, pap_affinity_grad_logits, and pap_diffuse (a product with A or A^T over
 * the pixel axis, 4 channels x 4 pixels per invocation). Sums stay in registers, which is what
 * software adapters reward (no workgroup memory, no barriers). The composed versions (matmul,
 * softmax) are {@link pixelAffinityComposed} and {@link diffuseStepComposed}; the ONNX and PyTorch
 * exports compute the same with their own ops. When A (B P^2 floats) or the features (B C P) would
 * exceed one binding (Runtime.maxBindingBytes), both ops run their composed versions instead, whose
 * built-in ops split their work across bindings.
 */
import { ArgumentError, ShapeError } from '../../errors.js';
import type { KernelDescriptor } from '../../gpu/kernel-descriptor.js';
import { add, mul } from '../../ops/binary.js';
import { customOp, defineKernel } from '../../ops/custom-op.js';
import { addFlops } from '../../ops/flops.js';
import { matmul } from '../../ops/matmul.js';
import { softmax } from '../../ops/reduce.js';
import { transpose } from '../../ops/shape-ops.js';
import { runtime } from '../../tensor/context.js';
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

const gramDesc: KernelDescriptor = {
  name: 'pap_gram',
  bindings: [f32('u'), f32('v'), f32('out', 'read_write')],
  uniforms: [...dims, { name: 'scale', type: 'f32' }],
  constants: { WG: { type: 'u32', default: WG } },
};
// out[b, i, j] = scale sum_c u[b, c, i] v[b, c, j]: the affinity's logits (u = v = x) and the
// diffusion's dA (u = gy, v = x). A 4 x 4 block of (i, j) per invocation: 8 loads per 16 products.
const gramKernel = defineKernel(
  gramDesc,
  `${INDEX}
@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let e = invocation(gid, nwg);
  let p = params.p;
  let nb = (p + 3u) / 4u;
  if (e >= params.b * nb * nb) { return; }
  let b = e / (nb * nb);
  let i0 = ((e / nb) % nb) * 4u;
  let j0 = (e % nb) * 4u;
  let last = p - 1u;
  var acc = array<vec4<f32>, 4>(vec4<f32>(0.0), vec4<f32>(0.0), vec4<f32>(0.0), vec4<f32>(0.0));
  for (var c = 0u; c < params.c; c++) {
    let r = (b * params.c + c) * p;
    let ui = vec4<f32>(u[r + i0], u[r + min(i0 + 1u, last)], u[r + min(i0 + 2u, last)], u[r + min(i0 + 3u, last)]);
    let vj = vec4<f32>(v[r + j0], v[r + min(j0 + 1u, last)], v[r + min(j0 + 2u, last)], v[r + min(j0 + 3u, last)]);
    acc[0] += ui.x * vj;
    acc[1] += ui.y * vj;
    acc[2] += ui.z * vj;
    acc[3] += ui.w * vj;
  }
  for (var k = 0u; k < 4u; k++) {
    if (i0 + k >= p) { break; }
    let row = (b * p + i0 + k) * p;
    for (var l = 0u; l < 4u; l++) {
      if (j0 + l < p) { out[row + j0 + l] = params.scale * acc[k][l]; }
    }
  }
}`,
);
const gramGroups = (b: number, p: number) => b * Math.ceil(p / 4) ** 2;

const softmaxRowsDesc: KernelDescriptor = {
  name: 'pap_softmax_rows',
  bindings: [f32('a', 'read_write')],
  uniforms: [...dims],
  constants: { WG: { type: 'u32', default: WG } },
};
// One row of the logits per invocation, max-shifted softmax in place.
const softmaxRows = defineKernel(
  softmaxRowsDesc,
  `${INDEX}
@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let e = invocation(gid, nwg);
  let p = params.p;
  if (e >= params.b * p) { return; }
  let row = e * p;
  var m = -3.4e38;
  for (var j = 0u; j < p; j++) { m = max(m, a[row + j]); }
  var z = 0.0;
  for (var j = 0u; j < p; j++) {
    let v = exp(a[row + j] - m);
    a[row + j] = v;
    z += v;
  }
  let inv = 1.0 / z;
  for (var j = 0u; j < p; j++) { a[row + j] *= inv; }
}`,
);

const affinityLogitsGradDesc: KernelDescriptor = {
  name: 'pap_affinity_grad_logits',
  bindings: [f32('a'), f32('ga'), f32('d', 'read_write'), f32('gs', 'read_write')],
  uniforms: [...dims, { name: 'stage', type: 'u32' }],
  constants: { WG: { type: 'u32', default: WG } },
  // rowdot: d[b, i] = <A[b, i, :], gA[b, i, :]> per row; symmetric: per element, the softmax
  // backward dS = A (gA - d) summed with its transpose (the logits are symmetric in x).
  enums: { stage: ['rowdot', 'symmetric'] },
};
const affinityLogitsGrad = defineKernel(
  affinityLogitsGradDesc,
  `${INDEX}
@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let e = invocation(gid, nwg);
  let p = params.p;
  if (params.stage == STAGE_ROWDOT) {
    if (e >= params.b * p) { return; }
    var s = 0.0;
    for (var j = 0u; j < p; j++) { s += a[e * p + j] * ga[e * p + j]; }
    d[e] = s;
    return;
  }
  if (e >= params.b * p * p) { return; }
  let b = e / (p * p);
  let i = (e / p) % p;
  let j = e % p;
  let t = (b * p + j) * p + i;
  gs[e] = a[e] * (ga[e] - d[b * p + i]) + a[t] * (ga[t] - d[b * p + j]);
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
// y[b, c, i] = beta sum_j M[i, j] x[b, c, j] + gamma x0[b, c, i] with M = A (rows) or A^T (columns):
// the diffusion step, its dx (columns), its dx0 (beta = 0 skips the product) and the affinity's dx
// (columns on the symmetric dS, gamma = 0). A block of 4 channels x 4 pixels per invocation: 8 loads
// per 16 products; consecutive invocations take consecutive pixel blocks of one channel block.
const diffuseKernel = defineKernel(
  diffuseDesc,
  `${INDEX}
@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let e = invocation(gid, nwg);
  let p = params.p;
  let nb = (p + 3u) / 4u;
  let cb = (params.c + 3u) / 4u;
  if (e >= params.b * cb * nb) { return; }
  let b = e / (cb * nb);
  let c0 = ((e / nb) % cb) * 4u;
  let i0 = (e % nb) * 4u;
  let last = p - 1u;
  let g = b * p * p;
  // rows of x for channels c0..c0 + 3 (clamped: the padding of the last block reads a valid row)
  let r = vec4<u32>(
    (b * params.c + c0) * p,
    (b * params.c + min(c0 + 1u, params.c - 1u)) * p,
    (b * params.c + min(c0 + 2u, params.c - 1u)) * p,
    (b * params.c + min(c0 + 3u, params.c - 1u)) * p,
  );
  let ii = vec4<u32>(i0, min(i0 + 1u, last), min(i0 + 2u, last), min(i0 + 3u, last));
  var acc = array<vec4<f32>, 4>(vec4<f32>(0.0), vec4<f32>(0.0), vec4<f32>(0.0), vec4<f32>(0.0));
  if (params.beta != 0.0) {
    let rows = params.order == ORDER_ROWS;
    // M[i, j] at g + i * ip + j * jp
    let ip = select(1u, p, rows);
    let jp = select(p, 1u, rows);
    let m = g + ii * ip;
    for (var j = 0u; j < p; j++) {
      let o = j * jp;
      let w = vec4<f32>(a[m.x + o], a[m.y + o], a[m.z + o], a[m.w + o]);
      acc[0] += x[r.x + j] * w;
      acc[1] += x[r.y + j] * w;
      acc[2] += x[r.z + j] * w;
      acc[3] += x[r.w + j] * w;
    }
  }
  for (var k = 0u; k < 4u; k++) {
    if (c0 + k >= params.c) { break; }
    for (var l = 0u; l < 4u; l++) {
      let at = r[k] + i0 + l;
      if (i0 + l < p) { y[at] = params.beta * acc[k][l] + params.gamma * x0[at]; }
    }
  }
}`,
);
const diffuseGroups = (b: number, c: number, p: number) => b * Math.ceil(c / 4) * Math.ceil(p / 4);

function sizes(op: string, x: Tensor): { b: number; c: number; p: number } {
  if (x.rank !== 3 || x.dtype !== 'f32') throw new ShapeError(op, [x.shape], 'expected f32 features [B, C, P]');
  const [b, c, p] = x.shape as [number, number, number];
  return { b, c, p };
}

const groups = (n: number) => ({ invocations: n, workgroupSize: WG });

/** True when A [B, P, P] or the features [B, C, P] fit one binding (the kernels bind them whole). */
function fitsOneBinding(b: number, c: number, p: number): boolean {
  return 4 * b * p * Math.max(p, c) <= runtime().maxBindingBytes;
}

/** The default similarity scale 1 / sqrt(C) (as scaled dot-product attention). */
export function affinityScale(channels: number): number {
  return 1 / Math.sqrt(channels);
}

const affinityOps = new Map<number, (x: Tensor) => Tensor>();

/**
 * The row-normalised pixel affinity of features x [B, C, P]: A [B, P, P] with A[b, i, :] =
 * softmax over j of scale * <x[:, i], x[:, j]> (default scale 1 / sqrt(C)). Differentiable; forward
 * and backward are WGSL kernels (forward: pap_gram for the logits, pap_softmax_rows; backward:
 * pap_affinity_grad_logits's rowdot and symmetric stages, then pap_diffuse's columns order for dx),
 * or past one binding the composed version.
 */
export function pixelAffinity(x: Tensor, scale = affinityScale(x.shape[1] ?? 1)): Tensor {
  const dx = sizes('pixelAffinity', x);
  if (!fitsOneBinding(dx.b, dx.c, dx.p)) return pixelAffinityComposed(x, scale);
  let op = affinityOps.get(scale);
  if (!op) {
    op = customOp({
      name: 'pixelAffinity',
      forward: (xin) => {
        const d = sizes('pixelAffinity', xin!);
        const a = empty([d.b, d.p, d.p]);
        addFlops('matmul', 2 * d.b * d.c * d.p * d.p); // summaries count it as the matmul it is
        gramKernel.dispatch({ tensors: { u: xin!, v: xin!, out: a }, uniforms: { ...d, scale }, workgroups: groups(gramGroups(d.b, d.p)) });
        softmaxRows.dispatch({ tensors: { a }, uniforms: d, workgroups: groups(d.b * d.p) });
        return a;
      },
      // dS = A * (dA - rowsum(A dA)); dx = scale (dS + dS^T) x along the pixel axis
      backward: ({ gy, inputs: [xin], output }) => {
        const d = sizes('pixelAffinity', xin!);
        const gs = empty([d.b, d.p, d.p]);
        const dots = empty([d.b, d.p]);
        const tensors = { a: output, ga: gy, d: dots, gs };
        affinityLogitsGrad.dispatch({ tensors, uniforms: { ...d, stage: affinityLogitsGrad.enum('stage', 'rowdot') }, workgroups: groups(d.b * d.p) });
        affinityLogitsGrad.dispatch({ tensors, uniforms: { ...d, stage: affinityLogitsGrad.enum('stage', 'symmetric') }, workgroups: groups(d.b * d.p * d.p) });
        // gs is symmetric: gx = scale gs^T x along the pixel axis, the diffusion kernel's columns order
        const gx = launchDiffuse(gs, xin!, xin!, scale, 0, 'columns');
        gs.dispose();
        dots.dispose();
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
  diffuseKernel.dispatch({ tensors: { a, x, x0, y }, uniforms: { ...d, beta, gamma, order: diffuseKernel.enum('order', order) }, workgroups: groups(diffuseGroups(d.b, d.c, d.p)) });
  return y;
}

/**
 * One propagation step y = beta A x + (1 - beta) x0 for A [B, P, P] and x, x0 [B, C, P], the
 * product taken over the pixel axis (y[:, :, i] = sum_j A[i, j] x[:, :, j]). Differentiable in all
 * three; forward and backward are WGSL kernels (pap_diffuse, its transposed order for dx and its
 * beta = 0 form for dx0; pap_gram for dA), or past one binding the composed version.
 */
export function diffuseStep(a: Tensor, x: Tensor, x0: Tensor, beta: number): Tensor {
  const dx = checkDiffuse(a, x, x0);
  if (!(beta >= 0 && beta <= 1)) throw new ArgumentError('diffuseStep', `beta must be in [0, 1], got ${beta}`);
  if (!fitsOneBinding(dx.b, dx.c, dx.p)) return diffuseStepComposed(a, x, x0, beta);
  let op = diffuseOps.get(beta);
  if (!op) {
    op = customOp({
      name: 'diffuseStep',
      forward: (ain, xin, x0in) => {
        const d = sizes('diffuseStep', xin!);
        addFlops('matmul', 2 * d.b * d.c * d.p * d.p);
        return launchDiffuse(ain!, xin!, x0in!, beta, 1 - beta, 'rows');
      },
      // dA = beta gy x^T, dx = beta A^T gy, dx0 = (1 - beta) gy
      backward: ({ gy, inputs: [ain, xin], needs }) => {
        const d = sizes('diffuseStep', xin!);
        let ga: Tensor | null = null;
        if (needs[0]) {
          ga = empty(ain!.shape);
          gramKernel.dispatch({ tensors: { u: gy, v: xin!, out: ga }, uniforms: { ...d, scale: beta }, workgroups: groups(gramGroups(d.b, d.p)) });
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
