// `model.backbone: {name, pretrained}` in run configurations: the schema accepts it (strict keys),
// buildRun loads the file into every backbone of the model through the key map (classifier
// dropped), and a file that does not fit fails the build with one message naming the file and every
// missing, unused and mismatched key. Weights files are written here (safetensors) from webmtl's
// own ResNet plus torchvision's fc.* keys, so no Python is needed (test/io/pth-torch.test.ts loads
// real torch.save files).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { buildRun } from '../../src/cli/build.js';
import { ConfigError, parseConfig } from '../../src/cli/config.js';
import { preset } from '../../src/cli/presets.js';
import { splitPretrained } from '../../src/cli/pretrained-backbone.js';
import * as w from '../../src/index.js';
import { devices } from '../helpers/devices.js';

const dir = mkdtempSync(join(tmpdir(), 'webmtl-pretrained-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const config = (backbone: unknown, arch = 'shared-encoder') => {
  const base = preset('smoke') as Record<string, unknown> & { model: Record<string, unknown> };
  return { ...base, model: { ...base.model, arch, backbone } };
};

describe('model.backbone.pretrained in the configuration', () => {
  it('accepts a name or {name, pretrained}, and rejects unknown keys with their path', () => {
    expect(parseConfig(config('resnet50')).model.backbone).toBe('resnet50');
    expect(parseConfig(config({ name: 'resnet18', pretrained: 'w.pth' })).model.backbone).toEqual({ name: 'resnet18', pretrained: 'w.pth' });
    expect(() => parseConfig(config({ name: 'resnet18', weights: 'w.pth' }))).toThrow(ConfigError);
    expect(() => parseConfig(config({ pretrained: '' }))).toThrow(/model\.backbone/);
  });

  it('splits the spec: createModel gets the name, the loader gets the file', () => {
    expect(splitPretrained({ arch: 'nddr', backbone: { name: 'resnet50', pretrained: 'a.pth' }, width: 1 })).toEqual({
      spec: { arch: 'nddr', backbone: 'resnet50', width: 1 },
      pretrained: { name: 'resnet50', path: 'a.pth' },
    });
    expect(splitPretrained({ arch: 'mtan', backbone: { pretrained: 'a.pth' } })).toEqual({ spec: { arch: 'mtan' }, pretrained: { name: 'resnet18', path: 'a.pth' } });
    expect(splitPretrained({ arch: 'mtan', backbone: 'resnet34' })).toEqual({ spec: { arch: 'mtan', backbone: 'resnet34' }, pretrained: null });
  });
});

describe.each(devices())('buildRun with pretrained backbone weights on %s', () => {
  /** A resnet18 (width 1/8) state dict plus an ImageNet classifier, saved as safetensors. */
  async function weightsFile(name: string, edit?: (m: Map<string, w.Tensor>) => void): Promise<{ path: string; want: Map<string, number[]> }> {
    const src = w.resnet18({ widthMultiplier: 0.125, generator: new w.Generator(77) });
    const state = new Map(src.stateDict());
    state.set('fc.weight', w.randn([1000, 64], { seed: 1 }));
    state.set('fc.bias', w.zeros([1000]));
    edit?.(state);
    const path = join(dir, name);
    await w.saveSafetensors(path, state);
    const want = new Map<string, number[]>();
    for (const [k, t] of src.stateDict()) want.set(k, Array.from(await t.data()));
    src.dispose();
    return { path, want };
  }

  it('loads the file into the shared encoder (and into every per-task encoder)', async () => {
    const { path, want } = await weightsFile('r18.safetensors');
    for (const arch of ['shared-encoder', 'cross-stitch']) {
      const run = await buildRun(parseConfig(config({ name: 'resnet18', pretrained: path }, arch)));
      const backbones = run.model.namedModules().filter(([, m]) => m instanceof w.ResNet);
      expect(backbones.length, arch).toBe(arch === 'cross-stitch' ? 4 : 1);
      for (const [bn, b] of backbones) {
        for (const [k, t] of b.stateDict()) expect(Array.from(await t.data()), `${arch} ${bn}.${k}`).toEqual(want.get(k));
      }
      run.model.dispose();
      run.balancer.dispose?.();
    }
  }, 60_000);

  it('a file that does not fit stops the build with every missing and unused key in one message', async () => {
    const { path } = await weightsFile('bad.safetensors', (m) => {
      m.set('layer1.0.conv1.weight_orig', m.get('layer1.0.conv1.weight')!);
      m.delete('layer1.0.conv1.weight');
      m.delete('layer4.1.bn2.running_var');
    });
    const err = await buildRun(parseConfig(config({ name: 'resnet18', pretrained: path }))).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(w.CheckpointError);
    expect((err as Error).message).toBe(
      `${path}: checkpoint does not fit: 2 missing key(s): layer1.0.conv1.weight, layer4.1.bn2.running_var; 1 unused key(s): layer1.0.conv1.weight_orig; ` +
        `read with the key map of torchvision.models.resnet*, which drops the ImageNet classifier fc.* (fc.bias, fc.weight); nothing was loaded`,
    );
  }, 60_000);
});
