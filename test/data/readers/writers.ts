/**
 * Tiny writers for the reader tests, written from the format descriptions (numpy's format.py
 * docstring, MathWorks' "MAT-File Format" Level 5), independently of src/io, so the tests do not
 * check the decoders against themselves. Plus a python3 probe for the numpy/scipy cross-checks.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { deflateSync } from 'node:zlib';
import { encode as encodePng } from 'fast-png';
import { encode as encodeJpeg } from 'jpeg-js';
import { requirePython } from '../../helpers/python.js';

/** Writes `bytes` to `path`, creating folders. */
export function put(path: string, bytes: Uint8Array | string): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, bytes);
}

/** A .npy file: `values` in the order given (C order unless fortran), dtype by descr. */
export function npy(descr: string, shape: number[], values: ArrayLike<number>, opts: { fortran?: boolean; version?: 1 | 2 | 3 } = {}): Uint8Array {
  const version = opts.version ?? 1;
  const shapeText = shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(', ')})`;
  let header = `{'descr': '${descr}', 'fortran_order': ${opts.fortran ? 'True' : 'False'}, 'shape': ${shapeText}, }`;
  const pre = version === 1 ? 10 : 12;
  const total = Math.ceil((pre + header.length + 1) / 64) * 64;
  header = header.padEnd(total - pre - 1, ' ') + '\n';
  const size = parseInt(descr.slice(2), 10);
  const little = descr[0] !== '>';
  const data = new Uint8Array(values.length * size);
  const v = new DataView(data.buffer);
  const kind = descr.slice(1);
  for (let i = 0; i < values.length; i++) {
    const x = values[i]!;
    const at = i * size;
    if (kind === 'f4') v.setFloat32(at, x, little);
    else if (kind === 'f8') v.setFloat64(at, x, little);
    else if (kind === 'i4') v.setInt32(at, x, little);
    else if (kind === 'u1' || kind === 'b1') v.setUint8(at, x);
    else if (kind === 'i2') v.setInt16(at, x, little);
    else if (kind === 'u2') v.setUint16(at, x, little);
    else if (kind === 'i8') v.setBigInt64(at, BigInt(x), little);
    else throw new Error(`writer: dtype ${descr}`);
  }
  const out = new Uint8Array(pre + header.length + data.length);
  out.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, version, 0]);
  const dv = new DataView(out.buffer);
  if (version === 1) dv.setUint16(8, header.length, true);
  else dv.setUint32(8, header.length, true);
  out.set(new TextEncoder().encode(header), pre);
  out.set(data, pre + header.length);
  return out;
}

/** A MATLAB value for {@link mat}. Numeric data is column-major, as MATLAB stores it. */
export type MatIn =
  | { kind: 'double' | 'uint8' | 'uint16' | 'int32'; dims: number[]; data: number[]; logical?: boolean }
  | { kind: 'char'; text: string }
  | { kind: 'struct'; dims: number[]; fields: string[]; elements: Record<string, MatIn>[] }
  | { kind: 'cell'; dims: number[]; elements: MatIn[] }
  | { kind: 'empty' };

const CLASS = { cell: 1, struct: 2, char: 4, double: 6, uint8: 9, uint16: 11, int32: 12 } as const;

function tagged(type: number, body: Uint8Array, pad = true): Uint8Array {
  const n = body.length;
  const padded = pad ? Math.ceil(n / 8) * 8 : n;
  const out = new Uint8Array(8 + padded);
  const v = new DataView(out.buffer);
  v.setUint32(0, type, true);
  v.setUint32(4, n, true);
  out.set(body, 8);
  return out;
}

function small(type: number, body: Uint8Array): Uint8Array {
  const out = new Uint8Array(8);
  new DataView(out.buffer).setUint32(0, (body.length << 16) | type, true);
  out.set(body, 4);
  return out;
}

function i32s(xs: number[]): Uint8Array {
  const b = new Uint8Array(xs.length * 4);
  xs.forEach((x, i) => new DataView(b.buffer).setInt32(i * 4, x, true));
  return b;
}

const cat = (parts: Uint8Array[]): Uint8Array => {
  const out = new Uint8Array(parts.reduce((a, p) => a + p.length, 0));
  let o = 0;
  for (const p of parts) (out.set(p, o), (o += p.length));
  return out;
};

function matrix(name: string, v: MatIn): Uint8Array {
  if (v.kind === 'empty') return tagged(14, new Uint8Array(0));
  const cls = CLASS[v.kind];
  const flags = new Uint8Array(8);
  new DataView(flags.buffer).setUint32(0, cls | ('logical' in v && v.logical ? 0x200 : 0), true);
  const dims = v.kind === 'char' ? [1, v.text.length] : v.dims;
  const nameBytes = new TextEncoder().encode(name);
  const parts = [tagged(6, flags), tagged(5, i32s(dims)), nameBytes.length <= 4 && nameBytes.length > 0 ? small(1, nameBytes) : tagged(1, nameBytes)];
  if (v.kind === 'char') {
    const b = new Uint8Array(v.text.length * 2);
    for (let i = 0; i < v.text.length; i++) new DataView(b.buffer).setUint16(i * 2, v.text.charCodeAt(i), true);
    parts.push(tagged(4, b));
  } else if (v.kind === 'cell') {
    for (const e of v.elements) parts.push(matrix('', e));
  } else if (v.kind === 'struct') {
    const len = 32;
    parts.push(small(5, i32s([len])));
    const names = new Uint8Array(len * v.fields.length);
    v.fields.forEach((f, i) => names.set(new TextEncoder().encode(f), i * len));
    parts.push(tagged(1, names));
    for (const el of v.elements) for (const f of v.fields) parts.push(matrix('', el[f]!));
  } else {
    // Doubles whose values are small integers are stored as miUINT8, as MATLAB does to save space.
    const ints = v.data.every((x) => Number.isInteger(x) && x >= 0 && x < 256);
    if (v.kind === 'double' && !ints) {
      const b = new Uint8Array(v.data.length * 8);
      v.data.forEach((x, i) => new DataView(b.buffer).setFloat64(i * 8, x, true));
      parts.push(tagged(9, b));
    } else if (v.kind === 'uint16') {
      const b = new Uint8Array(v.data.length * 2);
      v.data.forEach((x, i) => new DataView(b.buffer).setUint16(i * 2, x, true));
      parts.push(tagged(4, b));
    } else if (v.kind === 'int32') {
      parts.push(tagged(5, i32s(v.data)));
    } else {
      parts.push(tagged(2, Uint8Array.from(v.data)));
    }
  }
  return tagged(14, cat(parts));
}

/** A Level 5 .mat file with the given variables, each compressed (miCOMPRESSED) when asked. */
export function mat(vars: Record<string, MatIn>, compress = false): Uint8Array {
  const header = new Uint8Array(128).fill(0x20);
  header.set(new TextEncoder().encode('MATLAB 5.0 MAT-file, written by the webmtl tests'));
  new DataView(header.buffer).setUint16(124, 0x0100, true);
  header.set([0x49, 0x4d], 126); // 'IM': little-endian
  const els = Object.entries(vars).map(([k, v]) => (compress ? tagged(15, new Uint8Array(deflateSync(matrix(k, v))), false) : matrix(k, v)));
  return cat([header, ...els]);
}

/** Column-major data of a row-major [rows, cols] array. */
export function colMajor(rowMajor: ArrayLike<number>, rows: number, cols: number): number[] {
  const out = new Array<number>(rows * cols);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = rowMajor[r * cols + c]!;
  return out;
}

/** A 2-D double for {@link mat} from row-major values. */
export function double2d(rowMajor: ArrayLike<number>, rows: number, cols: number): MatIn {
  return { kind: 'double', dims: [rows, cols], data: colMajor(rowMajor, rows, cols) };
}

/** PNG bytes: grey (1 channel), RGB (3) or a palette image when `palette` is given. */
export function png(width: number, height: number, channels: 1 | 3, data: Uint8Array, palette?: number[][]): Uint8Array {
  return encodePng({ width, height, channels, depth: 8, data, ...(palette ? { palette } : {}) });
}

/** JPEG bytes (quality 100) of RGB data. */
export function jpeg(width: number, height: number, rgb: Uint8Array): Uint8Array {
  const rgba = new Uint8Array(width * height * 4);
  for (let p = 0; p < width * height; p++) rgba.set([rgb[p * 3]!, rgb[p * 3 + 1]!, rgb[p * 3 + 2]!, 255], p * 4);
  return new Uint8Array(encodeJpeg({ width, height, data: rgba }, 100).data);
}

/**
 * Runs a python3 script that imports `modules` (throws naming the install command when they are
 * missing, and with its stderr when the script fails).
 */
export function python(modules: string, script: string, ...args: string[]): string {
  const r = spawnSync(requirePython(modules), ['-c', script, ...args], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`python3 failed: ${r.stderr}`);
  return r.stdout;
}
