import { describe, expect, it } from 'vitest';
import { encode as encodePng } from 'fast-png';
import { decodeImage, decodeJpeg, decodePng, normalizeRgb, toRgb, toSingleChannel } from '../../src/io/image.js';
import { jpeg, png } from '../data/readers/writers.js';

describe('image decoding', () => {
  it('decodes grey and RGB PNGs exactly', () => {
    const grey = Uint8Array.from([0, 1, 40, 255, 7, 9]);
    const g = decodePng(png(3, 2, 1, grey), 'g.png');
    expect([g.width, g.height, g.channels, g.indexed]).toEqual([3, 2, 1, false]);
    expect(Array.from(toSingleChannel(g, 'g.png'))).toEqual(Array.from(grey));
    expect(Array.from(toRgb(g)).slice(0, 6)).toEqual([0, 0, 0, 1, 1, 1]);
    const rgb = Uint8Array.from({ length: 18 }, (_, i) => i * 13);
    const c = decodeImage(png(3, 2, 3, rgb), 'c.png');
    expect(Array.from(toRgb(c))).toEqual(Array.from(rgb));
    expect(() => toSingleChannel(c, 'labels/c.png')).toThrow(/labels\/c\.png: expected a single-channel/);
  });

  it('keeps palette indices for label PNGs and looks them up for RGB', () => {
    const palette = [[0, 0, 0], [128, 0, 0], [0, 128, 0], [1, 2, 3]];
    const idx = Uint8Array.from([0, 1, 2, 3, 3, 0]);
    const p = decodePng(png(3, 2, 1, idx, palette), 'p.png');
    expect(p.indexed).toBe(true);
    expect(Array.from(toSingleChannel(p, 'p.png'))).toEqual(Array.from(idx));
    expect(Array.from(toRgb(p)).slice(0, 12)).toEqual([0, 0, 0, 128, 0, 0, 0, 128, 0, 1, 2, 3]);
  });

  it('unpacks sub-byte PNGs', () => {
    // 1-bit grey, width 3: PIL-style rescale to 0/255.
    const bytes = encodePng({ width: 3, height: 2, channels: 1, depth: 1, data: Uint8Array.from([0b10100000, 0b01000000]) });
    const img = decodePng(bytes, 'bits.png');
    expect(Array.from(img.data)).toEqual([255, 0, 255, 0, 255, 0]);
  });

  it('decodes JPEGs close to the encoded pixels', () => {
    const w = 16;
    const h = 8;
    const rgb = new Uint8Array(w * h * 3);
    for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) rgb.set([x * 8, y * 16, 100], (y * w + x) * 3);
    const img = decodeJpeg(jpeg(w, h, rgb), 'a.jpg');
    expect([img.width, img.height, img.channels]).toEqual([w, h, 3]);
    const got = toRgb(img);
    let worst = 0;
    for (let i = 0; i < rgb.length; i++) worst = Math.max(worst, Math.abs(got[i]! - rgb[i]!));
    expect(worst).toBeLessThanOrEqual(6);
    expect(decodeImage(jpeg(w, h, rgb), 'a.jpg').width).toBe(w);
  });

  it('names the file for corrupt or unknown data', () => {
    const bytes = png(3, 2, 1, new Uint8Array(6));
    expect(() => decodePng(bytes.subarray(0, 30), 'semseg/x.png')).toThrow(/semseg\/x\.png: corrupt PNG/);
    const j = jpeg(8, 8, new Uint8Array(192));
    expect(() => decodeJpeg(j.subarray(0, 40), 'images/y.jpg')).toThrow(/images\/y\.jpg: corrupt JPEG/);
    expect(() => decodeImage(new Uint8Array([1, 2, 3, 4]), 'z.bmp')).toThrow(/z\.bmp: neither a PNG nor a JPEG/);
  });

  it('normalises RGB to planar f32 with mean/std', () => {
    const out = normalizeRgb(Uint8Array.from([255, 0, 51, 0, 255, 102]), 2, 1, [0.5, 0.25, 0.1], [0.5, 0.25, 0.2]);
    expect(Array.from(out)).toEqual(Array.from(Float32Array.from([1, -1, -1, 3, (0.2 - 0.1) / 0.2, (0.4 - 0.1) / 0.2])));
  });
});
