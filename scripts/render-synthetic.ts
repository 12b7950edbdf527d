/**
 * Writes a PNG montage of synthetic scenes for a human to look at: one row per sample, columns
 * image, classes, depth, normals, edges, saliency.
 *
 *   npx tsx scripts/render-synthetic.ts [--out /tmp/synthetic.png] [--n 4] [--size 128 | --size 96x128]
 *                                      [--seed 0] [--split train|val] [--zoom 2] [--first 0]
 *
 * Classes: floor brown, wall grey, ceiling pale yellow, box red, sphere green, cylinder blue.
 * Depth: bright = near, dark = far, over 0-8 m. Normals: (n + 1) / 2 as RGB (camera frame, x right,
 * y down, z forward: floors look purple-ish, walls facing the camera dark blue-ish).
 */
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { encode } from 'fast-png';
import { SyntheticScenes } from '../src/data/synthetic/index.js';

const { values } = parseArgs({
  options: {
    out: { type: 'string', default: '/tmp/synthetic.png' },
    n: { type: 'string', default: '4' },
    size: { type: 'string', default: '128' },
    seed: { type: 'string', default: '0' },
    split: { type: 'string', default: 'train' },
    zoom: { type: 'string', default: '2' },
    first: { type: 'string', default: '0' },
  },
});
const count = Number(values.n);
const [h, w] = values.size.includes('x') ? values.size.split('x').map(Number) : [Number(values.size), Number(values.size)];
const zoom = Number(values.zoom);
const first = Number(values.first);
const ds = new SyntheticScenes({
  size: [h!, w!],
  length: first + count,
  seed: Number(values.seed),
  split: values.split as 'train' | 'val',
});

const PALETTE: readonly (readonly [number, number, number])[] = [
  [150, 100, 60],
  [170, 170, 170],
  [240, 235, 180],
  [220, 40, 40],
  [40, 190, 60],
  [50, 90, 230],
];
const COLS = 6;
const GAP = 4;
const tileW = w! * zoom;
const tileH = h! * zoom;
const outW = COLS * tileW + (COLS + 1) * GAP;
const outH = count * tileH + (count + 1) * GAP;
const data = new Uint8Array(outW * outH * 3).fill(255);

/** Paints tile (row, col) with rgb(r, c) in [0, 255], nearest-neighbour zoomed. */
function paint(row: number, col: number, rgb: (y: number, x: number) => readonly [number, number, number]): void {
  const y0 = GAP + row * (tileH + GAP);
  const x0 = GAP + col * (tileW + GAP);
  for (let y = 0; y < tileH; y++) {
    for (let x = 0; x < tileW; x++) {
      const c = rgb(Math.floor(y / zoom), Math.floor(x / zoom));
      const o = ((y0 + y) * outW + x0 + x) * 3;
      for (let k = 0; k < 3; k++) data[o + k] = Math.max(0, Math.min(255, Math.round(c[k]!)));
    }
  }
}

const t0 = performance.now();
for (let s = 0; s < count; s++) {
  const sample = ds.getSync(first + s);
  const n = h! * w!;
  const { mean, std } = ds.info;
  const px = (y: number, x: number) => y * w! + x;
  paint(s, 0, (y, x) => [0, 1, 2].map((c) => 255 * (sample.image[c * n + px(y, x)]! * std[c]! + mean[c]!)) as unknown as [number, number, number]);
  paint(s, 1, (y, x) => PALETTE[sample.semseg![px(y, x)]!]!);
  paint(s, 2, (y, x) => {
    const v = 255 * Math.max(0, 1 - sample.depth![px(y, x)]! / 8);
    return [v, v, v];
  });
  paint(s, 3, (y, x) => [0, 1, 2].map((c) => 127.5 * (sample.normals![c * n + px(y, x)]! + 1)) as unknown as [number, number, number]);
  paint(s, 4, (y, x) => (sample.edge![px(y, x)] ? [0, 0, 0] : [255, 255, 255]));
  paint(s, 5, (y, x) => {
    const v = 255 * sample.sal![px(y, x)]!;
    return [v, v, v];
  });
}
writeFileSync(values.out, encode({ width: outW, height: outH, data, channels: 3, depth: 8 }));
console.log(`wrote ${values.out}: ${count} samples at ${h}x${w} (${(performance.now() - t0).toFixed(0)} ms)`);
