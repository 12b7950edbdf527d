/**
 * Seeded random shapes and well-separated values for op tests: odd sizes and size-1 dims turn up
 * often, and values can be kept away from kinks (0, ties) so finite differences stay meaningful.
 */
import { Generator } from '../../src/index.js';

const DIMS = [1, 2, 3, 4, 5, 7] as const;

/** A random shape of the given rank, dims drawn from small odd and size-1 sizes. */
export function randomShape(g: Generator, rank: number): number[] {
  return Array.from({ length: rank }, () => DIMS[Math.floor(g.next() * DIMS.length)]!);
}

/** `n` values with |v| in [lo, hi] and random signs (away from 0 for ops with a kink there). */
export function awayFromZero(g: Generator, n: number, lo = 0.1, hi = 2): number[] {
  return Array.from({ length: n }, () => (g.next() < 0.5 ? -1 : 1) * (lo + (hi - lo) * g.next()));
}

/**
 * `n` values on the grid (k + offset) * step for random integers |k| <= 20: two arrays with
 * offsets 0 and 0.5 never come closer than step / 2, and values within one array are distinct
 * when `distinct` (a shuffled grid), so max/min have no ties or near-ties.
 */
export function gridValues(g: Generator, n: number, { step = 0.1, offset = 0, distinct = false } = {}): number[] {
  if (!distinct) return Array.from({ length: n }, () => (Math.floor(g.next() * 41) - 20 + offset) * step);
  const ks = Array.from({ length: n }, (_, i) => i - Math.floor(n / 2));
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(g.next() * (i + 1));
    [ks[i], ks[j]] = [ks[j]!, ks[i]!];
  }
  return ks.map((k) => (k + offset) * step);
}
