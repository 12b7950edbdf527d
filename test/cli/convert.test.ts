// `webmtl convert in.pth out.safetensors` on the committed torch.save files: the output holds the
// state dict torch saved (nesting and the module. prefix undone, --backbone dropping a classifier),
// and unsafe or broken inputs end in an error naming the problem, with no output written. Runs the
// commander program rather than main(), which would shut down the runtime the test files share.
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { program } from '../../src/cli/main.js';
import * as w from '../../src/index.js';

const FIX = new URL('../fixtures/pth/', import.meta.url).pathname;
const dir = mkdtempSync(join(tmpdir(), 'webmtl-convert-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function run(argv: string[]): Promise<{ out: string; error: Error | null }> {
  let out = '';
  const o = vi.spyOn(process.stdout, 'write').mockImplementation((s) => ((out += String(s)), true));
  try {
    await program().parseAsync(argv, { from: 'user' });
    return { out, error: null };
  } catch (e) {
    return { out, error: e as Error };
  } finally {
    o.mockRestore();
  }
}

const host = (path: string) => w.decodeSafetensorsHost(new Uint8Array(readFileSync(path)), path);

describe('webmtl convert', () => {
  it('writes the state dict of a DataParallel training checkpoint as safetensors, values unchanged', async () => {
    const out = join(dir, 'ddp.safetensors');
    const r = await run(['convert', `${FIX}ddp.pth`, out]);
    expect(r.error).toBe(null);
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
    expect(r.error).toBe(null);
    expect(r.out).toMatch(/: 6 tensors \(state dict under 'model'; dropped fc\.weight, fc\.bias\)\n$/);
    expect([...host(out).tensors.keys()].sort()).toEqual(['bn.bias', 'bn.num_batches_tracked', 'bn.running_mean', 'bn.running_var', 'bn.weight', 'conv.weight']);
  });

  it('refuses a pickle that asks for os.system, naming it, and writes nothing', async () => {
    const out = join(dir, 'evil.safetensors');
    const r = await run(['convert', `${FIX}evil.pth`, out]);
    expect(r.error).toBeInstanceOf(w.UnsafePickleError);
    expect(r.error!.message).toMatch(/evil\.pth \(data\.pkl\): refused global 'posix\.system'/);
    expect(existsSync(out)).toBe(false);
  });

  it('names an unknown backbone and a missing state dict key', async () => {
    const a = await run(['convert', `${FIX}model.pth`, join(dir, 'x.safetensors'), '--backbone', 'vgg16']);
    expect(a.error?.message).toEqual(expect.stringContaining("no PyTorch key map for backbone 'vgg16' (known: resnet18, resnet34, resnet50, resnet101"));
    const b = await run(['convert', `${FIX}model.pth`, join(dir, 'x.safetensors'), '--key', 'ema']);
    expect(b.error).toBeInstanceOf(w.FormatError);
    expect(b.error?.message).toEqual(expect.stringContaining("no state dict under 'ema'; top-level keys: 'model', 'step'"));
  });
});
