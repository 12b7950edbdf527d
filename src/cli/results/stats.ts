/**
 * The rule docs/results.md ranks by: two rows differ only when their means are further apart than
 * the sum of their standard deviations over seeds, |mean_a - mean_b| > std_a + std_b. Below that the
 * page says "no difference at this budget" instead of a ranking. The rule is deliberately blunt
 * (no test statistic to tune); with one seed there is no spread and every difference counts, which
 * is why the page needs at least three seeds to say anything.
 */
import { meanStd } from '../compare.js';

/** The rule in words, as the page states it. */
export const RULE_TEXT =
  'two rows differ only when their means over seeds are further apart than the sum of their standard deviations ' +
  '(|mean_a - mean_b| > std_a + std_b); otherwise the page says "no difference at this budget"';

/** How `a` compares with `b`. */
export type Verdict = 'better' | 'worse' | 'no difference';

/** `a` against `b` (per-seed values) by the rule; `higherIsBetter` says which side is better. */
export function verdict(a: readonly number[], b: readonly number[], higherIsBetter = true): Verdict {
  const [ma, sa] = meanStd(a);
  const [mb, sb] = meanStd(b);
  if (!(Math.abs(ma - mb) > sa + sb)) return 'no difference';
  return ma > mb === higherIsBetter ? 'better' : 'worse';
}

/** A labelled list of per-seed values (a table row's ΔMTL). */
export interface Scored {
  readonly label: string;
  readonly values: readonly number[];
}

/**
 * The rows that the rule cannot tell from the one with the highest mean (that row first). One row
 * means a clear best; several mean "no difference at this budget" among them.
 */
export function topGroup(rows: readonly Scored[]): Scored[] {
  if (rows.length === 0) return [];
  const sorted = [...rows].sort((x, y) => meanStd(y.values)[0] - meanStd(x.values)[0]);
  const top = sorted[0]!;
  return [top, ...sorted.slice(1).filter((r) => verdict(top.values, r.values) === 'no difference')];
}
