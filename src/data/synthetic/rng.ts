/**
 * Seeded randomness for the synthetic scenes. Each sample gets its own generator, seeded from
 * (dataset seed, split, sample index) through an integer hash, so sample i is the same whichever
 * other samples were generated before it, and in whatever order. Textures use stateless hashes of
 * lattice coordinates instead of a stream, so a pixel's colour does not depend on the pixel order.
 */

/**
 * Murmur3's 32-bit finaliser: a bijective mix of an integer into a well-spread unsigned 32-bit
 * integer. The building block of every seed derivation and lattice hash in this folder.
 */
export function mix32(x: number): number {
  x = (x ^ (x >>> 16)) >>> 0;
  x = Math.imul(x, 0x85ebca6b);
  x = (x ^ (x >>> 13)) >>> 0;
  x = Math.imul(x, 0xc2b2ae35);
  return (x ^ (x >>> 16)) >>> 0;
}

/** Splits a safe integer into its low and high 32-bit words (two's complement for negatives). */
function words(n: number): [number, number] {
  const lo = n >>> 0;
  const hi = Math.floor(n / 4294967296) >>> 0;
  return [lo, hi];
}

/**
 * The seed of one sample's generator, from the dataset seed, a stream number (the split) and the
 * sample index. Any safe integers are accepted; distinct inputs give (with overwhelming odds)
 * unrelated seeds, since each word passes through {@link mix32} before the next one is folded in.
 */
export function sampleSeed(seed: number, stream: number, index: number): number {
  const [slo, shi] = words(seed);
  const [ilo, ihi] = words(index);
  let h = mix32(slo ^ 0x5bd1e995);
  h = mix32((h + shi + 0x9e3779b9) >>> 0);
  h = mix32((h ^ stream) >>> 0);
  h = mix32((h + ilo + 0x7f4a7c15) >>> 0);
  return mix32((h ^ ihi ^ 0x2545f491) >>> 0);
}

/**
 * A small, fast generator (Chris Doty-Humphrey's sfc32) with the helpers scene sampling needs:
 * uniform floats and integers, normal numbers and picks. Its whole state is four 32-bit words
 * filled from one seed by SplitMix-style mixing, so equal seeds give equal streams on every machine.
 */
export class Rng {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  constructor(seed: number) {
    let s = seed >>> 0;
    const next = () => (s = (s + 0x9e3779b9) >>> 0, mix32(s));
    this.a = next();
    this.b = next();
    this.c = next();
    this.d = next() | 1;
    for (let i = 0; i < 12; i++) this.u32();
  }

  /** A uniform unsigned 32-bit integer. */
  u32(): number {
    const t = (((this.a + this.b) >>> 0) + this.d) >>> 0;
    this.d = (this.d + 1) >>> 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) >>> 0;
    this.c = ((this.c << 21) | (this.c >>> 11)) >>> 0;
    this.c = (this.c + t) >>> 0;
    return t;
  }

  /** A uniform number in [0, 1). */
  next(): number {
    return this.u32() / 4294967296;
  }

  /** A uniform number in [lo, hi). */
  range(lo: number, hi: number): number {
    return lo + (hi - lo) * this.next();
  }

  /** A uniform integer in [lo, hi] (both ends included). */
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.next() * (hi - lo + 1));
  }

  /** A normal number with the given mean and standard deviation (Box-Muller, one of the pair). */
  normal(mean = 0, std = 1): number {
    const u1 = 1 - this.next();
    const u2 = this.next();
    return mean + std * Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
  }

  /** True with probability p. */
  chance(p: number): boolean {
    return this.next() < p;
  }

  /** One element of a non-empty list, uniformly. */
  pick<T>(xs: readonly T[]): T {
    return xs[Math.floor(this.next() * xs.length)]!;
  }
}

/**
 * A stateless hash of a 2-D lattice point and a seed to [0, 1): the random values that value
 * noise interpolates. Stateless so that a texture can be evaluated at any point in any order.
 */
export function hash2(ix: number, iy: number, seed: number): number {
  let h = mix32((seed ^ Math.imul(ix | 0, 0x27d4eb2d)) >>> 0);
  h = mix32((h + Math.imul(iy | 0, 0x165667b1)) >>> 0);
  return h / 4294967296;
}
