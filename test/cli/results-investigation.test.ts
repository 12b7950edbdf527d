// Section 6 of docs/results.md (the deficit investigation) on fabricated run records: per-task
// changes, loss scales, ΔMTL after each epoch against the single-task networks at the same epoch,
// and the loss-normalised row against equal weights, by the rule.
import { describe, expect, it } from 'vitest';
import type { CompareRow } from '../../src/cli/compare.js';
import type { CompareFile } from '../../src/cli/results/grid-files.js';
import { deltaByEpoch, investigationSection } from '../../src/cli/results/investigation.js';

const SEEDS = [0, 1, 2];
const TASKS = ['semseg', 'depth'];

/** Records of a run: a first step with `losses`, then one epoch record per validation in `vals`. */
function runRecords(losses: Record<string, number>, vals: Record<string, Record<string, number>>[], trainLoss = losses): unknown[] {
  return [
    { type: 'baseline', val: {} },
    { type: 'step', step: 1, losses, weights: {} },
    ...vals.map((val, e) => ({ type: 'epoch', epoch: e, step: (e + 1) * 10, trainLoss, val })),
    { type: 'final', val: vals.at(-1) },
  ];
}

const records = new Map<string, unknown[]>();
for (const s of SEEDS) {
  // Single-task networks: mIoU 0.4 then 0.5, rmse 1.0 then 0.8 (every seed alike).
  records.set(`single-semseg-s${s}`, runRecords({ semseg: 1.2 }, [{ semseg: { mIoU: 0.4 } }, { semseg: { mIoU: 0.5 } }], { semseg: 0.5 }));
  records.set(`single-depth-s${s}`, runRecords({ depth: 0.4 }, [{ depth: { rmse: 1.0 } }, { depth: { rmse: 0.8 } }], { depth: 0.2 }));
  // Shared encoder: 10% worse on both tasks after epoch 1, 1 + s % worse on semseg after epoch 2.
  records.set(`shared-encoder-equal-s${s}`, runRecords({ semseg: 1.5, depth: 0.5 }, [{ semseg: { mIoU: 0.36 }, depth: { rmse: 1.1 } }, { semseg: { mIoU: 0.5 * (1 - (1 + s) / 100) }, depth: { rmse: 0.8 } }], { semseg: 0.6, depth: 0.2 }));
}

const row = (model: string, balancer: string, delta: number[], metrics: Record<string, number[]>): CompareRow => ({
  model, balancer, delta, metrics, params: 1, flops: 1, stepSeconds: [0.1], wallSeconds: [1],
  runs: SEEDS.map((s) => `${model}-${balancer.split(':')[0]}-s${s}`),
});
const se = row('shared-encoder', 'equal', [-0.5, -1, -1.5], { semseg: [0.495, 0.49, 0.485], depth: [0.8, 0.8, 0.8] });
const file = (rows: CompareRow[]): CompareFile => ({
  command: 'c', adapter: 'a', seeds: SEEDS, tasks: TASKS,
  directions: { semseg: { mIoU: true }, depth: { rmse: false } },
  baselines: { semseg: { mIoU: 0.5 }, depth: { rmse: 0.8 } },
  singleTask: { params: 2, flops: 2, stepSeconds: [0.2], delta: [0, 0, 0] },
  rows, runs: [],
});
const arch = file([se]);
const shared = file([se, row('shared-encoder', 'fixed:weights=[0.5,1.5]', [-9, -10, -11], { semseg: [0.4, 0.4, 0.4], depth: [0.8, 0.8, 0.8] })]);
const recordsOf = (run: string) => records.get(run) ?? [];

describe('the deficit investigation', () => {
  it('follows ΔMTL over epochs against the single-task networks at the same epoch', () => {
    const d = deltaByEpoch(arch, se, recordsOf)!;
    expect(d).toHaveLength(2);
    for (const x of d[0]!) expect(x).toBeCloseTo(-10, 10);
    // Semseg 1, 2, 3 % worse, depth equal: ΔMTL -0.5, -1, -1.5.
    expect(d[1]!.map((x) => Number(x.toFixed(10)))).toEqual([-0.5, -1, -1.5]);
    // A run without per-epoch validation has no curve.
    expect(deltaByEpoch(arch, { ...se, runs: ['missing-s0'] }, recordsOf)).toBeNull();
  });

  it('writes the per-task changes, the loss scales, the epoch table, the loss-scale verdict and the notes', () => {
    const md = investigationSection({ architectures: arch, shared, best: 'shared-encoder', recordsOf, notes: 'Hand-written reading.' });
    expect(md).toMatch(/^## 6\. /);
    expect(md).toMatch(/\| shared-encoder \| -2\.00 ± 1\.00 \| 0\.00 ± 0\.00 \| -1\.00 ± 0\.50 \|/);
    expect(md).toMatch(/\| shared-encoder, fixed:weights=\[0\.5,1\.5\] \| -20\.00 ± 0\.00 \|/);
    // First-step losses 1.5 and 0.5 (75% and 25%); last-epoch train loss 0.6 shared vs 0.5 single.
    expect(md).toMatch(/\| semseg \| 1\.500 ± 0\.000 \| 75% \| 0\.500 ± 0\.000 \| 0\.600 ± 0\.000 \| 1\.20 \|/);
    expect(md).toMatch(/\| depth \| 0\.500 ± 0\.000 \| 25% \| 0\.200 ± 0\.000 \| 0\.200 ± 0\.000 \| 1\.00 \|/);
    expect(md).toMatch(/\| shared-encoder \| -10\.00 ± 0\.00 \| -1\.00 ± 0\.50 \| higher \|/);
    expect(md).toMatch(/ΔMTL -10\.00 ± 1\.00 against -1\.00 ± 0\.50, \*\*worse\*\* by the rule/);
    expect(md.trim().endsWith('Hand-written reading.')).toBe(true);
  });

  it('adds the capacity and longer-training experiments when the budget ran them', () => {
    const capacity = file([{ ...row('shared-encoder:width=0.5', 'equal', [1, 1.5, 2], { semseg: [0.5], depth: [0.8] }), params: 4 }]);
    const longer = { ...file([row('shared-encoder', 'equal', [-0.2, -0.3, -0.4], { semseg: [0.6, 0.6, 0.6], depth: [0.7, 0.7, 0.7] })]), baselines: { semseg: { mIoU: 0.6 }, depth: { rmse: 0.7 } } };
    const md = investigationSection({ architectures: arch, shared, recordsOf, capacity, longer, longerEpochs: 4 });
    expect(md).toMatch(/\| single-task \(4 networks\) \| 2 \| 0\.00 ± 0\.00 \| better \| - \|/);
    expect(md).toMatch(/\| shared-encoder:width=0\.5 \| 4 \| 1\.50 ± 0\.50 \| better \| better \|/);
    expect(md).toMatch(/retrained for 4 epochs instead of 2/);
    expect(md).toMatch(/\| shared-encoder, 4 epochs \| 0\.00 ± 0\.00 \| 0\.00 ± 0\.00 \| -0\.30 ± 0\.10 \|/);
    expect(md).toMatch(/ΔMTL -0\.30 ± 0\.10 after 4 epochs against -1\.00 ± 0\.50 after 2: \*\*the gap is smaller\*\*/);
    expect(md).toMatch(/semseg 0\.6000 \(was 0\.5000\)/);
  });
});
