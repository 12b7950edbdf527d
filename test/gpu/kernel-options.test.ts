/**
 * Kernel options live on the runtime: withKernelOptions changes them for one call and restores
 * them after it, also when the call throws or its promise rejects, the normalisation switches are
 * one runtime's only, and a forced convolution variant is what the convolution then runs.
 */
import { describe, expect, it } from 'vitest';
import * as w from '../../src/index.js';
import { devices } from '../helpers/devices.js';
import { dispatched } from '../helpers/dispatched.js';

describe.each(devices())('kernel options on %s', (dev) => {
  it('are set for one call and restored after it, thrown or rejected', async () => {
    const rt = dev.runtime;
    const before = rt.kernelOptions;
    expect(before).toEqual(w.defaultKernelOptions());
    expect(rt.withKernelOptions({ convChunkBytes: 4096 }, () => rt.kernelOptions.convChunkBytes)).toBe(4096);
    expect(rt.kernelOptions).toBe(before);
    expect(() => rt.withKernelOptions({ convVariant: 'direct' }, () => { throw new Error('boom'); })).toThrow('boom');
    expect(rt.kernelOptions).toBe(before);
    await expect(rt.withKernelOptions({ convVariant: 'outer' }, async () => { await rt.sync(); throw new Error('later'); })).rejects.toThrow('later');
    expect(rt.kernelOptions).toBe(before);
  });

  it('the normalisation switches belong to one runtime and are restored after the call', async () => {
    const rt = dev.runtime;
    const before = rt.kernelOptions;
    const norm = (o: w.KernelOptions) => [o.normVec4, o.normFoldMask, o.normEvalInline];
    expect(norm(before)).toEqual([true, true, true]);
    const own = await w.Runtime.create();
    try {
      const inside = rt.withKernelOptions({ normVec4: false, normFoldMask: false, normEvalInline: false }, () => [norm(rt.kernelOptions), norm(own.kernelOptions)]);
      expect(inside).toEqual([[false, false, false], [true, true, true]]);
      expect(rt.kernelOptions).toBe(before);
      expect(() => rt.withKernelOptions({ normVec4: false }, () => { throw new Error('boom'); })).toThrow('boom');
      expect(norm(rt.kernelOptions)).toEqual([true, true, true]);
    } finally {
      own.destroy();
    }
  });

  it('a forced convolution variant is the one that runs', async () => {
    const x = w.randn([2, 8, 12, 12], { seed: 1 });
    const k = w.randn([8, 8, 3, 3], { seed: 2 });
    const entries = (v: 'direct' | 'outer') => dispatched(() => dev.runtime.withKernelOptions({ convVariant: v }, () => w.conv2d(x, k, null, { padding: 1 }).dispose())).entries;
    const direct = entries('direct');
    // (the direct forward's `row` kernel at stride 1)
    expect(direct).toContain('row');
    expect(direct).not.toContain('outer');
    const outer = entries('outer');
    expect(outer).toContain('outer');
    expect(outer).not.toContain('conv2d');
    expect(outer).not.toContain('row');
    x.dispose();
    k.dispose();
  });

  it("the direct forward's register block is an option too, with the same results", async () => {
    const x = w.randn([2, 6, 11, 9], { seed: 3 });
    const k = w.randn([12, 6, 3, 3], { seed: 4 });
    const run = (block: { bo: number; bp: 1 | 2 }) =>
      dev.runtime.withKernelOptions({ convVariant: 'direct', convForwardBlock: block, convForwardRow: false }, () => w.conv2d(x, k, null, { padding: 1 }));
    const ref = run({ bo: 4, bp: 1 });
    const want = await ref.data();
    for (const block of [{ bo: 8, bp: 1 }, { bo: 4, bp: 2 }, { bo: 8, bp: 2 }] as const) {
      const y = run(block);
      const got = await y.data();
      got.forEach((v, i) => expect(Math.abs(v - want[i]!)).toBeLessThanOrEqual(1e-5 * (1 + Math.abs(want[i]!))));
      y.dispose();
    }
    for (const t of [x, k, ref]) t.dispose();
  });
});
