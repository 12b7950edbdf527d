import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as w from '../../src/index.js';
import { bucketSize } from '../../src/gpu/buffer-pool.js';
import { bindingsByName, packUniformBlock } from '../../src/gpu/kernel-descriptor.js';
import { FILL } from '../../src/tensor/creation.js';
import { fileKernel } from '../../src/gpu/pipeline-cache.js';
import { devices } from '../helpers/devices.js';

/** The fill kernel (shaders/fill.wgsl) under the engine's own descriptor. */
const fillKernel = fileKernel(FILL, 'fill');

/** Encodes a fill of `words` 32-bit words of `buf` with the u32 `value`. */
function fill(rt: w.Runtime, buf: GPUBuffer, words: number, value: number): void {
  const n4 = Math.ceil(words / 4);
  rt.dispatch(fillKernel, { WG: 64 }, bindingsByName(FILL, { out: buf }), new Uint8Array(packUniformBlock(FILL, { n4, bits: value })), w.grid(Math.ceil(n4 / 64)));
}

/** Reference bucket: the smallest multiple of a quarter of the largest power of two below `bytes`. */
function refBucket(bytes: number): number {
  if (bytes <= 256) return 256;
  let p = 1;
  while (p * 2 < bytes) p *= 2;
  let b = 0;
  while (b < bytes) b += p / 4;
  return b;
}

describe.each(devices())('GPU runtime on %s', ({ runtime: shared }) => {
  // A private runtime, so pool and batching counters are not disturbed by other tests.
  let rt: w.Runtime;
  beforeAll(async () => {
    rt = await w.Runtime.create({ maxBatch: 8 });
  });
  afterAll(() => rt.destroy());

  describe('buffer pool', () => {
    it('bucketSize: at least the request, at most 25 % more, quarter-power-of-two steps', () => {
      const sizes = [0, 1, 4, 255, 256, 257, 320, 321, 511, 512, 513, 1000, 1024, 1025, 4096, 5000, 65536, 65537, 1_000_003 * 4, 3 << 20, 128 << 20];
      for (const b of sizes) {
        const s = bucketSize(b);
        expect(s, `bucket of ${b}`).toBe(refBucket(b));
        expect(s).toBeGreaterThanOrEqual(Math.max(b, 256));
        expect(s % 64).toBe(0);
        if (b > 256) expect(s).toBeLessThanOrEqual(b * 1.25);
      }
      let prev = 0;
      for (let b = 1; b < 20000; b += 37) {
        const s = bucketSize(b);
        expect(s).toBeGreaterThanOrEqual(prev);
        prev = s;
      }
    });

    it('allocations get bucket-sized buffers; stats count live buffers and bytes', () => {
      const before = rt.memory();
      const a = rt.alloc(1000);
      const b = rt.alloc(100);
      expect(a.size).toBe(1024);
      expect(b.size).toBe(256);
      const mid = rt.memory();
      expect(mid.live).toBe(before.live + 2);
      expect(mid.liveBytes).toBe(before.liveBytes + 1024 + 256);
      expect(mid.peakLiveBytes).toBeGreaterThanOrEqual(mid.liveBytes);
      rt.free(a);
      rt.free(b);
      const after = rt.memory();
      expect(after.live).toBe(before.live);
      expect(after.liveBytes).toBe(before.liveBytes);
      rt.flush();
    });

    it('a freed buffer is reused only after a submit, and only for its bucket', () => {
      rt.flush();
      const a = rt.alloc(3000);
      fill(rt, a, 750, 1);
      rt.free(a);
      const b = rt.alloc(3000);
      expect(b).not.toBe(a); // the pending fill may still use a
      rt.flush();
      const created = rt.memory().created;
      const c = rt.alloc(2900); // same bucket (3072)
      expect(c).toBe(a);
      expect(rt.memory().created).toBe(created);
      const d = rt.alloc(5000); // another bucket: a new buffer
      expect(rt.memory().created).toBe(created + 1);
      for (const x of [b, c, d]) rt.free(x);
      rt.flush();
    });

    it('a request takes the smallest free buffer up to twice its bucket rather than create one, never a larger one', async () => {
      const own = await w.Runtime.create(); // an empty pool
      try {
        const a = own.alloc(4096);
        const x = own.alloc(8192);
        own.free(a);
        own.free(x);
        own.flush();
        const created = own.memory().created;
        const live = own.memory().liveBytes;
        const b = own.alloc(2100); // bucket 2560: 4096 <= 2 x 2560 is the smallest that fits
        expect(b).toBe(a);
        expect(own.memory().created).toBe(created);
        expect(own.memory().liveBytes).toBe(live + 4096); // live bytes count the real size
        const c = own.alloc(1000); // bucket 1024: 8192 > 2 x 1024
        expect(c).not.toBe(x);
        expect(own.memory().created).toBe(created + 1);
        own.free(b);
        own.free(c);
      } finally {
        own.destroy();
      }
    });

    it('released bytes past flushReleasedBytes are submitted at the next dispatch, so the pool can reuse them', async () => {
      const small = await w.Runtime.create({ maxBatch: 1000, flushReleasedBytes: 64 << 10 });
      try {
        const keep = small.alloc(256);
        const big = small.alloc(100 << 10);
        fill(small, big, 1024, 1);
        const s0 = small.submitCount;
        fill(small, keep, 64, 2);
        expect(small.submitCount).toBe(s0); // nothing released yet: no submit
        small.free(big);
        fill(small, keep, 64, 3);
        expect(small.submitCount).toBe(s0 + 1);
        const again = small.alloc(100 << 10);
        expect(again).toBe(big);
        small.free(again);
        small.free(keep);
      } finally {
        small.destroy();
      }
    });

    it('a buffer freed and reused after a submit holds the new data, not the old', async () => {
      const a = rt.alloc(1024);
      fill(rt, a, 256, 0xdeadbeef);
      rt.free(a);
      rt.flush();
      const b = rt.alloc(1024);
      expect(b).toBe(a);
      rt.write(b, new Uint32Array(256).fill(7));
      const got = new Uint32Array(await rt.read(b, 1024));
      expect(got.every((v) => v === 7)).toBe(true);
      rt.free(b);
    });

    it('too large a buffer is an OutOfMemoryError and allocates nothing', () => {
      const before = rt.memory();
      expect(() => rt.alloc(rt.limits.maxBufferSize + 4)).toThrow(w.OutOfMemoryError);
      expect(rt.memory().live).toBe(before.live);
      expect(rt.memory().created).toBe(before.created);
    });
  });

  describe('batching', () => {
    it('many dispatches make few submits (private runtime, maxBatch 8)', async () => {
      rt.flush();
      const buf = rt.alloc(256);
      const s0 = rt.submitCount;
      const d0 = rt.dispatchCount;
      for (let i = 0; i < 5; i++) fill(rt, buf, 64, i);
      expect(rt.submitCount).toBe(s0); // below maxBatch: nothing submitted yet
      for (let i = 5; i < 100; i++) fill(rt, buf, 64, i);
      expect(rt.dispatchCount - d0).toBe(100);
      const auto = rt.submitCount - s0;
      expect(auto).toBeGreaterThanOrEqual(Math.floor(100 / 8));
      expect(auto).toBeLessThanOrEqual(Math.ceil(100 / 8) + 1);
      // The last value written wins: the batches ran in order.
      expect(new Uint32Array(await rt.read(buf, 256))[63]).toBe(99);
      rt.free(buf);
    });

    it('many tensor ops on the shared runtime make at most ceil(n / maxBatch) + 1 submits', async () => {
      shared.flush();
      const n = 1200;
      const s0 = shared.submitCount;
      const d0 = shared.dispatchCount;
      const ts: w.Tensor[] = [];
      for (let i = 0; i < n; i++) ts.push(w.full([5], i));
      expect(shared.dispatchCount - d0).toBe(n);
      expect(shared.submitCount - s0).toBeLessThanOrEqual(Math.ceil(n / shared.maxBatch) + 1);
      const last = ts[n - 1]!;
      expect(await last.toArray()).toEqual([n - 1, n - 1, n - 1, n - 1, n - 1]);
      expect(await ts[0]!.toArray()).toEqual([0, 0, 0, 0, 0]);
      expect(shared.submitCount - s0).toBeLessThanOrEqual(Math.ceil(n / shared.maxBatch) + 3);
      ts.forEach((t) => t.dispose());
    });

    it('flush() submits once, and nothing when nothing is pending', () => {
      const buf = rt.alloc(256);
      rt.flush();
      const s0 = rt.submitCount;
      rt.flush();
      expect(rt.submitCount).toBe(s0);
      fill(rt, buf, 4, 1);
      fill(rt, buf, 4, 2);
      expect(rt.submitCount).toBe(s0);
      rt.flush();
      expect(rt.submitCount).toBe(s0 + 1);
      rt.flush();
      expect(rt.submitCount).toBe(s0 + 1);
      rt.free(buf);
    });

    it('uniforms of more dispatches than one uniform chunk holds stay distinct', async () => {
      // 600 dispatches in one batch need several 64 KiB uniform chunks (256-byte slots).
      const big = await w.Runtime.create({ maxBatch: 100_000 });
      const n = 600;
      const bufs = Array.from({ length: n }, () => big.alloc(256));
      bufs.forEach((b, i) => fill(big, b, 4, 1000 + i));
      const all = big.alloc(n * 4);
      bufs.forEach((b, i) => big.copy(b, 0, all, i * 4, 4));
      expect(big.submitCount).toBe(0);
      const got = new Uint32Array(await big.read(all, n * 4));
      expect(Array.from(got)).toEqual(Array.from({ length: n }, (_, i) => 1000 + i));
      big.destroy();
    });
  });

  describe('readback', () => {
    it('read() of odd byte sizes and offsets', async () => {
      const buf = rt.alloc(512);
      const bytes = Uint8Array.from({ length: 512 }, (_, i) => (i * 7 + 3) & 255);
      rt.write(buf, bytes);
      for (const [n, off] of [
        [1, 0],
        [3, 0],
        [5, 0],
        [7, 8],
        [13, 4],
        [255, 0],
        [257, 12],
        [500, 12],
        [512, 0],
      ] as const) {
        const got = new Uint8Array(await rt.read(buf, n, off));
        expect(got.length, `${n} bytes at ${off}`).toBe(n);
        expect(Array.from(got), `${n} bytes at ${off}`).toEqual(Array.from(bytes.subarray(off, off + n)));
      }
      const none = await rt.read(buf, 0);
      expect(none.byteLength).toBe(0);
      rt.free(buf);
    });

    it('concurrent reads each get their own values', async () => {
      const ts = [1, 2, 3, 4, 5, 6].map((v) => w.full([v * 11], v));
      const got = await Promise.all(ts.map((t) => t.toArray()));
      got.forEach((g, i) => expect(g).toEqual(new Array((i + 1) * 11).fill(i + 1)));
      ts.forEach((t) => t.dispose());
    });

    it('sync() waits for submitted work', async () => {
      const buf = rt.alloc(256);
      fill(rt, buf, 64, 5);
      await rt.sync();
      expect(new Uint32Array(await rt.read(buf, 8))[1]).toBe(5);
      rt.free(buf);
    });
  });

  describe('grid', () => {
    it('splits large workgroup counts within the per-dimension limit', () => {
      expect(w.grid(0)).toEqual([1, 1, 1]);
      expect(w.grid(1)).toEqual([1, 1, 1]);
      expect(w.grid(65535)).toEqual([65535, 1, 1]);
      for (const g of [65536, 70000, 131071, 1_000_000, 65535 * 65535]) {
        const [x, y, z] = w.grid(g);
        expect(x).toBeLessThanOrEqual(65535);
        expect(y).toBeLessThanOrEqual(65535);
        expect(z).toBe(1);
        expect(x * y).toBeGreaterThanOrEqual(g);
        // No more than one row of waste.
        expect(x * (y - 1)).toBeLessThan(g);
      }
      const [x, y] = w.grid(100, 30);
      expect(x).toBeLessThanOrEqual(30);
      expect(x * y).toBeGreaterThanOrEqual(100);
    });
  });

  describe('profiler', () => {
    it('times kernels by label when the adapter has timestamp-query', async () => {
      if (!shared.features.has('timestamp-query')) {
        expect(shared.profiler).toBeNull();
        return;
      }
      const p = shared.profiler!;
      expect(p).not.toBeNull();
      shared.flush();
      p.reset();
      await p.collect();
      p.reset();
      p.enabled = true;
      let made: w.Tensor[] = [];
      try {
        const a = w.full([1000], 2);
        const b = w.exp(a);
        const c = w.add(a, b);
        const d = w.permute(w.reshape(c, [10, 100]), [1, 0]);
        made = [a, b, c, d];
      } finally {
        p.enabled = false;
      }
      // collect() submits the pending batch itself.
      const times = await p.collect();
      // Labels are `shader` or `shader.entry`.
      for (const shader of ['fill', 'unary', 'binary', 'copy']) {
        const label = [...times.keys()].find((k) => k === shader || k.startsWith(`${shader}.`));
        expect(label, `a ${shader} label in [${[...times.keys()]}]`).toBeDefined();
        const t = times.get(label!);
        expect(t!.count).toBeGreaterThan(0);
        expect(t!.ms).toBeGreaterThanOrEqual(0);
        expect(Number.isFinite(t!.ms)).toBe(true);
      }
      expect(times.get('fill')!.count).toBe(1);
      expect(times.get('copy')!.count).toBe(1);
      // Dispatches after disabling are not timed; totals accumulate until reset().
      const e = w.full([10], 1);
      const again = await p.collect();
      expect(again.get('fill')!.count).toBe(1);
      p.reset();
      expect((await p.collect()).size).toBe(0);
      [...made, e].forEach((t) => t.dispose());
    });

    it('time per batch beyond the query capacity (more than 1024 timed dispatches)', async () => {
      const p = rt.profiler;
      // Without timestamp-query there is no profiler, and that must be the reason.
      if (!p) {
        expect(rt.features.has('timestamp-query')).toBe(false);
        return;
      }
      p.reset();
      p.enabled = true;
      const buf = rt.alloc(256);
      for (let i = 0; i < 1100; i++) fill(rt, buf, 4, i);
      p.enabled = false;
      const times = await p.collect();
      expect(times.get('fill')!.count).toBe(1100);
      expect(new Uint32Array(await rt.read(buf, 4))[0]).toBe(1099);
      rt.free(buf);
      p.reset();
    });
  });

  describe('errors', () => {
    it('a GPU validation error surfaces as a GpuError on the next flush, once', async () => {
      const own = await w.Runtime.create();
      const buf = own.alloc(256);
      // The shader writes binding 0, but this layout declares it read-only: invalid pipeline.
      own.dispatch({ shader: 'fill', bindings: ['read', 'uniform'] }, { WG: 64 }, [buf], new Uint32Array([1, 5]), [1, 1, 1]);
      let err: unknown = null;
      try {
        own.flush();
        await own.sync();
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(w.GpuError);
      expect((err as Error).message).toMatch(/WebGPU reported/);
      // Reported once; the device keeps working, and the valid kernel of the same shader is unaffected.
      fill(own, buf, 64, 42);
      expect(new Uint32Array(await own.read(buf, 256))[63]).toBe(42);
      // A misaligned write is also reported.
      own.write(buf, new Uint8Array([1, 2, 3, 4]), 2);
      await expect(own.sync()).rejects.toThrow(w.GpuError);
      await own.sync();
      own.free(buf);
      own.destroy();
    });

    it('a private runtime works on its own and is unusable once destroyed', async () => {
      const own = await w.Runtime.create({ timestamps: false });
      expect(own).not.toBe(shared);
      expect(own.device).not.toBe(shared.device);
      expect(own.profiler).toBeNull();
      const buf = own.alloc(64);
      own.write(buf, new Float32Array([1.5, 2.5]));
      expect(Array.from(new Float32Array(await own.read(buf, 8)))).toEqual([1.5, 2.5]);
      fill(own, buf, 4, 9);
      expect(Array.from(new Uint32Array(await own.read(buf, 16)))).toEqual([9, 9, 9, 9]);
      own.free(buf);
      own.destroy();
      own.destroy(); // idempotent
      expect(() => own.alloc(4)).toThrow(w.DeviceLostError);
      expect(() => own.flush()).toThrow(w.DeviceLostError);
      expect(() => fill(own, buf, 4, 1)).toThrow(w.DeviceLostError);
      // The shared runtime is unaffected.
      const t = w.full([3], 4);
      expect(await t.toArray()).toEqual([4, 4, 4]);
      t.dispose();
    });

    it('uniform blocks over 4 KiB are an ArgumentError', () => {
      const buf = rt.alloc(256);
      expect(() => rt.dispatch(fillKernel, { WG: 64 }, [buf], new Uint32Array(1025), [1, 1, 1])).toThrow(w.ArgumentError);
      rt.free(buf);
      rt.flush();
    });

    it('NoAdapterError names the set-up script', () => {
      const e = new w.NoAdapterError('requestAdapter() returned null');
      expect(e).toBeInstanceOf(w.WebmtlError);
      expect(e.name).toBe('NoAdapterError');
      expect(e.message).toContain('requestAdapter() returned null');
      expect(e.message).toContain('scripts/ensure-gpu.sh');
    });

    it('the shared runtime reports its adapter and limits', () => {
      expect(shared.adapterName.length).toBeGreaterThan(0);
      expect(shared.limits.maxStorageBufferBindingSize).toBeGreaterThanOrEqual(128 << 20);
      expect(w.runtime()).toBe(shared);
    });
  });
});
