/**
 * Host reference of the dropout mask: the counter-based hash of shaders/dropout.wgsl, written out
 * again in plain TypeScript so tests can check GPU masks bit for bit.
 */

/** murmur3's 32-bit finaliser. */
function fmix(h0: number): number {
  let h = h0 >>> 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b) >>> 0;
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35) >>> 0;
  h ^= h >>> 16;
  return h >>> 0;
}

/** The 32-bit hash of mask index j under (seed, offset). */
export function dropoutHash(seed: number, offset: number, j: number): number {
  const lo = offset >>> 0;
  const hi = Math.floor(offset / 4294967296) >>> 0;
  const k1 = fmix(seed ^ fmix(lo ^ fmix(hi ^ 0x243f6a88)));
  const k2 = fmix(k1 ^ 0x85a308d3 ^ fmix((lo + 0x13198a2e) >>> 0));
  return fmix((fmix((Math.imul(j, 0x9e3779b9) ^ k1) >>> 0) + k2) >>> 0);
}

/** Keep flags (1 kept, 0 dropped) of n elements whose mask is shared by runs of `group`. */
export function dropoutKeepMask(n: number, p: number, seed: number, offset: number, group = 1): Uint8Array {
  const t = Math.min(0xffffffff, Math.round(p * 4294967296));
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = dropoutHash(seed, offset, Math.floor(i / group)) >= t ? 1 : 0;
  return out;
}
