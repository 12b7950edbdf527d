// PyTorch checkpoints written at test time by /usr/bin/python3 with torch and torchvision (one run
// of scripts/fixtures/make_pth_fixtures.py --resnet into a temporary folder): the small files decode
// as torch describes them, and torchvision's ResNet-18 and ResNet-50 (weights=None, batch-norm
// statistics randomised) load into webmtl's resnet18/resnet50 by name (fc.* dropped on purpose) and
// give torchvision's eval-mode features. Needs torch: when it is missing every test here fails with
// the command that installs it (npm test's set-up runs it).
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as w from '../../src/index.js';
import { devices } from '../helpers/devices.js';
import { relErr } from '../helpers/fixtures.js';
import { requirePython } from '../helpers/python.js';
import { checkAgainstExpected, expectations } from './pth-expected.js';
import { tempDir } from './helpers.js';

const SCRIPT = fileURLToPath(new URL('../../scripts/fixtures/make_pth_fixtures.py', import.meta.url));
const TOL = 1e-4;
const { dir, cleanup } = tempDir('pth');
const DIR = `${dir}/`;
afterAll(cleanup);

interface Manifest {
  torch: string;
  input: { file: string; shape: number[] };
  nets: Record<string, { file: string; features: Record<string, { file: string; shape: number[] }> }>;
}

// One Python run writes every file; each test first calls written(), so a missing torch fails every
// test here with the install command (a throwing beforeAll would only mark them skipped).
let manifest: Manifest;
let setupError: Error | null = null;
beforeAll(() => {
  try {
    const py = requirePython('torch, torchvision');
    const r = spawnSync(py, [SCRIPT, '--out', dir, '--resnet'], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`${SCRIPT} failed (${r.status}): ${r.stderr}`);
    manifest = JSON.parse(readFileSync(join(dir, 'resnet.json'), 'utf8')) as Manifest;
  } catch (e) {
    setupError = e as Error;
  }
}, 60_000);

function written(): Manifest {
  if (setupError) throw setupError;
  return manifest;
}

const f32file = (name: string) => {
  const b = readFileSync(join(dir, name));
  return new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
};

describe('PyTorch .pth files written now by torch', () => {
  it('every small file decodes as torch describes it (dtypes, views, legacy, protocol 4, nesting, module. prefix, refusal)', () => {
    written();
    const files = expectations(DIR);
    expect(Object.keys(files).length).toBe(6);
    for (const [name, e] of Object.entries(files)) checkAgainstExpected(DIR, name, e);
  });

  it("a DataParallel checkpoint {'epoch', 'state_dict': module.*} gives the plain state dict", () => {
    written();
    const plain = w.decodePthHost(new Uint8Array(readFileSync(join(dir, 'resnet18.pth'))));
    const ddp = w.decodePthHost(new Uint8Array(readFileSync(join(dir, 'resnet18_ddp.pth'))));
    expect([ddp.nestedUnder, ddp.strippedPrefix, plain.nestedUnder, plain.strippedPrefix]).toEqual(['state_dict', 'module.', null, null]);
    expect([...ddp.tensors.keys()]).toEqual([...plain.tensors.keys()]);
    const bytes = (a: Float32Array | Int32Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength);
    for (const [k, t] of plain.tensors) expect(bytes(ddp.tensors.get(k)!.data).equals(bytes(t.data)), k).toBe(true);
  });
});

describe.each(devices())('torchvision ResNets into webmtl backbones on %s', () => {
  for (const name of ['resnet18', 'resnet50'] as const) {
    it(`${name}: loads by name (fc.* dropped) and its eval-mode features match torchvision's within ${TOL}`, async () => {
      const net = written().nets[name]!;
      const model = name === 'resnet18' ? w.resnet18({ outputStride: 32 }) : w.resnet50({ outputStride: 32 });
      const r = await w.loadPretrained(model, join(dir, net.file), name);
      expect(r.dropped).toEqual(['fc.weight', 'fc.bias']);
      expect(r.loaded.length).toBe(model.stateDict().size);
      model.eval();
      const x = w.fromArray(f32file(manifest.input.file), manifest.input.shape);
      const feats = w.noGrad(() => model.forward(x));
      const errs: string[] = [];
      for (const [level, f] of Object.entries(net.features)) {
        const got = feats[level as w.FeatureLevel];
        expect([...got.shape], level).toEqual(f.shape);
        const want = f32file(f.file);
        const data = await got.data();
        let maxAbs = 0;
        for (let i = 0; i < want.length; i++) maxAbs = Math.max(maxAbs, Math.abs(data[i]! - want[i]!));
        errs.push(`${level} max abs ${maxAbs.toExponential(2)}, rel ${relErr(data, want).toExponential(2)}`);
        expect(relErr(data, want), `${name} ${level}`).toBeLessThan(TOL);
      }
      console.log(`${name} vs torchvision ${manifest.torch} (eval, 1x3x64x64): ${errs.join('; ')}`);
      for (const t of Object.values(feats)) t.dispose();
      x.dispose();
      model.dispose();
    }, 120_000);
  }

  it('resnet50 weights into a resnet18: unused and mismatched keys in one error, nothing written', async () => {
    const r50 = written().nets.resnet50!.file;
    const model = w.resnet18();
    const before = await model.stateDict().get('conv1.weight')!.data();
    const err = await w.loadPretrained(model, join(dir, r50), 'resnet18').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(w.CheckpointError);
    const e = err as w.CheckpointError;
    // resnet18's names are a subset of resnet50's: nothing missing, the Bottleneck keys unused.
    expect(e.missing).toEqual([]);
    expect(e.unexpected).toContain('layer1.0.conv3.weight');
    expect(e.unexpected).toContain('layer3.5.bn3.running_var');
    expect(e.mismatched.some((m) => m.startsWith('layer1.0.conv1.weight: [64, 64, 1, 1] f32 in the file, [64, 64, 3, 3] f32 in the backbone'))).toBe(true);
    expect(e.message).toMatch(/: checkpoint does not fit: \d+ unused key\(s\): .*; \d+ shape\/dtype mismatch\(es\): .*drops the ImageNet classifier fc\.\* \(fc\.weight, fc\.bias\); nothing was loaded$/);
    expect(await model.stateDict().get('conv1.weight')!.data()).toEqual(before);
    model.dispose();
  });
});
