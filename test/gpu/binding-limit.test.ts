/**
 * The runtime's binding limit (RuntimeOptions.maxBindingBytes): buffers may be larger, no dispatch
 * binds more, sub-ranges bind at aligned offsets, and invalid copies are errors rather than aborts.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as w from '../../src/index.js';
import { devices } from '../helpers/devices.js';

const fillKernel = { shader: 'fill', bindings: ['write', 'uniform'] } as const;

describe.each(devices())('binding limit on %s', () => {
  let rt: w.Runtime;
  beforeAll(async () => {
    rt = await w.Runtime.create({ maxBindingBytes: 10_000 });
  });
  afterAll(() => rt.destroy());

  it('is rounded down to 256 bytes, capped by the adapter, and rejects nonsense', async () => {
    expect(rt.maxBindingBytes).toBe(9984);
    const own = await w.Runtime.create({ maxBindingBytes: 2 ** 40 });
    expect(own.maxBindingBytes).toBe(own.limits.maxStorageBufferBindingSize);
    own.destroy();
    await expect(w.Runtime.create({ maxBindingBytes: -1 })).rejects.toThrow(w.ArgumentError);
  });

  it('allocates past the limit, but a buffer that fits one binding stays within it', () => {
    const big = rt.alloc(100_000);
    expect(big.size).toBeGreaterThanOrEqual(100_000);
    // 9000 bytes would land in a 10240-byte bucket: capped at the limit instead.
    const small = rt.alloc(9000);
    expect(small.size).toBeLessThanOrEqual(rt.maxBindingBytes);
    rt.free(big);
    rt.free(small);
  });

  it('refuses to bind more than the limit, and binds aligned sub-ranges', async () => {
    const buf = rt.alloc(20_480);
    const n4 = (bytes: number) => new Uint32Array([bytes / 16, 7]);
    expect(() => rt.dispatch(fillKernel, { WG: 64 }, [buf], n4(20_480), [1, 1, 1])).toThrow(/binds 20480 bytes at binding 0, more than the binding limit \(9984\)/);
    rt.dispatch(fillKernel, { WG: 64 }, [{ buffer: buf, offset: 0, size: 9984 }], n4(9984), [10, 1, 1]);
    rt.dispatch(fillKernel, { WG: 64 }, [{ buffer: buf, offset: 9984, size: 9984 }], n4(9984), [10, 1, 1]);
    rt.dispatch(fillKernel, { WG: 64 }, [{ buffer: buf, offset: 19_968, size: 512 }], n4(512), [1, 1, 1]);
    const got = new Uint32Array(await rt.read(buf, 20_480));
    expect(got.every((v) => v === 7)).toBe(true);
    rt.free(buf);
  });

  it('an out-of-range copy is a GpuError, not a crash', () => {
    const a = rt.alloc(1024);
    const b = rt.alloc(1024);
    expect(() => rt.copy(a, 512, b, 0, 1024)).toThrow(w.GpuError);
    expect(() => rt.copy(a, 0, b, 2, 4)).toThrow(w.GpuError);
    rt.free(a);
    rt.free(b);
  });
});
