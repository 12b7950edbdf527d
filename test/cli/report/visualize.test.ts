// Host-only tests of the prediction colouring and PNG encoding (src/io/visualize.ts).
import { describe, expect, it } from 'vitest';
import { decode } from 'fast-png';
import {
  classColor,
  depthRange,
  depthToRgba,
  encodePng,
  imageToRgba,
  labelsToRgba,
  normalsToRgba,
  probToRgba,
  viridis,
} from '../../../src/io/visualize.js';
import { ArgumentError } from '../../../src/errors.js';

const px = (d: Uint8ClampedArray, p: number): number[] => Array.from(d.subarray(4 * p, 4 * p + 4));

describe('imageToRgba', () => {
  it('undoes (rgb/255 - mean) / std exactly', () => {
    const mean = [0.485, 0.456, 0.406];
    const std = [0.229, 0.224, 0.225];
    const rgb = [
      [0, 128, 255],
      [10, 200, 77],
    ]; // two pixels (h=1, w=2)
    const chw = new Float32Array(6);
    for (let c = 0; c < 3; c++) for (let p = 0; p < 2; p++) chw[c * 2 + p] = (rgb[p]![c]! / 255 - mean[c]!) / std[c]!;
    const img = imageToRgba(chw, 1, 2, mean, std);
    expect([img.width, img.height]).toEqual([2, 1]);
    expect(px(img.data, 0)).toEqual([0, 128, 255, 255]);
    expect(px(img.data, 1)).toEqual([10, 200, 77, 255]);
  });

  it('clamps out-of-range values and shows one channel as grey', () => {
    const img = imageToRgba(new Float32Array([-5, 0.5, 9]), 1, 3, [0], [1]);
    expect(px(img.data, 0)).toEqual([0, 0, 0, 255]);
    expect(px(img.data, 1)).toEqual([128, 128, 128, 255]);
    expect(px(img.data, 2)).toEqual([255, 255, 255, 255]);
  });

  it('rejects a size mismatch', () => {
    expect(() => imageToRgba(new Float32Array(5), 1, 2, [0, 0, 0], [1, 1, 1])).toThrow(ArgumentError);
  });
});

describe('labelsToRgba', () => {
  it('uses the VOC colour map shifted by one, ignore = black', () => {
    expect(classColor(0)).toEqual([128, 0, 0]); // VOC index 1 (aeroplane)
    expect(classColor(1)).toEqual([0, 128, 0]);
    expect(classColor(2)).toEqual([128, 128, 0]);
    expect(classColor(6)).toEqual([128, 128, 128]);
    expect(classColor(7)).toEqual([64, 0, 0]);
    const img = labelsToRgba(new Int32Array([0, 1, 255, 2]), 2, 2, 3);
    expect(px(img.data, 0)).toEqual([128, 0, 0, 255]);
    expect(px(img.data, 1)).toEqual([0, 128, 0, 255]);
    expect(px(img.data, 2)).toEqual([0, 0, 0, 255]);
    expect(px(img.data, 3)).toEqual([128, 128, 0, 255]);
  });

  it('gives distinct colours to many classes, none black', () => {
    const keys = new Set<string>();
    for (let c = 0; c < 1000; c++) keys.add(classColor(c).join(','));
    expect(keys.size).toBe(1000);
    expect(keys.has('0,0,0')).toBe(false);
  });

  it('names a label out of range', () => {
    expect(() => labelsToRgba(new Int32Array([0, 7]), 1, 2, 3)).toThrow(/label 7 at \(y=0, x=1\)/);
    expect(() => labelsToRgba(new Int32Array([-1, 0]), 1, 2, 3, -1)).not.toThrow();
  });
});

describe('depthToRgba', () => {
  it('maps min/max to the ends of viridis, clamps, and blacks out invalid depths', () => {
    expect(viridis(0)).toEqual([68, 1, 84]);
    expect(viridis(1)).toEqual([253, 231, 37]);
    expect(viridis(0.5)).toEqual([35, 144, 140]); // halfway between samples 4 and 5
    const d = new Float32Array([1, 3, 2, 0, NaN, 10, 0.5, -1]);
    const img = depthToRgba(d, 2, 4, { min: 1, max: 3 });
    expect(px(img.data, 0)).toEqual([68, 1, 84, 255]);
    expect(px(img.data, 1)).toEqual([253, 231, 37, 255]);
    expect(px(img.data, 2)).toEqual([35, 144, 140, 255]);
    expect(px(img.data, 3)).toEqual([0, 0, 0, 255]);
    expect(px(img.data, 4)).toEqual([0, 0, 0, 255]);
    expect(px(img.data, 5)).toEqual([253, 231, 37, 255]);
    expect(px(img.data, 6)).toEqual([68, 1, 84, 255]);
    expect(px(img.data, 7)).toEqual([0, 0, 0, 255]);
  });

  it('finds a shared range over valid values', () => {
    expect(depthRange(new Float32Array([0, 2, NaN]), new Float32Array([5, -1]))).toEqual({ min: 2, max: 5 });
    expect(depthRange(new Float32Array([0]))).toEqual({ min: 0, max: 1 });
  });
});

describe('normalsToRgba and probToRgba', () => {
  it('maps (n + 1) / 2 and zero vectors to black', () => {
    // three pixels: +x, -z, zero
    const chw = new Float32Array([1, 0, 0, 0, 0, 0, 0, -1, 0]);
    const img = normalsToRgba(chw, 1, 3);
    expect(px(img.data, 0)).toEqual([255, 128, 128, 255]);
    expect(px(img.data, 1)).toEqual([128, 128, 0, 255]);
    expect(px(img.data, 2)).toEqual([0, 0, 0, 255]);
  });

  it('shows probabilities as grey levels', () => {
    const img = probToRgba(new Float32Array([0, 0.5, 1, 2]), 2, 2);
    expect([0, 1, 2, 3].map((p) => px(img.data, p))).toEqual([
      [0, 0, 0, 255],
      [128, 128, 128, 255],
      [255, 255, 255, 255],
      [255, 255, 255, 255],
    ]);
  });
});

describe('encodePng', () => {
  it('round-trips through fast-png decode', () => {
    const img = labelsToRgba(new Int32Array([0, 1, 2, 3, 4, 255]), 2, 3, 5);
    const png = encodePng(img.data, img.width, img.height);
    expect(Array.from(png.subarray(0, 4))).toEqual([0x89, 0x50, 0x4e, 0x47]);
    const back = decode(png);
    expect([back.width, back.height, back.channels, back.depth]).toEqual([3, 2, 4, 8]);
    expect(Array.from(back.data)).toEqual(Array.from(img.data));
  });

  it('rejects a buffer of the wrong size', () => {
    expect(() => encodePng(new Uint8ClampedArray(10), 2, 2)).toThrow(ArgumentError);
  });
});
