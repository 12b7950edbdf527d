import { describe, expect, it } from 'vitest';
import {
  NYUD_TRAIN_AUGMENT, PASCAL_TRAIN_AUGMENT, augment, cropSample, flipSample, resizeSample, scaleRotateSample,
} from '../../../src/data/augment.js';
import type { Sample } from '../../../src/data/sample.js';
import { Generator } from '../../../src/tensor/random.js';

/** A sample whose every key encodes the pixel position, so moves are easy to check. */
function scene(h: number, w: number): Sample {
  const n = h * w;
  const image = new Float32Array(3 * n);
  const normals = new Float32Array(3 * n);
  for (let p = 0; p < n; p++) {
    for (let c = 0; c < 3; c++) image[c * n + p] = p + c * 1000;
    // Unit normals with distinct x and y (a few zero = no ground truth).
    const a = (p * 0.7) % 6.28;
    if (p % 9 !== 4) [normals[p], normals[n + p], normals[2 * n + p]] = [0.6 * Math.cos(a), 0.6 * Math.sin(a), 0.8];
  }
  return {
    id: 's', height: h, width: w, image, normals,
    semseg: Int32Array.from({ length: n }, (_, p) => p % 40),
    human_parts: Int32Array.from({ length: n }, (_, p) => p % 7),
    depth: Float32Array.from({ length: n }, (_, p) => 1 + p),
    edge: Float32Array.from({ length: n }, (_, p) => p % 2),
    sal: Float32Array.from({ length: n }, (_, p) => (p % 3 === 0 ? 1 : 0)),
  };
}

const at = (a: ArrayLike<number>, c: number, y: number, x: number, h: number, w: number): number => a[(c * h + y) * w + x]!;

describe('augmentation', () => {
  it('flip mirrors every key the same way and negates the normals\' x only', () => {
    const h = 3, w = 5, s = scene(h, w), f = flipSample(s);
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        const m = w - 1 - x;
        for (let c = 0; c < 3; c++) expect(at(f.image, c, y, x, h, w)).toBe(at(s.image, c, y, m, h, w));
        for (const k of ['semseg', 'human_parts', 'depth', 'edge', 'sal'] as const) expect(at(f[k]!, 0, y, x, h, w)).toBe(at(s[k]!, 0, y, m, h, w));
        expect(at(f.normals!, 0, y, x, h, w)).toBe(-at(s.normals!, 0, y, m, h, w) + 0);
        expect(at(f.normals!, 1, y, x, h, w)).toBe(at(s.normals!, 1, y, m, h, w));
        expect(at(f.normals!, 2, y, x, h, w)).toBe(at(s.normals!, 2, y, m, h, w));
      }
    }
    expect(augment(s, { flipProbability: 1 }, new Generator(1))).toEqual(f);
    expect(augment(s, { flipProbability: 0 }, new Generator(1))).toBe(s);
  });

  it('zooming out pads labels with 255, depth and normals with 0, and divides depth by the zoom', () => {
    const h = 8, w = 8, s = scene(h, w);
    const z = scaleRotateSample(s, 0.5, 0);
    // Source of output (x, y) is ((x - 4) * 2 + 4, ...): outside for x = 0, 1 and 6, 7.
    expect(at(z.semseg!, 0, 0, 0, h, w)).toBe(255);
    expect(at(z.edge!, 0, 7, 7, h, w)).toBe(255);
    expect(at(z.sal!, 0, 0, 7, h, w)).toBe(255);
    expect(at(z.human_parts!, 0, 7, 0, h, w)).toBe(255);
    expect(at(z.depth!, 0, 0, 0, h, w)).toBe(0);
    expect([0, 1, 2].map((c) => at(z.normals!, c, 0, 0, h, w))).toEqual([0, 0, 0]);
    // Inside: (x, y) = (3, 2) reads source (2, 0) exactly.
    expect(at(z.semseg!, 0, 2, 3, h, w)).toBe(at(s.semseg!, 0, 0, 2, h, w));
    expect(at(z.depth!, 0, 2, 3, h, w)).toBeCloseTo(at(s.depth!, 0, 0, 2, h, w) / 0.5, 5);
    const zin = scaleRotateSample(s, 2, 0);
    expect(at(zin.depth!, 0, 4, 4, h, w)).toBeCloseTo(at(s.depth!, 0, 4, 4, h, w) / 2, 5);
    expect(zin.semseg!.includes(255)).toBe(false);
  });

  it('rotation turns labels and normals together (survey convention)', () => {
    const h = 6, w = 6, s = scene(h, w), r = scaleRotateSample(s, 1, 90);
    // 90 degrees counter-clockwise about (3, 3): output (x, y) reads source (3 - (y - 3), 3 + (x - 3)).
    for (let y = 1; y < h; y++) for (let x = 0; x < w - 1; x++) {
      expect(at(r.semseg!, 0, y, x, h, w)).toBe(at(s.semseg!, 0, x, 6 - y, h, w));
    }
    // A normal (nx, ny) becomes (ny, -nx) for +90 degrees: in-plane angle shifted as the survey does.
    const [sx, sy] = [6 - 2, 3]; // source of output (3, 2)
    const n = h * w;
    const src = [s.normals![sy * w + sx]!, s.normals![n + sy * w + sx]!];
    expect(r.normals![2 * w + 3]).toBeCloseTo(src[1]!, 5);
    expect(r.normals![n + 2 * w + 3]).toBeCloseTo(-src[0]!, 5);
  });

  it('resize uses nearest for labels and keeps normals unit length', () => {
    const s = scene(3, 4), r = resizeSample(s, 6, 8);
    expect([r.height, r.width]).toEqual([6, 8]);
    for (let y = 0; y < 6; y++) for (let x = 0; x < 8; x++) expect(at(r.semseg!, 0, y, x, 6, 8)).toBe(at(s.semseg!, 0, y >> 1, x >> 1, 3, 4));
    const n = 48;
    for (let p = 0; p < n; p++) {
      const len = Math.hypot(r.normals![p]!, r.normals![n + p]!, r.normals![2 * n + p]!);
      if (len > 0) expect(len).toBeCloseTo(1, 5);
    }
  });

  it('crop takes a window and pads outside the sample with each key\'s fill', () => {
    const s = scene(4, 4);
    const c = cropSample(s, 1, 2, 2, 2);
    expect(Array.from(c.semseg!)).toEqual([6, 7, 10, 11]);
    const p = cropSample(s, -1, -1, 6, 6);
    expect(at(p.semseg!, 0, 0, 0, 6, 6)).toBe(255);
    expect(at(p.edge!, 0, 5, 5, 6, 6)).toBe(255);
    expect(at(p.depth!, 0, 0, 3, 6, 6)).toBe(0);
    expect(at(p.image, 1, 0, 0, 6, 6)).toBe(0);
    expect(at(p.semseg!, 0, 1, 1, 6, 6)).toBe(0);
    const g = augment(s, { crop: [6, 7] }, new Generator(3));
    expect([g.height, g.width]).toEqual([6, 7]);
    expect(g.semseg!.filter((v) => v !== 255).length).toBe(16);
  });

  it('is deterministic given the generator state, and varies with the seed', () => {
    const s = scene(10, 12);
    const opts = { ...PASCAL_TRAIN_AUGMENT, resize: [8, 8] as const };
    expect(augment(s, opts, new Generator(42))).toEqual(augment(s, opts, new Generator(42)));
    const outs = [1, 2, 3, 4, 5].map((seed) => JSON.stringify(Array.from(augment(s, opts, new Generator(seed)).semseg!)));
    expect(new Set(outs).size).toBeGreaterThan(1);
    const ny = augment(s, NYUD_TRAIN_AUGMENT, new Generator(7));
    expect([ny.height, ny.width]).toEqual([480, 640]);
  });
});
