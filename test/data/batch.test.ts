import { describe, expect, it } from 'vitest';
import { collate, collateHost, disposeBatch } from '../../src/data/batch.js';
import { DataLoader } from '../../src/data/loader.js';
import type { Dataset, Sample } from '../../src/data/sample.js';
import { ArgumentError, ShapeError } from '../../src/errors.js';

const H = 2;
const W = 3;
const N = H * W;

function sample(i: number, h = H, w = W): Sample {
  const n = h * w;
  return {
    id: `s${i}`, height: h, width: w,
    image: Float32Array.from({ length: 3 * n }, (_, k) => i * 100 + k),
    semseg: Int32Array.from({ length: n }, (_, p) => (p === 0 ? 255 : (p + i) % 5)),
    depth: Float32Array.from({ length: n }, (_, p) => [0, NaN, 1.5, 2, Infinity, 3][p % 6]! + i),
    normals: Float32Array.from({ length: 3 * n }, (_, k) => (k % n === 1 ? 0 : Math.floor(k / n) === 2 ? 1 : 0)),
    edge: Float32Array.from({ length: n }, (_, p) => [0, 1, 255][p % 3]!),
    sal: Float32Array.from({ length: n }, (_, p) => (p === 2 ? 255 : 0.5)),
    human_parts: Int32Array.from({ length: n }, (_, p) => p % 7),
  };
}

/** A dataset whose get() waits `delay` ms and logs when it starts and ends. */
function slowDataset(n: number, delay: number, log: string[] = []): Dataset {
  return {
    info: { name: 'fake', tasks: ['semseg', 'depth', 'normals', 'edge', 'sal', 'human_parts'], mean: [0, 0, 0], std: [1, 1, 1] },
    length: n,
    async get(i) {
      log.push(`get ${i}`);
      if (delay > 0) await new Promise((r) => setTimeout(r, delay));
      if (i === 13) throw new Error('sample 13 is broken');
      return sample(i);
    },
  };
}

describe('collate', () => {
  it('stacks inputs and targets with the documented shapes, dtypes and masks', async () => {
    const b = collate([sample(0), sample(1)], ['semseg', 'depth', 'normals', 'edge', 'sal', 'human_parts']);
    try {
      expect(b.input.shape).toEqual([2, 3, H, W]);
      expect(Array.from(await b.input.data())).toEqual([...sample(0).image, ...sample(1).image]);
      const seg = b.targets['semseg']!;
      expect([seg.target.shape, seg.target.dtype, seg.mask]).toEqual([[2, H, W], 'i32', undefined]);
      expect(Array.from(await seg.target.data())).toEqual([...sample(0).semseg!, ...sample(1).semseg!]);
      expect(b.targets['human_parts']!.target.dtype).toBe('i32');
      const d = b.targets['depth']!;
      expect([d.target.shape, d.mask!.shape]).toEqual([[2, 1, H, W], [2, 1, H, W]]);
      expect(Array.from(await d.mask!.data())).toEqual([0, 0, 1, 1, 0, 1, 1, 0, 1, 1, 0, 1]);
      expect(Array.from(await d.target.data())).toEqual([0, 0, 1.5, 2, 0, 3, 1, 0, 2.5, 3, 0, 4]);
      const nr = b.targets['normals']!;
      expect([nr.target.shape, nr.mask!.shape]).toEqual([[2, 3, H, W], [2, 1, H, W]]);
      expect(Array.from(await nr.mask!.data())).toEqual([1, 0, 1, 1, 1, 1, 1, 0, 1, 1, 1, 1]);
      expect(Array.from(await nr.target.data()).slice(0, 3 * N)).toEqual(Array.from(sample(0).normals!));
      const e = b.targets['edge']!;
      expect(Array.from(await e.mask!.data()).slice(0, N)).toEqual([1, 1, 0, 1, 1, 0]);
      expect(Array.from(await e.target.data()).slice(0, N)).toEqual([0, 1, 0, 0, 1, 0]);
      const s = b.targets['sal']!;
      expect(Array.from(await s.mask!.data()).slice(0, N)).toEqual([1, 1, 0, 1, 1, 1]);
      expect(Array.from(await s.target.data()).slice(0, N)).toEqual([0.5, 0.5, 0, 0.5, 0.5, 0.5]);
    } finally {
      disposeBatch(b);
    }
    expect(b.input.disposed && b.targets['depth']!.mask!.disposed).toBe(true);
  });

  it('rejects mixed sizes, missing tasks and unknown tasks', () => {
    expect(() => collateHost([sample(0), sample(1, 3, 3)], ['semseg'])).toThrow(ShapeError);
    const { depth: _drop, ...noDepth } = sample(2);
    expect(() => collateHost([sample(0), noDepth as Sample], ['depth'])).toThrow(/sample 's2' has no 'depth'/);
    expect(() => collateHost([sample(0)], ['colour' as 'depth'])).toThrow(ArgumentError);
    expect(() => collateHost([], ['depth'])).toThrow(ArgumentError);
  });
});

describe('DataLoader', () => {
  it('serves every index exactly once per epoch, in a seeded order', async () => {
    const ds = slowDataset(10, 0);
    const a = new DataLoader(ds, { batchSize: 3, shuffle: true, seed: 7 });
    const b = new DataLoader(ds, { batchSize: 3, shuffle: true, seed: 7 });
    expect(a.length).toBe(4);
    for (const e of [0, 1, 2]) {
      expect(a.order(e)).toEqual(b.order(e));
      expect([...a.order(e)].sort((x, y) => x - y)).toEqual([...Array(10).keys()]);
    }
    expect(a.order(0)).not.toEqual(a.order(1));
    expect(new DataLoader(ds, { batchSize: 3, shuffle: true, seed: 8 }).order(0)).not.toEqual(a.order(0));
    expect(new DataLoader(ds, { batchSize: 3 }).order(0)).toEqual([...Array(10).keys()]);
    const seen: string[] = [];
    for await (const h of a.hostBatches(0)) seen.push(...h.ids);
    expect(seen).toEqual(a.order(0).map((i) => `s${i}`));
    const dropped = new DataLoader(ds, { batchSize: 3, dropLast: true });
    expect(dropped.length).toBe(3);
    let count = 0;
    for await (const h of dropped.hostBatches(0)) count += h.ids.length;
    expect(count).toBe(9);
  });

  it('yields GPU batches and counts epochs when iterated directly', async () => {
    const loader = new DataLoader(slowDataset(4, 0), { batchSize: 2, tasks: ['semseg', 'depth'] });
    for (let epoch = 0; epoch < 2; epoch++) {
      let n = 0;
      for await (const batch of loader) {
        expect(batch.input.shape).toEqual([2, 3, H, W]);
        expect(Object.keys(batch.targets)).toEqual(['semseg', 'depth']);
        disposeBatch(batch);
        n++;
      }
      expect(n).toBe(2);
    }
  });

  it('augments reproducibly, whatever the prefetch depth', async () => {
    const ds = slowDataset(6, 1);
    const aug = { flipProbability: 0.5, scale: [0.8, 1.3] as const };
    const run = async (prefetch: number): Promise<Float32Array[]> => {
      const out: Float32Array[] = [];
      for await (const h of new DataLoader(ds, { batchSize: 2, shuffle: true, seed: 3, augment: aug, prefetch }).hostBatches(1)) out.push(h.input);
      return out;
    };
    const [a, b] = [await run(0), await run(3)];
    expect(a).toEqual(b);
    const plain: Float32Array[] = [];
    for await (const h of new DataLoader(ds, { batchSize: 2, shuffle: true, seed: 3, prefetch: 0 }).hostBatches(1)) plain.push(h.input);
    expect(a).not.toEqual(plain);
  });

  it('prepares the next batches while the caller works on the current one', async () => {
    const log: string[] = [];
    const timed = async (prefetch: number, events: string[]): Promise<number> => {
      const t0 = performance.now();
      for await (const h of new DataLoader(slowDataset(10, 20, events), { batchSize: 1, prefetch }).hostBatches(0)) {
        events.push(`use ${h.ids[0]} start`);
        await new Promise((r) => setTimeout(r, 20));
        events.push(`use ${h.ids[0]} end`);
      }
      return performance.now() - t0;
    };
    const overlapped = await timed(2, log);
    // While batch k is in use, batches k+1 and k+2 have already been requested.
    for (let k = 0; k < 8; k++) {
      expect(log.indexOf(`get ${k + 1}`)).toBeLessThan(log.indexOf(`use s${k} start`));
      expect(log.indexOf(`get ${k + 2}`)).toBeLessThan(log.indexOf(`use s${k} end`));
    }
    // Serial is about 10 x (20 + 20) ms, overlapped about 10 x 20 + 20 ms; both runs share any load.
    const serialTime = await timed(0, []);
    expect(overlapped).toBeLessThan(0.8 * serialTime);
    const serial: string[] = [];
    for await (const h of new DataLoader(slowDataset(3, 0, serial), { batchSize: 1, prefetch: 0 }).hostBatches(0)) serial.push(`use ${h.ids[0]}`);
    expect(serial).toEqual(['get 0', 'use s0', 'get 1', 'use s1', 'get 2', 'use s2']);
  });

  it('surfaces a failing sample at its batch and validates options', async () => {
    const loader = new DataLoader(slowDataset(16, 0), { batchSize: 4, prefetch: 3 });
    const got: number[] = [];
    await expect((async () => {
      for await (const h of loader.hostBatches(0)) got.push(h.ids.length);
    })()).rejects.toThrow(/sample 13 is broken/);
    expect(got).toEqual([4, 4, 4]);
    expect(() => new DataLoader(slowDataset(2, 0), { batchSize: 0 })).toThrow(ArgumentError);
    expect(() => new DataLoader(slowDataset(2, 0), { batchSize: 1, prefetch: -1 })).toThrow(ArgumentError);
    const ds = { ...slowDataset(2, 0), info: { ...slowDataset(2, 0).info, tasks: ['semseg' as const] } };
    expect(() => new DataLoader(ds, { batchSize: 1, tasks: ['depth'] })).toThrow(/task 'depth' is not carried by fake/);
  });
});
