/**
 * The GradNorm toy experiment's part of docs/results.md (examples/gradnorm-toy/ writes toy.json
 * with `--out`): a markdown table and SVG plots of the normalised test loss and of GradNorm's
 * weights, plus the two numbers the claims section checks (does GradNorm end lower than equal
 * weights; are its weights in the inverse order of the task scales sigma, as the paper reports).
 */
import { fmtMeanStd, meanStd } from '../compare.js';
import { linePlot } from './svg.js';

/** One method's run in toy.json. */
export interface ToyRun {
  method: string;
  /** Normalised test loss sum_i L_i / L_i(0) at each evaluation. */
  curve: { step: number; normalised: number; perTask: number[] }[];
  weights: { step: number; w: number[] }[];
}

/** One task count's result in toy.json. */
export interface ToyCase {
  sigmas: number[];
  equal: ToyRun;
  gradnorm: ToyRun;
  seconds: { equal: number; gradnorm: number };
  /** The seeds run (`--seeds`; the plotted run is the first). */
  seeds?: number[];
  /** Per seed: last-quarter mean normalised test loss of each method, GradNorm's final weights. */
  tails?: { equal: number[]; gradnorm: number[]; finalWeights: number[][] };
}

/** toy.json: the settings, then `T2`, `T10` ... */
export interface ToyReport {
  adapter: string;
  steps: number;
  batch: number;
  lr: number;
  wlr: number;
  alpha: number;
  [key: `T${number}`]: ToyCase;
}

/** What the claims section reads from one task count. */
export interface ToyFinding {
  T: number;
  /** Mean normalised test loss over the last quarter of evaluations, per seed. */
  equalTails: number[];
  gradnormTails: number[];
  /** GradNorm's final weights (mean over seeds), in the order of the tasks. */
  finalWeights: number[];
  /** Adjacent task pairs (by sigma) whose weights go down as sigma goes up, and all pairs. */
  orderedPairs: number;
  pairs: number;
}

/** The task counts in a report, ascending. */
export function toyCases(r: ToyReport): [number, ToyCase][] {
  return Object.entries(r)
    .filter(([k]) => /^T\d+$/.test(k))
    .map(([k, v]) => [Number(k.slice(1)), v as ToyCase] as [number, ToyCase])
    .sort((a, b) => a[0] - b[0]);
}

const tail = (r: ToyRun) => {
  const xs = r.curve.slice(Math.floor((r.curve.length * 3) / 4)).map((c) => c.normalised);
  return xs.reduce((a, b) => a + b, 0) / xs.length;
};

/** The numbers of one task count (see {@link ToyFinding}). */
export function toyFinding(T: number, c: ToyCase): ToyFinding {
  const last = c.tails?.finalWeights ?? [c.gradnorm.weights[c.gradnorm.weights.length - 1]?.w ?? []];
  const w = last[0]!.map((_, i) => last.reduce((a, x) => a + x[i]!, 0) / last.length);
  const order = c.sigmas.map((s, i) => [s, i] as const).sort((a, b) => a[0] - b[0]).map(([, i]) => w[i]!);
  let ordered = 0;
  for (let i = 1; i < order.length; i++) if (order[i]! < order[i - 1]!) ordered++;
  const equalTails = c.tails?.equal ?? [tail(c.equal)];
  const gradnormTails = c.tails?.gradnorm ?? [tail(c.gradnorm)];
  return { T, equalTails, gradnormTails, finalWeights: w, orderedPairs: ordered, pairs: Math.max(0, order.length - 1) };
}

/**
 * The toy's markdown (table and image links, images named `<prefix>toy-T<T>-loss.svg` and
 * `-weights.svg`) and the SVG texts by file name.
 */
export function toySection(r: ToyReport, imagePrefix = ''): { markdown: string; svgs: Record<string, string> } {
  const svgs: Record<string, string> = {};
  const rows: string[] = [
    '| T | sigma | steps | normalised test loss, last quarter mean: equal → GradNorm | GradNorm lower at (first seed) | final GradNorm weights, mean over seeds (sigma ascending) | weights fall as sigma rises |',
    '| --- | --- | --- | --- | --- | --- | --- |',
  ];
  const images: string[] = [];
  for (const [T, c] of toyCases(r)) {
    const f = toyFinding(T, c);
    const below = c.gradnorm.curve.filter((p, k) => k > 0 && p.normalised < (c.equal.curve[k]?.normalised ?? Infinity)).length;
    const sig = T === 2 ? c.sigmas.join(', ') : `${c.sigmas[0]!.toPrecision(3)} ... ${c.sigmas[c.sigmas.length - 1]!.toPrecision(3)}`;
    const [me, mg] = [meanStd(f.equalTails)[0], meanStd(f.gradnormTails)[0]];
    const pct = ((mg - me) / me) * 100;
    rows.push(
      `| ${T} | ${sig} | ${r.steps} | ${fmtMeanStd(f.equalTails, 5)} → ${fmtMeanStd(f.gradnormTails, 5)} (${pct >= 0 ? '+' : ''}${pct.toFixed(1)}%) | ${below} of ${c.gradnorm.curve.length - 1} evaluations | ${f.finalWeights.map((x) => x.toPrecision(3)).join(', ')} | ${f.orderedPairs} of ${f.pairs} neighbour pairs |`,
    );
    svgs[`toy-T${T}-loss.svg`] = linePlot({
      title: `GradNorm toy, T = ${T}: normalised test loss`,
      xLabel: 'step',
      yLabel: 'sum L_i / L_i(0)',
      series: [c.equal, c.gradnorm].map((run) => ({ name: run.method, points: run.curve.map((p) => [p.step, p.normalised] as const) })),
    });
    svgs[`toy-T${T}-weights.svg`] = linePlot({
      title: `GradNorm toy, T = ${T}: weights`,
      xLabel: 'step',
      yLabel: 'w_i',
      logY: true,
      series: c.sigmas.map((s, i) => ({ name: `sigma ${s.toPrecision(3)}`, points: [[0, 1] as const, ...c.gradnorm.weights.map((p) => [p.step, p.w[i]!] as const)] })),
    });
    images.push(`![T = ${T}: normalised test loss](${imagePrefix}toy-T${T}-loss.svg) ![T = ${T}: GradNorm weights](${imagePrefix}toy-T${T}-weights.svg)`);
  }
  const seeds = toyCases(r)[0]?.[1].seeds ?? [0];
  const settings = `${r.steps} steps, batches of ${r.batch} fresh samples, Adam lr ${r.lr}, weight lr ${r.wlr}, alpha ${r.alpha}, seeds ${seeds.join(', ')} (mean ± std; the plots show seed ${seeds[0]}; adapter: ${r.adapter}).`;
  return { markdown: `${settings}\n\n${rows.join('\n')}\n\n${images.join('\n\n')}\n`, svgs };
}
