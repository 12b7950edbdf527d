import { mkdtempSync, rmSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DatasetError } from '../../../src/data/errors.js';
import { IMAGENET_MEAN, IMAGENET_STD, NyudDataset } from '../../../src/data/nyud.js';
import { decodeJpeg, normalizeRgb, toRgb } from '../../../src/io/image.js';
import { jpeg, npy, png, put } from './writers.js';

const H = 6;
const W = 8;
const N = H * W;
const ids = ['0001', '0002', '0003'];

/** Deterministic per-sample content. */
function content(k: number) {
  const rgb = Uint8Array.from({ length: N * 3 }, (_, i) => (i * 7 + k * 50) % 256);
  const seg = Uint8Array.from({ length: N }, (_, p) => (p + k) % 41); // 0..40, 0 = unlabelled
  const depth = Array.from({ length: N }, (_, p) => (p % 5 === 0 ? 0 : 0.5 + p * 0.1 + k));
  depth[3] = NaN;
  const normalsHwc: number[] = [];
  for (let p = 0; p < N; p++) normalsHwc.push(p % 7 === 0 ? 0 : 0.6, p % 7 === 0 ? 0 : -0.8, 0);
  const edge = Array.from({ length: N }, (_, p) => (p % 3 === 0 ? 1 : 0));
  return { rgb, seg, depth, normalsHwc, edge };
}

function build(root: string): void {
  put(join(root, 'gt_sets', 'train.txt'), ids.join('\n') + '\n');
  put(join(root, 'gt_sets', 'val.txt'), '0003\n');
  ids.forEach((id, k) => {
    const c = content(k);
    put(join(root, 'images', `${id}.jpg`), jpeg(W, H, c.rgb));
    put(join(root, 'segmentation', `${id}.png`), png(W, H, 1, c.seg));
    put(join(root, 'depth', `${id}.npy`), npy('<f4', [H, W], c.depth));
    put(join(root, 'normals', `${id}.npy`), npy('<f4', [H, W, 3], c.normalsHwc));
    put(join(root, 'edge', `${id}.npy`), npy('<f8', [H, W], c.edge));
  });
}

describe('NyudDataset', () => {
  let root: string;
  beforeAll(() => {
    root = mkdtempSync(join(tmpdir(), 'webmtl-nyud-'));
    build(root);
  });
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  it('reads every task with the survey remaps and ImageNet normalisation', async () => {
    const ds = await NyudDataset.open(root, { split: 'train' });
    expect(ds.length).toBe(3);
    expect(ds.info).toMatchObject({ name: 'nyud', numClasses: 40, tasks: ['semseg', 'depth', 'normals', 'edge'] });
    expect(ds.info.classNames).toHaveLength(40);
    for (let k = 0; k < 3; k++) {
      const s = await ds.get(k);
      const c = content(k);
      expect([s.id, s.height, s.width]).toEqual([ids[k], H, W]);
      const decoded = toRgb(decodeJpeg(jpeg(W, H, c.rgb)));
      expect(Array.from(s.image)).toEqual(Array.from(normalizeRgb(decoded, W, H, IMAGENET_MEAN, IMAGENET_STD)));
      // Spot-check the formula itself on pixel 0, channel 1.
      expect(s.image[N]!).toBeCloseTo((decoded[1]! / 255 - 0.456) / 0.224, 5);
      expect(Array.from(s.semseg!)).toEqual(Array.from(c.seg, (v) => (v === 0 ? 255 : v - 1)));
      expect(s.semseg!.some((v) => v === 39)).toBe(true);
      expect(Array.from(s.depth!)).toEqual(c.depth.map((v) => (Number.isNaN(v) ? 0 : Math.fround(v))));
      for (let p = 0; p < N; p++) {
        for (let ch = 0; ch < 3; ch++) expect(s.normals![ch * N + p]).toBe(Math.fround(c.normalsHwc[p * 3 + ch]!));
      }
      expect(Array.from(s.edge!)).toEqual(c.edge);
    }
    const val = await NyudDataset.open(root, { split: 'val', tasks: ['depth'] });
    expect(val.length).toBe(1);
    const v = await val.get(0);
    expect(v.id).toBe('0003');
    expect(v.semseg).toBeUndefined();
    expect(v.depth).toBeDefined();
  });

  it('resizes ground truth of another size to the image with nearest neighbours', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'webmtl-nyud-small-'));
    try {
      put(join(dir, 'gt_sets', 'train.txt'), 'a\n');
      put(join(dir, 'images', 'a.jpg'), jpeg(W, H, new Uint8Array(N * 3)));
      // [3, 4] labels 1..12 -> image [6, 8]: each source pixel covers a 2x2 block.
      put(join(dir, 'segmentation', 'a.png'), png(4, 3, 1, Uint8Array.from({ length: 12 }, (_, i) => i + 1)));
      const s = await (await NyudDataset.open(dir, { tasks: ['semseg'] })).get(0);
      const want = Array.from({ length: N }, (_, p) => Math.floor(Math.floor(p / W) / 2) * 4 + Math.floor((p % W) / 2));
      expect(Array.from(s.semseg!)).toEqual(want);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('fails at open, naming the folder or file, when something is missing', async () => {
    await expect(NyudDataset.open(join(root, 'nope'))).rejects.toThrow(/nope: folder not found/);
    await expect(NyudDataset.open(root, { split: 'test' as 'val' })).rejects.toThrow(/gt_sets\/test\.txt: file not found/);
    const dir = mkdtempSync(join(tmpdir(), 'webmtl-nyud-miss-'));
    try {
      build(dir);
      unlinkSync(join(dir, 'edge', '0002.npy'));
      const err = await NyudDataset.open(dir).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(DatasetError);
      expect((err as DatasetError).path).toBe(join(dir, 'edge', '0002.npy'));
      // Without the edge task the same folder opens.
      expect((await NyudDataset.open(dir, { tasks: ['semseg', 'depth'] })).length).toBe(3);
      rmSync(join(dir, 'normals'), { recursive: true });
      await expect(NyudDataset.open(dir, { tasks: ['normals'] })).rejects.toThrow(/normals: folder not found/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('rejects get() with an error naming the file for truncated or malformed data', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'webmtl-nyud-bad-'));
    try {
      build(dir);
      const depth = npy('<f4', [H, W], new Array(N).fill(1));
      put(join(dir, 'depth', '0001.npy'), depth.subarray(0, depth.length - 8));
      put(join(dir, 'normals', '0002.npy'), npy('<f4', [H, W], new Array(N).fill(0)));
      put(join(dir, 'segmentation', '0003.png'), png(W, H, 3, new Uint8Array(N * 3)));
      const ds = await NyudDataset.open(dir);
      const e0 = await ds.get(0).catch((e: unknown) => e);
      expect(e0).toBeInstanceOf(DatasetError);
      expect((e0 as Error).message).toMatch(/depth\/0001\.npy: truncated \.npy data/);
      await expect(ds.get(1)).rejects.toThrow(/normals\/0002\.npy: normals should be a \[H, W, 3\] array/);
      await expect(ds.get(2)).rejects.toThrow(/segmentation\/0003\.png: expected a single-channel/);
      put(join(dir, 'depth', '0001.npy'), new TextEncoder().encode('not numpy at all'));
      await expect(ds.get(0)).rejects.toThrow(/depth\/0001\.npy: not a \.npy file/);
      await expect(ds.get(3)).rejects.toThrow(/outside \[0, 3\)/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
