// The PyTorch checkpoint reader on files torch.save wrote (committed under test/fixtures/pth by
// scripts/fixtures/make_pth_fixtures.py, so this runs without Python) and on pickles built here
// from the specification: every storage type, views and strides, nesting, the module. prefix, the
// legacy format, and refusals (globals outside the allowlist, malformed views) with clear errors.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import * as w from '../../src/index.js';
import { devices } from '../helpers/devices.js';
import { checkAgainstExpected, expectations } from './pth-expected.js';
import { P, f32bytes, torchPickle, torchZip, type PickledTensor } from './pth-helpers.js';

const DIR = new URL('../fixtures/pth/', import.meta.url).pathname;

const tensor = (o: Partial<PickledTensor> & { shape: number[] }): PickledTensor => ({
  storage: 'FloatStorage',
  key: '0',
  numel: 6,
  offset: 0,
  stride: o.shape.map((_, i) => o.shape.slice(i + 1).reduce((a, b) => a * b, 1)),
  ...o,
});
const six = f32bytes([0, 1, 2, 3, 4, 5]);

describe('PyTorch .pth reader (committed torch.save files)', () => {
  const files = expectations(DIR);
  it('covers every storage type, views, the legacy format, protocol 4, nesting and a hostile file', () => {
    expect(Object.keys(files).sort()).toEqual(['ddp', 'dtypes', 'evil', 'legacy', 'model', 'protocol4']);
    expect(new Set(Object.values(files.dtypes!.tensors!).map((t) => t.dtype))).toEqual(new Set(['F32', 'F64', 'F16', 'BF16', 'I64', 'I32', 'I16', 'I8', 'U8', 'BOOL']));
  });
  for (const [name, e] of Object.entries(files)) {
    it(`${name}.pth decodes as torch wrote it`, () => checkAgainstExpected(DIR, name, e));
  }
  it('a state dict can be picked by key, and a missing one is named with the top-level keys', () => {
    const bytes = new Uint8Array(readFileSync(`${DIR}ddp.pth`));
    expect(w.decodePthHost(bytes, 'ddp', { key: 'state_dict' }).tensors.size).toBe(8);
    expect(() => w.decodePthHost(bytes, 'ddp', { key: 'optimizer' })).toThrow(/no state dict under 'optimizer'; top-level keys: 'epoch', 'arch', 'best_acc1', 'state_dict', 'optimizer'/);
  });
});

describe('PyTorch .pth reader (built pickles)', () => {
  const decode = (tensors: Record<string, PickledTensor>, storages: Record<string, Uint8Array> = { '0': six }) =>
    w.decodePthHost(torchZip(torchPickle(tensors), storages), 'built.pth');

  it('gathers strided views in row-major order, with storage offsets', () => {
    const r = decode({ t: tensor({ shape: [3, 2], stride: [1, 3] }), v: tensor({ shape: [2, 2], stride: [3, 1], offset: 1 }), s: tensor({ shape: [], stride: [], offset: 5 }) });
    expect(Array.from(r.tensors.get('t')!.data)).toEqual([0, 3, 1, 4, 2, 5]);
    expect(Array.from(r.tensors.get('v')!.data)).toEqual([1, 2, 4, 5]);
    expect(r.tensors.get('s')!.shape).toEqual([]);
    expect(Array.from(r.tensors.get('s')!.data)).toEqual([5]);
  });

  it('reads entries whose sizes and offsets sit in zip64 extra fields (files over 4 GiB)', () => {
    const pkl = torchPickle({ t: tensor({ shape: [2, 3] }) });
    const r = w.decodePthHost(torchZip(pkl, { '0': six }, { zip64Fields: true }), 'zip64.pth');
    expect(Array.from(r.tensors.get('t')!.data)).toEqual([0, 1, 2, 3, 4, 5]);
  });

  it('refuses views outside their storage, expanded views and short storages, naming the tensor', () => {
    expect(() => decode({ a: tensor({ shape: [6], offset: 1 }) })).toThrow(/tensor 'a': the view \(offset 1, size \[6\], stride \[1\]\) reaches element 6 of a storage of 6/);
    expect(() => decode({ a: tensor({ shape: [4, 2], stride: [0, 1] }) })).toThrow(/tensor 'a': 8 elements in a storage of 6/);
    expect(() => decode({ a: tensor({ shape: [2], stride: [7] }) })).toThrow(/reaches element 7/);
    expect(() => decode({ a: tensor({ shape: [2], numel: 60 }) })).toThrow(/storage '0' has 24 bytes, too few for 60 F32 elements/);
    expect(() => decode({ a: tensor({ shape: [2], key: '9' }) })).toThrow(/storage '9' has no entry archive\/data\/9/);
    expect(() => decode({ a: tensor({ shape: [2 ** 20, 2 ** 20], stride: [0, 0] }) })).toThrow(w.FormatError);
  });

  it('refuses every global outside the allowlist, by name, without calling anything', () => {
    const evil = (module: string, name: string) => new P().proto(2).global(module, name).mark().str('id').tuple().reduce().stop().bytes();
    for (const [m, n] of [['os', 'system'], ['builtins', 'eval'], ['subprocess', 'Popen'], ['torch', 'load'], ['numpy.core.multiarray', 'scalar'], ['__builtin__', 'getattr']]) {
      const bytes = torchZip(evil(m!, n!), {});
      expect(() => w.decodePthHost(bytes, 'x.pth'), `${m}.${n}`).toThrow(w.UnsafePickleError);
      expect(() => w.decodePthHost(bytes, 'x.pth')).toThrow(`refused global '${m}.${n}'`);
    }
    // A storage class is a value, never a function.
    const call = new P().proto(2).global('torch', 'FloatStorage').emptyTuple().reduce().stop().bytes();
    expect(() => w.decodePthHost(torchZip(call, {}), 'x.pth')).toThrow(/'torch.FloatStorage' may appear in the file but not be called/);
  });

  it('refuses the opcodes that build arbitrary objects', () => {
    for (const op of [0x69 /* INST */, 0x6f /* OBJ */, 0x81 /* NEWOBJ */, 0x82 /* EXT1 */, 0x92 /* NEWOBJ_EX */, 0x50 /* PERSID */]) {
      const bytes = new P().proto(2).none().raw(op).stop().bytes();
      expect(() => w.unpickle(bytes, 0, { globals: new Map() }), op.toString(16)).toThrow(/an opcode this restricted reader does not accept/);
    }
  });

  it('reads the plain values of a checkpoint: ints, longs, floats, strings, lists, tuples, dicts, memo', () => {
    const p = new P().proto(2).emptyDict().put(0).mark();
    p.str('n').int(70000).str('neg').raw(0x4a).u32(-5 >>> 0).str('big').long1(2n ** 70n, 10).str('f').float(0.25);
    p.str('l').emptyList().put(1).mark().int(1).none().bool(true).raw(0x65); // APPENDS
    p.str('t').mark().str('a').tuple().str('again').get(1).setitems().stop();
    const v = w.unpickle(p.bytes(), 0, { globals: new Map() }).value as w.PyDict;
    expect(v).toBeInstanceOf(w.PyDict);
    expect(v.map.get('n')).toBe(70000);
    expect(v.map.get('neg')).toBe(-5);
    expect(v.map.get('big')).toBe(2n ** 70n);
    expect(v.map.get('f')).toBe(0.25);
    expect(v.map.get('l')).toEqual([1, null, true]);
    expect(v.map.get('again')).toBe(v.map.get('l'));
    expect((v.map.get('t') as w.PyTuple).items).toEqual(['a']);
  });

  it('enforces its limits with errors that name them', () => {
    const g = { globals: new Map() };
    const deep = new P().proto(2);
    for (let i = 0; i < 2000; i++) deep.mark();
    expect(() => w.unpickle(deep.bytes(), 0, g)).toThrow(/more than 1000 nested MARKs/);
    const long = new P().proto(2).raw(0x8d).u64(2n ** 62n).stop();
    expect(() => w.unpickle(long.bytes(), 0, g)).toThrow(/a length of 4611686018427387904 bytes/);
    const str = new P().proto(2).raw(0x58).u32(1000).stop();
    expect(() => w.unpickle(str.bytes(), 0, g)).toThrow(/needs 1000 more bytes.*truncated file/);
    const memo = new P().proto(2).get(77).stop();
    expect(() => w.unpickle(memo.bytes(), 0, g)).toThrow(/memo entry 77 was never stored/);
    const big = new P().proto(2).raw(0x8b).u32(100000).stop();
    expect(() => w.unpickle(big.bytes(), 0, g)).toThrow(/an integer of 100000 bytes is over the limit of 64/);
    const items = new P().proto(2).emptyList();
    for (let i = 0; i < 11; i++) items.none().append();
    expect(() => w.unpickle(items.stop().bytes(), 0, { ...g, limits: { maxItems: 10 } })).toThrow(/a list over the limit of 10 items/);
    const stack = new P().proto(2);
    for (let i = 0; i < 11; i++) stack.none();
    expect(() => w.unpickle(stack.stop().bytes(), 0, { ...g, limits: { maxStack: 10 } })).toThrow(/more than 10 values on the stack/);
    expect(() => w.unpickle(new P().proto(2).none().none().stop().bytes(), 0, g)).toThrow(/STOP with 2 values/);
  });

  it('refuses files that are not torch.save output, naming the format', () => {
    expect(() => w.decodePthHost(new TextEncoder().encode('hello'), 'a.txt')).toThrow(/a\.txt: not a PyTorch checkpoint/);
    expect(() => w.decodePthHost(new Uint8Array(0), 'empty.pth')).toThrow(/not a PyTorch checkpoint/);
    const ts = torchZip(new P().proto(2).none().stop().bytes(), {});
    expect(() => w.decodePthHost(ts, 'none.pth')).toThrow(/the file holds no dict/);
  });
});

describe.each(devices())('loadPytorch on %s', () => {
  it('uploads the state dict (f32 and i32 tensors) and keeps the keys in file order', async () => {
    const r = await w.loadPytorch(`${DIR}model.pth`);
    expect([...r.tensors.keys()]).toEqual(['conv.weight', 'bn.weight', 'bn.bias', 'bn.running_mean', 'bn.running_var', 'bn.num_batches_tracked', 'fc.weight', 'fc.bias']);
    expect(r.tensors.get('bn.num_batches_tracked')!.dtype).toBe('i32');
    const host = w.decodePthHost(new Uint8Array(readFileSync(`${DIR}model.pth`)));
    for (const [k, t] of r.tensors) expect(Array.from(await t.data()), k).toEqual(Array.from(host.tensors.get(k)!.data));
    for (const t of r.tensors.values()) t.dispose();
  });
});
