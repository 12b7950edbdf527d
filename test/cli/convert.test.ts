// `webmtl convert in.pth out.safetensors` on the committed torch.save files: the output holds the
// state dict torch saved (nesting and the module. prefix undone, --backbone dropping a classifier),
// and unsafe or broken inputs end with exit code 1, a message naming the problem, and no output.
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { main } from '../../src/cli/main.js';
import * as w from '../../src/index.js';

const FIX = new URL('../fixtures/pth/', import.meta.url).pathname;
const dir = mkdtempSync(join(tmpdir(), 'webmtl-convert-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function run(argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const o = vi.spyOn(process.stdout, 'write').mockImplementation((s) => ((out += String(s)), true));
  const e = vi.spyOn(process.stderr, 'write').mockImplementation((s) => ((err += String(s)), true));
  try {
    return { code: await main(argv), out, err };
  } finally {
    o.mockRestore();
    e.mockRestore();
  }
}

const host = (path: string) => w.decodeSafetensorsHost(new Uint8Array(readFileSync(path)), path);

describe('webmtl convert', () => {
  it('writes the state dict of a DataParallel training checkpoint as safetensors, values unchanged', async () => {
    const out = join(dir, 'ddp.safetensors');
    const r = await run(['convert', `${FIX}ddp.pth`, out]);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    expect(r.out).toBe(`wrote ${out}: 8 tensors (state dict under 'state_dict'; 'module.' removed from every key)\n`);
    const want = w.decodePthHost(new Uint8Array(readFileSync(`${FIX}ddp.pth`))).tensors;
    const got = host(out);
    expect(got.metadata).toEqual({ format: 'pt', source: 'ddp.pth' });
    expect([...got.tensors.keys()].sort()).toEqual([...want.keys()].sort());
    for (const [k, t] of want) {
      expect(got.tensors.get(k)!.shape, k).toEqual(t.shape);
      expect(Array.from(got.tensors.get(k)!.data), k).toEqual(Array.from(t.data));
    }
  });

  it('--backbone maps keys through the backbone key map and drops the classifier', async () => {
    const out = join(dir, 'model.safetensors');
    const r = await run(['convert', `${FIX}model.pth`, out, '--backbone', 'resnet18']);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/: 6 tensors \(state dict under 'model'; dropped fc\.weight, fc\.bias\)\n$/);
    expect([...host(out).tensors.keys()].sort()).toEqual(['bn.bias', 'bn.num_batches_tracked', 'bn.running_mean', 'bn.running_var', 'bn.weight', 'conv.weight']);
  });

  it('refuses a pickle that asks for os.system, naming it, and writes nothing', async () => {
    const out = join(dir, 'evil.safetensors');
    const r = await run(['convert', `${FIX}evil.pth`, out]);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/^webmtl: .*evil\.pth \(data\.pkl\): refused global 'posix\.system'/);
    expect(existsSync(out)).toBe(false);
  });

  it('names an unknown backbone and a missing state dict key', async () => {
    const a = await run(['convert', `${FIX}model.pth`, join(dir, 'x.safetensors'), '--backbone', 'vgg16']);
    expect([a.code, a.err]).toEqual([1, expect.stringContaining("no PyTorch key map for backbone 'vgg16' (known: resnet18, resnet34, resnet50, resnet101")]);
    const b = await run(['convert', `${FIX}model.pth`, join(dir, 'x.safetensors'), '--key', 'ema']);
    expect([b.code, b.err]).toEqual([1, expect.stringContaining("no state dict under 'ema'; top-level keys: 'model', 'step'")]);
  });
});
