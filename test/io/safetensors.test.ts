// safetensors codec: round trips of both dtypes and every kind of shape, metadata, the byte layout
// checked against the spec (and the reference implementation's published test vectors), reading of
// the other dtypes, and one typed error per kind of corrupt file.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import * as w from '../../src/index.js';
import { devices } from '../helpers/devices.js';
import { bits, buildFile, f32le, f64le, i32le, i64le, parseFile, tempDir, tensorBits, u16le } from './helpers.js';

const live = () => w.runtime().memory().live;
const { dir, cleanup } = tempDir('st');
afterAll(cleanup);

/** Special and ordinary f32 values (NaN, infinities, -0, subnormals, extremes). */
const SPECIAL_F32 = [0, -0, 1.5, -2.25, NaN, Infinity, -Infinity, 1e-45, -1.17549435e-38, 3.4028234e38, 0.1];

function f32Values(n: number, seed: number): Float32Array {
  const g = new w.Generator(seed);
  const out = g.uniform(n, -1000, 1000);
  for (let i = 0; i < Math.min(n, SPECIAL_F32.length); i++) out[i] = SPECIAL_F32[i]!;
  return out;
}

function i32Values(n: number, seed: number): Int32Array {
  const g = new w.Generator(seed);
  const out = new Int32Array(n);
  for (let i = 0; i < n; i++) out[i] = Math.floor((g.next() - 0.5) * 2 ** 32);
  if (n > 0) out[0] = -2147483648;
  if (n > 1) out[1] = 2147483647;
  return out;
}

const SHAPES: number[][] = [[], [1], [0], [7], [3, 0, 2], [2, 3], [2, 3, 4], [1, 1, 1, 1, 5]];

async function disposeAll(m: Map<string, w.Tensor>): Promise<void> {
  for (const t of m.values()) t.dispose();
}

describe.each(devices())('safetensors on %s', () => {
  describe('round trips', () => {
    it('f32 and i32 tensors of every shape (scalars, empty, high rank) survive bit for bit, in memory and on disk', async () => {
      const src = new Map<string, w.Tensor>();
      SHAPES.forEach((shape, i) => {
        const n = shape.reduce((a, d) => a * d, 1);
        src.set(`f.${i}`, w.fromArray(f32Values(n, i + 1), shape));
        src.set(`i.${i}`, w.fromArray(i32Values(n, i + 100), shape, { dtype: 'i32' }));
      });
      const path = join(dir, 'all.safetensors');
      await w.saveSafetensors(path, src);
      const fromFile = await w.loadSafetensors(path);
      const fromMemory = w.decodeSafetensors(await w.encodeSafetensors(src));
      expect(Buffer.compare(readFileSync(path), Buffer.from(await w.encodeSafetensors(src)))).toBe(0);
      for (const loaded of [fromFile, fromMemory]) {
        expect([...loaded.tensors.keys()].sort()).toEqual([...src.keys()].sort());
        expect(loaded.metadata).toEqual({});
        for (const [k, t] of src) {
          const got = loaded.tensors.get(k)!;
          expect(got.dtype, k).toBe(t.dtype);
          expect([...got.shape], k).toEqual([...t.shape]);
          expect(await tensorBits(got), k).toEqual(await tensorBits(t));
        }
        await disposeAll(loaded.tensors);
      }
      await disposeAll(src);
    });

    it('a plain object of tensors works like a Map; no tensors at all is a valid file', async () => {
      const a = w.fromArray([1, 2, 3]);
      const dec = w.decodeSafetensors(await w.encodeSafetensors({ a }));
      expect(await dec.tensors.get('a')!.toArray()).toEqual([1, 2, 3]);
      await disposeAll(dec.tensors);
      a.dispose();
      const empty = w.decodeSafetensors(await w.encodeSafetensors({}));
      expect(empty.tensors.size).toBe(0);
    });

    it('metadata round-trips: unicode, quotes, backslashes, newlines, empty strings; {} and undefined differ on disk', async () => {
      const t = w.fromArray([1]);
      const metadata = { 'z-last': 'ok', format: 'pt', quote: 'say "hi"\\n', nl: 'a\nb\tc', uni: 'ünïcödé ✓ 名前 🙂', empty: '', 'ключ': 'значение' };
      const bytes = await w.encodeSafetensors({ t }, metadata);
      const dec = w.decodeSafetensors(bytes);
      expect(dec.metadata).toEqual(metadata);
      await disposeAll(dec.tensors);
      // undefined writes no __metadata__ key; {} writes an empty one (as the reference does).
      expect(parseFile(await w.encodeSafetensors({ t })).header).not.toHaveProperty('__metadata__');
      expect(parseFile(await w.encodeSafetensors({ t }, {})).header.__metadata__).toEqual({});
      t.dispose();
    });

    it('invalid inputs are ArgumentErrors and write nothing', async () => {
      const t = w.fromArray([1]);
      const path = join(dir, 'never.safetensors');
      await expect(w.saveSafetensors(path, { __metadata__: t })).rejects.toThrow(w.ArgumentError);
      await expect(w.saveSafetensors(path, { t }, { n: 1 as unknown as string })).rejects.toThrow(/must be a string/);
      expect(() => readFileSync(path)).toThrow(/ENOENT/);
      expect(() => w.encodeSafetensorsHost({ x: { dtype: 'f32', shape: [2], data: new Float32Array(3) } })).toThrow(/3 values for shape \[2\]/);
      expect(() => w.encodeSafetensorsHost({ x: { dtype: 'i32', shape: [1], data: new Float32Array(1) } })).toThrow(/Int32Array/);
      t.dispose();
    });
  });

  describe('byte layout (spec)', () => {
    it('matches the reference implementation byte for byte (its published test vectors)', () => {
      const six = new Float32Array([0, 1, 2, 3, 4, 5]);
      // attn.0 [1,2,3]: the header is exactly 64 bytes, so there is no padding.
      const a = w.encodeSafetensorsHost({ 'attn.0': { dtype: 'f32', shape: [1, 2, 3], data: six } });
      const headerA = '{"attn.0":{"dtype":"F32","shape":[1,2,3],"data_offsets":[0,24]}}';
      expect(headerA.length).toBe(64);
      expect([...a]).toEqual([64, 0, 0, 0, 0, 0, 0, 0, ...new TextEncoder().encode(headerA), ...f32le([...six])]);
      // attn0 [1,1,2,3]: 65 bytes of JSON padded with 7 spaces to 72.
      const b = w.encodeSafetensorsHost({ attn0: { dtype: 'f32', shape: [1, 1, 2, 3], data: six } });
      const headerB = '{"attn0":{"dtype":"F32","shape":[1,1,2,3],"data_offsets":[0,24]}}       ';
      expect([...b]).toEqual([72, 0, 0, 0, 0, 0, 0, 0, ...new TextEncoder().encode(headerB), ...f32le([...six])]);
      // No tensors: "{}" and six spaces; with metadata {"framework": "pt"}: 35 bytes + 5 spaces.
      expect([...w.encodeSafetensorsHost({})]).toEqual([8, 0, 0, 0, 0, 0, 0, 0, 123, 125, 32, 32, 32, 32, 32, 32]);
      const c = w.encodeSafetensorsHost({}, { framework: 'pt' });
      expect(new TextDecoder().decode(c.subarray(8))).toBe('{"__metadata__":{"framework":"pt"}}     ');
      expect(c[0]).toBe(40);
    });

    it('header: padded with spaces to 8 bytes, __metadata__ first, tensors by dtype (F32 before I32) then name, data contiguous', async () => {
      const ts = {
        zeta: w.fromArray([1, 2], [2]),
        alpha: w.fromArray([3, 4, 5], [3], { dtype: 'i32' }),
        beta: w.fromArray([6], []),
        'é-accent': w.fromArray([7]),
        Zed: w.fromArray([8], [1], { dtype: 'i32' }),
        empty: w.fromArray([], [0, 4]),
      };
      const bytes = await w.encodeSafetensors(ts, { b: '2', a: '1' });
      const { n, text, header, data } = parseFile(bytes);
      expect(n % 8).toBe(0);
      expect(text).toMatch(/^\{.*\} {0,7}$/s);
      const jsonBytes = new TextEncoder().encode(text.trimEnd()).length;
      expect(n - jsonBytes).toBe((8 - (jsonBytes % 8)) % 8); // the fewest spaces that align the data
      const names = Object.keys(header);
      expect(names).toEqual(['__metadata__', 'beta', 'empty', 'zeta', 'é-accent', 'Zed', 'alpha']);
      expect(Object.keys(header.__metadata__ as object)).toEqual(['a', 'b']);
      expect(text.trimEnd()).toBe(JSON.stringify(header)); // compact, no spaces inside
      let offset = 0;
      for (const name of names.slice(1)) {
        const e = header[name] as { dtype: string; shape: number[]; data_offsets: [number, number] };
        expect(Object.keys(e)).toEqual(['dtype', 'shape', 'data_offsets']);
        const t = ts[name as keyof typeof ts];
        expect(e.dtype).toBe(t.dtype === 'f32' ? 'F32' : 'I32');
        expect(e.shape).toEqual([...t.shape]);
        expect(e.data_offsets).toEqual([offset, offset + t.size * 4]);
        const raw = data.slice(e.data_offsets[0], e.data_offsets[1]);
        const want = t.dtype === 'f32' ? f32le(await t.toArray()) : i32le(await t.toArray());
        expect([...raw], name).toEqual([...want]);
        offset += t.size * 4;
      }
      expect(data.length).toBe(offset);
      Object.values(ts).forEach((t) => t.dispose());
    });
  });

  describe('reading other dtypes', () => {
    it('F16 (normals, subnormals, +-0, +-inf, NaN), BF16 and F64 become f32 exactly as rounded', async () => {
      const f16 = [0x3c00, 0xc100, 0x7bff, 0x0001, 0x8000, 0x7c00, 0xfc00, 0x7e00, 0x0400, 0x3555];
      const bf16 = [0x3f80, 0xc049, 0x7f80, 0x0001, 0xff80, 0x8000];
      const f64 = [0.1, -1 / 3, 1e300, -1e300, 1e-50, 1e-40, 2 ** 24 + 1];
      const bytes = buildFile({
        h: { dtype: 'F16', shape: [2, 5], bytes: u16le(f16) },
        b: { dtype: 'BF16', shape: [6], bytes: u16le(bf16) },
        d: { dtype: 'F64', shape: [7], bytes: f64le(f64) },
      });
      const { tensors } = w.decodeSafetensors(bytes);
      const h = tensors.get('h')!;
      expect(h.dtype).toBe('f32');
      expect([...h.shape]).toEqual([2, 5]);
      expect(await h.toArray()).toEqual([1, -2.5, 65504, 2 ** -24, -0, Infinity, -Infinity, NaN, 2 ** -14, 0.333251953125]);
      expect(Object.is((await h.toArray())[4], -0)).toBe(true);
      expect(await tensors.get('b')!.toArray()).toEqual([1, -3.140625, Infinity, 2 ** -133, -Infinity, -0]);
      expect(await tensors.get('d')!.toArray()).toEqual([...Float32Array.from(f64)]);
      expect((await tensors.get('d')!.toArray()).slice(2, 5)).toEqual([Infinity, -Infinity, 0]);
      await disposeAll(tensors);
    });

    it('I64, U8, BOOL (and I8, I16, U16, U32) become i32', async () => {
      const bytes = buildFile({
        l: { dtype: 'I64', shape: [2, 2], bytes: i64le([-2147483648n, 2147483647n, 0n, -5n]) },
        u: { dtype: 'U8', shape: [4], bytes: new Uint8Array([0, 1, 200, 255]) },
        m: { dtype: 'BOOL', shape: [3], bytes: new Uint8Array([1, 0, 1]) },
        s: { dtype: 'I8', shape: [2], bytes: new Uint8Array([0xff, 0x7f]) },
        x: { dtype: 'I16', shape: [2], bytes: u16le([0x8000, 0x7fff]) },
        y: { dtype: 'U16', shape: [1], bytes: u16le([0xffff]) },
        z: { dtype: 'U32', shape: [1], bytes: i32le([2147483647]) },
      });
      const { tensors } = w.decodeSafetensors(bytes);
      const want: Record<string, number[]> = {
        l: [-2147483648, 2147483647, 0, -5],
        u: [0, 1, 200, 255],
        m: [1, 0, 1],
        s: [-1, 127],
        x: [-32768, 32767],
        y: [65535],
        z: [2147483647],
      };
      for (const [k, v] of Object.entries(want)) {
        expect(tensors.get(k)!.dtype, k).toBe('i32');
        expect(await tensors.get(k)!.toArray(), k).toEqual(v);
      }
      expect(w.decodeSafetensorsHost(bytes).tensors.get('l')!.sourceDType).toBe('I64');
      await disposeAll(tensors);
    });

    it('reads from an unaligned Node Buffer view, and takes "__metadata__": null as no metadata (as the reference)', async () => {
      const file = buildFile({ a: { dtype: 'F32', shape: [3], bytes: f32le([1.5, -2, 3]) }, b: { dtype: 'I32', shape: [1], bytes: i32le([-9]) } });
      const shifted = Buffer.concat([Buffer.alloc(3), Buffer.from(file)]).subarray(3);
      expect(shifted.byteOffset % 4).not.toBe(0);
      const { tensors, metadata } = w.decodeSafetensors(shifted);
      expect(await tensors.get('a')!.toArray()).toEqual([1.5, -2, 3]);
      expect(await tensors.get('b')!.toArray()).toEqual([-9]);
      expect(metadata).toEqual({});
      await disposeAll(tensors);
      const nullMeta = buildFile({}, undefined, '{"__metadata__":null}');
      expect(w.decodeSafetensorsHost(nullMeta).metadata).toEqual({});
    });

    it('an I64 (or U32) value outside the i32 range is a FormatError naming the tensor and value; nothing is allocated', () => {
      const before = live();
      const over = buildFile({ ok: { dtype: 'F32', shape: [1], bytes: f32le([1]) }, big: { dtype: 'I64', shape: [2], bytes: i64le([1n, 2147483648n]) } });
      expect(() => w.decodeSafetensors(over, 'over.safetensors')).toThrow(w.FormatError);
      expect(() => w.decodeSafetensors(over, 'over.safetensors')).toThrow(/over\.safetensors: tensor 'big': value 2147483648 at flat index 1 does not fit in i32/);
      const under = buildFile({ s: { dtype: 'I64', shape: [1], bytes: i64le([-2147483649n]) } });
      expect(() => w.decodeSafetensors(under)).toThrow(/value -2147483649/);
      const u32 = buildFile({ s: { dtype: 'U32', shape: [1], bytes: i32le([-1]) } });
      expect(() => w.decodeSafetensors(u32)).toThrow(/value 4294967295/);
      expect(live()).toBe(before);
    });
  });

  describe('corrupt files raise FormatError naming the file and the problem', () => {
    const good = buildFile({ a: { dtype: 'F32', shape: [2], bytes: f32le([1, 2]) }, b: { dtype: 'I32', shape: [1], bytes: i32le([3]) } });
    const entry = (dtype: string, shape: number[], offs: [number, number]) => ({ dtype, shape, data_offsets: offs });
    /** A file with this JSON header (padded) and `dataBytes` zero bytes of data. */
    const withHeader = (header: unknown, dataBytes = 12) => {
      const json = new TextEncoder().encode(JSON.stringify(header));
      const n = Math.ceil(json.length / 8) * 8;
      const out = new Uint8Array(8 + n + dataBytes).fill(0x20, 8, 8 + n);
      new DataView(out.buffer).setBigUint64(0, BigInt(n), true);
      out.set(json, 8);
      return out;
    };
    const lengthOnly = (n: bigint, rest: number) => {
      const out = new Uint8Array(8 + rest).fill(0x20);
      new DataView(out.buffer).setBigUint64(0, n, true);
      return out;
    };
    const cases: [string, Uint8Array, RegExp][] = [
      ['empty file', new Uint8Array(0), /truncated: 0 bytes/],
      ['shorter than the length field', new Uint8Array([8, 0, 0]), /truncated: 3 bytes/],
      ['header length larger than the file', lengthOnly(1000n, 16), /header length 1000 is larger than the file \(24 bytes\)/],
      ['header length near 2^64', lengthOnly(0xfffffffffffffff0n, 16), /header length 18446744073709551600 is larger than the file/],
      ['truncated data', good.subarray(0, good.length - 3), /'b': data_offsets \[8, 12\] are out of range: the data section has only 9 bytes/],
      ['header not JSON', (() => { const b = good.slice(); b[12] = 0x7b; return b; })(), /header is not valid JSON/],
      ['header not UTF-8', (() => { const b = good.slice(); b[10] = 0xff; return b; })(), /not valid UTF-8/],
      ['header a JSON array', withHeader([1, 2], 0), /JSON object/],
      ['header not starting with {', withHeader(' {}' as unknown, 0), /JSON object starting with/],
      ['unknown dtype', withHeader({ a: entry('F31', [3], [0, 12]) }), /tensor 'a': unknown dtype "F31"/],
      ['unsupported dtype (F8)', withHeader({ a: entry('F8_E4M3', [12], [0, 12]) }), /tensor 'a': dtype F8_E4M3 is not supported/],
      ['shape/size mismatch', withHeader({ a: entry('F32', [2, 2], [0, 12]) }), /shape \[2,2\] of F32 needs 16 bytes, but data_offsets \[0, 12\] hold 12/],
      ['negative dimension', withHeader({ a: entry('F32', [-3], [0, 12]) }), /shape must be an array of non-negative integers/],
      ['offsets end before begin', withHeader({ a: entry('F32', [0], [12, 0]) }), /end before they begin/],
      ['offsets out of range', withHeader({ a: entry('F32', [3], [0, 12]), b: entry('F32', [1], [12, 16]) }), /'b': data_offsets \[12, 16\] are out of range/],
      ['overlapping offsets', withHeader({ a: entry('F32', [2], [0, 8]), b: entry('F32', [2], [4, 12]) }), /'a' \[0, 8\] and 'b' \[4, 12\] overlap/],
      ['gap between tensors', withHeader({ a: entry('F32', [1], [0, 4]), b: entry('F32', [1], [8, 12]) }), /4 unaccounted bytes before tensor 'b'/],
      ['trailing bytes', withHeader({ a: entry('F32', [2], [0, 8]) }), /4 trailing bytes after the last tensor/],
      ['missing data_offsets', withHeader({ a: { dtype: 'F32', shape: [3] } }), /data_offsets must be \[begin, end\]/],
      ['non-string metadata', withHeader({ __metadata__: { epoch: 3 }, a: entry('F32', [3], [0, 12]) }), /'epoch' is 3/],
    ];

    it.each(cases)('%s', async (_name, bytes, message) => {
      const path = join(dir, 'corrupt.safetensors');
      writeFileSync(path, bytes);
      const before = live();
      const err = await w.loadSafetensors(path).then(
        () => null,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(w.FormatError);
      expect((err as w.FormatError).file).toBe(path);
      expect((err as Error).message.startsWith(`${path}: `)).toBe(true);
      expect((err as Error).message).toMatch(message);
      expect(live()).toBe(before);
      expect(() => w.decodeSafetensors(bytes)).toThrow(/^<memory>: /);
    });

    it('the well-formed file these cases were made from loads', async () => {
      const { tensors } = w.decodeSafetensors(good);
      expect(await tensors.get('a')!.toArray()).toEqual([1, 2]);
      expect(await tensors.get('b')!.toArray()).toEqual([3]);
      await disposeAll(tensors);
    });
  });

  it('bits() helper sanity: -0 and NaN keep their patterns through the GPU', async () => {
    const src = new Float32Array([-0, NaN]);
    const t = w.fromArray(src);
    expect(bits(await t.data())).toEqual(bits(src));
    t.dispose();
  });
});
