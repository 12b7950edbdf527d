/**
 * MATLAB Level 5 .mat decoding (the format of `save -v7` and of scipy.io.savemat), as far as the
 * PASCAL-Context files need: numeric and logical arrays, char arrays, cells and structs (struct
 * arrays included), with or without compression. Sparse arrays, objects, function handles and
 * v7.3 (HDF5) files are rejected with a FormatError naming the file.
 *
 * Layout (MathWorks, "MAT-File Format", Level 5): a 128-byte header (text, subsystem offset,
 * version 0x0100, endian indicator 'IM'/'MI'), then data elements. Each element is an 8-byte tag
 * (type, byte count) or a "small" 4-byte tag with its data packed into the next 4 bytes, padded to
 * 8 bytes. A variable is a miMATRIX element (flags, dimensions, name, then class-specific parts),
 * possibly wrapped in a zlib-compressed miCOMPRESSED element. Decompression uses node:zlib,
 * loaded lazily so the module still imports in a browser; there, only uncompressed files decode.
 */
import { FormatError } from './errors.js';

/** A numeric (or logical) array, values in MATLAB's column-major order. */
export interface MatNumeric {
  readonly kind: 'numeric';
  /** MATLAB class: 'double', 'single', 'int8', 'uint8', ..., 'uint64'. */
  readonly cls: string;
  readonly dims: readonly number[];
  /** Column-major values; int64/uint64 come as Float64Array. */
  readonly data: Float64Array | Float32Array | Int8Array | Uint8Array | Int16Array | Uint16Array | Int32Array | Uint32Array;
  readonly logical: boolean;
  /** Imaginary part of a complex array, else undefined. */
  readonly imag?: Float64Array;
}

/** A char array; `text` is the rows joined by '\n' (one row for the usual 1xN string). */
export interface MatChar {
  readonly kind: 'char';
  readonly dims: readonly number[];
  readonly text: string;
}

/** A cell array; elements in column-major order. */
export interface MatCell {
  readonly kind: 'cell';
  readonly dims: readonly number[];
  readonly elements: readonly MatValue[];
}

/** A struct (array); `elements[k][field]` in column-major order of the struct array. */
export interface MatStruct {
  readonly kind: 'struct';
  readonly dims: readonly number[];
  readonly fields: readonly string[];
  readonly elements: readonly Readonly<Record<string, MatValue>>[];
}

/** Any decoded MATLAB value. */
export type MatValue = MatNumeric | MatChar | MatCell | MatStruct;

/** What a decoder needs from zlib: inflate a complete zlib stream. */
export type Inflate = (data: Uint8Array) => Uint8Array;

let nodeInflate: Inflate | null = null;

/**
 * Loads node:zlib's inflateSync once (call before decoding compressed files; decodeMatFile does).
 * Resolves to false where there is no node:zlib (a browser), leaving compressed files undecodable.
 */
export async function loadInflate(): Promise<boolean> {
  if (nodeInflate) return true;
  try {
    const name = 'node:zlib';
    const z = (await import(/* @vite-ignore */ name)) as typeof import('node:zlib');
    nodeInflate = (d) => new Uint8Array(z.inflateSync(d));
    return true;
  } catch {
    return false;
  }
}

const MI = { INT8: 1, UINT8: 2, INT16: 3, UINT16: 4, INT32: 5, UINT32: 6, SINGLE: 7, DOUBLE: 9, INT64: 12, UINT64: 13, MATRIX: 14, COMPRESSED: 15, UTF8: 16, UTF16: 17, UTF32: 18 } as const;
const MI_SIZE: Record<number, number> = { 1: 1, 2: 1, 3: 2, 4: 2, 5: 4, 6: 4, 7: 4, 9: 8, 12: 8, 13: 8, 16: 1, 17: 2, 18: 4 };
// mxCLASS ids 6..15 in order.
const NUMERIC_CLASSES = ['double', 'single', 'int8', 'uint8', 'int16', 'uint16', 'int32', 'uint32', 'int64', 'uint64'];
const CLASS_ARRAY: Record<string, (n: number) => MatNumeric['data']> = {
  double: (n) => new Float64Array(n), single: (n) => new Float32Array(n), int8: (n) => new Int8Array(n), uint8: (n) => new Uint8Array(n),
  int16: (n) => new Int16Array(n), uint16: (n) => new Uint16Array(n), int32: (n) => new Int32Array(n), uint32: (n) => new Uint32Array(n),
  int64: (n) => new Float64Array(n), uint64: (n) => new Float64Array(n),
};

interface Element {
  type: number;
  body: Uint8Array;
  next: number;
}

class Reader {
  readonly view: DataView;
  constructor(readonly bytes: Uint8Array, readonly little: boolean, readonly name: string, readonly inflate: Inflate | null) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  fail(why: string): never {
    throw new FormatError(this.name, why);
  }

  /** The element whose tag starts at `at`. */
  element(at: number): Element {
    if (at + 8 > this.bytes.length) this.fail(`truncated .mat file (element tag at byte ${at})`);
    const first = this.view.getUint32(at, this.little);
    if (first >>> 16 !== 0) {
      // Small data element: type in the low half, byte count in the high half, data inline.
      return { type: first & 0xffff, body: this.bytes.subarray(at + 4, at + 4 + (first >>> 16)), next: at + 8 };
    }
    const n = this.view.getUint32(at + 4, this.little);
    if (at + 8 + n > this.bytes.length) this.fail(`truncated .mat file (element of ${n} bytes at byte ${at})`);
    // Compressed elements are not padded; all others are padded to a multiple of 8 bytes.
    const padded = first === MI.COMPRESSED ? n : Math.ceil(n / 8) * 8;
    return { type: first, body: this.bytes.subarray(at + 8, at + 8 + n), next: Math.min(at + 8 + padded, this.bytes.length) };
  }

  /** Numbers of an element, converted from its mi type. */
  numbers(e: Element, into: MatNumeric['data'] | number[]): void {
    const size = MI_SIZE[e.type];
    if (size === undefined || e.type === MI.UTF8 || e.type === MI.UTF16 || e.type === MI.UTF32) this.fail(`unexpected element type ${e.type} for numeric data`);
    const n = e.body.length / size;
    if (n < into.length) this.fail(`numeric data holds ${Math.floor(n)} values, the dimensions need ${into.length}`);
    const v = new DataView(e.body.buffer, e.body.byteOffset, e.body.byteLength);
    const l = this.little;
    const get: (a: number) => number = {
      [MI.INT8]: (a: number) => v.getInt8(a), [MI.UINT8]: (a: number) => v.getUint8(a),
      [MI.INT16]: (a: number) => v.getInt16(a, l), [MI.UINT16]: (a: number) => v.getUint16(a, l),
      [MI.INT32]: (a: number) => v.getInt32(a, l), [MI.UINT32]: (a: number) => v.getUint32(a, l),
      [MI.SINGLE]: (a: number) => v.getFloat32(a, l), [MI.DOUBLE]: (a: number) => v.getFloat64(a, l),
      [MI.INT64]: (a: number) => Number(v.getBigInt64(a, l)), [MI.UINT64]: (a: number) => Number(v.getBigUint64(a, l)),
    }[e.type]!;
    for (let i = 0; i < into.length; i++) into[i] = get(i * size);
  }

  text(e: Element): string {
    if (e.type === MI.UTF16 || e.type === MI.UINT16) return new TextDecoder('utf-16' + (this.little ? 'le' : 'be')).decode(e.body);
    if (e.type === MI.UTF8 || e.type === MI.UINT8 || e.type === MI.INT8) return new TextDecoder('utf-8').decode(e.body);
    const codes = new Array<number>(Math.floor(e.body.length / (MI_SIZE[e.type] ?? 1)));
    this.numbers(e.type === MI.UTF32 ? { ...e, type: MI.UINT32 } : e, codes);
    return String.fromCodePoint(...codes);
  }

  /** A miMATRIX body: [name, value]. */
  matrix(body: Uint8Array, at0 = 0): [string, MatValue] {
    const sub = new Reader(body, this.little, this.name, this.inflate);
    const flags = sub.element(at0);
    if (flags.body.length < 8) sub.fail('bad array flags');
    const fv = new DataView(flags.body.buffer, flags.body.byteOffset, 8);
    const word = fv.getUint32(0, this.little);
    const cls = word & 0xff;
    const complex = (word & 0x800) !== 0;
    const logical = (word & 0x200) !== 0;
    const dimsEl = sub.element(flags.next);
    const dims = new Array<number>(dimsEl.body.length / 4);
    sub.numbers(dimsEl, dims);
    const nameEl = sub.element(dimsEl.next);
    const name = new TextDecoder('latin1').decode(nameEl.body);
    const count = dims.reduce((a, b) => a * b, 1);
    let at = nameEl.next;
    if (cls >= 6 && cls <= 15) {
      const c = NUMERIC_CLASSES[cls - 6]!;
      const data = CLASS_ARRAY[c]!(count);
      const re = sub.element(at);
      sub.numbers(re, data);
      let imag: Float64Array | undefined;
      if (complex) sub.numbers(sub.element(re.next), (imag = new Float64Array(count)));
      return [name, { kind: 'numeric', cls: c, dims, data, logical, ...(imag ? { imag } : {}) }];
    }
    if (cls === 4) {
      const s = count === 0 ? '' : sub.text(sub.element(at));
      const rows = dims[0] ?? 1;
      const cols = rows === 0 ? 0 : s.length / rows;
      const out: string[] = [];
      // Column-major: character (r, c) is at c * rows + r.
      for (let r = 0; r < rows; r++) out.push(Array.from({ length: cols }, (_, c) => s[c * rows + r]).join(''));
      return [name, { kind: 'char', dims, text: out.join('\n') }];
    }
    if (cls === 1) {
      const elements: MatValue[] = [];
      for (let k = 0; k < count; k++) {
        const e = sub.element(at);
        if (e.type !== MI.MATRIX) sub.fail(`cell element of type ${e.type}, expected miMATRIX`);
        elements.push(this.child(e));
        at = e.next;
      }
      return [name, { kind: 'cell', dims, elements }];
    }
    if (cls === 2) {
      const lenEl = sub.element(at);
      const fieldLen = new Array<number>(1);
      sub.numbers(lenEl, fieldLen);
      const namesEl = sub.element(lenEl.next);
      const fields: string[] = [];
      for (let o = 0; o + fieldLen[0]! <= namesEl.body.length; o += fieldLen[0]!) {
        const raw = namesEl.body.subarray(o, o + fieldLen[0]!);
        const end = raw.indexOf(0);
        fields.push(new TextDecoder('latin1').decode(end < 0 ? raw : raw.subarray(0, end)));
      }
      at = namesEl.next;
      const elements: Record<string, MatValue>[] = [];
      for (let k = 0; k < count; k++) {
        const rec: Record<string, MatValue> = {};
        for (const f of fields) {
          const e = sub.element(at);
          if (e.type !== MI.MATRIX) sub.fail(`struct field '${f}' of type ${e.type}, expected miMATRIX`);
          rec[f] = this.child(e);
          at = e.next;
        }
        elements.push(rec);
      }
      return [name, { kind: 'struct', dims, fields, elements }];
    }
    const names: Record<number, string> = { 3: 'object', 5: 'sparse', 16: 'function handle', 17: 'opaque' };
    return sub.fail(`unsupported MATLAB class ${names[cls] ?? cls} in variable '${name}'`);
  }

  /** A nested miMATRIX; an empty one (0 bytes) is an empty double array, as MATLAB writes []. */
  child(e: Element): MatValue {
    if (e.body.length === 0) return { kind: 'numeric', cls: 'double', dims: [0, 0], data: new Float64Array(0), logical: false };
    return this.matrix(e.body)[1];
  }
}

/**
 * Decodes the bytes of a Level 5 .mat file into its variables, by name. `name` (the path,
 * usually) appears in every error. Compressed variables need node:zlib: call {@link loadInflate}
 * first, or pass an `inflate` function (e.g. from a browser zlib library).
 */
export function decodeMat(bytes: Uint8Array, name = '<mat bytes>', inflate: Inflate | null = nodeInflate): Map<string, MatValue> {
  if (bytes.length < 128) throw new FormatError(name, 'not a MATLAB .mat file (shorter than its 128-byte header)');
  const head = new TextDecoder('latin1').decode(bytes.subarray(0, 116));
  const endian = String.fromCharCode(bytes[126]!, bytes[127]!);
  if (head.includes('MATLAB 7.3') || (bytes[0] === 0x89 && head.startsWith('\x89HDF'))) {
    throw new FormatError(name, 'MATLAB v7.3 (HDF5) files are not supported; re-save with `save(..., "-v7")`');
  }
  if (endian !== 'IM' && endian !== 'MI') {
    throw new FormatError(name, 'not a Level 5 MATLAB .mat file (no IM/MI endian indicator; v4 files are not supported)');
  }
  const r = new Reader(bytes, endian === 'IM', name, inflate);
  const out = new Map<string, MatValue>();
  for (let at = 128; at + 8 <= bytes.length; ) {
    const e = r.element(at);
    let body: Uint8Array | null = e.type === MI.MATRIX ? e.body : null;
    if (e.type === MI.COMPRESSED) {
      if (!inflate) throw new FormatError(name, 'compressed .mat variable but no zlib inflate (call loadInflate() first, or pass one)');
      let plain: Uint8Array;
      try {
        plain = inflate(e.body);
      } catch (err) {
        return r.fail(`corrupt compressed variable at byte ${at} (${(err as Error).message})`);
      }
      const inner = new Reader(plain, r.little, name, inflate).element(0);
      if (inner.type !== MI.MATRIX) r.fail(`compressed element holds type ${inner.type}, expected miMATRIX`);
      body = inner.body;
    }
    if (body && body.length > 0) {
      const [varName, value] = r.matrix(body);
      out.set(varName, value);
    }
    at = e.next;
  }
  return out;
}

/** Row-major (C order) Float64 copy of a 2-D numeric array [rows, cols]; errors name the file. */
export function matTo2d(v: MatValue | undefined, what: string, file: string): { rows: number; cols: number; data: Float64Array } {
  if (!v || v.kind !== 'numeric' || v.dims.length !== 2) {
    throw new FormatError(file, `${what}: expected a 2-D numeric array, got ${v ? `${v.kind} [${v.dims.join('x')}]` : 'nothing'}`);
  }
  const [rows, cols] = v.dims as [number, number];
  const data = new Float64Array(rows * cols);
  for (let c = 0; c < cols; c++) for (let r = 0; r < rows; r++) data[r * cols + c] = v.data[c * rows + r]!;
  return { rows, cols, data };
}
