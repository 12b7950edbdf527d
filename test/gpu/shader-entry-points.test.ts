import { describe, expect, it } from 'vitest';
import { checkShaderAgainstDescriptor, entryPointUses, type KernelDescriptor } from '../../src/gpu/kernel-descriptor.js';
import { resolveIncludes } from '../../src/gpu/shader-source.js';

// Two entry points sharing binding indices under other names, as WGSL allows when no entry point
// uses both; a helper function reaches `scale` for `fwd` only.
const TWO = `
struct FwdParams { n: u32, alpha: f32 }
struct BwdParams { n: u32, pad: u32 }
@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> y: array<f32>;
@group(0) @binding(2) var<uniform> pf: FwdParams;
@group(0) @binding(0) var<storage, read> dy: array<f32>;
@group(0) @binding(1) var<storage, read> x2: array<f32>;
@group(0) @binding(2) var<storage, read_write> dx: array<f32>;
@group(0) @binding(3) var<uniform> pb: BwdParams;
fn scale(v: f32) -> f32 { return v * pf.alpha; }
@compute @workgroup_size(64) fn fwd(@builtin(global_invocation_id) g: vec3<u32>) {
  if (g.x < pf.n) { y[g.x] = scale(x[g.x]); } // dx is not used here
}
@compute @workgroup_size(64) fn bwd(@builtin(global_invocation_id) g: vec3<u32>) {
  if (g.x < pb.n) { dx[g.x] = dy[g.x] * x2[g.x]; }
}`;

const FWD: KernelDescriptor = {
  name: 'two-fwd',
  entry: 'fwd',
  bindings: [
    { name: 'x', access: 'read', type: 'f32' },
    { name: 'y', access: 'read_write', type: 'f32' },
  ],
  uniforms: [
    { name: 'n', type: 'u32' },
    { name: 'alpha', type: 'f32' },
  ],
};
const BWD: KernelDescriptor = {
  name: 'two-bwd',
  entry: 'bwd',
  bindings: [
    { name: 'dy', access: 'read', type: 'f32' },
    { name: 'x2', access: 'read', type: 'f32' },
    { name: 'dx', access: 'read_write', type: 'f32' },
  ],
  uniforms: [
    { name: 'n', type: 'u32' },
    { name: 'pad', type: 'u32' },
  ],
};

describe('shader files with several entry points', () => {
  it('find what an entry point reaches through the functions it calls, not through comments', () => {
    const fwd = entryPointUses(TWO, 'fwd')!;
    expect(fwd.has('pf') && fwd.has('x') && fwd.has('y')).toBe(true); // pf through scale()
    expect(fwd.has('dx') || fwd.has('pb')).toBe(false);
    expect(entryPointUses(TWO, 'missing')).toBeNull();
  });

  it('check each entry point against its own descriptor', () => {
    expect(() => checkShaderAgainstDescriptor(FWD, TWO, 'two.wgsl', 'fwd')).not.toThrow();
    expect(() => checkShaderAgainstDescriptor(BWD, TWO, 'two.wgsl', 'bwd')).not.toThrow();
    expect(() => checkShaderAgainstDescriptor(FWD, TWO, 'two.wgsl', 'bwd')).toThrow(/two\.wgsl \(entry point bwd\) and its descriptor 'two-fwd'.*number of bindings/);
    expect(() => checkShaderAgainstDescriptor(BWD, TWO.replace('dx[g.x] = dy[g.x] * x2[g.x]', 'dx[g.x] = dy[g.x]'), 'two.wgsl', 'bwd')).toThrow(/reaches 3 \(dy, dx, pb\)/);
    const wrongField = TWO.replace('struct BwdParams { n: u32, pad: u32 }', 'struct BwdParams { n: u32, pad: f32 }');
    expect(() => checkShaderAgainstDescriptor(BWD, wrongField, 'two.wgsl', 'bwd')).toThrow(/uniform struct BwdParams.*pad:f32.*pad:u32/);
    expect(() => checkShaderAgainstDescriptor(FWD, wrongField, 'two.wgsl', 'fwd')).not.toThrow();
    expect(() => checkShaderAgainstDescriptor(FWD, TWO, 'two.wgsl', 'nope')).toThrow(/no function 'nope'/);
  });
});

describe('shader includes', () => {
  const files: Record<string, string> = {
    a: '// #include "b.wgsl"\nfn a() {}',
    b: '// #include "c.wgsl"\nfn b() {}',
    c: 'fn c() {}',
    loop1: '// #include "loop2.wgsl"',
    loop2: '// #include "loop1.wgsl"',
    missing: '// #include "nowhere.wgsl"',
    twice: '// #include "c.wgsl"\n// #include "b.wgsl"\nfn t() {}',
  };
  const read = (n: string) => {
    const s = files[n];
    if (s === undefined) throw new Error('no file');
    return s;
  };

  it('splice included files in, transitively and once each', () => {
    const a = resolveIncludes('a', files.a!, read);
    expect(a.indexOf('fn c()')).toBeLessThan(a.indexOf('fn b()'));
    expect(a.indexOf('fn b()')).toBeLessThan(a.indexOf('fn a()'));
    const t = resolveIncludes('twice', files.twice!, read);
    expect(t.match(/fn c\(\)/g)).toHaveLength(1);
  });

  it('refuse cycles and unknown files, naming the chain', () => {
    expect(() => resolveIncludes('loop1', files.loop1!, read)).toThrow(/include cycle: loop1\.wgsl -> loop2\.wgsl -> loop1\.wgsl/);
    expect(() => resolveIncludes('missing', files.missing!, read)).toThrow(/includes "nowhere\.wgsl", which does not exist/);
  });
});
