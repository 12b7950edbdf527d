// `webmtl compare` with what the results grid needs: models and balancers with options, the cost
// columns, runs in worker processes (--jobs), and a folder of another configuration refused.
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { compareCommand, type CompareCommandOptions } from '../../src/cli/compare.js';
import type { CompareFile } from '../../src/cli/results/grid-files.js';
import { devices } from '../helpers/devices.js';

const root = mkdtempSync(join(tmpdir(), 'webmtl-compare-grid-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

async function quietly<T>(fn: () => Promise<T>): Promise<[T, string]> {
  const write = process.stdout.write.bind(process.stdout);
  let said = '';
  process.stdout.write = ((t: string) => ((said += t), true)) as typeof process.stdout.write;
  try {
    return [await fn(), said];
  } finally {
    process.stdout.write = write;
  }
}

const base = (out: string): CompareCommandOptions => ({
  preset: 'smoke',
  set: ['tasks=["semseg","depth"]', 'train.reportSamples=0', 'train.epochs=1'],
  models: 'shared-encoder',
  balancers: 'equal,gradnorm:alpha=0.5',
  seeds: '0',
  out,
  progress: false,
});

describe.each(devices())('compare for the results grid on %s', () => {
  it('takes options per balancer, adds params, FLOPs and step time, and trains in workers with --jobs', async () => {
    const out = join(root, 'grid');
    const [, said] = await quietly(() => compareCommand({ ...base(out), jobs: '2', table: 'balancers' }));
    expect(said).toMatch(/4 runs .* 2 at a time/);
    expect(said).toMatch(/shared-encoder-gradnorm_alpha-0\.5-s0 \(in a worker\)/);
    const json = JSON.parse(readFileSync(join(out, 'balancers.json'), 'utf8')) as CompareFile;
    expect(json.rows.map((r) => r.balancer)).toEqual(['equal', 'gradnorm:alpha=0.5']);
    const gn = JSON.parse(readFileSync(join(out, 'shared-encoder-gradnorm_alpha-0.5-s0', 'config.json'), 'utf8')) as { balancer: unknown };
    expect(gn.balancer).toEqual({ method: 'gradnorm', alpha: 0.5 });
    for (const r of json.rows) {
      expect(r.params).toBeGreaterThan(1000);
      expect(r.flops).toBeGreaterThan(r.params);
      expect(r.stepSeconds[0]).toBeGreaterThan(0);
      expect(r.wallSeconds[0]).toBeGreaterThan(r.stepSeconds[0]!);
    }
    // Two single-task networks count twice a shared encoder's backbone.
    expect(json.singleTask.params).toBeGreaterThan(json.rows[0]!.params);
    expect(json.runs).toHaveLength(4);
    expect(readFileSync(join(out, 'balancers.md'), 'utf8')).toMatch(/\| ΔMTL \(%\) \| params \| FLOPs \| step \(ms\) \|\n[^\n]*\n\| single-task \| - \| .* \| [\d.]+k \| [\d.]+M \| [\d.]+ \|/);
    // The same folder, another table with one more balancer: the finished runs are reused.
    const [, again] = await quietly(() => compareCommand({ ...base(out), balancers: 'equal,gradnorm:alpha=0.5,uncertainty', table: 'more' }));
    expect(again.match(/finished earlier, reusing/g)).toHaveLength(4);
    // A changed configuration in the same folder is refused before it mixes results.
    await expect(quietly(() => compareCommand({ ...base(out), set: [...base(out).set!, 'optimizer.lr=0.01'] }))).rejects.toThrow(/single-semseg-s0 holds a run of another configuration/);
  }, 120_000);

  it('refuses an option a model or a balancer does not take before anything trains', async () => {
    const out = join(root, 'bad');
    await expect(compareCommand({ ...base(out), models: 'mti-net:head=aspp' })).rejects.toThrow(/--models: 'mti-net' takes no option 'head'; its options: .*width/);
    await expect(compareCommand({ ...base(out), balancers: 'gradnorm:beta=1' })).rejects.toThrow(/--balancers: 'gradnorm:beta=1': .*beta/);
    await expect(compareCommand({ ...base(out), jobs: '0' })).rejects.toThrow(/--jobs: '0' is not a positive integer/);
    expect(existsSync(out)).toBe(false);
  });
});
