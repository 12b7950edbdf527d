// docs/results.md's generator on a fabricated grid (run folders and table files written here, no
// training): the tables, the "no difference at this budget" rule, the claims and the plots.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { CompareRow } from '../../src/cli/compare.js';
import { checkEntries, folderPart, parseEntries } from '../../src/cli/compare-spec.js';
import { architectureClaims, balancerClaims, toyClaims } from '../../src/cli/results/claims.js';
import { readCompareFile, readToy, weightsIn, type CompareFile } from '../../src/cli/results/grid-files.js';
import { resultsPage } from '../../src/cli/results/page.js';
import { topGroup, verdict } from '../../src/cli/results/stats.js';
import { linePlot, logTicks, ticks } from '../../src/cli/results/svg.js';
import type { ToyReport } from '../../src/cli/results/toy.js';

const root = mkdtempSync(join(tmpdir(), 'webmtl-results-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const TASKS = ['semseg', 'depth'];
const SEEDS = [0, 1, 2];

/** A run folder whose metrics.jsonl logs `weights(step)` for 8 steps and one epoch of 4 s. */
function fakeRun(dir: string, name: string, weights: (step: number) => Record<string, number>, wall = 10): void {
  mkdirSync(join(dir, name), { recursive: true });
  const lines = Array.from({ length: 8 }, (_, i) => ({ type: 'step', step: i + 1, epoch: 0, time: i, lr: 1e-3, losses: { semseg: 1, depth: 1 }, weights: weights(i + 1) }));
  lines.push({ type: 'epoch', epoch: 0, step: 8, time: wall, trainLoss: {}, weights: {}, val: {}, seconds: 4 } as never);
  writeFileSync(join(dir, name, 'metrics.jsonl'), `${lines.map((l) => JSON.stringify(l)).join('\n')}\n`);
}

/** A table row with ΔMTL `delta` per seed (its runs logged `weights`). */
function row(dir: string, model: string, balancer: string, delta: number[], weights: (step: number) => Record<string, number> = () => ({ semseg: 1, depth: 1 })): CompareRow {
  const runs = SEEDS.map((s) => `${folderPart(model)}-${folderPart(balancer)}-s${s}`);
  for (const r of runs) fakeRun(dir, r, weights);
  return { model, balancer, delta, metrics: { semseg: delta.map((d) => 0.4 + d / 100), depth: [0.8, 0.81, 0.79] }, params: 1.5e6, flops: 2.5e9, stepSeconds: [0.1, 0.1, 0.1], wallSeconds: [10, 10, 10], runs };
}

function table(dir: string, name: string, rows: CompareRow[]): void {
  const file: CompareFile = {
    command: `webmtl compare --table ${name}`,
    adapter: 'fake adapter',
    seeds: SEEDS,
    tasks: TASKS,
    directions: { semseg: { mIoU: true }, depth: { rmse: false } },
    baselines: { semseg: { mIoU: 0.45 }, depth: { rmse: 0.87 } },
    singleTask: { params: 2e6, flops: 3e9, stepSeconds: [0.2, 0.2, 0.2], delta: [-0.5, 0, 0.5] },
    rows,
    runs: rows.flatMap((r) => r.runs.map((n) => ({ name: n, wallSeconds: 10 }))),
  };
  writeFileSync(join(dir, `${name}.json`), JSON.stringify(file));
}

/** The grid: MTI-Net clearly best, Cross-Stitch within the spread of the shared encoder, NDDR below it. */
function fakeGrid(dir: string): void {
  table(dir, 'architectures', [
    row(dir, 'shared-encoder', 'equal', [-3, -3.5, -2.5]),
    row(dir, 'cross-stitch', 'equal', [-2.5, -3.5, -1.5]),
    row(dir, 'nddr', 'equal', [-6, -6.2, -5.8]),
    row(dir, 'mti-net', 'equal', [4, 4.5, 3.5]),
  ]);
  table(dir, 'balancers-shared-encoder', [
    row(dir, 'shared-encoder', 'equal', [-3, -3.5, -2.5]),
    row(dir, 'shared-encoder', 'uncertainty', [-2.8, -3.4, -2.2]),
    // GradNorm, alpha 1.5: clearly worse than equal, weights ordered semseg < depth.
    row(dir, 'shared-encoder', 'gradnorm:alpha=1.5', [-7, -6.5, -7.5], (s) => ({ semseg: 1 - s / 10, depth: 1 + s / 10 })),
    // MGDA-UB: nearly all weight on depth.
    row(dir, 'shared-encoder', 'mgda', [-4, -4.5, -3.5], () => ({ semseg: 0.1, depth: 0.9 })),
  ]);
  const curve = (v: number) => Array.from({ length: 8 }, (_, k) => ({ step: k * 10, normalised: 2 - k * v, perTask: [1, 1] }));
  const toy = {
    adapter: 'fake adapter', steps: 70, batch: 100, lr: 1e-3, wlr: 0.025, alpha: 0.12,
    T2: {
      sigmas: [1, 100],
      equal: { method: 'equal', curve: curve(0.01), weights: [] },
      gradnorm: { method: 'gradnorm', curve: curve(0.02), weights: [{ step: 70, w: [1.9, 0.1] }] },
      seconds: { equal: 30, gradnorm: 30 },
      seeds: SEEDS,
      tails: { equal: [1.94, 1.95, 1.93], gradnorm: [1.88, 1.87, 1.89], finalWeights: [[1.9, 0.1], [1.8, 0.2], [1.95, 0.05]] },
    },
  };
  mkdirSync(join(dir, 'toy'), { recursive: true });
  writeFileSync(join(dir, 'toy', 'toy.json'), JSON.stringify(toy));
}

describe('the rule', () => {
  it('counts a difference only beyond the sum of the spreads, in the direction of the metric', () => {
    expect(verdict([4, 4.5, 3.5], [-3, -3.5, -2.5])).toBe('better');
    expect(verdict([4, 4.5, 3.5], [-3, -3.5, -2.5], false)).toBe('worse');
    // Means 1 apart, spreads 0.5 + 0.5: not beyond, so no difference.
    expect(verdict([0.5, 1, 1.5], [-0.5, 0, 0.5])).toBe('no difference');
    expect(verdict([0.5, 1.01, 1.5], [-0.5, 0, 0.5])).toBe('better');
    const g = topGroup([
      { label: 'a', values: [1, 2, 3] },
      { label: 'b', values: [0, 0.5, 1] },
      { label: 'c', values: [-9, -9, -9] },
    ]);
    expect(g.map((x) => x.label)).toEqual(['a', 'b']);
  });
});

describe('compare entries', () => {
  it('read name:key=value options, name run folders, and refuse what they cannot read', () => {
    const e = parseEntries('gradnorm:alpha=0.5, gradnorm:alpha=1.5:lr=0.01,uncertainty', 'balancers');
    expect(e.map((x) => x.label)).toEqual(['gradnorm:alpha=0.5', 'gradnorm:alpha=1.5:lr=0.01', 'uncertainty']);
    expect(e[1]!.options).toEqual({ alpha: 1.5, lr: 0.01 });
    expect(parseEntries('shared-encoder:head=aspp', 'models')[0]!.options).toEqual({ head: 'aspp' });
    expect(parseEntries('fixed:weights=[1,3],equal', 'balancers').map((x) => x.options)).toEqual([{ weights: [1, 3] }, {}]);
    expect(folderPart('gradnorm:alpha=0.5')).toBe('gradnorm_alpha-0.5');
    expect(folderPart('equal')).toBe('equal');
    expect(() => parseEntries('gradnorm:alpha', 'balancers')).toThrow(/option 'alpha' of 'gradnorm:alpha' is not key=value/);
    expect(() => parseEntries('gradnorm:=1', 'balancers')).toThrow(/option '=1' of 'gradnorm:=1' is not key=value/);
    expect(() => parseEntries('equal,equal', 'balancers')).toThrow(/'equal' is given twice/);
    expect(() => parseEntries(' , ', 'models')).toThrow(/--models needs at least one value/);
    expect(() => checkEntries(parseEntries('mti-net:head=aspp', 'models'), ['mti-net'], 'models', () => ['width'])).toThrow(/'mti-net' takes no option 'head'; its options: width/);
  });
});

describe('the results page on a fabricated grid', () => {
  const dir = join(root, 'grid');
  fakeGrid(dir);
  const page = resultsPage({
    command: 'npm run results -- --budget fake',
    budget: { name: 'fake', description: 'a fabricated grid' },
    banner: 'This is a test page, not results.',
    architectures: readCompareFile(dir, 'architectures'),
    balancers: [readCompareFile(dir, 'balancers-shared-encoder')],
    weightsOf: weightsIn(dir),
    toy: readToy(dir),
    failures: ['the balancer table on mti-net did not finish: run X failed'],
  });
  const md = page.markdown;

  it('starts with the banner and the command, states the rule and the total compute', () => {
    expect(md.split('\n').slice(0, 4).join('\n')).toMatch(/> \*\*This is a test page, not results\.\*\*/);
    expect(md).toMatch(/Generated by `npm run results -- --budget fake`/);
    expect(md).toMatch(/\|mean_a - mean_b\| > std_a \+ std_b/);
    // 4 architecture rows and 3 more balancer rows (equal is shared), 3 seeds: 21 runs of 10 s; the toy 60 s.
    expect(md).toMatch(/Total compute: 4\.5 min \(sum of the wall times of 21 training runs, 3\.5 min, and of the GradNorm toy, 1\.0 min\)/);
  });

  it('tabulates every row with its metrics, ΔMTL, the verdict against the reference and the costs', () => {
    expect(md).toMatch(/\| model \| semseg mIoU ↑ \| depth rmse ↓ \| ΔMTL \(%\) ↑ \| vs shared-encoder \| params \| FLOPs\/image \| step \(ms\) \|/);
    expect(md).toMatch(/\| single-task \| 0\.4500 \| 0\.8700 \| 0\.00 ± 0\.50 \| better \| 2\.00M \| 3\.00G \| 200 \|/);
    expect(md).toMatch(/\| mti-net \| 0\.4400 ± 0\.0050 \| 0\.8000 ± 0\.010 \| 4\.00 ± 0\.50 \| better \| 1\.50M \| 2\.50G \| 100 \|/);
    expect(md).toMatch(/\| cross-stitch \| .* \| -2\.50 ± 1\.00 \| no difference \|/);
    expect(md).toMatch(/\| nddr \| .* \| -6\.00 ± 0\.20 \| worse \|/);
    expect(md).toMatch(/\| gradnorm:alpha=1\.5 \| .* \| -7\.00 ± 0\.50 \| worse \|/);
    expect(md).toMatch(/\| uncertainty \| .* \| no difference \|/);
    expect(md).toMatch(/By ΔMTL, \*\*mti-net\*\* is best/);
    expect(md).toMatch(/\*\*Not measured:\*\* the balancer table on mti-net did not finish: run X failed\./);
    expect(md).toMatch(/By ΔMTL, \*\*no difference at this budget\*\* among uncertainty \(-2\.80 ± 0\.60\), equal \(-3\.00 ± 0\.50\)/);
  });

  it('checks the claims by the rule', () => {
    const claim = (re: RegExp) => md.split('\n').find((l) => re.test(l)) ?? '';
    expect(claim(/Decoder-focused models beat/)).toMatch(/\*\*agrees\*\*/);
    expect(claim(/MTI-Net is the best model/)).toMatch(/above every other row .*\*\*agrees\*\*/);
    expect(claim(/Cross-Stitch beats the shared encoder/)).toMatch(/\*\*no difference at this budget\*\*/);
    expect(claim(/NDDR-CNN beats the shared encoder/)).toMatch(/\*\*disagrees\*\*/);
    expect(claim(/MTAN beats the shared encoder/)).toMatch(/not in this grid .*\*\*not measured\*\*/);
    expect(claim(/GradNorm \(gradnorm:alpha=1\.5\) beats equal weights/)).toMatch(/\*\*disagrees\*\*/);
    expect(claim(/matches or beats uncertainty/)).toMatch(/\*\*disagrees\*\*/);
    expect(claim(/MGDA-UB gives one task most of the weight/)).toMatch(/0\.90 ± 0\.00 \(task: depth\).*\*\*agrees\*\*/);
    expect(claim(/T = 2: GradNorm's weights fall as sigma rises/)).toMatch(/1 of 1 .*\*\*agrees\*\*/);
    expect(claim(/T = 2: GradNorm ends with a lower normalised test loss/)).toMatch(/3 seed\(s\) .*\*\*agrees\*\*/);
  });

  it('follows the data: the same claims flip when the numbers do', () => {
    const arch = readCompareFile(dir, 'architectures');
    arch.rows.find((r) => r.model === 'mti-net')!.delta = [-9, -9.5, -8.5];
    const c = architectureClaims(arch);
    expect(c.find((x) => x.claim.startsWith('MTI-Net'))!.verdict).toBe('disagrees');
    expect(c.find((x) => x.claim.startsWith('Decoder-focused'))!.verdict).toBe('disagrees');
    const bal = readCompareFile(dir, 'balancers-shared-encoder');
    const balanced = balancerClaims(bal, () => [{ step: 1, weights: { semseg: 1, depth: 1 } }]);
    expect(balanced.find((x) => x.claim.startsWith('MGDA-UB'))!.verdict).toBe('disagrees');
    const toy = readToy(dir)!;
    toy.T2.tails!.finalWeights = [[0.1, 1.9]];
    toy.T2.tails!.gradnorm = [1.94, 1.95, 1.93];
    const t = toyClaims(toy);
    expect(t[0]!.verdict).toBe('disagrees');
    expect(t[1]!.verdict).toBe('no difference at this budget');
  });

  it('draws the weight plots and the toy plots and embeds them', () => {
    const names = Object.keys(page.files).sort();
    expect(names).toEqual([
      'results/toy-T2-loss.svg',
      'results/toy-T2-weights.svg',
      'results/weights-shared-encoder-gradnorm_alpha_1.5.svg',
      'results/weights-shared-encoder-mgda.svg',
      'results/weights-shared-encoder-uncertainty.svg',
    ]);
    for (const n of names) expect(md).toContain(`](${n})`);
    const svg = page.files['results/weights-shared-encoder-gradnorm_alpha_1.5.svg']!;
    expect(svg).toMatch(/^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg"/);
    // One line per task, 8 logged steps each; semseg falls from 0.9 to 0.2, depth rises.
    const lines = [...svg.matchAll(/<polyline [^>]*points="([^"]+)"/g)].map((m) => m[1]!.split(' ').map((p) => p.split(',').map(Number)));
    expect(lines.map((l) => l.length)).toEqual([8, 8]);
    expect(lines[0]![0]![1]!).toBeLessThan(lines[0]![7]![1]!); // semseg falls: y grows downwards
    expect(lines[1]![0]![1]!).toBeGreaterThan(lines[1]![7]![1]!);
    expect(svg).toMatch(/>semseg</);
    expect(md).toMatch(/\| 2 \| 1, 100 \| 70 \| 1\.9400 ± 0\.010 → 1\.8800 ± 0\.010 \(-3\.1%\)/);
  });
});

describe('line plots', () => {
  it('put round ticks and skip non-positive values on a log axis', () => {
    expect(ticks(0, 1)).toEqual([0, 0.2, 0.4, 0.6, 0.8, 1]);
    expect(logTicks(-2, 1).map((t) => Number((10 ** t).toPrecision(3)))).toEqual([0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10]);
    // Less than a decade: round linear values.
    expect(logTicks(Math.log10(0.5), Math.log10(1.3)).map((t) => Number((10 ** t).toPrecision(3)))).toEqual([0.6, 0.8, 1, 1.2]);
    const svg = linePlot({ title: 't', xLabel: 'x', yLabel: 'y', logY: true, series: [{ name: 'a', points: [[0, 1], [1, 0], [2, 100]] }] });
    expect(svg.match(/points="([^"]+)"/)![1]!.split(' ')).toHaveLength(2);
    expect(svg).toMatch(/y \(log\)/);
  });
});

export type { ToyReport };
