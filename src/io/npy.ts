/**
 * NumPy .npy decoding (format versions 1.0, 2.0 and 3.0), browser-safe: bytes in, a typed array
 * out, no file access here (the dataset readers read the files). The MTL survey's NYUD-v2 release
 * stores depth, normals and edges as .npy; this reads whatever numeric dtype they were saved with.
 *
 * Format (numpy/lib/format.py): magic `\x93NUMPY`, major and minor version bytes, a header length
 * (u16 for v1, u32 for v2/v3), a Python-literal dict `{'descr': '<f4', 'fortran_order': False,
 * 'shape': (480, 640), }` padded with spaces to a multiple of 16 or 64 bytes, then the raw data.
 */
import { FormatError } from './errors.js';

/** The typed array a decoded .npy holds, chosen by its dtype (see {@link decodeNpy}). */
export type NpyData = Float32Array | Float64Array | Int8Array | Uint8Array | Int16Array | Uint16Array | Int32Array | Uint32Array;

/** A decoded .npy array: shape, the dtype string from the header and the values in C (row-major) order. */
export interface NpyArray {
  /** The header's dtype descriptor, e.g. '<f4', '|u1', '>i4'. */
  readonly descr: string;
  readonly shape: readonly number[];
  /** Row-major values (Fortran-ordered files are transposed on decode). */
  readonly data: NpyData;
}

interface Kind {
  bytes: number;
  make: (n: number) => NpyData;
  get: (v: DataView, at: number, little: boolean) => number;
}

function f16(bits: number): number {
  const s = bits & 0x8000 ? -1 : 1;
  const e = (bits >> 10) & 0x1f;
  const m = bits & 0x3ff;
  if (e === 0) return s * m * 2 ** -24;
  if (e === 31) return m ? NaN : s * Infinity;
  return s * (1 + m / 1024) * 2 ** (e - 15);
}

function exactInt(v: bigint): number {
  // int64 arrays (numpy's default integer) are read as f64; values past 2^53 would lose digits.
  if (v > BigInt(Number.MAX_SAFE_INTEGER) || v < BigInt(Number.MIN_SAFE_INTEGER)) throw new RangeError(`${v}`);
  return Number(v);
}

const KINDS: Record<string, Kind> = {
  f2: { bytes: 2, make: (n) => new Float32Array(n), get: (v, a, l) => f16(v.getUint16(a, l)) },
  f4: { bytes: 4, make: (n) => new Float32Array(n), get: (v, a, l) => v.getFloat32(a, l) },
  f8: { bytes: 8, make: (n) => new Float64Array(n), get: (v, a, l) => v.getFloat64(a, l) },
  i1: { bytes: 1, make: (n) => new Int8Array(n), get: (v, a) => v.getInt8(a) },
  u1: { bytes: 1, make: (n) => new Uint8Array(n), get: (v, a) => v.getUint8(a) },
  b1: { bytes: 1, make: (n) => new Uint8Array(n), get: (v, a) => (v.getUint8(a) ? 1 : 0) },
  i2: { bytes: 2, make: (n) => new Int16Array(n), get: (v, a, l) => v.getInt16(a, l) },
  u2: { bytes: 2, make: (n) => new Uint16Array(n), get: (v, a, l) => v.getUint16(a, l) },
  i4: { bytes: 4, make: (n) => new Int32Array(n), get: (v, a, l) => v.getInt32(a, l) },
  u4: { bytes: 4, make: (n) => new Uint32Array(n), get: (v, a, l) => v.getUint32(a, l) },
  i8: { bytes: 8, make: (n) => new Float64Array(n), get: (v, a, l) => exactInt(v.getBigInt64(a, l)) },
  u8: { bytes: 8, make: (n) => new Float64Array(n), get: (v, a, l) => exactInt(v.getBigUint64(a, l)) },
};

/** Reads the Python-literal header dict (only the three keys the format defines). */
function parseHeader(text: string, name: string): { descr: string; fortran: boolean; shape: number[] } {
  const bad = (why: string): never => {
    throw new FormatError(name, `bad .npy header (${why}): ${text.trim().slice(0, 120)}`);
  };
  const descr = /'descr'\s*:\s*'([^']*)'/.exec(text)?.[1] ?? bad("no 'descr' string (structured dtypes are not supported)");
  const fo = /'fortran_order'\s*:\s*(True|False)/.exec(text)?.[1] ?? bad("no 'fortran_order'");
  const shapeText = /'shape'\s*:\s*\(([^)]*)\)/.exec(text)?.[1] ?? bad("no 'shape' tuple");
  const shape = shapeText
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0)
    .map((s) => (/^\d+L?$/.test(s) ? parseInt(s, 10) : bad(`shape entry '${s}'`)));
  return { descr, fortran: fo === 'True', shape };
}

/** Row-major copy of column-major data with the given shape. */
export function fortranToC<T extends NpyData>(src: T, shape: readonly number[], make: (n: number) => T): T {
  const n = src.length;
  const out = make(n);
  const rank = shape.length;
  if (rank < 2) {
    out.set(src);
    return out;
  }
  // Strides of the C layout; walk the source in column-major order, advancing a multi-index.
  const cStride = new Array<number>(rank);
  cStride[rank - 1] = 1;
  for (let d = rank - 2; d >= 0; d--) cStride[d] = cStride[d + 1]! * shape[d + 1]!;
  const idx = new Array<number>(rank).fill(0);
  let c = 0;
  for (let f = 0; f < n; f++) {
    out[c] = src[f]!;
    for (let d = 0; d < rank; d++) {
      idx[d]!++;
      c += cStride[d]!;
      if (idx[d]! < shape[d]!) break;
      c -= idx[d]! * cStride[d]!;
      idx[d] = 0;
    }
  }
  return out;
}

/**
 * Decodes the bytes of a .npy file. `name` (the path, usually) appears in every error. Supported
 * dtypes: float16/32/64, bool, (u)int8/16/32 and (u)int64; any byte order ('<', '>', '|', '=').
 * The result's typed array follows the dtype: f2 and f4 give Float32Array, f8 Float64Array, b1
 * Uint8Array (0/1), i8/u8 Float64Array (values past 2^53 are an error rather than silently
 * rounded), the rest their own typed array. Fortran-ordered arrays are returned in C order.
 * Throws a {@link FormatError} naming the file for a bad magic, an unknown version, an unsupported
 * dtype (structured, complex, strings, objects) or data shorter than the shape needs.
 */
export function decodeNpy(bytes: Uint8Array, name = '<npy bytes>'): NpyArray {
  const magic = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59];
  if (bytes.length < 10 || magic.some((b, i) => bytes[i] !== b)) {
    throw new FormatError(name, 'not a .npy file (missing the \\x93NUMPY magic)');
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const major = bytes[6]!;
  let headerLen: number;
  let start: number;
  if (major === 1) {
    headerLen = view.getUint16(8, true);
    start = 10;
  } else if (major === 2 || major === 3) {
    if (bytes.length < 12) throw new FormatError(name, 'truncated .npy header');
    headerLen = view.getUint32(8, true);
    start = 12;
  } else {
    throw new FormatError(name, `unsupported .npy format version ${major}.${bytes[7]}`);
  }
  if (start + headerLen > bytes.length) throw new FormatError(name, 'truncated .npy header');
  const text = new TextDecoder(major === 3 ? 'utf-8' : 'latin1').decode(bytes.subarray(start, start + headerLen));
  const { descr, fortran, shape } = parseHeader(text, name);
  const m = /^([<>|=])([a-z])(\d+)$/.exec(descr);
  const kind = m ? KINDS[`${m[2]}${m[3]}`] : undefined;
  if (!m || !kind) {
    throw new FormatError(name, `unsupported .npy dtype '${descr}' (supported: f2 f4 f8 b1 i1 u1 i2 u2 i4 u4 i8 u8)`);
  }
  const little = m[1] !== '>';
  const n = shape.reduce((a, b) => a * b, 1);
  const offset = start + headerLen;
  const need = n * kind.bytes;
  if (bytes.length - offset < need) {
    throw new FormatError(name, `truncated .npy data: shape [${shape.join(',')}] of ${descr} needs ${need} bytes, the file has ${bytes.length - offset}`);
  }
  let data = kind.make(n);
  try {
    for (let i = 0, at = offset; i < n; i++, at += kind.bytes) data[i] = kind.get(view, at, little);
  } catch (e) {
    if (e instanceof RangeError) throw new FormatError(name, `${descr} value ${e.message} does not fit a float64 exactly`);
    throw e;
  }
  if (fortran) data = fortranToC(data, shape, kind.make);
  return { descr, shape, data };
}

/** The values as a Float32Array (a copy unless they already are one); for depth, normals and edges. */
export function npyToFloat32(arr: NpyArray): Float32Array {
  return arr.data instanceof Float32Array ? arr.data : Float32Array.from(arr.data);
}
