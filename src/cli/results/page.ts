/**
 * docs/results.md from a grid's numbers: the command and budget at the top, the rule, the
 * architecture table, the balancer tables, the weight plots, the GradNorm toy, the claims checked
 * against the data (claims.ts), and the total compute. Pure: it takes the loaded files and returns
 * the page and its images (paths relative to the page), so a test can feed it a fabricated grid.
 */
import { formatCount } from '../../mtl/models/summary.js';
import { fmtMeanStd, meanStd } from '../compare.js';
import { SURVEY_METRIC } from '../survey-metrics.js';
import { architectureClaims, balancerClaims, claimsTable, scored, toyClaims } from './claims.js';
import type { CompareFile, WeightsOf } from './grid-files.js';
import { investigationSection, type InvestigationInput } from './investigation.js';
import { RULE_TEXT, topGroup, verdict } from './stats.js';
import { linePlot } from './svg.js';
import { toyCases, toySection, type ToyReport } from './toy.js';

/** What the page is made from. */
export interface PageInput {
  /** The command that regenerates the page. */
  command: string;
  /** The budget's name and what it trains. */
  budget: { name: string; description: string };
  /** A warning printed first (e.g. that this is the tiny pipeline check). */
  banner?: string;
  architectures: CompareFile;
  /** Balancer tables, one per model (the shared encoder first). */
  balancers: CompareFile[];
  weightsOf: WeightsOf;
  toy: ToyReport | null;
  /** What did not finish (said in section 2, so a missing table is never silent). */
  failures?: string[];
  /** What the budget leaves out and why (said in section 2). */
  omitted?: string;
  /** Section 6, the deficit investigation (left out when absent). */
  investigation?: Omit<InvestigationInput, 'architectures' | 'shared'>;
  /** Folder of the images, relative to the page (default 'results'). */
  imageDir?: string;
}

/** The page and its images (relative path -> SVG text). */
export interface Page {
  markdown: string;
  files: Record<string, string>;
}

const pct = (xs: readonly number[]) => {
  const [raw, s] = meanStd(xs);
  const m = Math.abs(raw) < 0.005 ? 0 : raw; // no "-0.00"

  return xs.length > 1 ? `${m.toFixed(2)} ± ${s.toFixed(2)}` : m.toFixed(2);
};
const ms = (xs: readonly number[]) => (xs.length ? `${(meanStd(xs)[0] * 1000).toFixed(0)}` : '-');

/** One comparison as a table with a `vs <reference>` column by the rule. */
function table(file: CompareFile, by: 'model' | 'balancer', reference: string): string {
  const tasks = file.tasks;
  const arrow = (t: string) => {
    const d = file.directions[t] ?? {};
    const k = SURVEY_METRIC[t] ?? Object.keys(d)[0] ?? '';
    return `${t} ${k} ${d[k] === false ? '↓' : '↑'}`;
  };
  const ref = by === 'model' && reference === 'single-task' ? file.singleTask.delta : file.rows.find((r) => r[by] === reference)?.delta;
  const head = [by, ...tasks.map(arrow), 'ΔMTL (%) ↑', `vs ${reference}`, 'params', 'FLOPs/image', 'step (ms)'];
  const line = (c: readonly string[]) => `| ${c.join(' | ')} |`;
  const out = [line(head), line(head.map(() => '---'))];
  if (by === 'model') {
    const s = file.singleTask;
    out.push(line(['single-task', ...tasks.map((t) => (file.baselines[t]?.[SURVEY_METRIC[t] ?? ''] ?? NaN).toPrecision(4)), pct(s.delta), reference === 'single-task' ? '-' : ref ? verdict(s.delta, ref) : '-', formatCount(s.params), formatCount(s.flops), ms(s.stepSeconds)]));
  }
  for (const r of file.rows) {
    const v = r[by] === reference ? '-' : ref ? verdict(r.delta, ref) : '-';
    out.push(line([r[by], ...tasks.map((t) => fmtMeanStd(r.metrics[t] ?? [NaN])), pct(r.delta), v, formatCount(r.params), formatCount(r.flops), ms(r.stepSeconds)]));
  }
  return out.join('\n');
}

/** The sentence under a table: a clear best, or "no difference at this budget" among the top rows. */
function verdictLine(file: CompareFile, by: 'model' | 'balancer'): string {
  const rows = scored(file, by);
  if (by === 'model') rows.push({ label: 'single-task', values: file.singleTask.delta });
  const g = topGroup(rows);
  if (g.length === 0) return '';
  if (g.length === 1) return `By ΔMTL, **${g[0]!.label}** is best: it beats every other row by the rule.`;
  return `By ΔMTL, **no difference at this budget** among ${g.map((r) => `${r.label} (${pct(r.values)})`).join(', ')}: these rows are not further apart than their spread over seeds.`;
}

/** Mean weights per logged step over a row's seeds. */
function meanWeights(runs: readonly string[], weightsOf: WeightsOf): { step: number; weights: Record<string, number> }[] {
  const per = runs.map(weightsOf).filter((x) => x.length);
  if (per.length === 0) return [];
  const n = Math.min(...per.map((p) => p.length));
  return Array.from({ length: n }, (_, i) => {
    const w: Record<string, number> = {};
    for (const p of per) for (const [t, v] of Object.entries(p[i]!.weights)) w[t] = (w[t] ?? 0) + v / per.length;
    return { step: per[0]![i]!.step, weights: w };
  });
}

/** The page (see the file comment). */
export function resultsPage(input: PageInput): Page {
  const dir = input.imageDir ?? 'results';
  const files: Record<string, string> = {};
  const arch = input.architectures;
  const all = [arch, ...input.balancers];
  const runs = new Map<string, number>();
  for (const f of all) for (const r of f.runs) runs.set(r.name, r.wallSeconds);
  // Section 6's runs count too; the longer-training runs live in their own folder (same names).
  for (const r of input.investigation?.capacity?.runs ?? []) runs.set(r.name, r.wallSeconds);
  for (const r of input.investigation?.longer?.runs ?? []) runs.set(`longer/${r.name}`, r.wallSeconds);
  const toySeconds = input.toy ? toyCases(input.toy).reduce((a, [, c]) => a + c.seconds.equal + c.seconds.gradnorm, 0) : 0;
  const gridSeconds = [...runs.values()].reduce((a, b) => a + b, 0);
  const hours = (s: number) => (s >= 3600 ? `${(s / 3600).toFixed(1)} h` : s >= 60 ? `${(s / 60).toFixed(1)} min` : `${s.toFixed(0)} s`);
  const md: string[] = ['# Results: the survey\'s comparison and GradNorm\'s claims, reproduced', ''];
  if (input.banner) md.push(`> **${input.banner}**`, '');
  md.push(
    `Generated by \`${input.command}\` (resumable: finished runs are reused, a killed grid continues). Budget **${input.budget.name}**: ${input.budget.description}.`,
    `Seeds: ${arch.seeds.join(', ')}. Adapter: ${arch.adapter}. Values are mean ± standard deviation over the seeds.`,
    `Total compute: ${hours(gridSeconds + toySeconds)} (sum of the wall times of ${runs.size} training runs, ${hours(gridSeconds)}, and of the GradNorm toy, ${hours(toySeconds)}).`,
    '',
    `**The rule.** ${RULE_TEXT[0]!.toUpperCase()}${RULE_TEXT.slice(1)}. ΔMTL is the survey's: the mean over tasks of the relative change of the task's metric against the single-task networks, signed so that better is positive; the single-task row's own spread is that of its seeds around their mean. Parameters and FLOPs (multiply-adds x 2, convolutions and matrix products) are per image at the training size; the single-task row counts its ${arch.tasks.length} networks together. Step times are means over training${(arch.jobs ?? 1) > 1 ? `, measured with ${arch.jobs} runs sharing the machine` : ''}.`,
    '',
    '## 1. Architectures, equal weights',
    '',
    table(arch, 'model', 'shared-encoder'),
    '',
    verdictLine(arch, 'model'),
    '',
    '## 2. Loss balancers',
    '',
  );
  for (const b of input.balancers) {
    const model = b.rows[0]?.model ?? '?';
    md.push(`### On ${model}`, '', table(b, 'balancer', 'equal'), '', verdictLine(b, 'balancer'), '');
  }
  if (input.omitted) md.push(`**Left out at this budget:** ${input.omitted}.`, '');
  for (const f of input.failures ?? []) md.push(`**Not measured:** ${f}.`, '');
  md.push('## 3. Task weights over training', '', 'Mean over seeds of the weight each balancer gave each task at every logged step (equal weights are constant and left out).', '');
  for (const b of input.balancers) {
    const model = b.rows[0]?.model ?? '?';
    const images: string[] = [];
    for (const r of b.rows) {
      if (r.balancer === 'equal') continue;
      const steps = meanWeights(r.runs, input.weightsOf);
      if (steps.length === 0) continue;
      const name = `weights-${model}-${r.balancer}.svg`.replace(/[^A-Za-z0-9._-]/g, '_');
      const tasks = Object.keys(steps[0]!.weights);
      files[`${dir}/${name}`] = linePlot({ title: `${r.balancer} on ${model}`, xLabel: 'step', yLabel: 'task weight', series: tasks.map((t) => ({ name: t, points: steps.map((s) => [s.step, s.weights[t]!] as const) })) });
      images.push(`![${r.balancer} on ${model}](${dir}/${name})`);
    }
    md.push(`### On ${model}`, '', images.join('\n') || '(no weights logged)', '');
  }
  md.push('## 4. The GradNorm toy experiment', '');
  if (input.toy) {
    const t = toySection(input.toy, `${dir}/`);
    for (const [name, svg] of Object.entries(t.svgs)) files[`${dir}/${name}`] = svg;
    md.push('`examples/gradnorm-toy/` (Chen et al. 2018, section 4): regression tasks that differ only in their scale sigma, equal weights against GradNorm from the same initialisation.', '', t.markdown);
  } else md.push('(the toy has not run)', '');
  const claims = [...architectureClaims(arch), ...(input.balancers[0] ? balancerClaims(input.balancers[0], input.weightsOf) : []), ...toyClaims(input.toy)];
  md.push('## 5. Findings against the papers\' claims', '', 'Each verdict is computed from the tables above by the rule; the text follows the data.', '', claimsTable(claims), '');
  if (input.investigation) {
    const shared = input.balancers.find((b) => b.rows[0]?.model === 'shared-encoder');
    md.push(investigationSection({ ...input.investigation, architectures: arch, shared }));
  }
  return { markdown: `${md.join('\n')}\n`, files };
}
