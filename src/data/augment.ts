/**
 * Seeded training augmentation on host samples, following the MTL survey's transforms
 * (Multi-Task-Learning-PyTorch, data/custom_transforms.py and utils/common_config.py), in its
 * order: RandomHorizontalFlip (p = 0.5; the normals' x component is negated), ScaleNRotate
 * (zoom and rotate about the image centre, keeping the size; depth divided by the zoom; the
 * normals' in-plane components rotated with the image), FixedResize to the training size (normals
 * renormalised), plus an optional random crop/pad that the survey does not use.
 *
 * Interpolation per key: image and normals bilinear (the survey uses cubic), labels, depth, edge
 * and saliency nearest (as the survey's FLAGVALS). Regions that come from outside the source get:
 * image 0 (= the mean colour, since images are already normalised; the survey pads raw black),
 * depth 0 and normals 0 (= no ground truth, as the survey), and 255 (= ignore) for semseg,
 * human_parts, edge and sal, where the survey pads 0 and so trains background on the padding.
 * Everything is deterministic given the generator's state.
 */
import type { Generator } from '../tensor/random.js';
import type { Sample, SampleTask } from './sample.js';

/** Augmentation settings; every step is off unless set. */
export interface AugmentOptions {
  /** Probability of a horizontal flip (survey: 0.5). */
  readonly flipProbability?: number;
  /** Zoom factor: uniform in [min, max] (survey PASCAL: [0.75, 1.25]) or one of `choices` (survey NYUD: 1, 1.2, 1.5). */
  readonly scale?: readonly [number, number] | { readonly choices: readonly number[] };
  /** Rotation in degrees, uniform in [min, max], counter-clockwise as OpenCV's (survey PASCAL: [-20, 20]). */
  readonly rotation?: readonly [number, number];
  /** Final [H, W] after zoom/rotation (survey FixedResize: NYUD [480, 640], PASCAL [512, 512]). */
  readonly resize?: readonly [number, number];
  /** Random crop to [H, W], padding (at a random offset) where the sample is smaller. Not in the survey. */
  readonly crop?: readonly [number, number];
}

/** The survey's NYUD-v2 training transforms. */
export const NYUD_TRAIN_AUGMENT: AugmentOptions = { flipProbability: 0.5, scale: { choices: [1, 1.2, 1.5] }, resize: [480, 640] };
/** The survey's PASCAL-Context training transforms. */
export const PASCAL_TRAIN_AUGMENT: AugmentOptions = { flipProbability: 0.5, scale: [0.75, 1.25], rotation: [-20, 20], resize: [512, 512] };
/** The survey's NYUD-v2 evaluation transform (a fixed resize, a no-op on the 480x640 originals). */
export const NYUD_EVAL_AUGMENT: AugmentOptions = { resize: [480, 640] };
/** The survey's PASCAL-Context evaluation transform. */
export const PASCAL_EVAL_AUGMENT: AugmentOptions = { resize: [512, 512] };

/** How one key of a sample is resampled. */
export type Interp = 'linear' | 'nearest';
type Key = 'image' | SampleTask;
const SPEC: Record<Key, { channels: number; interp: Interp; fill: number }> = {
  image: { channels: 3, interp: 'linear', fill: 0 },
  semseg: { channels: 1, interp: 'nearest', fill: 255 },
  human_parts: { channels: 1, interp: 'nearest', fill: 255 },
  depth: { channels: 1, interp: 'nearest', fill: 0 },
  normals: { channels: 3, interp: 'linear', fill: 0 },
  edge: { channels: 1, interp: 'nearest', fill: 255 },
  sal: { channels: 1, interp: 'nearest', fill: 255 },
};
const KEYS = Object.keys(SPEC) as Key[];

type Planes = Float32Array | Int32Array;
/** Maps a source pixel centre for output (x, y): writes [sx, sy] into `at`. */
type SourceOf = (x: number, y: number, at: Float64Array) => void;

/** Resamples C planes [C, h, w] to [C, H, W] at the positions `src` gives, with `fill` outside. */
function resample(data: Planes, c: number, h: number, w: number, H: number, W: number, interp: Interp, fill: number, src: SourceOf): Planes {
  const out = data instanceof Int32Array ? new Int32Array(c * H * W) : new Float32Array(c * H * W);
  const at = new Float64Array(2);
  const px = (ch: number, x: number, y: number): number => (x < 0 || y < 0 || x >= w || y >= h ? fill : data[(ch * h + y) * w + x]!);
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      src(x, y, at);
      const o = y * W + x;
      if (interp === 'nearest') {
        const sx = Math.floor(at[0]!);
        const sy = Math.floor(at[1]!);
        for (let ch = 0; ch < c; ch++) out[ch * H * W + o] = px(ch, sx, sy);
      } else {
        const x0 = Math.floor(at[0]!);
        const y0 = Math.floor(at[1]!);
        const fx = at[0]! - x0;
        const fy = at[1]! - y0;
        for (let ch = 0; ch < c; ch++) {
          const top = px(ch, x0, y0) * (1 - fx) + px(ch, x0 + 1, y0) * fx;
          const bot = px(ch, x0, y0 + 1) * (1 - fx) + px(ch, x0 + 1, y0 + 1) * fx;
          out[ch * H * W + o] = top * (1 - fy) + bot * fy;
        }
      }
    }
  }
  return out;
}

/**
 * Resizes planes [C, h, w] to [C, H, W] as OpenCV's cv2.resize: 'nearest' takes source pixel
 * floor(x * w / W) (OpenCV's INTER_NEAREST rule), 'linear' samples half-pixel-aligned with edges
 * clamped (INTER_LINEAR). Used by the readers to bring ground truth to the image size.
 */
export function resizePlanes<T extends Planes>(data: T, c: number, h: number, w: number, H: number, W: number, interp: Interp): T {
  if (h === H && w === W) return data;
  const rx = w / W;
  const ry = h / H;
  const src: SourceOf =
    interp === 'nearest'
      ? (x, y, at) => ((at[0] = Math.min(Math.floor(x * rx), w - 1) + 0.5), (at[1] = Math.min(Math.floor(y * ry), h - 1) + 0.5))
      : (x, y, at) => ((at[0] = Math.min(Math.max((x + 0.5) * rx - 0.5, 0), w - 1)), (at[1] = Math.min(Math.max((y + 0.5) * ry - 0.5, 0), h - 1)));
  return resample(data, c, h, w, H, W, interp, 0, src) as T;
}

/** Scales every non-zero normal [3, H, W] back to unit length (zero normals stay "no ground truth"). */
export function renormalize(normals: Float32Array, n: number): void {
  for (let p = 0; p < n; p++) {
    const a = normals[p]!;
    const b = normals[n + p]!;
    const c = normals[2 * n + p]!;
    const len = Math.sqrt(a * a + b * b + c * c);
    if (len > 0) {
      normals[p] = a / len;
      normals[n + p] = b / len;
      normals[2 * n + p] = c / len;
    }
  }
}

/** A new sample with every present key passed through `f(key, data, channels, fill, interp)`. */
function mapSample(s: Sample, H: number, W: number, f: (k: Key, d: Planes, c: number, fill: number, interp: Interp) => Planes): Sample {
  const out: Record<string, unknown> = { id: s.id, height: H, width: W };
  for (const k of KEYS) {
    const d = (s as unknown as Record<string, Planes | undefined>)[k];
    if (d !== undefined) out[k] = f(k, d, SPEC[k].channels, SPEC[k].fill, SPEC[k].interp);
  }
  return out as unknown as Sample;
}

/** Mirrors every key left-right; the normals' x component changes sign (survey RandomHorizontalFlip). */
export function flipSample(s: Sample): Sample {
  const { height: h, width: w } = s;
  return mapSample(s, h, w, (k, d, c) => {
    const out = d.slice();
    for (let ch = 0; ch < c; ch++) {
      const sign = k === 'normals' && ch === 0 ? -1 : 1;
      for (let y = 0; y < h; y++) {
        const row = (ch * h + y) * w;
        for (let x = 0; x < w; x++) out[row + x] = sign * d[row + w - 1 - x]! + 0; // + 0 turns -0 into 0
      }
    }
    return out;
  });
}

/**
 * Zooms by `scale` and rotates by `degrees` (counter-clockwise) about the centre (w/2, h/2),
 * keeping the size, as cv2.warpAffine with cv2.getRotationMatrix2D (survey ScaleNRotate). Depth is
 * divided by the zoom (closer-looking scenes get smaller depths); normals turn with the image.
 */
export function scaleRotateSample(s: Sample, scale: number, degrees: number): Sample {
  const { height: h, width: w } = s;
  const t = (degrees * Math.PI) / 180;
  const cos = Math.cos(t);
  const sin = Math.sin(t);
  const cx = w / 2;
  const cy = h / 2;
  // dst = A (src - c) + c with A = s [[cos, sin], [-sin, cos]]; invert it for each output pixel.
  const src: SourceOf = (x, y, at) => {
    const dx = x - cx;
    const dy = y - cy;
    at[0] = (cos * dx - sin * dy) / scale + cx;
    at[1] = (sin * dx + cos * dy) / scale + cy;
  };
  const rounding: SourceOf = (x, y, at) => (src(x, y, at), (at[0] = Math.round(at[0]!) + 0.5), (at[1] = Math.round(at[1]!) + 0.5));
  const out = mapSample(s, h, w, (k, d, c, fill, interp) => {
    let planes = d;
    if (k === 'normals' && degrees !== 0) {
      const n = h * w;
      planes = d.slice();
      for (let p = 0; p < n; p++) {
        const nx = d[p]!;
        const ny = d[n + p]!;
        planes[p] = nx * cos + ny * sin;
        planes[n + p] = ny * cos - nx * sin;
      }
    }
    const out = resample(planes, c, h, w, h, w, interp, fill, interp === 'nearest' ? rounding : src);
    if (k === 'depth') for (let i = 0; i < out.length; i++) out[i] = out[i]! / scale;
    return out;
  });
  if (out.normals) renormalize(out.normals as Float32Array, h * w);
  return out;
}

/** Resizes every key to [H, W] (survey FixedResize; normals renormalised). */
export function resizeSample(s: Sample, H: number, W: number): Sample {
  if (s.height === H && s.width === W) return s;
  const out = mapSample(s, H, W, (_k, d, c, _fill, interp) => resizePlanes(d, c, s.height, s.width, H, W, interp));
  if (out.normals) renormalize(out.normals as Float32Array, H * W);
  return out;
}

/**
 * The [H, W] window of every key whose top-left corner is at (top, left) in the sample; negative
 * offsets or a window past the edge pad with each key's fill (255 for labels, 0 otherwise).
 */
export function cropSample(s: Sample, top: number, left: number, H: number, W: number): Sample {
  const src: SourceOf = (x, y, at) => ((at[0] = x + left + 0.5), (at[1] = y + top + 0.5));
  return mapSample(s, H, W, (_k, d, c, fill) => resample(d, c, s.height, s.width, H, W, 'nearest', fill, src));
}

/**
 * One random augmentation of `s` drawn from `rng` (see the module comment for the steps and
 * their order). The number of draws does not depend on the outcomes, so two generators in the same
 * state give the same result. Samples must have [3, H, W] images and the usual task keys.
 */
export function augment(s: Sample, opts: AugmentOptions, rng: Generator): Sample {
  let out = s;
  if (opts.flipProbability !== undefined && rng.next() < opts.flipProbability) out = flipSample(out);
  let scale = 1;
  if (opts.scale) {
    const u = rng.next();
    if ('choices' in opts.scale) {
      const ch = opts.scale.choices;
      scale = ch[Math.min(Math.floor(u * ch.length), ch.length - 1)]!;
    } else scale = opts.scale[0] + (opts.scale[1] - opts.scale[0]) * u;
  }
  const degrees = opts.rotation ? opts.rotation[0] + (opts.rotation[1] - opts.rotation[0]) * rng.next() : 0;
  if (scale !== 1 || degrees !== 0) out = scaleRotateSample(out, scale, degrees);
  if (opts.resize) out = resizeSample(out, opts.resize[0], opts.resize[1]);
  if (opts.crop) {
    const [H, W] = opts.crop;
    // A window inside the sample, or (when the sample is smaller) the sample inside the window.
    const offset = (slack: number, u: number): number => (slack >= 0 ? Math.floor(u * (slack + 1)) : -Math.floor(u * (1 - slack)));
    const top = offset(out.height - H, rng.next());
    const left = offset(out.width - W, rng.next());
    if (top !== 0 || left !== 0 || H !== out.height || W !== out.width) out = cropSample(out, top, left, H, W);
  }
  return out;
}
