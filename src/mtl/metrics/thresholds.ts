/**
 * Threshold bookkeeping shared by the curve metrics (edges, saliency): values are binned by how
 * many thresholds they pass, so one pass over the pixels gives counts at every threshold.
 */

/** Number of thresholds in the ascending list `ts` with ts[k] <= v (or < v when `strict`). */
export function thresholdsPassed(ts: readonly number[], v: number, strict: boolean): number {
  let lo = 0;
  let hi = ts.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (strict ? ts[mid]! < v : ts[mid]! <= v) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Counts per threshold from a histogram indexed by thresholds passed: out[k] = sum of hist[c], c > k. */
export function countsPerThreshold(hist: Float64Array, numThresholds: number): Float64Array {
  const out = new Float64Array(numThresholds);
  let acc = 0;
  for (let k = numThresholds - 1; k >= 0; k--) {
    acc += hist[k + 1]!;
    out[k] = acc;
  }
  return out;
}
