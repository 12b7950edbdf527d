/**
 * Seeded random numbers, generated on the host so results are identical on every adapter.
 * The generator is a 32-bit SplitMix-style counter hash (fast, reproducible, good enough for
 * initialisation and dropout masks; not for cryptography).
 */

/** A reproducible stream of uniform and normal numbers. Its state is one integer. */
export class Generator {
  constructor(public state = 0x9e3779b9) {
    this.state = state >>> 0;
  }

  /** A uniform number in [0, 1). */
  next(): number {
    let z = (this.state = (this.state + 0x9e3779b9) >>> 0);
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
    z = (z ^ (z >>> 16)) >>> 0;
    return z / 4294967296;
  }

  /** `n` uniform numbers in [low, high). */
  uniform(n: number, low = 0, high = 1): Float32Array {
    const out = new Float32Array(n);
    for (let i = 0; i < n; i++) out[i] = low + (high - low) * this.next();
    return out;
  }

  /** `n` normal numbers with the given mean and standard deviation (Box-Muller). */
  normal(n: number, mean = 0, std = 1): Float32Array {
    const out = new Float32Array(n);
    for (let i = 0; i < n; i += 2) {
      const u1 = 1 - this.next();
      const u2 = this.next();
      const r = Math.sqrt(-2 * Math.log(u1));
      out[i] = mean + std * r * Math.cos(2 * Math.PI * u2);
      if (i + 1 < n) out[i + 1] = mean + std * r * Math.sin(2 * Math.PI * u2);
    }
    return out;
  }
}

/** The generator used when no seed is given. */
export const defaultGenerator = new Generator(0x5eed);

/** Reseeds the default generator. */
export function manualSeed(seed: number): void {
  defaultGenerator.state = seed >>> 0;
}
