/**
 * Labels derived from the renderer's maps: semantic edges, saliency, and the normalised image.
 * Edges follow region boundaries (class or object changes), one pixel thick; saliency marks the
 * objects. Both are functions of the instance and depth maps alone, so tests can recompute them.
 */
import { FIRST_OBJECT_ID } from './scene.js';

/**
 * ImageNet's per-channel mean and standard deviation (RGB, for images in [0, 1]), what the MTL
 * survey's code normalises NYUD and PASCAL images with; the synthetic images use them too.
 */
export const IMAGE_MEAN: readonly [number, number, number] = [0.485, 0.456, 0.406];
/** See {@link IMAGE_MEAN}. */
export const IMAGE_STD: readonly [number, number, number] = [0.229, 0.224, 0.225];

/**
 * Semantic edges, f32 [H, W] in {0, 1}. Two 4-neighbours (left-right or up-down) whose region ids
 * differ form a boundary pair, and exactly one pixel of each pair is marked: the nearer one (smaller
 * depth), or on a depth tie the one with the larger id. So edges are one pixel thick and lie on the
 * occluding side (the object's outline against the room, the front object where two overlap).
 * Boundaries between walls are not edges (all walls are one region, as in a semantic map).
 */
export function semanticEdges(instance: Int32Array, depth: Float32Array, height: number, width: number): Float32Array {
  const edge = new Float32Array(height * width);
  const mark = (p: number, q: number) => {
    const dp = depth[p]!;
    const dq = depth[q]!;
    edge[dp < dq || (dp === dq && instance[p]! > instance[q]!) ? p : q] = 1;
  };
  for (let r = 0; r < height; r++) {
    for (let c = 0; c < width; c++) {
      const p = r * width + c;
      if (c + 1 < width && instance[p] !== instance[p + 1]) mark(p, p + 1);
      if (r + 1 < height && instance[p] !== instance[p + width]) mark(p, p + width);
    }
  }
  return edge;
}

/** Saliency, f32 [H, W]: 1 on object pixels (instance >= FIRST_OBJECT_ID), 0 on floor, walls and ceiling. */
export function saliency(instance: Int32Array): Float32Array {
  const sal = new Float32Array(instance.length);
  for (let i = 0; i < instance.length; i++) sal[i] = instance[i]! >= FIRST_OBJECT_ID ? 1 : 0;
  return sal;
}

/** The image normalised per channel, (x - mean) / std, as a new f32 [3, H, W] array. */
export function normaliseImage(rgb: Float32Array, mean: readonly number[] = IMAGE_MEAN, std: readonly number[] = IMAGE_STD): Float32Array {
  const n = rgb.length / 3;
  const out = new Float32Array(rgb.length);
  for (let ch = 0; ch < 3; ch++) {
    const m = mean[ch]!;
    const s = std[ch]!;
    for (let i = ch * n; i < (ch + 1) * n; i++) out[i] = (rgb[i]! - m) / s;
  }
  return out;
}
