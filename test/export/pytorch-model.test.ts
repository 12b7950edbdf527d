// Every architecture (and HRNet, as a bare backbone) exported to PyTorch: model.py and weights.safetensors load in PyTorch (strict
// state-dict names and shapes) and its eval-mode outputs match webmtl's on the same input within
// 1e-4 x max|output| per task. One Python process checks all cases (test/export/check_pytorch.py).
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import * as w from '../../src/index.js';
import { emitConstruction, modelPy } from '../../src/export/pytorch/model-py.js';
import { requirePython } from '../helpers/python.js';
import { CASES, buildCase, caseInput, caseOutputs, tasksOf } from './models.js';

const SCRIPT = new URL('./check_pytorch.py', import.meta.url).pathname;
const TOL = 1e-4;
const root = mkdtempSync(join(tmpdir(), 'webmtl-export-pt-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('export to PyTorch', () => {
  it('every architecture: PyTorch eval outputs match webmtl within 1e-4 x max|output|', async () => {
    const python = requirePython('torch');
    const x = caseInput();
    for (const c of CASES) {
      const model = buildCase(c);
      const dir = join(root, c.name);
      mkdirSync(dir);
      writeFileSync(join(dir, 'model.py'), modelPy(model, { tasks: tasksOf(c, model), inChannels: 3, source: `test case ${c.name}` }));
      await w.saveSafetensors(join(dir, 'weights.safetensors'), model.stateDict());
      const out = caseOutputs(model, x);
      const io = new Map<string, w.Tensor>([['x', x], ...Object.entries(out).map(([k, t]) => [`out.${k}`, t] as [string, w.Tensor])]);
      await w.saveSafetensors(join(dir, 'io.safetensors'), io);
      for (const t of Object.values(out)) t.dispose();
      model.dispose();
    }
    x.dispose();
    const r = spawnSync(python, [SCRIPT, root], { encoding: 'utf8', timeout: 120_000 });
    expect(r.status, `check_pytorch.py failed:\n${r.stderr}`).toBe(0);
    const report = JSON.parse(r.stdout) as Record<string, Record<string, { err: number; scale: number }> | { error: string }>;
    expect(Object.keys(report).sort()).toEqual(CASES.map((c) => c.name).sort());
    const lines: string[] = [];
    for (const c of CASES) {
      const rep = report[c.name]!;
      if ('error' in rep) throw new Error(`${c.name}: ${rep.error as string}`);
      expect(Object.keys(rep).sort(), c.name).toEqual(tasksOf(c).map((t) => t.name).sort());
      for (const [task, { err, scale }] of Object.entries(rep as Record<string, { err: number; scale: number }>)) {
        lines.push(`${c.name}.${task}: max err ${err.toExponential(2)} / max|out| ${scale.toExponential(2)} = ${(err / scale).toExponential(2)}`);
        expect(scale, `${c.name}.${task}: outputs are all zero`).toBeGreaterThan(0);
        expect(err / scale, `${c.name}.${task}`).toBeLessThanOrEqual(TOL);
      }
    }
    console.log(`PyTorch export, relative max errors:\n  ${lines.join('\n  ')}`);
  });

  it('a module class without an exporter is an error naming the class and where it sits', () => {
    class Mystery extends w.Module {}
    class Holder extends w.Module {
      constructor() {
        super();
        this.child('inner', new Mystery());
      }
    }
    expect(() => emitConstruction(new Holder())).toThrow(/module class Mystery \(at 'inner'\) has no PyTorch exporter/);
  });
});
