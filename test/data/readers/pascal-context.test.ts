import { mkdtempSync, readFileSync, rmSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DatasetError } from '../../../src/data/errors.js';
import { PascalContextDataset } from '../../../src/data/pascal-context.js';
import { laplacianNonZero, labelMapEdges, thin } from '../../../src/data/pascal-edges.js';
import { colMajor, double2d, jpeg, mat, npy, png, put, python, type MatIn } from './writers.js';

const H = 6;
const W = 8;
const N = H * W;
const VOC_PALETTE = Array.from({ length: 256 }, (_, i) => [i, 255 - i, (i * 7) % 256]);

/** Label map: bed (18, valid for normals) left, aeroplane (2, invalid) right, wall (440, valid) bottom row. */
const labelMap = Array.from({ length: N }, (_, p) => (Math.floor(p / W) === H - 1 ? 440 : p % W < 4 ? 18 : 2));
const mask = (f: (y: number, x: number) => boolean): MatIn => ({
  kind: 'uint8', logical: true, dims: [H, W], data: colMajor(Array.from({ length: N }, (_, p) => (f(Math.floor(p / W), p % W) ? 1 : 0)), H, W),
});
const partsOf = (names: string[], masks: MatIn[]): MatIn => ({
  kind: 'struct', dims: [1, names.length], fields: ['part_name', 'mask'],
  elements: names.map((n, i) => ({ part_name: { kind: 'char', text: n }, mask: masks[i]! })),
});
const object = (cls: string, ind: number, parts: MatIn): Record<string, MatIn> => ({
  class: { kind: 'char', text: cls }, class_ind: { kind: 'double', dims: [1, 1], data: [ind] }, mask: mask(() => true), parts,
});
function anno(objects: Record<string, MatIn>[]): Record<string, MatIn> {
  return { anno: { kind: 'struct', dims: [1, 1], fields: ['imname', 'objects'], elements: [{ imname: { kind: 'char', text: 'x' }, objects: { kind: 'struct', dims: [1, objects.length], fields: ['class', 'class_ind', 'mask', 'parts'], elements: objects } }] } };
}
const normalsRgb = Uint8Array.from({ length: N * 3 }, (_, i) => (i * 11) % 256);
const salGrey = Uint8Array.from({ length: N }, (_, p) => [0, 127, 128, 255][p % 4]!);

function build(root: string): void {
  put(join(root, 'ImageSets', 'Context', 'train.txt'), 'a\nb\n');
  put(join(root, 'ImageSets', 'Context', 'val.txt'), 'b\n');
  for (const id of ['a', 'b']) {
    put(join(root, 'JPEGImages', `${id}.jpg`), jpeg(W, H, new Uint8Array(N * 3).fill(90)));
    put(join(root, 'pascal-context', 'trainval', `${id}.mat`), mat({ LabelMap: double2d(labelMap, H, W) }, id === 'b'));
    put(join(root, 'normals_distill', `${id}.png`), png(W, H, 3, normalsRgb));
    put(join(root, 'sal_distill', `${id}.png`), png(W, H, 1, salGrey));
  }
  const seg = (v: (p: number) => number): Uint8Array => Uint8Array.from({ length: N }, (_, p) => v(p));
  put(join(root, 'semseg', 'VOC12', 'a.png'), png(W, H, 1, seg((p) => (p % 3 === 0 ? 255 : p % 21)), VOC_PALETTE));
  put(join(root, 'semseg', 'pascal-context', 'a.png'), png(W, H, 1, seg(() => 7), VOC_PALETTE));
  put(join(root, 'semseg', 'pascal-context', 'b.png'), png(W, H, 1, seg((p) => p % 5), VOC_PALETTE));
  // a: a person with head (row 0), torso (row 1), luarm (row 2) and llleg (row 3), plus a dog without parts.
  const rows = ['head', 'torso', 'luarm', 'llleg'];
  put(join(root, 'human_parts', 'a.mat'), mat(anno([
    object('person', 15, partsOf(rows, rows.map((_, r) => mask((y) => y === r)))),
    object('dog', 12, { kind: 'empty' }),
  ]), true));
  put(join(root, 'human_parts', 'b.mat'), mat(anno([object('dog', 12, { kind: 'empty' })])));
}

describe('PascalContextDataset', () => {
  let root: string;
  beforeAll(() => {
    root = mkdtempSync(join(tmpdir(), 'webmtl-pascal-'));
    build(root);
  });
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  it('reads every task with the survey remaps', async () => {
    const ds = await PascalContextDataset.open(root);
    expect(ds.length).toBe(2);
    expect(ds.info).toMatchObject({ name: 'pascal-context', numClasses: 21, numParts: 7 });
    const a = await ds.get(0);
    // semseg: VOC12 preferred over pascal-context, values (and 255) as stored.
    expect(Array.from(a.semseg!)).toEqual(Array.from({ length: N }, (_, p) => (p % 3 === 0 ? 255 : p % 21)));
    // human parts, 6-part grouping: head 1, torso 2, luarm 3, llleg 6, background 0.
    expect(Array.from(a.human_parts!)).toEqual(Array.from({ length: N }, (_, p) => [1, 2, 3, 6][Math.floor(p / W)] ?? 0));
    // normals: 2 v / 255 - 1 where the label map class is one NYU also has, else 0.
    for (let p = 0; p < N; p++) {
      const valid = labelMap[p] !== 2;
      for (let c = 0; c < 3; c++) expect(a.normals![c * N + p]).toBe(valid ? Math.fround((2 * normalsRgb[p * 3 + c]!) / 255 - 1) : 0);
    }
    expect(Array.from(a.sal!)).toEqual(Array.from(salGrey, (v) => (v > 127.5 ? 1 : 0)));
    expect(Array.from(a.edge!)).toEqual(Array.from(labelMapEdges(labelMap, H, W)));
    expect(a.edge!.some((v) => v === 1)).toBe(true);
    const b = await ds.get(1);
    expect(Array.from(b.semseg!)).toEqual(Array.from({ length: N }, (_, p) => p % 5));
    expect(b.human_parts!.every((v) => v === 255)).toBe(true); // no person: all ignored
    expect(Array.from(b.edge!)).toEqual(Array.from(a.edge!)); // same label map, compressed .mat
  });

  it('supports the 14-part grouping and human-parts-only filtering', async () => {
    const ds = await PascalContextDataset.open(root, { tasks: ['human_parts'], numHumanParts: 14 });
    expect(ds.ids).toEqual(['a']); // b has no person, left out as the survey does
    expect(ds.info.numParts).toBe(15);
    const a = await ds.get(0);
    expect(Array.from(a.human_parts!.filter((_, p) => p % W === 0))).toEqual([1, 2, 6, 13, 0, 0]);
    // The survey's ImageSets/Parts cache, when present, decides instead of the .mat files.
    put(join(root, 'ImageSets', 'Parts', 'train.txt'), JSON.stringify({ a: [15, 12], b: [15] }));
    expect((await PascalContextDataset.open(root, { tasks: ['human_parts'] })).ids).toEqual(['a', 'b']);
    unlinkSync(join(root, 'ImageSets', 'Parts', 'train.txt'));
  });

  it('fails at open naming the missing folder or file, and get() naming the bad file', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'webmtl-pascal-bad-'));
    try {
      build(dir);
      unlinkSync(join(dir, 'semseg', 'pascal-context', 'b.png'));
      await expect(PascalContextDataset.open(dir, { tasks: ['semseg'] })).rejects.toThrow(/semseg\/pascal-context\/b\.png: file not found/);
      expect((await PascalContextDataset.open(dir, { tasks: ['sal'] })).length).toBe(2);
      rmSync(join(dir, 'sal_distill'), { recursive: true });
      await expect(PascalContextDataset.open(dir, { tasks: ['sal'] })).rejects.toThrow(DatasetError);
      put(join(dir, 'pascal-context', 'trainval', 'a.mat'), mat({ Other: double2d([1], 1, 1) }));
      put(join(dir, 'human_parts', 'a.mat'), mat(anno([object('person', 15, partsOf(['tail'], [mask(() => true)]))])));
      const ds = await PascalContextDataset.open(dir, { tasks: ['edge', 'human_parts'] });
      const err = await ds.get(0).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(DatasetError);
      expect((err as Error).message).toMatch(/(trainval\/a\.mat: LabelMap: expected a 2-D numeric array)|(human_parts\/a\.mat: unknown human part 'tail')/);
      const full = readFileSync(join(dir, 'pascal-context', 'trainval', 'b.mat'));
      put(join(dir, 'pascal-context', 'trainval', 'b.mat'), full.subarray(0, 150));
      await expect(ds.get(1)).rejects.toThrow(/trainval\/b\.mat: /);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('PASCAL edge derivation', () => {
  it('computes the 4-neighbour Laplacian with reflect-101 borders', () => {
    expect(Array.from(laplacianNonZero([0, 0, 0, 0, 1, 0, 0, 0, 0], 3, 3))).toEqual([0, 1, 0, 1, 1, 1, 0, 1, 0]);
    expect(Array.from(laplacianNonZero(new Array(12).fill(5), 3, 4)).every((v) => v === 0)).toBe(true);
    // A label step between columns 1 and 2 marks both columns; reflect-101 keeps the borders quiet.
    expect(Array.from(laplacianNonZero([1, 1, 2, 2], 1, 4))).toEqual([0, 1, 1, 0]);
  });

  it('thinning keeps one-pixel lines and removes a thick block down to a skeleton', () => {
    const line = Uint8Array.from({ length: 25 }, (_, p) => (p % 5 === 2 ? 1 : 0));
    expect(Array.from(thin(line.slice(), 5, 5))).toEqual(Array.from(line));
    const block = new Uint8Array(49);
    for (let y = 1; y < 6; y++) for (let x = 1; x < 6; x++) block[y * 7 + x] = 1;
    const t = thin(block.slice(), 7, 7);
    expect(t.reduce((a, b) => a + b, 0)).toBeLessThan(6);
    expect(t.reduce((a, b) => a + b, 0)).toBeGreaterThan(0);
  });

  it('matches skimage thin(|scipy laplace, mode=mirror| > 0)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'webmtl-edge-'));
    try {
      const h = 40;
      const w = 50;
      for (let seed = 0; seed < 3; seed++) {
        // Blobby label maps: a few rectangles of random labels.
        let s = seed * 9973 + 1;
        const rnd = (): number => ((s = (s * 1103515245 + 12345) % 2147483648) / 2147483648);
        const lm = new Array<number>(h * w).fill(0);
        for (let r = 0; r < 8; r++) {
          const y0 = Math.floor(rnd() * h), x0 = Math.floor(rnd() * w), hh = 3 + Math.floor(rnd() * 15), ww = 3 + Math.floor(rnd() * 15), v = 1 + Math.floor(rnd() * 400);
          for (let y = y0; y < Math.min(h, y0 + hh); y++) for (let x = x0; x < Math.min(w, x0 + ww); x++) lm[y * w + x] = v;
        }
        put(join(dir, `lm${seed}.npy`), npy('<i4', [h, w], lm));
        const out = python('numpy, scipy.ndimage, skimage.morphology', `
import numpy as np, sys
from scipy import ndimage
from skimage.morphology import thin
lm = np.load(sys.argv[1]).astype(np.float64)
e = thin(np.abs(ndimage.laplace(lm, mode='mirror')) > 0)
print(''.join('1' if v else '0' for v in e.ravel()))
`, join(dir, `lm${seed}.npy`));
        expect(Array.from(labelMapEdges(lm, h, w)).join('')).toBe(out.trim());
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
