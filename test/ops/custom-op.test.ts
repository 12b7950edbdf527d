/**
 * Kernel descriptors and custom ops: the generated prelude and uniform layout, refusals that name
 * the kernel, a hand-written shader checked against its descriptor, and a WGSL op of its own
 * (y = alpha * x * z or alpha * x + z, chosen by an enum) against a float64 reference, with a
 * WGSL backward checked by finite differences, tuning by measurement and the profiler's label.
 */
import { describe, expect, it } from 'vitest';
import * as w from '../../src/index.js';
import {
  bindingsByName,
  checkShaderAgainstDescriptor,
  packUniformBlock,
  uniformLayout,
  wgslPrelude,
  type KernelDescriptor,
} from '../../src/gpu/kernel-descriptor.js';
import { compareOps, customOp, defineKernel, tuneCustomKernel } from '../../src/ops/custom-op.js';
import { devices } from '../helpers/devices.js';

const desc: KernelDescriptor = {
  name: 'scaled_combine',
  bindings: [
    { name: 'x', access: 'read', type: 'f32' },
    { name: 'z', access: 'read', type: 'f32' },
    { name: 'y', access: 'read_write', type: 'f32' },
  ],
  uniforms: [
    { name: 'n', type: 'u32' },
    { name: 'alpha', type: 'f32' },
    { name: 'mode', type: 'u32' },
  ],
  constants: { WG: { type: 'u32', default: 64 } },
  enums: { mode: ['mul', 'add'] },
};

const BODY = /* wgsl */ `
@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * WG;
  if (i >= params.n) { return; }
  if (params.mode == MODE_MUL) { y[i] = params.alpha * x[i] * z[i]; } else { y[i] = params.alpha * x[i] + z[i]; }
}`;

describe('kernel descriptors', () => {
  it('generate the prelude: struct, bindings in order, overrides, enum constants', () => {
    const p = wgslPrelude(desc);
    expect(p).toContain('struct ScaledCombineParams {\n  n: u32,\n  alpha: f32,\n  mode: u32,\n}');
    expect(p).toContain('@group(0) @binding(0) var<storage, read> x: array<f32>;');
    expect(p).toContain('@group(0) @binding(2) var<storage, read_write> y: array<f32>;');
    expect(p).toContain('@group(0) @binding(3) var<uniform> params: ScaledCombineParams;');
    expect(p).toContain('override WG: u32 = 64u;');
    expect(p).toContain('const MODE_MUL: u32 = 0u;');
    expect(p).toContain('const MODE_ADD: u32 = 1u;');
  });

  it("pack uniforms by name with WGSL's layout and refuse what does not fit", () => {
    const d: KernelDescriptor = {
      name: 'layout',
      bindings: [],
      uniforms: [
        { name: 'a', type: 'u32' },
        { name: 'b', type: 'f32' },
        { name: 'c', type: 'vec4<i32>' },
        { name: 'dims', type: 'vec4<u32>', count: 2 },
        { name: 'e', type: 'f32' },
      ],
    };
    const l = uniformLayout(d);
    expect(l.offsets).toEqual({ a: 0, b: 4, c: 16, dims: 32, e: 64 });
    expect(l.bytes).toBe(80);
    const buf = packUniformBlock(d, { a: 7, b: 0.5, c: [-1, 2], dims: [1, 2, 3, 4, 5], e: -2 });
    expect(new Uint32Array(buf, 0, 1)[0]).toBe(7);
    expect(new Float32Array(buf, 4, 1)[0]).toBe(0.5);
    expect(Array.from(new Int32Array(buf, 16, 4))).toEqual([-1, 2, 0, 0]);
    expect(Array.from(new Uint32Array(buf, 32, 8))).toEqual([1, 2, 3, 4, 5, 0, 0, 0]);
    expect(new Float32Array(buf, 64, 1)[0]).toBe(-2);
    const base = { a: 1, b: 1, c: [0], dims: [0], e: 0 };
    expect(() => packUniformBlock(d, { ...base, f: 1 })).toThrow(/kernel 'layout': has no uniform 'f'/);
    expect(() => packUniformBlock(d, { b: 1, c: [0], dims: [0], e: 0 })).toThrow(/uniform 'a' is missing/);
    expect(() => packUniformBlock(d, { ...base, a: -1 })).toThrow(/uniform 'a' needs u32 values, got -1/);
    expect(() => packUniformBlock(d, { ...base, a: 1.5 })).toThrow(/needs u32/);
    expect(() => packUniformBlock(d, { ...base, dims: new Array(9).fill(0) })).toThrow(/up to 8 numbers, got 9/);
    expect(() => wgslPrelude({ ...d, uniforms: [{ name: 'x', type: 'u32', count: 2 }] })).toThrow(/arrays must be of vec4/);
    expect(() => wgslPrelude({ name: 'dup', bindings: [{ name: 'a', access: 'read', type: 'f32' }, { name: 'a', access: 'read', type: 'f32' }] })).toThrow(/'a' is declared twice/);
    expect(() => wgslPrelude({ name: 'bad name!', bindings: [] })).toThrow(/name must be/);
  });

  it('check a hand-written shader against its descriptor, naming both on a mismatch', () => {
    const full = `${wgslPrelude(desc)}\n${BODY}`;
    expect(() => checkShaderAgainstDescriptor(desc, full, 'scaled.wgsl')).not.toThrow();
    const renamed = full.replace('var<storage, read> z: array<f32>', 'var<storage, read> w: array<f32>');
    expect(() => checkShaderAgainstDescriptor(desc, renamed, 'scaled.wgsl')).toThrow(/shader scaled\.wgsl \(entry point main\) and its descriptor 'scaled_combine'.*binding 1.*w: array<f32>.*z: array<f32>/);
    const access = full.replace('read_write> y', 'read> y');
    expect(() => checkShaderAgainstDescriptor(desc, access, 'scaled.wgsl')).toThrow(/binding 2/);
    const field = full.replace('  alpha: f32,', '  alpha: u32,');
    expect(() => checkShaderAgainstDescriptor(desc, field, 'scaled.wgsl')).toThrow(/uniform struct ScaledCombineParams.*alpha:u32.*alpha:f32/);
    expect(() => defineKernel(desc, field)).toThrow(/alpha/);
    // A shader with its own declarations declares the op codes too, with the descriptor's values.
    const codes = full.replace('const MODE_ADD: u32 = 1u;', 'const MODE_ADD: u32 = 2u;');
    expect(() => checkShaderAgainstDescriptor(desc, codes, 'scaled.wgsl')).toThrow(/op code MODE_ADD: the descriptor has 1u, the shader 2u/);
    expect(() => checkShaderAgainstDescriptor(desc, full.replace('const MODE_MUL: u32 = 0u;', ''), 'scaled.wgsl')).toThrow(/MODE_MUL.*no such const/);
    expect(() => defineKernel(desc, '// nothing here')).toThrow(/no @compute entry point 'main'/);
    expect(bindingsByName(desc, { y: 3, x: 1, z: 2 })).toEqual([1, 2, 3]);
    expect(() => bindingsByName(desc, { x: 1, z: 2 })).toThrow(/binding 'y' was not given/);
    expect(() => bindingsByName(desc, { x: 1, z: 2, y: 3, q: 4 })).toThrow(/has no binding 'q'/);
  });
});

describe.each(devices())('custom ops on %s', () => {
  const k = defineKernel(desc, BODY);
  const launch = (x: w.Tensor, z: w.Tensor, alpha: number, mode: 'mul' | 'add', WG = 64) => {
    const y = w.empty(x.shape);
    k.dispatch({ tensors: { x, z, y }, uniforms: { n: x.size, alpha, mode: k.enum('mode', mode) }, constants: { WG }, workgroups: { invocations: x.size, workgroupSize: WG } });
    return y;
  };

  it('dispatches by name and matches a float64 reference on an odd size', async () => {
    const n = 1001;
    const x = w.randn([7, 11, 13], { seed: 1 });
    const z = w.randn([7, 11, 13], { seed: 2 });
    const [hx, hz] = [await x.data(), await z.data()];
    for (const mode of ['mul', 'add'] as const) {
      const y = launch(x, z, 0.75, mode);
      const got = await y.data();
      for (let i = 0; i < n; i++) {
        const want = mode === 'mul' ? 0.75 * hx[i]! * hz[i]! : 0.75 * hx[i]! + hz[i]!;
        expect(Math.abs(got[i]! - want)).toBeLessThanOrEqual(1e-6 * (1 + Math.abs(want)));
      }
      y.dispose();
    }
    expect(() => k.enum('mode', 'pow')).toThrow(/enum 'mode' has no member 'pow' \(members: mul, add\)/);
    expect(() => k.dispatch({ tensors: { x, z }, uniforms: { n: 1, alpha: 1, mode: 0 }, workgroups: [1, 1, 1] })).toThrow(/binding 'y' needs a tensor/);
    const labels = w.randint([7, 11, 13], 0, 3);
    expect(() => k.dispatch({ tensors: { x, z: labels, y: x }, uniforms: { n: 1, alpha: 1, mode: 0 }, workgroups: [1, 1, 1] })).toThrow(/binding 'z' \(array<f32>\) needs an f32 tensor, got i32/);
    expect(() => k.dispatch({ tensors: { x, z, y: x }, uniforms: { n: 1, alpha: 1, mode: 0 }, constants: { BLOCK: 2 }, workgroups: [1, 1, 1] })).toThrow(/no override constant 'BLOCK'/);
    for (const t of [x, z, labels]) t.dispose();
  });

  // d(alpha x z)/dx = alpha z gy, d/dz = alpha x gy: the backward is the same kernel in mul mode.
  const scaledMul = customOp({
    name: 'scaledMul',
    forward: (x, z) => launch(x!, z!, 1.5, 'mul'),
    backward: ({ gy, inputs: [x, z], needs }) => [needs[0] ? launch(z!, gy, 1.5, 'mul') : null, needs[1] ? launch(x!, gy, 1.5, 'mul') : null],
  });

  it('is differentiable: backward through the WGSL kernels passes gradcheck, and tidy frees everything', async () => {
    const shape = [3, 5, 7];
    const data = (seed: number) => ({ data: new w.Generator(seed).normal(105), shape });
    expect(await w.gradcheck((x, z) => scaledMul(x!, z!), [data(3), data(4)])).toEqual([]);
    const before = w.runtime().memory().live;
    const x = w.requireGrad(w.randn(shape, { seed: 5 }));
    const z = w.randn(shape, { seed: 6 });
    const loss = w.tidy(() => w.sum(scaledMul(x, z)));
    w.backward(loss);
    const gx = await x.grad!.data();
    const hz = await z.data();
    gx.forEach((g, i) => expect(g).toBeCloseTo(1.5 * hz[i]!, 5));
    expect(z.grad).toBeNull();
    for (const t of [x, z, loss]) t.dispose();
    await w.runtime().sync();
    expect(w.runtime().memory().live).toBe(before);
  });

  it('refuses a backward that returns the wrong number or shape of gradients, and differentiating without one', () => {
    const bad = customOp({ name: 'bad', forward: (x) => w.mul(x!, 2), backward: ({ gy }) => [w.sum(gy)] });
    const none = customOp({ name: 'none', forward: (x) => w.mul(x!, 2) });
    const x = w.requireGrad(w.randn([4], { seed: 1 }));
    expect(() => w.backward(w.sum(bad(x)))).toThrow(/bad: the gradient of input 0 has shape \[\], the input \[4\]/);
    expect(() => w.backward(w.sum(none(x)))).toThrow(/none: this custom op has no backward/);
    expect(() => customOp({ name: 'id', forward: (t) => t! })(x)).toThrow(/forward must return a new tensor/);
    x.dispose();
  });

  it('tunes its variants by measurement, compares against a composed version, and profiles under its name', async () => {
    const x = w.randn([4099], { seed: 1 });
    const z = w.randn([4099], { seed: 2 });
    const variants = { wg64: { WG: 64 }, wg128: { WG: 128 } };
    expect(k.choose('4099', variants)).toEqual({ WG: 64 });
    const best = await tuneCustomKernel(k, '4099', variants, (c) => launch(x, z, 1, 'add', c.WG).dispose(), 2);
    expect(Object.keys(variants)).toContain(best);
    expect(k.choose('4099', variants)).toEqual(variants[best as keyof typeof variants]);
    expect(w.runtime().tuning.get('scaled_combine 4099')?.variant).toBe(best);
    const cmp = await compareOps(() => launch(x, z, 2, 'add'), () => w.add(w.mul(x, 2), z), { runs: 3, warmup: 1 });
    expect(cmp.maxAbsDiff).toBeLessThanOrEqual(1e-6);
    expect(cmp.aMs).toBeGreaterThan(0);
    const p = w.runtime().profiler;
    if (p) {
      p.reset();
      p.enabled = true;
      launch(x, z, 1, 'mul').dispose();
      await w.runtime().sync();
      const times = await p.collect();
      p.enabled = false;
      expect([...times.keys()]).toContain('scaled_combine');
    } else expect(w.runtime().features.has('timestamp-query')).toBe(false);
    x.dispose();
    z.dispose();
  });
});
