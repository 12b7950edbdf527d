// Cross-checks with Python: the committed file written by scripts/fixtures/make_safetensors_fixture.py
// (from PyTorch tensors, by the spec) loads with the values torch had; files written by webmtl pass
// the independent checker scripts/fixtures/check_safetensors.py, layout included; and the checker
// agrees that the corrupt files webmtl rejects are invalid. The checker runs only where
// /usr/bin/python3 with numpy exists; those tests say so in their names.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import * as w from '../../src/index.js';
import { devices } from '../helpers/devices.js';
import { bits, buildFile, f32le, runChecker, tempDir, tensorBits } from './helpers.js';

const FIXTURE = new URL('../fixtures/torch_written.safetensors', import.meta.url).pathname;
const EXPECTED = new URL('../fixtures/torch_written.json', import.meta.url).pathname;

interface ExpectedFile {
  metadata: Record<string, string>;
  tensors: Record<string, { file_dtype: string; dtype: 'f32' | 'i32'; shape: number[]; data: (number | string)[] }>;
}

const SPECIAL: Record<string, number> = { nan: NaN, inf: Infinity, '-inf': -Infinity, '-0': -0 };
const num = (v: number | string) => (typeof v === 'string' ? SPECIAL[v]! : v);
/** JSON form of values for the checker (strings for the values JSON lacks). */
const jsonValue = (v: number) => (Number.isNaN(v) ? 'nan' : v === Infinity ? 'inf' : v === -Infinity ? '-inf' : Object.is(v, -0) ? '-0' : v);

const { dir, cleanup } = tempDir('py');
afterAll(cleanup);

describe.each(devices())('safetensors and Python on %s', () => {
  it('the Python-written fixture loads: every dtype converted, values bit for bit as torch had them', async () => {
    const want = JSON.parse(readFileSync(EXPECTED, 'utf8')) as ExpectedFile;
    const { tensors, metadata } = await w.loadSafetensors(FIXTURE);
    expect(metadata).toEqual(want.metadata);
    expect([...tensors.keys()].sort()).toEqual(Object.keys(want.tensors).sort());
    const host = w.decodeSafetensorsHost(new Uint8Array(readFileSync(FIXTURE)), FIXTURE).tensors;
    for (const [name, e] of Object.entries(want.tensors)) {
      const t = tensors.get(name)!;
      expect(t.dtype, name).toBe(e.dtype);
      expect([...t.shape], name).toEqual(e.shape);
      expect(host.get(name)!.sourceDType, name).toBe(e.file_dtype);
      const ref = e.dtype === 'f32' ? Float32Array.from(e.data.map(num)) : Int32Array.from(e.data.map(num));
      expect(await tensorBits(t), name).toEqual(bits(ref));
    }
    expect(new Set(Object.values(want.tensors).map((e) => e.file_dtype))).toEqual(new Set(['F32', 'F64', 'F16', 'BF16', 'I64', 'I32', 'U8', 'BOOL']));
    for (const t of tensors.values()) t.dispose();
  });

  it("torch's state dicts load into webmtl modules of the same architecture (names and shapes match)", async () => {
    const { tensors } = await w.loadSafetensors(FIXTURE);
    const part = (prefix: string) => new Map([...tensors].filter(([k]) => k.startsWith(prefix)).map(([k, t]) => [k.slice(prefix.length), t]));
    const mlp = new w.Sequential(new w.Linear(4, 3), new w.ReLU(), new w.Linear(3, 2));
    mlp.loadStateDict(part('mlp.'));
    for (const [k, t] of mlp.stateDict()) expect(await tensorBits(t), k).toEqual(await tensorBits(tensors.get(`mlp.${k}`)!));
    // torch stores num_batches_tracked as an int64 scalar, webmtl as an i32 scalar: it converts on
    // read, so a whole BatchNorm2d state dict loads strictly.
    const bn = new w.BatchNorm2d(3);
    const bnState = part('bn.');
    expect(bnState.get('num_batches_tracked')!.dtype).toBe('i32');
    expect(bn.loadStateDict(bnState)).toEqual({ missing: [], unexpected: [] });
    expect(await tensorBits(bn.runningVar)).toEqual(await tensorBits(tensors.get('bn.running_var')!));
    expect(await tensorBits(bn.numBatchesTracked)).toEqual(await tensorBits(tensors.get('bn.num_batches_tracked')!));
    mlp.dispose();
    bn.dispose();
    for (const t of tensors.values()) t.dispose();
  });

  it('a file written by webmtl passes the Python checker: reference layout and every value', async () => {
    const specials = [0, -0, NaN, Infinity, -Infinity, 1e-45, 3.4028234663852886e38, -1.5, 0.1];
    const ts: Record<string, w.Tensor> = {
      'enc.weight': w.randn([3, 2, 3, 3], { seed: 3 }),
      'enc.bias': w.fromArray(specials),
      scalar: w.scalar(-2.5),
      empty: w.fromArray([], [2, 0]),
      labels: w.fromArray([0, -1, 2147483647, -2147483648, 255], [5], { dtype: 'i32' }),
      'count.i': w.fromArray([7], [], { dtype: 'i32' }),
      'ünï.名前': w.fromArray([1, 2], [1, 2]),
    };
    const metadata = { format: 'pt', note: 'ünïcödé "quoted" \\ back\nslash' };
    const path = join(dir, 'ours.safetensors');
    await w.saveSafetensors(path, ts, metadata);
    const expected = { metadata, tensors: {} as Record<string, unknown> };
    for (const [k, t] of Object.entries(ts)) {
      const values = t.size === 0 ? [] : Array.from(await t.data());
      expected.tensors[k] = { dtype: t.dtype === 'f32' ? 'F32' : 'I32', shape: [...t.shape], data: values.map(jsonValue) };
    }
    const expectPath = join(dir, 'ours.json');
    writeFileSync(expectPath, JSON.stringify(expected));
    const r = runChecker([path, '--strict-layout', '--expect', expectPath]);
    expect(r.out).toMatch(/^OK .*7 tensors.*layout as the reference writer, values as expected/);
    expect(r.status).toBe(0);
    // The checker does notice a wrong value (it is not vacuous).
    (expected.tensors.scalar as { data: number[] }).data = [2.5];
    writeFileSync(expectPath, JSON.stringify(expected));
    const bad = runChecker([path, '--expect', expectPath]);
    expect(bad.status).toBe(1);
    expect(bad.out).toMatch(/scalar: value 0 is -2\.5, expected 2\.5/);
    Object.values(ts).forEach((t) => t.dispose());
  });

  it('the Python checker also rejects the corrupt files webmtl rejects', () => {
    const good = buildFile({ a: { dtype: 'F32', shape: [2], bytes: f32le([1, 2]) }, b: { dtype: 'F32', shape: [1], bytes: f32le([3]) } });
    const cases: Record<string, Uint8Array> = {
      truncated: good.subarray(0, good.length - 3),
      'too-long-header': (() => {
        const b = good.slice();
        new DataView(b.buffer).setBigUint64(0, 4096n, true);
        return b;
      })(),
      'bad-json': (() => {
        const b = good.slice();
        b[12] = 0x7b;
        return b;
      })(),
      'size-mismatch': buildFile({ a: { dtype: 'F32', shape: [3], bytes: f32le([1, 2]) } }),
      trailing: (() => {
        const b = new Uint8Array(good.length + 4);
        b.set(good);
        return b;
      })(),
    };
    const paths = Object.entries(cases).map(([name, bytes]) => {
      const p = join(dir, `${name}.safetensors`);
      writeFileSync(p, bytes);
      expect(() => w.decodeSafetensorsHost(bytes, p)).toThrow(w.FormatError);
      return p;
    });
    const goodPath = join(dir, 'good.safetensors');
    writeFileSync(goodPath, good);
    const r = runChecker([goodPath, ...paths]);
    expect(r.status).toBe(1);
    expect(r.out).toContain(`OK ${goodPath}`);
    for (const p of paths) expect(r.out, p).toContain(`FAIL ${p}:`);
  });
});
