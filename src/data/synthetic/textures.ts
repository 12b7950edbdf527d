/**
 * Procedural surface textures for the synthetic scenes. A texture maps surface coordinates (u, v),
 * in metres along the surface, to a blend factor m in [0, 1] between the material's two colours:
 * checker tiles, stripes at an angle, fractal value noise, or plain. Colours are drawn per class
 * with jitter (see {@link classColour}) so that colour hints at the class without giving it away.
 * Colours are stored linear (the renderer shades in linear light and encodes with gamma 2 at the end).
 */
import { hash2, type Rng } from './rng.js';

/** A texture's pattern and its parameters (lengths in metres). */
export type Texture =
  | { readonly kind: 'plain' }
  | { readonly kind: 'checker'; readonly size: number }
  | { readonly kind: 'stripes'; readonly period: number; readonly cos: number; readonly sin: number; readonly duty: number }
  | { readonly kind: 'noise'; readonly scale: number; readonly seed: number; readonly octaves: number };

/** A surface's look: the pattern and the two linear RGB colours it blends (m = 0 gives `a`). */
export interface Material {
  readonly texture: Texture;
  readonly a: readonly [number, number, number];
  readonly b: readonly [number, number, number];
}

// A local binding: loaders that turn imports into getters (tsx, vitest) would pay on every lookup.
const h2 = hash2;

/** Value noise at (x, y): smooth interpolation of hashed lattice values, in [0, 1). */
function valueNoise(x: number, y: number, seed: number): number {
  const ix = Math.floor(x);
  const iy = Math.floor(y);
  const fx = x - ix;
  const fy = y - iy;
  const sx = fx * fx * (3 - 2 * fx);
  const sy = fy * fy * (3 - 2 * fy);
  const v00 = h2(ix, iy, seed);
  const v10 = h2(ix + 1, iy, seed);
  const v01 = h2(ix, iy + 1, seed);
  const v11 = h2(ix + 1, iy + 1, seed);
  const top = v00 + (v10 - v00) * sx;
  const bottom = v01 + (v11 - v01) * sx;
  return top + (bottom - top) * sy;
}

/**
 * The blend factor of texture `tex` at surface point (u, v): 0 or 1 for checker and stripes,
 * a smooth value in [0, 1] for noise (octaves summed with halving weights, renormalised and
 * stretched so the two colours both show), 0 for plain.
 */
export function textureMix(tex: Texture, u: number, v: number): number {
  switch (tex.kind) {
    case 'plain':
      return 0;
    case 'checker':
      return (Math.floor(u / tex.size) + Math.floor(v / tex.size)) & 1;
    case 'stripes': {
      const s = (u * tex.cos + v * tex.sin) / tex.period;
      return s - Math.floor(s) < tex.duty ? 1 : 0;
    }
    case 'noise': {
      let sum = 0;
      let amp = 1;
      let norm = 0;
      let f = 1 / tex.scale;
      for (let o = 0; o < tex.octaves; o++) {
        sum += amp * valueNoise(u * f, v * f, tex.seed + o * 1013);
        norm += amp;
        amp *= 0.5;
        f *= 2.03;
      }
      const m = (sum / norm - 0.5) * 2.2 + 0.5;
      return m < 0 ? 0 : m > 1 ? 1 : m;
    }
  }
}

/** HSV (h in degrees, s and v in [0, 1]) to display-encoded RGB in [0, 1]. */
export function hsvToRgb(h: number, s: number, v: number): [number, number, number] {
  const hh = (((h % 360) + 360) % 360) / 60;
  const c = v * s;
  const x = c * (1 - Math.abs((hh % 2) - 1));
  const m = v - c;
  const i = Math.floor(hh);
  const [r, g, b] = i === 0 ? [c, x, 0] : i === 1 ? [x, c, 0] : i === 2 ? [0, c, x] : i === 3 ? [0, x, c] : i === 4 ? [x, 0, c] : [c, 0, x];
  return [r + m, g + m, b + m];
}

/** Display-encoded colour to linear light: the square, the inverse of the renderer's gamma-2 encoding. */
export function toLinear(c: readonly [number, number, number]): [number, number, number] {
  return [c[0] * c[0], c[1] * c[1], c[2] * c[2]];
}

/** Ranges a class's colour is drawn from: hue centre and spread (degrees), saturation and value. */
export interface ColourPrior {
  readonly hue: number;
  readonly hueStd: number;
  readonly sat: readonly [number, number];
  readonly val: readonly [number, number];
  /** Chance of a uniformly random hue instead (so colour never identifies the class for sure). */
  readonly wild: number;
}

/**
 * A class colour (display-encoded) drawn from its prior: hue from a normal around the class hue,
 * with probability `wild` from anywhere on the wheel; saturation and value uniform in their ranges.
 */
export function classColour(rng: Rng, prior: ColourPrior): [number, number, number] {
  const hue = rng.chance(prior.wild) ? rng.range(0, 360) : rng.normal(prior.hue, prior.hueStd);
  return hsvToRgb(hue, rng.range(prior.sat[0], prior.sat[1]), rng.range(prior.val[0], prior.val[1]));
}

/**
 * A random texture for a surface: `kinds` lists the allowed patterns, `size` the range of its
 * characteristic length (tile size, stripe period or noise scale) in metres.
 */
export function randomTexture(rng: Rng, kinds: readonly Texture['kind'][], size: readonly [number, number]): Texture {
  const kind = rng.pick(kinds);
  const len = rng.range(size[0], size[1]);
  switch (kind) {
    case 'plain':
      return { kind };
    case 'checker':
      return { kind, size: len };
    case 'stripes': {
      const angle = rng.chance(0.6) ? rng.pick([0, Math.PI / 2]) : rng.range(0, Math.PI);
      return { kind, period: len, cos: Math.cos(angle), sin: Math.sin(angle), duty: rng.range(0.3, 0.7) };
    }
    case 'noise':
      return { kind, scale: len, seed: rng.u32(), octaves: rng.int(2, 4) };
  }
}

/**
 * A material: texture plus two colours, the second derived from the first by darkening or
 * lightening by `contrast` (drawn from the given range) and a small hue-free tint change.
 */
export function randomMaterial(rng: Rng, prior: ColourPrior, kinds: readonly Texture['kind'][], size: readonly [number, number], contrast: readonly [number, number]): Material {
  const a = classColour(rng, prior);
  const k = rng.range(contrast[0], contrast[1]);
  const darker = rng.chance(0.7);
  const b = a.map((x) => {
    const y = darker ? x * (1 - k) : x + (1 - x) * k;
    return Math.min(1, Math.max(0, y * rng.range(0.93, 1.07)));
  }) as [number, number, number];
  return { texture: randomTexture(rng, kinds, size), a: toLinear(a), b: toLinear(b) };
}
