// hrnet18 and the dilated resnet50 against PyTorch, with files written at test time by
// scripts/fixtures/make_hrnet_fixture.py (/usr/bin/python3 with torch and torchvision) into a
// temporary folder: the full-width HRNet-W18 state-dict keys, order and shapes equal the official
// names of a plain-PyTorch reference; that reference at width 0.25 (a .pth with the ImageNet
// classifier keys a published checkpoint carries) loads through the hrnet18 key map and gives the
// same eval-mode features within 1e-4 relative; torchvision's resnet50(replace_stride_with_dilation=
// [False, True, True]) loads into resnet50({outputStride: 8}) and matches likewise. Without torch
// every test here fails with the command that installs it.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as w from '../../src/index.js';
import { devices } from '../helpers/devices.js';
import { relErr } from '../helpers/fixtures.js';
import { requirePython } from '../helpers/python.js';

const SCRIPT = fileURLToPath(new URL('../../scripts/fixtures/make_hrnet_fixture.py', import.meta.url));
const TOL = 1e-4;
const dir = mkdtempSync(join(tmpdir(), 'webmtl-hrnet-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

interface Net {
  file: string;
  parameters: number;
  features: Record<w.FeatureLevel, { file: string; shape: number[] }>;
}
interface Manifest {
  input: { file: string; shape: number[] };
  hrnet18: Net & { width: number };
  resnet50_os8: Net & { batch: number };
}

let manifest: Manifest;
beforeAll(() => {
  const py = requirePython('torch, torchvision');
  const r = spawnSync(py, [SCRIPT, '--out', dir], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${SCRIPT} failed (${r.status}): ${r.stderr}`);
  manifest = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as Manifest;
}, 60_000);

const f32file = (name: string) => {
  const b = readFileSync(join(dir, name));
  return new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
};

/** Eval-mode features of `model` on the manifest's input (its first `batch` images) vs PyTorch's. */
async function compareFeatures(model: w.Backbone, net: Net, batch: number): Promise<Record<string, number>> {
  const [, c, h, wd] = manifest.input.shape as [number, number, number, number];
  const x = w.fromArray(f32file(manifest.input.file).subarray(0, batch * c * h * wd), [batch, c, h, wd]);
  const feats = w.noGrad(() => model.eval().forward(x));
  const errs: Record<string, number> = {};
  for (const [level, f] of Object.entries(net.features)) {
    const got = feats[level as w.FeatureLevel];
    expect([...got.shape], level).toEqual(f.shape);
    errs[level] = relErr(await got.data(), f32file(f.file));
  }
  for (const t of Object.values(feats)) t.dispose();
  x.dispose();
  return errs;
}

describe.each(devices())('backbones vs PyTorch on %s', () => {
  it('hrnet18 at width 1 has the official HRNet-W18 state-dict keys, order, shapes and parameter count', () => {
    const want = JSON.parse(readFileSync(join(dir, 'hrnet18_names.json'), 'utf8')) as {
      keys: [string, number[]][];
      params: [string, number[]][];
      parameters: number;
    };
    const m = w.hrnet18();
    try {
      // Parameters in PyTorch's order; parameters and buffers (num_batches_tracked included) as a set.
      expect(m.namedParameters().map(([k, t]) => [k, [...t.shape]])).toEqual(want.params);
      const sortByKey = (a: [string, number[]], b: [string, number[]]) => (a[0] < b[0] ? -1 : 1);
      expect([...m.stateDict()].map(([k, t]): [string, number[]] => [k, [...t.shape]]).sort(sortByKey)).toEqual([...want.keys].sort(sortByKey));
      expect(want.keys.length).toBe(864);
      expect(m.numParameters()).toBe(want.parameters);
    } finally {
      m.dispose();
    }
  });

  it(`hrnet18 (width 0.25) loads the reference .pth by name (classifier dropped); eval features within ${TOL}`, async () => {
    const net = manifest.hrnet18;
    const model = w.hrnet18({ widthMultiplier: net.width });
    const r = await w.loadPretrained(model, join(dir, net.file), 'hrnet18');
    expect(r.dropped.sort()).toEqual(['classifier.bias', 'classifier.weight', 'downsamp_modules.0.0.weight', 'final_layer.0.weight', 'incre_modules.0.0.conv1.weight']);
    expect(r.loaded.length).toBe(model.stateDict().size);
    expect(model.numParameters()).toBe(net.parameters);
    const errs = await compareFeatures(model, net, manifest.input.shape[0]!);
    console.log('hrnet18 w0.25 max relative error per level', errs);
    for (const [level, e] of Object.entries(errs)) expect(e, level).toBeLessThan(TOL);
    model.dispose();
  });

  it(`resnet50 outputStride 8 = torchvision resnet50(replace_stride_with_dilation=[F, T, T]) within ${TOL}`, async () => {
    const net = manifest.resnet50_os8;
    const model = w.resnet50({ outputStride: 8 });
    expect(model.strides).toEqual({ stem: 2, c1: 4, c2: 8, c3: 8, c4: 8 });
    const r = await w.loadPretrained(model, join(dir, net.file), 'resnet50');
    expect(r.dropped).toEqual(['fc.weight', 'fc.bias']);
    expect(model.numParameters()).toBe(net.parameters);
    const errs = await compareFeatures(model, net, net.batch);
    console.log('resnet50 os8 max relative error per level', errs);
    for (const [level, e] of Object.entries(errs)) expect(e, level).toBeLessThan(TOL);
    model.dispose();
  }, 60_000);
});
