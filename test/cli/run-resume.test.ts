// Resume gives the records of an uninterrupted run: stops mid-epoch, on the last step of an epoch
// and twice in one run; whatever a killed process left (records after the checkpoint, a torn last
// line, temporary checkpoint files, a stale lock) is repaired on the next start.
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync, appendFileSync, readFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildRun } from '../../src/cli/build.js';
import type { RunConfig } from '../../src/cli/config.js';
import { readRun } from '../../src/cli/report/index.js';
import type { Tensor } from '../../src/tensor/tensor.js';
import { observe } from './fs-faults.js';
import { comparable, records, run, smokeConfig, type Rec } from './run-helpers.js';

const root = mkdtempSync(join(tmpdir(), 'webmtl-resume-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
const cfg = smokeConfig();
let reference: Rec[] = [];

/** Runs `config` into DIR, stopping (like Ctrl-C) after each step listed in `stops`, resuming after each. */
async function stopAndResume(dir: string, stops: number[], config = cfg): Promise<void> {
  for (const [k, at] of [...stops, -1].entries()) {
    const stop = new AbortController();
    const r = await run({ dir, config: k === 0 ? config : undefined, resume: k > 0, signal: stop.signal, onStep: (s) => s === at && stop.abort() });
    expect(r.interrupted).toBe(at > 0);
    if (at > 0) expect(r).toMatchObject({ steps: at, checkpointStep: at });
  }
}

describe('resume', () => {
  beforeAll(async () => {
    const dir = join(root, 'reference');
    await run({ dir, config: cfg });
    reference = records(dir);
    expect(reference.map((r) => r.type)).toEqual(['baseline', 'step', 'step', 'epoch', 'step', 'step', 'epoch', 'step', 'step', 'epoch', 'final']);
  });

  it('mid-epoch, on the last step of an epoch and twice in one run: the same records as an uninterrupted run (DWA)', async () => {
    for (const stops of [[1], [2], [3, 4]]) {
      const dir = join(root, `stop-${stops.join('-')}`);
      await stopAndResume(dir, stops);
      expect(comparable(records(dir)), `stops ${stops}`).toEqual(comparable(reference));
    }
    // GradNorm, the example: the epoch's mean losses and weights after a resume mid-epoch.
    const gradnorm = smokeConfig('balancer={"method":"gradnorm","alpha":1.5}', 'train.epochs=1');
    await run({ dir: join(root, 'gradnorm-full'), config: gradnorm });
    await stopAndResume(join(root, 'gradnorm-cut'), [1], gradnorm);
    expect(comparable(records(join(root, 'gradnorm-cut')))).toEqual(comparable(records(join(root, 'gradnorm-full'))));
  });

  it('an interrupt during validation or a checkpoint write stops at the epoch boundary; one during the report does not skip the result', async () => {
    const dir = join(root, 'during-eval');
    const stop = new AbortController();
    const build = async (c: RunConfig) => {
      const o = await buildRun(c);
      const forward = o.model.forward.bind(o.model);
      o.model.forward = (x: Tensor) => {
        if (!o.model.training) stop.abort(); // the first validation, after step 2
        return forward(x);
      };
      return o;
    };
    const said: string[] = [];
    const r = await run({ dir, config: cfg, signal: stop.signal, build, said });
    expect(r).toMatchObject({ interrupted: true, steps: 2, checkpointStep: 2 });
    expect(said.join('\n')).toMatch(/interrupted at step 2: checkpoint written/);
    await run({ dir, resume: true });
    expect(comparable(records(dir))).toEqual(comparable(reference));

    // Ctrl-C while the first checkpoint is being written: it completes, and the run stops right after it.
    const inCkpt = join(root, 'during-checkpoint');
    const stop3 = new AbortController();
    const watch = observe('open', /\.last\.safetensors\..*\.tmp$/, () => stop3.abort());
    const r3 = await run({ dir: inCkpt, config: cfg, signal: stop3.signal }).finally(() => watch.restore());
    expect(r3).toMatchObject({ interrupted: true, steps: 2, checkpointStep: 2 });
    await run({ dir: inCkpt, resume: true });
    expect(comparable(records(inCkpt))).toEqual(comparable(reference));

    const late = join(root, 'during-report');
    const stop2 = new AbortController();
    const done = await run({ dir: late, config: cfg, signal: stop2.signal, finish: async () => stop2.abort() });
    expect(done).toMatchObject({ interrupted: false, steps: 6 });
    expect(comparable(records(late))).toEqual(comparable(reference));
  });

  it('repairs what a kill leaves: records after the checkpoint, a torn line, temporary files, a stale lock', async () => {
    const dir = join(root, 'killed');
    const stop = new AbortController();
    await run({ dir, config: cfg, signal: stop.signal, onStep: (s) => s === 3 && stop.abort() });
    // A later process went on to step 5 and was killed: its records, half a line, a temp file and its lock remain.
    const later = reference.filter((r) => (r.type === 'step' && r.step! > 3) || (r.type === 'epoch' && r.epoch! >= 1));
    appendFileSync(join(dir, 'metrics.jsonl'), later.map((r) => `${JSON.stringify(r)}\n`).join('') + '{"type":"step","step":6,"ep');
    writeFileSync(join(dir, 'checkpoints', '.last.safetensors.abc123.tmp'), 'partial');
    const dead = spawnSync(process.execPath, ['-e', '0']).pid;
    writeFileSync(join(dir, 'train.lock'), JSON.stringify({ pid: dead, host: (await import('node:os')).hostname(), started: 'earlier' }));
    expect(() => records(dir)).toThrow();
    const said: string[] = [];
    await run({ dir, resume: true, said });
    expect(said.join('\n')).toMatch(/took over the lock of process \d+, which no longer runs/);
    expect(said.join('\n')).toMatch(/resuming .* at step 3 \(epoch 1, batch 1\); \d+ record\(s\) after the checkpoint dropped .*; 1 torn line\(s\) removed/);
    expect(comparable(records(dir))).toEqual(comparable(reference));
    expect(readdirSync(join(dir, 'checkpoints'))).toEqual(['last.safetensors']);
    expect(existsSync(join(dir, 'train.lock'))).toBe(false);
    expect((await readRun(dir)).warnings).toEqual([]);
  });

  it('a run stopped before its first checkpoint is started again by --resume, from step 0', async () => {
    const dir = join(root, 'early');
    const stop = new AbortController();
    stop.abort();
    const said: string[] = [];
    const r = await run({ dir, config: cfg, signal: stop.signal, said });
    expect(r).toMatchObject({ interrupted: true, steps: 0, checkpointStep: null });
    expect(said.join('\n')).toMatch(/interrupted before the first step: nothing was trained; no checkpoint was written; --resume .* starts the run again from step 0/);
    expect(existsSync(join(dir, 'checkpoints', 'last.safetensors'))).toBe(false);
    // A kill that tore the baseline line is repaired too.
    appendFileSync(join(dir, 'metrics.jsonl'), '{"type":"st');
    said.length = 0;
    const again = await run({ dir, resume: true, said });
    expect(said[0]).toMatch(/has no checkpoint yet: starting the run again from step 0/);
    expect(again).toMatchObject({ interrupted: false, steps: 6 });
    expect(comparable(records(dir))).toEqual(comparable(reference));
    // A finished run resumed again writes its final record again, not a second one.
    await run({ dir, resume: true });
    expect(comparable(records(dir))).toEqual(comparable(reference));
    expect(readFileSync(join(dir, 'config.json'), 'utf8')).toContain('"dwa"');
  });
});
