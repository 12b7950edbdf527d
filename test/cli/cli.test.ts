import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { applyOverrides, ConfigError, parseConfig } from '../../src/cli/config.js';
import { checkHostLabels } from '../../src/cli/check-labels.js';
import { compareCommand, finishedMetrics } from '../../src/cli/compare.js';
import { evaluateRun } from '../../src/cli/eval.js';
import { finishRun } from '../../src/cli/finish.js';
import { program, resolveConfig } from '../../src/cli/main.js';
import { PRESETS, preset } from '../../src/cli/presets.js';
import { readRun } from '../../src/cli/report/index.js';
import { trainRun } from '../../src/cli/train.js';
import * as w from '../../src/index.js';
import { devices } from '../helpers/devices.js';

const root = mkdtempSync(join(tmpdir(), 'webmtl-cli-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const smoke = () => parseConfig(preset('smoke'));
const lines = (dir: string) =>
  readFileSync(join(dir, 'metrics.jsonl'), 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as { type: string; step?: number; val?: Record<string, Record<string, number>> });

describe('run configuration', () => {
  it('every preset is valid; defaults are filled in', () => {
    for (const [name, p] of Object.entries(PRESETS)) expect(parseConfig(p, name).name).toBe(p.name);
    const c = smoke();
    expect(c.train.evalEvery).toBe(1);
    expect(c.schedule).toEqual({ kind: 'constant', warmupSteps: 0 });
  });

  it('rejects typos, wrong types and unknown presets, naming the key and listing the valid choices', () => {
    const bad = { ...preset('smoke'), trian: {} };
    expect(() => parseConfig(bad, 'x.json')).toThrow(ConfigError);
    expect(() => parseConfig(bad, 'x.json')).toThrow(/x\.json is invalid:[\s\S]*unknown key\(s\) 'trian'/);
    expect(() => parseConfig(applyOverrides(preset('smoke'), ['train.epochs=zero']))).toThrow(/train\.epochs/);
    expect(() => parseConfig(applyOverrides(preset('smoke'), ['data.kind="imagenet"']))).toThrow(/data\.kind/);
    expect(() => parseConfig({ ...preset('smoke'), tasks: ['semseg', 'semseg'] })).toThrow(/must not repeat/);
    expect(() => preset('dmeo')).toThrow(/unknown preset 'dmeo'; valid presets: demo, smoke/);
    expect(() => applyOverrides({}, ['novalue'])).toThrow(/key\.path=value/);
    expect(() => resolveConfig({ preset: 'demo', config: 'x.json' })).toThrow(/either --preset or --config/);
    expect(resolveConfig({ preset: 'smoke', set: ['train.epochs=5', 'optimizer.lr=0.01'] }).train.epochs).toBe(5);
  });

  it('the command line rejects unknown commands and options', async () => {
    const p = program();
    p.configureOutput({ writeErr: () => {}, writeOut: () => {} });
    await expect(p.parseAsync(['trian'], { from: 'user' })).rejects.toThrow(/unknown command 'trian'/);
    const q = program();
    q.configureOutput({ writeErr: () => {}, writeOut: () => {} });
    await expect(q.parseAsync(['train', '--presett', 'demo'], { from: 'user' })).rejects.toThrow(/unknown option '--presett'/);
  });

  it('host label check names the task and the sample', () => {
    const labels = new Int32Array(2 * 2 * 3).fill(1);
    labels[9] = 7;
    const batch = { ids: ['a', 'b'], input: new Float32Array(0), inputShape: [2, 3, 2, 3] as [number, number, number, number], targets: { semseg: { target: labels, shape: [2, 2, 3] } } };
    expect(() => checkHostLabels(batch, [w.segmentationTask({ numClasses: 4 })])).toThrow(/task 'semseg', sample 'b'.*first is 7 at \[1,1,0\]/);
    labels[9] = 255;
    expect(() => checkHostLabels(batch, [w.segmentationTask({ numClasses: 4 })])).not.toThrow();
  });
});

describe.each(devices())('webmtl train / eval / compare on %s', () => {
  it('trains the smoke preset into a complete run folder with a report', async () => {
    const dir = join(root, 'smoke');
    const r = await trainRun({ dir, config: smoke(), progress: false, log: () => {}, finish: finishRun });
    expect(r).toMatchObject({ steps: 4, epochs: 2, interrupted: false });
    const recs = lines(dir);
    expect(recs[0]!.type).toBe('baseline');
    expect(recs.filter((l) => l.type === 'step').map((l) => l.step)).toEqual([1, 2, 3, 4]);
    expect(recs.filter((l) => l.type === 'epoch').length).toBe(2);
    expect(recs[recs.length - 1]!.type).toBe('final');
    for (const f of ['config.json', 'checkpoints/last.safetensors', 'samples/index.json', 'report.html']) expect(existsSync(join(dir, f)), f).toBe(true);
    const run = await readRun(dir);
    expect(run.samples!.items.length).toBe(2);
    expect(readFileSync(join(dir, 'report.html'), 'utf8')).toContain('data:image/png;base64,');
    // eval reproduces the final validation metrics from the checkpoint.
    const ev = await evaluateRun(dir);
    const fin = recs[recs.length - 1]!.val!;
    for (const [t, ms] of Object.entries(fin)) for (const [k, v] of Object.entries(ms)) expect(ev[t]![k], `${t}.${k}`).toBeCloseTo(v, 4);
    await expect(trainRun({ dir, config: smoke(), progress: false, log: () => {} })).rejects.toThrow(/already holds a run; use --resume/);
  });

  it('an interrupted run writes a checkpoint mid-epoch; --resume ends where an uninterrupted run ends', async () => {
    const cfg = parseConfig(applyOverrides(preset('smoke'), ['train.epochs=2', 'train.reportSamples=0']));
    const full = await trainRun({ dir: join(root, 'full'), config: cfg, progress: false, log: () => {} });
    const stop = new AbortController();
    const dir = join(root, 'cut');
    const cut = await trainRun({ dir, config: cfg, progress: false, log: () => {}, signal: stop.signal, onStep: (s) => s === 1 && stop.abort() });
    expect(cut).toMatchObject({ interrupted: true, steps: 1, final: null });
    const res = await trainRun({ dir, resume: true, progress: false, log: () => {} });
    expect(res).toMatchObject({ interrupted: false, steps: 4, epochs: 2 });
    expect(lines(dir).filter((l) => l.type === 'step').map((l) => l.step)).toEqual([1, 2, 3, 4]);
    for (const [t, ms] of Object.entries(full.final!)) for (const [k, v] of Object.entries(ms)) expect(res.final![t]![k], `${t}.${k}`).toBeCloseTo(v, 3);
    await expect(trainRun({ dir: join(root, 'nothing'), resume: true, progress: false })).rejects.toThrow(/nothing.config\.json: not found: .* is not a run folder/);
  });

  it('compare: single-task baselines, every model x balancer, a ΔMTL table; finished runs are reused', async () => {
    const out = join(root, 'cmp');
    const quiet = process.stdout.write.bind(process.stdout);
    let said = '';
    process.stdout.write = ((t: string) => ((said += t), true)) as typeof process.stdout.write;
    const opts = { preset: 'smoke', set: ['tasks=["semseg","depth"]', 'train.reportSamples=0', 'train.epochs=1'], models: 'shared-encoder', balancers: 'equal,uncertainty', seeds: '0', out, progress: false };
    try {
      await compareCommand(opts);
      expect(said).not.toMatch(/reusing/);
      said = '';
      await compareCommand(opts);
      expect(said.match(/finished earlier, reusing/g)?.length).toBe(4);
    } finally {
      process.stdout.write = quiet;
    }
    const table = readFileSync(join(out, 'compare.md'), 'utf8');
    expect(table).toMatch(/\| model \| balancer \| semseg mIoU \| depth rmse \| ΔMTL \(%\) \|/);
    expect(table).toMatch(/\| single-task \| - \|/);
    expect(table).toMatch(/\| shared-encoder \| equal \|/);
    expect(table).toMatch(/\| shared-encoder \| uncertainty \|/);
    const json = JSON.parse(readFileSync(join(out, 'compare.json'), 'utf8')) as { rows: { delta: number[] }[] };
    expect(json.rows.every((r) => r.delta.length === 1 && Number.isFinite(r.delta[0]))).toBe(true);
    expect(finishedMetrics(join(out, 'single-semseg-s0'))).not.toBeNull();
  });
});

describe('run folders', () => {
  it('the default run folder moves to <name>-2, -3 when taken', async () => {
    const { freshRunDir } = await import('../../src/cli/train-command.js');
    const { mkdirSync, writeFileSync } = await import('node:fs');
    const cwd = process.cwd();
    const dir = mkdtempSync(join(tmpdir(), 'webmtl-runs-'));
    process.chdir(dir);
    try {
      expect(freshRunDir('demo')).toBe(join('runs', 'demo'));
      mkdirSync(join('runs', 'demo'), { recursive: true });
      expect(freshRunDir('demo')).toBe(join('runs', 'demo')); // an empty folder holds no run
      writeFileSync(join('runs', 'demo', 'config.json'), '{}');
      expect(freshRunDir('demo')).toBe(join('runs', 'demo-2'));
      mkdirSync(join('runs', 'demo-2'));
      writeFileSync(join('runs', 'demo-2', 'config.json'), '{}');
      expect(freshRunDir('demo')).toBe(join('runs', 'demo-3'));
    } finally {
      process.chdir(cwd);
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
