/**
 * PASCAL-Context edge ground truth, derived from the 459-class label map as the MTL survey does
 * (data/pascal_context.py, _load_edge): `thin(|cv2.Laplacian(LabelMap, CV_64F)| > 0)`.
 *
 * cv2.Laplacian with its default aperture (ksize 1) is the 4-neighbour kernel
 * [[0, 1, 0], [1, -4, 1], [0, 1, 0]] with BORDER_REFLECT_101 (the row "gfedcb|abcdefgh|gfedcba"),
 * and skimage.morphology.thin is the two-subiteration thinning of Guo and Hall (1989, algorithm A1
 * as in Lam, Lee and Suen 1992), repeated until nothing changes. Its lookup tables are generated
 * below from the three conditions G1-G3 of that paper rather than written out.
 */

/** Neighbour bit k of the 8-neighbourhood code, counter-clockwise from east (as skimage's mask). */
const bit = (n: number, k: number): boolean => ((n >> (k & 7)) & 1) === 1;

function g1(n: number): boolean {
  // Exactly one 4-connected transition (Hilditch crossing number X_H = 1).
  let s = 0;
  for (const i of [0, 2, 4, 6]) if (!bit(n, i) && (bit(n, i + 1) || bit(n, i + 2))) s++;
  return s === 1;
}

function g2(n: number): boolean {
  // 2 <= min(n1, n2) <= 3: the pixel is neither an end point nor interior.
  let n1 = 0;
  let n2 = 0;
  for (const k of [1, 3, 5, 7]) {
    if (bit(n, k) || bit(n, k - 1)) n1++;
    if (bit(n, k) || bit(n, k + 1)) n2++;
  }
  const m = Math.min(n1, n2);
  return m === 2 || m === 3;
}

/** Deletion tables of the two subiterations (G1 and G2 and G3, resp. G3'). */
const LUTS: [Uint8Array, Uint8Array] = (() => {
  const a = new Uint8Array(256);
  const b = new Uint8Array(256);
  for (let n = 0; n < 256; n++) {
    const g12 = g1(n) && g2(n);
    const g3 = !((bit(n, 1) || bit(n, 2) || !bit(n, 7)) && bit(n, 0));
    const g3p = !((bit(n, 5) || bit(n, 6) || !bit(n, 3)) && bit(n, 4));
    a[n] = g12 && g3 ? 1 : 0;
    b[n] = g12 && g3p ? 1 : 0;
  }
  return [a, b];
})();

// (dy, dx) of neighbour bits 0..7: E, NE, N, NW, W, SW, S, SE.
const DY = [0, -1, -1, -1, 0, 1, 1, 1];
const DX = [1, 1, 0, -1, -1, -1, 0, 1];

/** Thins a binary image [h, w] (1 = foreground) in place, as skimage.morphology.thin. */
export function thin(img: Uint8Array, h: number, w: number): Uint8Array {
  const code = new Uint8Array(h * w);
  for (let changed = true; changed; ) {
    changed = false;
    for (const lut of LUTS) {
      // Codes of the whole image first, then deletions: each subiteration is parallel.
      for (let y = 0; y < h; y++) {
        for (let x = 0; x < w; x++) {
          let n = 0;
          if (img[y * w + x]) {
            for (let k = 0; k < 8; k++) {
              const yy = y + DY[k]!;
              const xx = x + DX[k]!;
              if (yy >= 0 && yy < h && xx >= 0 && xx < w && img[yy * w + xx]) n |= 1 << k;
            }
          }
          code[y * w + x] = n;
        }
      }
      for (let p = 0; p < h * w; p++) {
        if (img[p] && lut[code[p]!]) {
          img[p] = 0;
          changed = true;
        }
      }
    }
  }
  return img;
}

/** Index of `i` reflected into [0, n) without repeating the edge (OpenCV's BORDER_REFLECT_101). */
function reflect101(i: number, n: number): number {
  if (n === 1) return 0;
  while (i < 0 || i >= n) i = i < 0 ? -i : 2 * n - 2 - i;
  return i;
}

/** 1 where the 4-neighbour Laplacian of `labels` [h, w] (row-major) is non-zero, else 0. */
export function laplacianNonZero(labels: ArrayLike<number>, h: number, w: number): Uint8Array {
  const out = new Uint8Array(h * w);
  for (let y = 0; y < h; y++) {
    const up = reflect101(y - 1, h) * w;
    const down = reflect101(y + 1, h) * w;
    for (let x = 0; x < w; x++) {
      const c = labels[y * w + x]!;
      const lap = labels[up + x]! + labels[down + x]! + labels[y * w + reflect101(x - 1, w)]! + labels[y * w + reflect101(x + 1, w)]! - 4 * c;
      out[y * w + x] = lap !== 0 ? 1 : 0;
    }
  }
  return out;
}

/** The survey's PASCAL-Context edge map: thinned non-zero Laplacian of the label map, as f32 0/1. */
export function labelMapEdges(labels: ArrayLike<number>, h: number, w: number): Float32Array {
  return Float32Array.from(thin(laplacianNonZero(labels, h, w), h, w));
}
