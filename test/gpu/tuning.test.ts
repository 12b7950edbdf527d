// The per-adapter tuning table: lookups, misses, storage, and that ops follow it. No test here times
// anything: autotune() runs with injected timings, so its choices are deterministic.
import { mkdtempSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import * as w from '../../src/index.js';
import { kernelFingerprint, loadTuning, saveTuning, tuningEnabled, tuningLocation, TuningTable } from '../../src/gpu/tuning.js';
import { autotune, pickVariant } from '../../src/ops/autotune.js';
import { convForward, convTuneKey, parseConvTuneKey, type ConvTuneCase } from '../../src/ops/kernels/conv.js';
import { chooseMatmulVariant, matmulRaw, matmulTuneKey, parseMatmulTuneKey, type MatmulPlan } from '../../src/ops/kernels/matmul.js';
import { expectClose, makeInputs } from '../helpers/check-op.js';
import { dispatched } from '../helpers/dispatched.js';
import { conv2d as refConv } from '../reference/conv.js';
import * as R from '../reference/ndarray.js';

const root = mkdtempSync(join(tmpdir(), 'webmtl-tuning-'));
const savedEnv = { dir: process.env.WEBMTL_CACHE_DIR, tuning: process.env.WEBMTL_TUNING };
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** Runs `fn` with stored tables under a fresh folder and tuning enabled, then restores the environment. */
async function withStore<T>(fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = mkdtempSync(join(root, 'store-'));
  process.env.WEBMTL_CACHE_DIR = dir;
  process.env.WEBMTL_TUNING = 'on';
  try {
    return await fn(dir);
  } finally {
    for (const [k, v] of [['WEBMTL_CACHE_DIR', savedEnv.dir], ['WEBMTL_TUNING', savedEnv.tuning]] as const) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }
}

/** Installs `table` as the runtime's for one test. */
let savedTable: TuningTable | null = null;
function useTable(table: TuningTable): TuningTable {
  const rt = w.runtime();
  savedTable ??= rt.tuning;
  rt.tuning = table;
  return table;
}
afterEach(() => {
  if (savedTable) w.runtime().tuning = savedTable;
  savedTable = null;
});

const plan = (batch: number, m: number, n: number, k: number, transA = false, transB = false): MatmulPlan => ({
  batch,
  m,
  n,
  k,
  transA,
  transB,
  strideA: m * k,
  strideB: k * n,
});

describe('TuningTable', () => {
  it('returns a stored choice only when the op still has it, and records misses once', () => {
    const t = new TuningTable('adapter A', 'f0');
    t.set('k1', { variant: 'outer', ms: { outer: 1, general: 2 } });
    t.set('k2', { variant: 'gone', ms: { gone: 1 } });
    expect(t.choose('k1', ['general', 'outer'], 'general')).toBe('outer');
    expect(t.choose('k2', ['general', 'outer'], 'general')).toBe('general');
    expect(t.choose('k3', ['general', 'outer'], 'outer')).toBe('outer');
    expect(t.choose('k3', ['general', 'outer'], 'outer')).toBe('outer');
    // A single candidate is no choice: nothing to tune.
    expect(t.choose('k4', ['direct'], 'direct')).toBe('direct');
    expect([...t.misses.keys()]).toEqual(['k2', 'k3']);
    expect(t.misses.get('k3')).toEqual({ allowed: ['general', 'outer'], fallback: 'outer' });
    t.set('k3', { variant: 'general', ms: { general: 1 } });
    expect([...t.misses.keys()]).toEqual(['k2']);
    expect(t.choose('k3', ['general', 'outer'], 'outer')).toBe('general');
    expect(t.size).toBe(3);
  });

  it('keys round-trip through their parsers', () => {
    const plans = [plan(1, 17, 33, 9), { ...plan(3, 64, 20, 31, true, false), strideA: 0 }, { ...plan(2, 5, 7, 3, false, true), strideB: 0 }, plan(4, 8, 8, 8, true, true)];
    for (const p of plans) {
      const back = parseMatmulTuneKey(matmulTuneKey(p))!;
      expect(back).not.toBeNull();
      expect(matmulTuneKey(back)).toBe(matmulTuneKey(p));
      expect([back.batch, back.m, back.n, back.k, back.transA, back.transB]).toEqual([p.batch, p.m, p.n, p.k, p.transA, p.transB]);
      expect([back.strideA === 0, back.strideB === 0]).toEqual([p.batch > 1 && p.strideA === 0, p.batch > 1 && p.strideB === 0]);
    }
    const cases: ConvTuneCase[] = [
      { pass: 'forward', n: 2, c: 3, h: 11, w: 13, o: 5, kh: 3, kw: 1, sh: 2, sw: 1, dh: 1, dw: 2, pt: 0, pl: 0, oh: 0, ow: 0 },
      { pass: 'input', n: 1, c: 4, h: 9, w: 7, o: 6, kh: 3, kw: 3, sh: 2, sw: 2, dh: 1, dw: 1, pt: 1, pl: 2, oh: 5, ow: 4 },
      { pass: 'weight', n: 8, c: 16, h: 18, w: 18, o: 32, kh: 3, kw: 3, sh: 1, sw: 1, dh: 4, dw: 4, pt: 0, pl: 0, oh: 0, ow: 0 },
    ];
    for (const c of cases) expect(parseConvTuneKey(convTuneKey(c))).toEqual(c);
    expect(parseMatmulTuneKey('conv.forward 1x1x1x1 o1 k1x1 s1x1 d1x1')).toBeNull();
    expect(parseConvTuneKey('matmul 1x2x3x4 nn')).toBeNull();
  });

  it('pickVariant keeps the rule unless another candidate beats it by the margin', () => {
    expect(pickVariant({ general: 1.0, outer: 0.5, tiled: 0.7 }, 'general', 0.05)).toBe('outer');
    expect(pickVariant({ general: 1.0, outer: 0.97 }, 'general', 0.05)).toBe('general');
    expect(pickVariant({ general: 1.0, outer: 0.94 }, 'general', 0.05)).toBe('outer');
    expect(pickVariant({ general: 2.0, outer: 0.5, tiled: 0.4 }, 'outer', 0.5)).toBe('outer');
    expect(pickVariant({ general: 2.0, tiled: 0.4 }, 'missing', 0.05)).toBe('tiled');
  });
});

describe('stored tables', () => {
  const adapter = w.runtime().tuning.adapter;

  it('save then load returns the same entries, for this adapter and these kernels only', async () => {
    await withStore(async (dir) => {
      const t = new TuningTable(adapter);
      t.set('matmul 1x64x64x64 nn', { variant: 'general', ms: { general: 0.1, outer: 0.2, tiled: 0.3 } });
      t.set('conv.forward 1x3x8x8 o4 k3x3 s1x1 d1x1', { variant: 'direct', ms: { direct: 0.1, outer: 0.2 } });
      const where = await saveTuning(t);
      expect(where.startsWith(dir)).toBe(true);
      expect(where).toBe(await tuningLocation(adapter));
      const back = await loadTuning(adapter);
      expect(back.list()).toEqual(t.list());
      expect(back.source).toBe(where);
      expect(back.fingerprint).toBe(kernelFingerprint());
      // Another adapter has its own file: nothing of this one applies there.
      expect((await loadTuning(`${adapter} (another)`)).size).toBe(0);
      expect(await tuningLocation(`${adapter} (another)`)).not.toBe(where);
      // Measured with other kernels: ignored.
      const stored = JSON.parse(readFileSync(where, 'utf8'));
      writeFileSync(where, JSON.stringify({ ...stored, fingerprint: 'deadbeef' }));
      expect((await loadTuning(adapter)).size).toBe(0);
      // Another format: ignored.
      writeFileSync(where, JSON.stringify({ ...stored, format: 99 }));
      expect((await loadTuning(adapter)).size).toBe(0);
      // Entries of a malformed shape are dropped, good ones kept.
      writeFileSync(where, JSON.stringify({ ...stored, entries: { ...stored.entries, bad: { variant: 3 } } }));
      expect((await loadTuning(adapter)).size).toBe(2);
    });
  });

  it('an unreadable table is ignored with a warning; WEBMTL_TUNING=off ignores any table', async () => {
    await withStore(async () => {
      const where = await tuningLocation(adapter);
      mkdirSync(join(where, '..'), { recursive: true });
      writeFileSync(where, '{ not json');
      const warn = vi.spyOn(console, 'warn').mockImplementation(() => {});
      try {
        expect((await loadTuning(adapter)).size).toBe(0);
        expect(warn).toHaveBeenCalledTimes(1);
        expect(String(warn.mock.calls[0]![0])).toMatch(/unreadable tuning table.*webmtl tune/);
      } finally {
        warn.mockRestore();
      }
      const t = new TuningTable(adapter);
      t.set('matmul 1x64x64x64 nn', { variant: 'general', ms: { general: 0.1 } });
      await saveTuning(t);
      expect((await loadTuning(adapter)).size).toBe(1);
      process.env.WEBMTL_TUNING = 'off';
      expect(tuningEnabled()).toBe(false);
      expect((await loadTuning(adapter)).size).toBe(0);
    });
  });
});

describe('ops follow the table', () => {
  it('matmul runs the tuned kernel (and the right product) instead of the shape rule', async () => {
    const rt = w.runtime();
    const p = plan(1, 96, 80, 72);
    expect(chooseMatmulVariant(p, rt.adapterName)).not.toBe('general');
    const [a, b] = makeInputs([[96, 72], [72, 80]], 7);
    const want = R.matmul(a!, b!);
    const ta = w.fromArray(Float32Array.from(a!.data), [96, 72]);
    const tb = w.fromArray(Float32Array.from(b!.data), [72, 80]);
    const dispatches = async (table: TuningTable) => {
      useTable(table);
      const before = rt.dispatchCount;
      const c = matmulRaw(ta, tb, p, [1, 96, 80]);
      const n = rt.dispatchCount - before;
      expectClose(await c.toArray(), want.data, 1e-3, 1e-3, 'product');
      c.dispose();
      return n;
    };
    // The rule's k-major kernel packs A first (2 dispatches); `general` reads it as stored (1).
    const empty = new TuningTable(rt.tuning.adapter);
    expect(await dispatches(empty)).toBe(2);
    expect([...empty.misses.keys()]).toEqual([matmulTuneKey(p)]);
    const tuned = new TuningTable(rt.tuning.adapter);
    tuned.set(matmulTuneKey(p), { variant: 'general', ms: { general: 1, outer: 2, tiled: 3 } });
    expect(await dispatches(tuned)).toBe(1);
    expect(tuned.misses.size).toBe(0);
    ta.dispose();
    tb.dispose();
  });

  it('a convolution pass runs the tuned variant', async () => {
    const rt = w.runtime();
    const [x, wt] = makeInputs([[2, 8, 12, 12], [16, 8, 3, 3]], 3);
    const want = refConv(x!, wt!, null);
    const tx = w.fromArray(Float32Array.from(x!.data), [2, 8, 12, 12]);
    const tw = w.fromArray(Float32Array.from(wt!.data), [16, 8, 3, 3]);
    const g = { groups: 1, kh: 3, kw: 3, sh: 1, sw: 1, dh: 1, dw: 1 };
    const key = convTuneKey({ pass: 'forward', n: 2, c: 8, h: 12, w: 12, o: 16, ...g, pt: 0, pl: 0, oh: 0, ow: 0 });
    // The kernels a pass ran: `direct` runs conv2d's own (main, or row after a weight transpose), the
    // im2col variants the column gather and matmul's product.
    const run = async (table: TuningTable) => {
      useTable(table);
      const { out: y, entries } = dispatched(() => convForward(tx, tw, g, null, null, false));
      expectClose(await y.toArray(), want.data, 1e-3, 1e-3, 'conv');
      y.dispose();
      return entries.includes('outer') || entries.includes('tiled') ? 'im2col' : 'direct';
    };
    const empty = new TuningTable(rt.tuning.adapter);
    const ruleRan = await run(empty);
    expect([...empty.misses.keys()]).toContain(key);
    const rule = empty.misses.get(key)!.fallback;
    const other = rule === 'direct' ? 'outer' : 'direct';
    expect(ruleRan).toBe(rule === 'direct' ? 'direct' : 'im2col');
    const tuned = new TuningTable(rt.tuning.adapter);
    tuned.set(key, { variant: other, ms: {} });
    expect(await run(tuned)).toBe(other === 'direct' ? 'direct' : 'im2col');
    tx.dispose();
    tw.dispose();
  });
});

describe('autotune (injected timings)', () => {
  it('runs every candidate, keeps the fastest beyond the margin, and skips tuned and unknown keys', async () => {
    const rt = w.runtime();
    const table = useTable(new TuningTable(rt.tuning.adapter));
    const p = plan(2, 40, 36, 20);
    const fast = matmulTuneKey(p);
    const close = matmulTuneKey(plan(1, 24, 20, 28));
    const convKey = convTuneKey({ pass: 'weight', n: 1, c: 3, h: 9, w: 9, o: 4, kh: 3, kw: 3, sh: 2, sw: 2, dh: 1, dw: 1, pt: 0, pl: 0, oh: 0, ow: 0 });
    table.set('matmul 1x8x8x8 nn', { variant: 'tiled', ms: { tiled: 1 } });
    const timings: Record<string, Record<string, number>> = {
      [fast]: { general: 3, outer: 5, tiled: 1 },
      [close]: { general: 1, outer: 0.98, tiled: 2 },
      [convKey]: { direct: 2, outer: 1, tiled: 4 },
    };
    const ran: string[] = [];
    const results = await autotune({
      keys: [fast, close, convKey, 'matmul 1x8x8x8 nn', 'not a key'],
      rounds: 3,
      measure: async (run, calls, variant, key) => {
        for (let i = 0; i < calls; i++) run();
        ran.push(`${key}|${variant}`);
        return timings[key]![variant]!;
      },
    });
    expect(results.map((r) => r.key)).toEqual([fast, close, convKey]);
    const byKey = Object.fromEntries(results.map((r) => [r.key, r]));
    expect(byKey[fast]!.variant).toBe('tiled');
    // 2% faster than the rule's choice is within the margin: the rule stays.
    expect(byKey[close]!.rule).toBe(chooseMatmulVariant(plan(1, 24, 20, 28), rt.adapterName));
    expect(byKey[close]!.variant).toBe(byKey[close]!.rule);
    expect(byKey[convKey]!.variant).toBe('outer');
    expect(byKey[fast]!.ms).toEqual({ general: 3, outer: 5, tiled: 1 });
    expect(table.get(fast)!.variant).toBe('tiled');
    expect(table.get('matmul 1x8x8x8 nn')!.variant).toBe('tiled');
    // Warm-up, calibration and 3 rounds for each of the 3 candidates of each key.
    for (const k of [fast, close, convKey]) expect(ran.filter((r) => r.startsWith(`${k}|`)).length).toBe(3 * 5);
  });

  it('tunes the misses a workload left when no keys are given', async () => {
    const rt = w.runtime();
    const table = useTable(new TuningTable(rt.tuning.adapter));
    const a = w.randn([3, 70, 50]);
    const b = w.randn([50, 66]);
    w.matmul(a, b).dispose();
    const missed = [...table.misses.keys()];
    expect(missed.length).toBeGreaterThan(0);
    const results = await autotune({ rounds: 1, measure: async (run) => (run(), 1) });
    expect(results.map((r) => r.key)).toEqual(missed);
    expect(table.misses.size).toBe(0);
    for (const k of missed) expect(table.get(k)).toBeDefined();
    a.dispose();
    b.dispose();
  });
});

describe('tuning identity of CPU adapters', () => {
  it("names the host CPU model in a software adapter's key, so tables of different CPUs never mix", async () => {
    const { isCpuAdapter } = await import('../../src/gpu/adapter.js');
    const { cpus } = await import('node:os');
    expect(isCpuAdapter('llvmpipe (LLVM 15.0.6, 256 bits)')).toBe(true);
    expect(isCpuAdapter('SwiftShader Device (Subzero)')).toBe(true);
    expect(isCpuAdapter('NVIDIA H100 80GB HBM3')).toBe(false);
    const key = w.runtime().tuning.adapter;
    if (isCpuAdapter(key)) expect(key).toContain(`cpu ${cpus()[0]!.model.trim()}`);
    else expect(key).not.toMatch(/\| cpu /);
  });
});
