// The real `webmtl` command under faults, as child processes on the smoke preset: SIGKILL half way
// through a checkpoint write, half way through a metrics append and at a random moment; two trainers
// on one folder; SIGTERM mid-training; Ctrl-C before the first step; bad paths and config files.
// Every run then continues (in this process) to the records of an uninterrupted run, and no child
// prints a stack trace or hangs.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { comparable, records, run, smokeConfig, type Rec } from './run-helpers.js';

const repo = resolve(import.meta.dirname, '../..');
const tsx = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;
const preload = pathToFileURL(join(repo, 'test/cli/fault-preload.ts')).href;
const main = join(repo, 'src/cli/main.ts');
const root = mkdtempSync(join(tmpdir(), 'webmtl-kill-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
// The same run as smokeConfig(), from the command line.
const SMOKE = ['--preset', 'smoke', '--set', 'balancer={"method":"dwa"}', '--set', 'train.epochs=3', '--set', 'train.reportSamples=0', '--no-progress', '--no-report'];
let reference: Rec[] = [];

interface Child {
  pid: number;
  kill(signal: NodeJS.Signals): void;
  /** Resolves when a line of stdout or stderr matches. */
  line(re: RegExp): Promise<string>;
  done: Promise<{ code: number | null; signal: NodeJS.Signals | null; out: string }>;
}

/** Starts `webmtl ARGS` with WEBMTL_TEST_FAULT=fault; killed after 60 s so a hang fails the test. */
function webmtl(args: string[], fault = '', cwd = repo): Child {
  const p = spawn(process.execPath, ['--import', tsx, '--import', preload, main, ...args], { cwd, env: { ...process.env, WEBMTL_TEST_FAULT: fault } });
  let out = '';
  const waiters: [RegExp, (l: string) => void][] = [];
  const onData = (d: Buffer) => {
    out += d.toString();
    for (const w of [...waiters]) {
      const m = out.split('\n').find((l) => w[0].test(l));
      if (m !== undefined) {
        waiters.splice(waiters.indexOf(w), 1);
        w[1](m);
      }
    }
  };
  p.stdout.on('data', onData);
  p.stderr.on('data', onData);
  const timer = setTimeout(() => p.kill('SIGKILL'), 60_000);
  const done = new Promise<{ code: number | null; signal: NodeJS.Signals | null; out: string }>((res) =>
    p.on('close', (code, signal) => {
      clearTimeout(timer);
      res({ code, signal, out: out.replace(/^Warning: .*\n/gm, '') });
    }),
  );
  return {
    pid: p.pid!,
    kill: (s) => p.kill(s),
    line: (re) => new Promise((res, rej) => {
      waiters.push([re, res]);
      onData(Buffer.alloc(0));
      void done.then(() => rej(new Error(`the child ended without printing ${re}:\n${out}`)));
    }),
    done,
  };
}

/** No stack trace in a child's output. */
const noStack = (out: string) => expect(out, out).not.toMatch(/\n\s+at .*[(:]\d+/);

beforeAll(async () => {
  const dir = join(root, 'reference');
  await run({ dir, config: smokeConfig() });
  reference = records(dir);
});

describe('webmtl train under SIGKILL, signals and a second trainer', () => {
  it('SIGKILL half way through a checkpoint write and half way through a metrics append: --resume repairs and finishes', async () => {
    // Which write is cut is drawn at random (3 checkpoint writes, 5 appends in a run); the message names it.
    const pick = (k: number) => 1 + Math.floor(Math.random() * k);
    const cases = [[`kill:checkpoint:${pick(3)}`, 'ckpt'], [`kill:metrics:${1 + pick(4)}`, 'metrics'], ['kill:metrics:1', 'baseline']] as const;
    const children = cases.map(([fault, name]) => webmtl(['train', ...SMOKE, '--out', join(root, name)], fault));
    for (const [k, [fault, name]] of cases.entries()) {
      const r = await children[k]!.done;
      expect(r.signal, `${fault}\n${r.out}`).toBe('SIGKILL');
      const dir = join(root, name);
      expect(existsSync(join(dir, 'train.lock')), 'a killed trainer leaves its lock').toBe(true);
      const said: string[] = [];
      await run({ dir, resume: true, said });
      expect(comparable(records(dir)), fault).toEqual(comparable(reference));
      expect(readdirSync(join(dir, 'checkpoints'))).toEqual(['last.safetensors']);
      expect(existsSync(join(dir, 'train.lock'))).toBe(false);
    }
  });

  it('a second trainer on the same folder is refused; SIGKILL of the first at a random moment; its lock is taken over', async () => {
    const dir = join(root, 'two');
    const first = webmtl(['train', ...SMOKE, '--out', dir], 'slow:metrics:3000');
    await first.line(/^first step/);
    // A second `train --out` and a `--resume` while the first one runs: both refused, the first untouched.
    const [second, resumed] = await Promise.all([webmtl(['train', ...SMOKE, '--out', dir]).done, webmtl(['train', '--resume', dir, '--no-progress']).done]);
    expect(second.code, second.out).toBe(1);
    expect(second.out).toMatch(new RegExp(`webmtl: (train: ${dir} already holds a run; use --resume|${dir}: another webmtl train)`));
    expect(resumed.code, resumed.out).toBe(1);
    expect(resumed.out).toMatch(new RegExp(`webmtl: ${dir}: another webmtl train \\(process ${first.pid}, since .*\\) is using this run folder`));
    for (const r of [second, resumed]) noStack(r.out);
    await new Promise((r) => setTimeout(r, Math.random() * 3000));
    first.kill('SIGKILL');
    expect((await first.done).signal).toBe('SIGKILL');
    await run({ dir, resume: true });
    expect(comparable(records(dir))).toEqual(comparable(reference));
  });

  it('SIGTERM mid-training checkpoints and exits 143; Ctrl-C before the first step says that nothing was written; SIGKILL at a random moment', async () => {
    const term = join(root, 'term');
    const int = join(root, 'int');
    const killed = join(root, 'random-kill');
    const a = webmtl(['train', ...SMOKE, '--out', term], 'slow:metrics:300');
    const b = webmtl(['train', ...SMOKE, '--out', int]);
    const c = webmtl(['train', ...SMOKE, '--out', killed]);
    const wait = Math.random() * 1000;
    await Promise.all([
      a.line(/^first step/).then(() => a.kill('SIGTERM')),
      b.line(/^webmtl: training/).then(() => b.kill('SIGINT')),
      c.line(/^first step/).then(() => setTimeout(() => c.kill('SIGKILL'), wait)),
    ]);
    const [ra, rb, rc] = [await a.done, await b.done, await c.done];
    // Killed (or, if the wait outlasted it, finished): either way --resume ends with the uninterrupted records.
    expect(rc.signal === 'SIGKILL' || rc.code === 0, `killed ${wait.toFixed(0)} ms after the first step\n${rc.out}`).toBe(true);
    expect(ra.code, ra.out).toBe(143);
    expect(ra.out).toMatch(/SIGTERM: stopping after the current step/);
    expect(ra.out).toMatch(/interrupted at step \d: checkpoint written to .*last\.safetensors; continue with --resume/);
    expect(rb.code, rb.out).toBe(130);
    expect(rb.out).toMatch(/interrupted before the first step: nothing was trained; no checkpoint was written; --resume .* starts the run again from step 0/);
    expect(rb.out).not.toMatch(/checkpoint written/);
    expect(existsSync(join(int, 'checkpoints', 'last.safetensors'))).toBe(false);
    for (const r of [ra, rb]) noStack(r.out);
    for (const dir of [term, int, killed]) {
      await run({ dir, resume: true });
      expect(comparable(records(dir)), dir).toEqual(comparable(reference));
    }
  });

  it('bad names, paths and config files: exit 1 with one line, nothing written outside runs/', async () => {
    const cwd = join(root, 'cwd');
    mkdirSync(join(cwd, 'inner'), { recursive: true });
    const corrupt = join(root, 'corrupt');
    mkdirSync(corrupt);
    writeFileSync(join(corrupt, 'config.json'), '{"name": "smo');
    mkdirSync(join(root, 'reference', 'report.html')); // a folder where the report goes
    const runs = await Promise.all([
      webmtl(['train', '--preset', 'smoke', '--set', 'name=..'], '', join(cwd, 'inner')).done,
      webmtl(['train', '--resume', corrupt]).done,
      webmtl(['report', join(root, 'reference')]).done,
    ]);
    // (/proc, eval on a corrupt config.json and --set __proto__ are covered in process: run-faults, run-inputs.)
    const expected = [/name: must not be '\.' or '\.\.'/, /^webmtl: .*corrupt.config\.json: is not valid JSON/m, /^webmtl: EISDIR: .*report\.html/m];
    for (const [k, r] of runs.entries()) {
      expect(r.code, r.out).toBe(1);
      expect(r.out).toMatch(expected[k]!);
      noStack(r.out);
    }
    expect(readdirSync(cwd)).toEqual(['inner']);
    expect(readdirSync(join(cwd, 'inner'))).toEqual([]);
  });
});
