// What a run reads is checked before it changes anything: config.json (resume, eval), --set keys,
// compare names, baselines files, and checkpoints, whose refusal leaves the trainer exactly as it
// was (Trainer.loadCheckpoint is all or nothing); eval refuses weights that hold NaN.
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildRun } from '../../src/cli/build.js';
import { compareCommand } from '../../src/cli/compare.js';
import { applyOverrides, parseConfig } from '../../src/cli/config.js';
import { evalCommand, evaluateRun } from '../../src/cli/eval.js';
import { preset } from '../../src/cli/presets.js';
import { readBaselines } from '../../src/cli/run-inputs.js';
import { decodeSafetensorsHost, encodeSafetensorsHost } from '../../src/io/safetensors.js';
import { Trainer } from '../../src/mtl/trainer.js';
import { inject } from './fs-faults.js';
import { failure, oneLine, run } from './run-helpers.js';

const root = mkdtempSync(join(tmpdir(), 'webmtl-inputs-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
// GradNorm: its balancer state has an optimiser step and a [T] weight tensor to break.
const cfg = parseConfig(applyOverrides(preset('smoke'), ['train.epochs=1', 'train.reportSamples=0']));
const done = join(root, 'done');
const ckpt = join(done, 'checkpoints', 'last.safetensors');

/** Copies the finished run to a new folder with its checkpoint's metadata or tensors edited. */
function edited(name: string, edit: (extra: Record<string, any>, tensors: Map<string, { data: Float32Array | Int32Array; shape: number[] }>) => void): string {
  const dir = join(root, name);
  mkdirSync(join(dir, 'checkpoints'), { recursive: true });
  copyFileSync(join(done, 'config.json'), join(dir, 'config.json'));
  copyFileSync(join(done, 'metrics.jsonl'), join(dir, 'metrics.jsonl'));
  const { tensors, metadata } = decodeSafetensorsHost(new Uint8Array(readFileSync(ckpt)));
  const extra = JSON.parse(metadata.extra!) as Record<string, any>;
  edit(extra, tensors as never);
  writeFileSync(join(dir, 'checkpoints', 'last.safetensors'), encodeSafetensorsHost(tensors, { ...metadata, extra: JSON.stringify(extra) }));
  return dir;
}

beforeAll(async () => {
  await run({ dir: done, config: cfg });
});

describe('checkpoints are validated before anything is restored', () => {
  it('Trainer.loadCheckpoint refuses bad progress or balancer state and leaves model, optimiser, schedule and balancer as they were', async () => {
    const o = await buildRun(cfg);
    const trainer = new Trainer({ model: o.model, tasks: o.tasks, balancer: o.balancer, optimizer: o.optimizer, scheduler: o.scheduler });
    const snapshot = async () => {
      const params: number[][] = [];
      for (const [, t] of o.model.stateDict()) params.push(Array.from(await t.data()));
      const bal: number[][] = [];
      for (const t of Object.values(o.balancer.state().tensors)) bal.push(Array.from(await t.data()));
      return { params, bal, scalars: o.balancer.state().scalars, optim: JSON.stringify(Object.keys(o.optimizer.stateDict().state)), sched: JSON.stringify(o.scheduler.stateDict()), step: trainer.step, epoch: trainer.epoch };
    };
    const before = await snapshot();
    const bad: [string, (x: Record<string, any>, t: Map<string, { data: Float32Array | Int32Array; shape: number[] }>) => void, RegExp][] = [
      ['fractional optimiser step', (x) => (x.balancer.scalars.optimStep = [1.5]), /step must be a positive integer \(got 1\.5\)/],
      ['weights of the wrong shape', (x) => (x.balancer.tensors.weights = { shape: [7], data: [1, 1, 1, 1, 1, 1, 1] }), /\[7\] does not fit .*\[4\]/],
      ['null balancer value', (x) => (x.balancer.scalars.optimStep = [null]), /balancer scalar 'optimStep' is not a list of finite numbers/],
      ['null balancer tensor value', (x) => (x.balancer.tensors.weights.data[0] = null), /balancer tensor 'weights' holds a value that is not a number/],
      ['negative epoch', (x) => (x.epoch = -1), /epoch -1 is not a non-negative integer/],
      ['text epoch', (x) => (x.epoch = 'abc'), /epoch "abc" is not a non-negative integer/],
      ['epoch start after the step', (x) => (x.epochStartStep = 1e9), /epochStartStep 1000000000 is not an integer in \[0, 2\]/],
      ['null running sum', (x) => (x.epochSums.losses.semseg = null), /epochSums of task 'semseg' is null/],
      ['a model weight the model lacks', (_x, t) => t.set('model.extra.weight', { dtype: 'f32', data: new Float32Array(1), shape: [1] } as never), /extra\.weight/],
    ];
    for (const [what, edit, re] of bad) {
      const dir = edited(what.replace(/ /g, '-'), edit);
      const e = await failure(trainer.loadCheckpoint(join(dir, 'checkpoints', 'last.safetensors')));
      expect(e.message, what).toMatch(re);
      expect(await snapshot(), what).toEqual(before);
    }
    // The check hook refuses before anything changes too; the good file then loads.
    await expect(trainer.loadCheckpoint(ckpt, { check: () => { throw new Error('no'); } })).rejects.toThrow('no');
    expect(await snapshot()).toEqual(before);
    await trainer.loadCheckpoint(ckpt);
    expect(await snapshot()).not.toEqual(before);
    expect(trainer.step).toBe(2);
    trainer.dispose();
    o.balancer.dispose();
    o.model.dispose();
  });

  it('--resume refuses progress fields out of range with one line, leaving the checkpoint as it was', async () => {
    for (const [what, edit] of [
      ['batchInEpoch -5', (x: Record<string, any>) => (x.batchInEpoch = -5)],
      ['batchInEpoch 1e9', (x: Record<string, any>) => (x.batchInEpoch = 1e9)],
      ['batchInEpoch "abc"', (x: Record<string, any>) => (x.batchInEpoch = 'abc')],
      ['epoch 1000000', (x: Record<string, any>) => (x.epoch = 1e6)],
      ['step and epoch disagree', (x: Record<string, any>) => (x.epoch = 0)],
    ] as const) {
      const dir = edited(`resume-${what.replace(/\W/g, '_')}`, edit);
      const file = join(dir, 'checkpoints', 'last.safetensors');
      const bytes = readFileSync(file);
      const e = await failure(run({ dir, resume: true }));
      oneLine(e, new RegExp(`last\\.safetensors: .*${what.split(' ')[0]}.*does not belong to this run's config\\.json`));
      expect(readFileSync(file).equals(bytes), what).toBe(true);
      expect(existsSync(join(dir, 'train.lock'))).toBe(false);
    }
  });

  it('a truncated checkpoint is one line that says how to start again; deleting it and --resume does', async () => {
    const dir = edited('truncated', () => {});
    const file = join(dir, 'checkpoints', 'last.safetensors');
    writeFileSync(file, readFileSync(file).subarray(0, 5000));
    const e = await failure(run({ dir, resume: true }));
    oneLine(e, /last\.safetensors.*; to start the run again from step 0, delete .*last\.safetensors and run --resume/);
    rmSync(file);
    const said: string[] = [];
    expect(await run({ dir, resume: true, said })).toMatchObject({ interrupted: false, steps: 2 });
    expect(said[0]).toMatch(/no checkpoint yet: starting the run again from step 0/);
  });

  it('eval refuses weights that hold NaN instead of printing metrics', async () => {
    const dir = edited('nan-weights', (_x, t) => {
      const w = t.get('model.encoder.conv1.weight') ?? [...t.entries()].find(([k]) => k.startsWith('model.') && k.endsWith('.weight'))![1];
      w.data[3] = NaN;
    });
    oneLine(await failure(evaluateRun(dir)), /last\.safetensors: weight '.*' holds NaN .*the run diverged/);
    expect(Object.keys(await evaluateRun(done))).toEqual(cfg.tasks);
  });

  it('eval on a full disk: one line naming eval.json', async () => {
    const fault = inject('writeFile', /eval\.json$/, 'ENOSPC');
    const quiet = process.stdout.write.bind(process.stdout);
    process.stdout.write = (() => true) as typeof process.stdout.write;
    const e = await failure(evalCommand(done)).finally(() => {
      process.stdout.write = quiet;
      fault.restore();
    });
    oneLine(e, /eval\.json: cannot write the metrics: no space left on the device; free some space \(ENOSPC\)/);
  });
});

describe('config.json, --set, names and baselines', () => {
  it('an empty or corrupt config.json under --resume or eval is one line naming the file', async () => {
    for (const [text, re] of [['', /config\.json: is empty/], ['{"name": "smo', /config\.json: is not valid JSON/]] as const) {
      const dir = join(root, `bad-config-${text.length}`);
      mkdirSync(dir);
      writeFileSync(join(dir, 'config.json'), text);
      oneLine(await failure(run({ dir, resume: true })), re);
      oneLine(await failure(evaluateRun(dir)), re);
    }
    oneLine(await failure(run({ dir: join(root, 'nothing-here'), resume: true })), /config\.json: not found: .* is not a run folder/);
  });

  it('--set refuses keys that reach a prototype', () => {
    for (const key of ['__proto__.x=1', 'constructor.x=1', 'train.prototype.x=1', '__proto__=1']) {
      expect(() => applyOverrides(preset('smoke'), [key]), key).toThrow(/--set: '.*': '(__proto__|constructor|prototype)' is not a configuration key/);
    }
    expect(({} as Record<string, unknown>).x).toBeUndefined();
  });

  it('compare checks --models and --balancers before training anything', async () => {
    const out = join(root, 'cmp');
    const opts = { preset: 'smoke', seeds: '0', out, progress: false };
    oneLine(await failure(compareCommand({ ...opts, models: 'shared-encoder,nope', balancers: 'equal' })), /^--models: unknown 'nope'; valid: .*shared-encoder/);
    oneLine(await failure(compareCommand({ ...opts, models: 'shared-encoder', balancers: 'dwa,bogus' })), /^--balancers: unknown 'bogus'; valid: .*gradnorm/);
    expect(existsSync(out)).toBe(false);
  });

  it('a baselines file that is missing, not JSON or not task -> metric -> number is one line naming it', () => {
    const f = join(root, 'b.json');
    expect(() => readBaselines(join(root, 'none.json'))).toThrow(/none\.json: cannot read the baselines: ENOENT/);
    for (const [text, re] of [['{', /cannot read/], ['[1]', /must be a JSON object/], ['{"semseg": 3}', /task 'semseg' must be an object/], ['{"semseg": {"mIoU": "x"}}', /semseg\.mIoU is "x", not a finite number/]] as const) {
      writeFileSync(f, text);
      let e: Error | null = null;
      try {
        readBaselines(f);
      } catch (x) {
        e = x as Error;
      }
      oneLine(e!, new RegExp(`b\\.json: .*${re.source}`));
    }
  });
});
