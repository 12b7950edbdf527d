/**
 * The papers' claims, checked point by point against a grid's numbers by the rule of stats.ts, so
 * the page's text follows the data: each claim gets the measured values and a verdict (agrees,
 * disagrees, no difference at this budget, not measured). Claims on architectures compare ΔMTL with
 * equal weights; claims on balancers use the shared-encoder table; MGDA-UB's imbalance reads the
 * weights the runs logged; the toy's claims read toy.json.
 */
import { meanStd } from '../compare.js';
import type { CompareFile, WeightsOf } from './grid-files.js';
import { topGroup, verdict, type Scored, type Verdict } from './stats.js';
import { toyCases, toyFinding, type ToyReport } from './toy.js';

/** One checked claim. */
export interface Claim {
  claim: string;
  source: string;
  measured: string;
  verdict: 'agrees' | 'disagrees' | 'no difference at this budget' | 'not measured' | string;
}

const SURVEY = 'Vandenhende et al., survey (TPAMI 2021)';
const GRADNORM = 'Chen et al., GradNorm (ICML 2018)';
const ENCODER = ['shared-encoder', 'cross-stitch', 'nddr', 'mtan'];
// The survey counts PAP-Net and JTRL among the decoder-focused models too.
const DECODER = ['pad-net', 'mti-net', 'pap-net', 'jtrl'];

const fmt = (xs: readonly number[]) => {
  const [m, s] = meanStd(xs);
  return `${m.toFixed(2)} ± ${s.toFixed(2)}`;
};
const fmt4 = (xs: readonly number[]) => {
  const [m, s] = meanStd(xs);
  return `${m.toFixed(4)} ± ${s.toFixed(4)}`;
};
const said = (v: Verdict) => (v === 'better' ? 'agrees' : v === 'worse' ? 'disagrees' : 'no difference at this budget');
const archName = (label: string) => label.split(':')[0]!;

/** The ΔMTL rows of a table, labelled by model (architecture table) or balancer. */
export function scored(file: CompareFile, by: 'model' | 'balancer'): Scored[] {
  return file.rows.map((r) => ({ label: by === 'model' ? r.model : r.balancer, values: r.delta }));
}

function best(rows: readonly Scored[], names: readonly string[]): Scored | null {
  const xs = rows.filter((r) => names.includes(archName(r.label)));
  return xs.length ? topGroup(xs)[0]! : null;
}

function beats(a: Scored | null | undefined, b: Scored | null | undefined, claim: string, source: string): Claim {
  if (!a || !b) return { claim, source, measured: 'not in this grid', verdict: 'not measured' };
  return { claim, source, measured: `ΔMTL ${a.label} ${fmt(a.values)} vs ${b.label} ${fmt(b.values)}`, verdict: said(verdict(a.values, b.values)) };
}

/** The architecture claims (equal weights). */
export function architectureClaims(arch: CompareFile): Claim[] {
  const rows = scored(arch, 'model');
  const single: Scored = { label: 'single-task', values: arch.singleTask.delta };
  const find = (n: string) => rows.find((r) => archName(r.label) === n);
  const out: Claim[] = [beats(best(rows, DECODER), best(rows, ENCODER), 'Decoder-focused models beat encoder-focused ones', SURVEY)];
  const mti = find('mti-net');
  if (!mti) out.push({ claim: 'MTI-Net is the best model', source: SURVEY, measured: 'not in this grid', verdict: 'not measured' });
  else {
    const others = [single, ...rows.filter((r) => r !== mti)];
    const vs = others.map((o) => [o, verdict(mti.values, o.values)] as const);
    const lost = vs.filter(([, v]) => v === 'worse').map(([o]) => o.label);
    const tied = vs.filter(([, v]) => v === 'no difference').map(([o]) => o.label);
    const measured = `ΔMTL mti-net ${fmt(mti.values)}; ${lost.length ? `below ${lost.join(', ')}` : tied.length ? `not distinguishable from ${tied.join(', ')}` : 'above every other row'}`;
    out.push({ claim: 'MTI-Net is the best model', source: SURVEY, measured, verdict: lost.length ? 'disagrees' : tied.length ? 'no difference at this budget' : 'agrees' });
  }
  const shared = find('shared-encoder');
  for (const [n, title] of [['cross-stitch', 'Cross-Stitch'], ['nddr', 'NDDR-CNN'], ['mtan', 'MTAN']] as const) {
    out.push(beats(find(n), shared, `${title} beats the shared encoder (NYUD-v2)`, SURVEY));
  }
  out.push(beats(best(rows, [...ENCODER, ...DECODER]), single, 'The best multi-task model beats the single-task networks', SURVEY));
  return out;
}

/** The largest task's share of the weights over the last quarter of a run's logged steps. */
export function topShare(steps: ReturnType<WeightsOf>): { task: string; share: number } | null {
  const tail = steps.slice(Math.floor((steps.length * 3) / 4));
  if (tail.length === 0) return null;
  const sums: Record<string, number> = {};
  for (const s of tail) {
    const total = Object.values(s.weights).reduce((a, b) => a + Math.abs(b), 0) || 1;
    for (const [t, w] of Object.entries(s.weights)) sums[t] = (sums[t] ?? 0) + Math.abs(w) / total / tail.length;
  }
  const [task, share] = Object.entries(sums).sort((a, b) => b[1] - a[1])[0]!;
  return { task, share };
}

/** The balancer claims, from the table of one model (the shared encoder). */
export function balancerClaims(table: CompareFile, weightsOf: WeightsOf): Claim[] {
  const rows = scored(table, 'balancer');
  const model = table.rows[0]?.model ?? '?';
  const equal = rows.find((r) => r.label === 'equal');
  const unc = rows.find((r) => r.label === 'uncertainty');
  const gns = rows.filter((r) => r.label.startsWith('gradnorm'));
  const out: Claim[] = [];
  if (gns.length === 0) out.push({ claim: 'GradNorm beats equal weights', source: GRADNORM, measured: 'not in this grid', verdict: 'not measured' });
  for (const g of gns) out.push(beats(g, equal, `GradNorm (${g.label}) beats equal weights (${model})`, GRADNORM));
  for (const g of gns) {
    const c = beats(g, unc, `GradNorm (${g.label}) matches or beats uncertainty weighting (${model})`, GRADNORM);
    // "Matches" is the claim: no difference agrees with it.
    if (c.verdict === 'no difference at this budget') c.verdict = 'agrees';
    out.push(c);
  }
  const mgda = table.rows.find((r) => r.balancer.startsWith('mgda'));
  const claim = `MGDA-UB gives one task most of the weight (task imbalance, ${model})`;
  if (!mgda) out.push({ claim, source: SURVEY, measured: 'not in this grid', verdict: 'not measured' });
  else {
    const per = mgda.runs.map((r) => topShare(weightsOf(r))).filter((x) => x !== null);
    if (per.length === 0) out.push({ claim, source: SURVEY, measured: 'no weights logged', verdict: 'not measured' });
    else {
      const shares = per.map((p) => p.share);
      const [m, s] = meanStd(shares);
      // "Most of the weight": closer to all of it than to the equal share 1/T.
      const mid = (1 + 1 / table.tasks.length) / 2;
      const tasks = [...new Set(per.map((p) => p.task))].join(', ');
      const measured = `largest weight share over the last quarter of training ${fmt(shares)} (task: ${tasks}); halfway between the equal share and all of it is ${mid.toFixed(2)}`;
      out.push({ claim, source: SURVEY, measured, verdict: m - s > mid ? 'agrees' : m + s < mid ? 'disagrees' : 'no difference at this budget' });
    }
    if (equal) out.push(beats(equal, { label: mgda.balancer, values: mgda.delta }, `Equal weights beat MGDA-UB (${model})`, SURVEY));
  }
  return out;
}

/** The toy's claims: the weight order (mean final weights over seeds) and the test loss by the rule. */
export function toyClaims(toy: ToyReport | null): Claim[] {
  if (!toy) return [{ claim: 'GradNorm toy: weights fall as sigma rises', source: GRADNORM, measured: 'the toy has not run', verdict: 'not measured' }];
  const out: Claim[] = [];
  for (const [T, c] of toyCases(toy)) {
    const f = toyFinding(T, c);
    out.push({
      claim: `GradNorm toy, T = ${T}: GradNorm's weights fall as sigma rises`,
      source: GRADNORM,
      measured: `${f.orderedPairs} of ${f.pairs} neighbour pairs in order; final weights ${f.finalWeights.map((w) => w.toPrecision(3)).join(', ')}`,
      verdict: f.orderedPairs === f.pairs ? 'agrees' : f.orderedPairs * 2 > f.pairs ? `partly (${f.orderedPairs} of ${f.pairs})` : 'disagrees',
    });
    out.push({
      claim: `GradNorm toy, T = ${T}: GradNorm ends with a lower normalised test loss than equal weights`,
      source: GRADNORM,
      measured: `last-quarter mean ${fmt4(f.equalTails)} (equal) vs ${fmt4(f.gradnormTails)} (GradNorm), ${f.equalTails.length} seed(s)`,
      verdict: said(verdict(f.gradnormTails, f.equalTails, false)),
    });
  }
  return out;
}

/** The claims as a markdown table. */
export function claimsTable(claims: readonly Claim[]): string {
  const line = (c: readonly string[]) => `| ${c.join(' | ')} |`;
  return [line(['claim', 'source', 'measured here', 'verdict']), line(['---', '---', '---', '---']), ...claims.map((c) => line([c.claim, c.source, c.measured, `**${c.verdict}**`]))].join('\n');
}
