// Faults around a run folder, in process: ENOSPC/EROFS/ENOTDIR injected into each writer, a NaN
// loss, a bad validation label, a second trainer, bad paths and names. Each gives one clear line
// naming the file, nothing is lost or duplicated, and the folder can always be continued.
import { appendFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildRun, type RunObjects } from '../../src/cli/build.js';
import { applyOverrides, parseConfig } from '../../src/cli/config.js';
import { finishRun } from '../../src/cli/finish.js';
import { lockRunDir } from '../../src/cli/run-folder.js';
import type { RunConfig } from '../../src/cli/config.js';
import { freshRunDir } from '../../src/cli/train-command.js';
import { mul } from '../../src/ops/binary.js';
import type { Tensor } from '../../src/tensor/tensor.js';
import { inject } from './fs-faults.js';
import { comparable, failure, oneLine, records, run, smokeConfig, type Rec } from './run-helpers.js';

const root = mkdtempSync(join(tmpdir(), 'webmtl-faults-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
const cfg = smokeConfig();
let reference: Rec[] = [];
let n = 0;
const fresh = () => join(root, `run-${n++}`);

/** buildRun whose model sees a NaN input on training step `at` (1-based). */
const nanAt = (at: number) => async (c: RunConfig): Promise<RunObjects> => {
  const o = await buildRun(c);
  const forward = o.model.forward.bind(o.model);
  let steps = 0;
  o.model.forward = (x: Tensor) => (o.model.training && ++steps === at ? forward(mul(x, NaN)) : forward(x));
  return o;
};

/** buildRun whose validation sample 1 has a segmentation label of 99. */
const badValLabel = async (c: RunConfig): Promise<RunObjects> => {
  const o = await buildRun(c);
  const val = o.data.val;
  o.data.val = {
    info: val.info,
    length: val.length,
    get: async (i: number) => {
      const s = await val.get(i);
      if (i !== 1) return s;
      const semseg = Int32Array.from(s.semseg!);
      semseg[5] = 99;
      return { ...s, semseg };
    },
  };
  return o;
};

beforeAll(async () => {
  const dir = join(root, 'reference');
  await run({ dir, config: cfg });
  reference = records(dir);
});

describe('a full disk, a read-only or a wrong path: one line naming the file, then --resume finishes the run', () => {
  // [writer, function, path pattern, code, how to go on]
  const cases: [string, Parameters<typeof inject>[0], RegExp, string, 'again' | 'resume'][] = [
    ['run folder', 'mkdir', /run-\d+$/, 'EROFS', 'again'],
    ['lock file', 'open', /train\.lock$/, 'ENOSPC', 'again'],
    ['config.json', 'open', /\.config\.json\..*\.tmp$/, 'ENOSPC', 'again'],
    ['baseline record', 'appendFile', /metrics\.jsonl$/, 'ENOSPC', 'resume'],
    ['first checkpoint', 'open', /\.last\.safetensors\..*\.tmp$/, 'ENOSPC', 'resume'],
    ['checkpoint rename', 'rename', /\.last\.safetensors\..*\.tmp$/, 'EIO', 'resume'],
  ];
  it.each(cases)('%s (%s, %s)', async (what, fn, match, code, then) => {
    const dir = fresh();
    const fault = inject(fn, match, code);
    let e: Error;
    try {
      e = await failure(run({ dir, config: cfg }));
    } finally {
      fault.restore();
    }
    expect(fault.fired, what).toBe(1);
    oneLine(e, new RegExp(`^${dir.replace(/[/\\]/g, '.')}.*: cannot .*\\(${code}\\)`));
    expect(existsSync(join(dir, 'train.lock')), 'the lock is released').toBe(false);
    if (then === 'resume') expect(e.message).toMatch(new RegExp(`--resume ${dir}`));
    await run(then === 'resume' ? { dir, resume: true } : { dir, config: cfg });
    expect(comparable(records(dir)), what).toEqual(comparable(reference));
  });

  it('ENOSPC in the epoch records and in the later checkpoint: the earlier checkpoint is kept and resumed', async () => {
    for (const [fn, match, nth] of [['appendFile', /metrics\.jsonl$/, 2], ['open', /\.last\.safetensors\..*\.tmp$/, 2]] as const) {
      const dir = fresh();
      // Let the first (nth - 1) matching calls through, then fail one.
      let calls = 0;
      const fault = inject(fn, { test: (p: string) => match.test(p) && ++calls === nth } as RegExp, 'ENOSPC');
      const e = await failure(run({ dir, config: cfg })).finally(() => fault.restore());
      oneLine(e, /cannot .*no space left on the device.*\(ENOSPC\)/);
      if (fn === 'open') expect(e.message).toMatch(/the checkpoint of step 2 is intact; continue with --resume/);
      await run({ dir, resume: true });
      expect(comparable(records(dir)), `${fn} #${nth}`).toEqual(comparable(reference));
      expect(readdirSync(join(dir, 'checkpoints'))).toEqual(['last.safetensors']);
    }
  });

  it('ENOSPC while --resume repairs metrics.jsonl, and while the samples and the report are written', async () => {
    // The repair: a folder with records after its checkpoint, resumed on a full disk, then resumed again.
    const dir = fresh();
    const stop = new AbortController();
    await run({ dir, config: cfg, signal: stop.signal, onStep: (s) => s === 1 && stop.abort() });
    appendFileSync(join(dir, 'metrics.jsonl'), '{"type":"step","step":2}\n');
    const fault = inject('open', /\.metrics\.jsonl\..*\.tmp$/, 'ENOSPC');
    const e = await failure(run({ dir, resume: true })).finally(() => fault.restore());
    oneLine(e, /metrics\.jsonl: cannot rewrite the metrics: no space left .*\(ENOSPC\)/);
    await run({ dir, resume: true });
    expect(comparable(records(dir))).toEqual(comparable(reference));
    // The end of a run: samples and report fail; --resume writes the final record again (once) and the report.
    const end = fresh();
    const withSamples = parseConfig(applyOverrides(cfg, ['train.reportSamples=2']));
    const f2 = inject('writeFile', /samples[/\\].*\.png$/, 'ENOSPC');
    const e2 = await failure(run({ dir: end, config: withSamples, finish: finishRun })).finally(() => f2.restore());
    oneLine(e2, /samples.*\.png: cannot write to the run folder: no space left .*\(ENOSPC\); then continue with --resume/);
    await run({ dir: end, resume: true, finish: finishRun });
    expect(comparable(records(end))).toEqual(comparable(reference));
    expect(existsSync(join(end, 'report.html'))).toBe(true);
  });

  it('--out on a file, under a file, in /proc: one line naming the path, no hang', async () => {
    const file = join(root, 'a-file');
    writeFileSync(file, 'x');
    oneLine(await failure(run({ dir: file, config: cfg })), /a-file: is a file, not a folder/);
    oneLine(await failure(run({ dir: join(file, 'sub'), config: cfg })), /a-file\/sub: a part of this path is a file, not a folder.*\(ENOTDIR\)/);
    oneLine(await failure(run({ dir: '/proc/webmtl-run', config: cfg })), /^\/proc\/webmtl-run: cannot create the run folder/);
  });
});

describe('stops and bad inputs leave no dead end', () => {
  it('a NaN loss keeps the steps before it, numbers the step as metrics.jsonl does and says whether a checkpoint exists', async () => {
    const early = fresh();
    const c4 = parseConfig(applyOverrides(cfg, ['train.logEvery=4']));
    let e = await failure(run({ dir: early, config: c4, build: nanAt(2) }));
    oneLine(e, /is NaN at step 2: training stopped.*The steps before it are in .*metrics\.jsonl; no checkpoint was written; .*--resume .* starts the run again from step 0/);
    expect(records(early).filter((r) => r.type === 'step').map((r) => r.step)).toEqual([1]);
    await run({ dir: early, resume: true });
    expect(comparable(records(early))).toEqual(comparable(reference));

    const late = fresh();
    e = await failure(run({ dir: late, config: c4, build: nanAt(5) }));
    oneLine(e, /is NaN at step 5: .*the checkpoint of step 4 \(.*last\.safetensors\), written before it, is intact/);
    expect(records(late).filter((r) => r.type === 'step').map((r) => r.step)).toEqual([1, 2, 3, 4]);
    await run({ dir: late, resume: true });
    expect(comparable(records(late))).toEqual(comparable(reference));
  });

  it('a bad validation label is found before the first step, naming the task and the sample', async () => {
    const dir = fresh();
    const e = await failure(run({ dir, config: cfg, build: badValLabel }));
    oneLine(e, /task 'semseg', sample '[^']+'.*first is 99/);
    expect(records(dir).filter((r) => r.type === 'step')).toEqual([]);
    await run({ dir, resume: true });
    expect(comparable(records(dir))).toEqual(comparable(reference));
  });

  it('baselines that lack a task are refused before the folder is made', async () => {
    const dir = fresh();
    const e = await failure(run({ dir, config: cfg, baselines: { semseg: { mIoU: 0.5 } }, baselinesSource: 'b.json' }));
    oneLine(e, /^b\.json: ΔMTL needs a finite, non-zero baseline for depth\.rmse, normals\.mean, edge\.odsF/);
    expect(existsSync(dir)).toBe(false);
  });

  it('a second trainer on a folder in use is refused; the first one\'s lock is not touched', async () => {
    const dir = fresh();
    mkdirSync(dir);
    const { release } = await lockRunDir(dir);
    try {
      oneLine(await failure(run({ dir, config: cfg })), new RegExp(`another webmtl train \\(process ${process.pid}, since .*\\) is using this run folder`));
      expect(existsSync(join(dir, 'train.lock'))).toBe(true);
      expect(existsSync(join(dir, 'config.json'))).toBe(false);
    } finally {
      await release();
    }
  });

  it('names that would leave runs/ are refused', () => {
    for (const name of ['..', '.', 'a/b', '../x']) expect(() => freshRunDir(name), name).toThrow(/cannot be a folder name under runs/);
    expect(() => parseConfig(applyOverrides(cfg, ['name=".."']))).toThrow(/name: must not be '\.' or '\.\.'/);
    expect(() => parseConfig(applyOverrides(cfg, ['name="a/b"']))).toThrow(/name: letters, digits/);
  });
});
