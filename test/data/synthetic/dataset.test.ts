// SyntheticScenes as a Dataset: determinism, the sample contract (shapes, dtypes, tasks), caching
// and the errors for bad arguments. Host-only: no GPU work.
import { describe, expect, it } from 'vitest';
import { ArgumentError } from '../../../src/errors.js';
import type { Sample } from '../../../src/data/sample.js';
import { SyntheticScenes, SYNTHETIC_CLASSES, IMAGE_MEAN, IMAGE_STD, sampleSeed, Rng } from '../../../src/data/synthetic/index.js';

const KEYS = ['image', 'semseg', 'depth', 'normals', 'edge', 'sal'] as const;

function bytes(a: ArrayBufferView): Buffer {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength);
}

/** True when every array of the two samples is bit-identical. */
function sameSample(a: Sample, b: Sample): boolean {
  return KEYS.every((k) => {
    const x = a[k];
    const y = b[k];
    if (!x || !y) return x === y;
    return bytes(x).equals(bytes(y));
  });
}

describe('SyntheticScenes determinism', () => {
  it('gives bit-identical samples for the same seed, index and size', async () => {
    const a = await new SyntheticScenes({ size: 48, length: 5, seed: 7 }).get(3);
    const b = await new SyntheticScenes({ size: 48, length: 5, seed: 7 }).get(3);
    expect(sameSample(a, b)).toBe(true);
    expect(a.id).toBe(b.id);
  });

  it('makes sample i independent of which other samples were generated, and in what order', () => {
    const a = new SyntheticScenes({ size: 40, length: 10, seed: 11 });
    for (const i of [0, 1, 2, 9, 5]) a.getSync(i);
    const late = a.getSync(4);
    const b = new SyntheticScenes({ size: 40, length: 10, seed: 11 });
    const first = b.getSync(4);
    expect(sameSample(late, first)).toBe(true);
    // Length does not enter either: sample 4 of a longer dataset is the same scene.
    expect(sameSample(first, new SyntheticScenes({ size: 40, length: 1000, seed: 11 }).getSync(4))).toBe(true);
  });

  it('gives different samples for different indices, seeds and splits', () => {
    const base = new SyntheticScenes({ size: 32, length: 3, seed: 1 });
    const s0 = base.getSync(0);
    expect(sameSample(s0, base.getSync(1))).toBe(false);
    expect(sameSample(s0, new SyntheticScenes({ size: 32, length: 3, seed: 2 }).getSync(0))).toBe(false);
    expect(sameSample(s0, new SyntheticScenes({ size: 32, length: 3, seed: 1, split: 'val' }).getSync(0))).toBe(false);
    expect(s0.id).not.toBe(base.getSync(1).id);
  });

  it('derives well-spread seeds and reproducible streams', () => {
    const seeds = new Set<number>();
    for (let s = 0; s < 4; s++) for (let i = 0; i < 250; i++) seeds.add(sampleSeed(s, 1, i));
    expect(seeds.size).toBe(1000);
    expect(sampleSeed(1, 1, 0)).not.toBe(sampleSeed(1, 2, 0));
    expect(sampleSeed(-1, 1, 0)).not.toBe(sampleSeed(2 ** 32 - 1, 1, 0));
    const a = new Rng(42);
    const b = new Rng(42);
    const xs = Array.from({ length: 100 }, () => a.next());
    expect(xs).toEqual(Array.from({ length: 100 }, () => b.next()));
    expect(Math.min(...xs)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...xs)).toBeLessThan(1);
    const mean = xs.reduce((s, x) => s + x, 0) / xs.length;
    expect(Math.abs(mean - 0.5)).toBeLessThan(0.1);
  });
});

describe('SyntheticScenes samples', () => {
  it.each([
    [32, 32],
    [48, 80],
    [72, 40],
  ])('follow the sample contract at %ix%i', (h, w) => {
    const ds = new SyntheticScenes({ size: [h, w], length: 2, seed: 3 });
    const s = ds.getSync(1);
    expect([s.height, s.width]).toEqual([h, w]);
    expect(s.image).toBeInstanceOf(Float32Array);
    expect(s.image.length).toBe(3 * h * w);
    expect(s.semseg).toBeInstanceOf(Int32Array);
    expect(s.semseg!.length).toBe(h * w);
    for (const k of ['depth', 'edge', 'sal'] as const) {
      expect(s[k]).toBeInstanceOf(Float32Array);
      expect(s[k]!.length).toBe(h * w);
    }
    expect(s.normals).toBeInstanceOf(Float32Array);
    expect(s.normals!.length).toBe(3 * h * w);
    expect(s.human_parts).toBeUndefined();
    expect(s.id).toBe('synthetic-scenes/train/seed3/1');
  });

  it('describes itself in info', () => {
    const ds = new SyntheticScenes({ size: 32, length: 4, seed: 0 });
    expect(ds.length).toBe(4);
    expect(ds.info.name).toBe('synthetic-scenes');
    expect(ds.info.tasks).toEqual(['semseg', 'depth', 'normals', 'edge', 'sal']);
    expect(ds.info.numClasses).toBe(6);
    expect(ds.info.classNames).toEqual(['floor', 'wall', 'ceiling', 'box', 'sphere', 'cylinder']);
    expect(ds.info.mean).toEqual(IMAGE_MEAN);
    expect(ds.info.std).toEqual(IMAGE_STD);
  });

  it('normalises images with the stated mean and std', () => {
    const ds = new SyntheticScenes({ size: 32, length: 1, seed: 5 });
    const s = ds.getSync(0);
    const raw = ds.render(0).rgb;
    const n = 32 * 32;
    let lo = Infinity;
    let hi = -Infinity;
    for (let c = 0; c < 3; c++) {
      for (let p = 0; p < n; p++) {
        const x = s.image[c * n + p]! * ds.info.std[c] + ds.info.mean[c];
        expect(x).toBeCloseTo(raw[c * n + p]!, 5);
        lo = Math.min(lo, raw[c * n + p]!);
        hi = Math.max(hi, raw[c * n + p]!);
      }
    }
    expect(lo).toBeGreaterThanOrEqual(0);
    expect(hi).toBeLessThanOrEqual(1);
    expect(hi - lo).toBeGreaterThan(0.2); // not a blank image
  });

  it('carries only the tasks asked for, and the same data for them', () => {
    const all = new SyntheticScenes({ size: 32, length: 2, seed: 9 }).getSync(1);
    const ds = new SyntheticScenes({ size: 32, length: 2, seed: 9, tasks: ['sal', 'depth'] });
    const some = ds.getSync(1);
    expect(ds.info.tasks).toEqual(['depth', 'sal']);
    expect(some.semseg).toBeUndefined();
    expect(some.normals).toBeUndefined();
    expect(some.edge).toBeUndefined();
    expect(bytes(some.depth!).equals(bytes(all.depth!))).toBe(true);
    expect(bytes(some.sal!).equals(bytes(all.sal!))).toBe(true);
    expect(bytes(some.image).equals(bytes(all.image))).toBe(true);
  });

  it('returns cached samples only when asked to cache', async () => {
    const cached = new SyntheticScenes({ size: 32, length: 2, seed: 1, cache: true });
    expect(await cached.get(0)).toBe(await cached.get(0));
    const plain = new SyntheticScenes({ size: 32, length: 2, seed: 1 });
    const a = await plain.get(0);
    const b = await plain.get(0);
    expect(a).not.toBe(b);
    expect(sameSample(a, b)).toBe(true);
  });

  it('shows every class somewhere in a few dozen scenes', () => {
    const ds = new SyntheticScenes({ size: 32, length: 40, seed: 123 });
    const seen = new Set<number>();
    for (let i = 0; i < ds.length; i++) for (const c of ds.getSync(i).semseg!) seen.add(c);
    expect([...seen].sort()).toEqual(SYNTHETIC_CLASSES.map((_, i) => i));
  });
});

describe('SyntheticScenes bad arguments', () => {
  const ok = { size: 32, length: 3, seed: 0 } as const;

  it.each([
    ['size below 32', { ...ok, size: 31 }, /height \(size\) must be an integer >= 32, got 31/],
    ['width below 32', { ...ok, size: [64, 20] as const }, /width \(size\) must be an integer >= 32, got 20/],
    ['fractional size', { ...ok, size: 40.5 }, /height/],
    ['size of the wrong form', { ...ok, size: [32, 32, 32] as unknown as [number, number] }, /size must be a number or \[height, width\]/],
    ['non-integer length', { ...ok, length: 2.5 }, /length must be an integer >= 1, got 2.5/],
    ['zero length', { ...ok, length: 0 }, /length must be an integer >= 1/],
    ['non-integer seed', { ...ok, seed: 0.5 }, /seed must be an integer/],
    ['unknown split', { ...ok, split: 'test' as 'val' }, /split must be 'train' or 'val'/],
    ['unknown task', { ...ok, tasks: ['human_parts' as 'sal'] }, /unknown task 'human_parts'/],
  ])('rejects a %s', (_name, opts, message) => {
    expect(() => new SyntheticScenes(opts)).toThrow(ArgumentError);
    expect(() => new SyntheticScenes(opts)).toThrow(message);
  });

  it('rejects an index out of range', async () => {
    const ds = new SyntheticScenes(ok);
    await expect(ds.get(3)).rejects.toThrow(ArgumentError);
    await expect(ds.get(3)).rejects.toThrow(/index 3 is out of range for a dataset of length 3/);
    await expect(ds.get(-1)).rejects.toThrow(ArgumentError);
    await expect(ds.get(1.5)).rejects.toThrow(ArgumentError);
    expect(() => ds.scene(3)).toThrow(ArgumentError);
  });
});
