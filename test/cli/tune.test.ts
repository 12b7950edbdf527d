// `webmtl tune` end to end on the smoke preset, into a temporary store. No autotune runs here: the
// timings are injected (every candidate still runs), so what is stored is known in advance.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { program } from '../../src/cli/main.js';
import { tuneCommand } from '../../src/cli/tune.js';
import { tuningLocation } from '../../src/gpu/tuning.js';
import * as w from '../../src/index.js';

const root = mkdtempSync(join(tmpdir(), 'webmtl-tune-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** Runs `fn` with stdout captured, the test's store and stored tables enabled; returns what it printed. */
async function captured(fn: () => Promise<unknown>): Promise<string> {
  const env = { dir: process.env.WEBMTL_CACHE_DIR, tuning: process.env.WEBMTL_TUNING };
  process.env.WEBMTL_CACHE_DIR = root;
  process.env.WEBMTL_TUNING = 'on';
  const write = process.stdout.write.bind(process.stdout);
  let said = '';
  process.stdout.write = ((t: string) => ((said += t), true)) as typeof process.stdout.write;
  try {
    await fn();
  } finally {
    process.stdout.write = write;
    for (const [k, v] of [['WEBMTL_CACHE_DIR', env.dir], ['WEBMTL_TUNING', env.tuning]] as const) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }
  return said;
}

describe('webmtl tune', () => {
  // `tiled` is "fastest" everywhere, by more than the margin over any rule's choice.
  const fake: Record<string, number> = { direct: 3, outer: 2, tiled: 1 };
  const opts = {
    preset: 'smoke',
    set: ['tasks=["semseg","depth"]'],
    rounds: '1',
    measure: async (run: () => void, _calls: number, variant: string) => (run(), fake[variant]!),
  };

  it('measures the shapes of one step, stores the winners, and leaves the runtime table alone', async () => {
    const rt = w.runtime();
    const own = rt.tuning;
    const said = await captured(() => tuneCommand(opts));
    expect(rt.tuning).toBe(own);
    expect(own.size).toBe(0);
    const head = /(\d+) shapes in one step of smoke, (\d+) to measure/.exec(said);
    expect(head).not.toBeNull();
    const [shapes, todo] = [Number(head![1]), Number(head![2])];
    expect(shapes).toBeGreaterThan(10);
    expect(todo).toBe(shapes);
    // One line per shape, each with the winner among the timed candidates.
    const lines = said.split('\n').filter((l) => /^\[\d+\/\d+\] conv\.(forward|input|weight) /.test(l));
    expect(lines.length).toBe(todo);
    for (const l of lines) expect(l).toMatch(/: tiled \((same as rule|[\d.]+x over (direct|outer)); ms direct 3\.00, outer 2\.00, tiled 1\.00\)$/);
    let where = '';
    await captured(async () => (where = await tuningLocation(rt.tuning.adapter)));
    expect(where.startsWith(root)).toBe(true);
    const stored = JSON.parse(readFileSync(where, 'utf8')) as {
      adapter: string;
      entries: Record<string, { variant: string; ms: Record<string, number> }>;
    };
    expect(stored.adapter).toBe(rt.tuning.adapter);
    expect(Object.keys(stored.entries).length).toBe(shapes);
    for (const e of Object.values(stored.entries)) expect(e).toEqual({ variant: 'tiled', ms: fake });
    // A second run finds everything stored and measures nothing.
    const again = await captured(() => tuneCommand(opts));
    expect(again).toMatch(new RegExp(`${shapes} shapes in one step of smoke, 0 to measure`));
    const listed = await captured(() => program().parseAsync(['tune', '--list'], { from: 'user' }));
    expect(listed).toMatch(new RegExp(`${shapes} tuned shapes for `));
    const cleared = await captured(() => tuneCommand({ clear: true, list: true }));
    expect(cleared).toMatch(/cleared the table/);
    expect(cleared).toMatch(/ 0 tuned shapes for /);
  });

  it('rejects a bad --rounds', async () => {
    await expect(captured(() => tuneCommand({ ...opts, rounds: 'x' }))).rejects.toThrow(/--rounds must be a positive integer/);
  });
});
