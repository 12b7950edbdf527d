/**
 * safetensors element types and their conversion to webmtl's two dtypes. Reading widens or narrows
 * to f32 (floats) and i32 (integers and booleans) with explicit checks where values could be lost
 * silently (64-bit and unsigned 32-bit integers); writing produces F32 and I32 only, the dtypes a
 * webmtl tensor can hold. All reads go through little-endian accessors, so the result does not
 * depend on the host's byte order.
 */
import type { DType } from '../tensor/tensor.js';

/**
 * Every dtype the safetensors format defines with a whole-byte element size, in the reference
 * implementation's enum order (increasing alignment). The writer sorts tensors by this order
 * (descending) and then by name, as the reference does.
 */
export const SAFETENSORS_DTYPES = [
  'BOOL',
  'U8',
  'I8',
  'F8_E5M2',
  'F8_E4M3',
  'F8_E8M0',
  'I16',
  'U16',
  'F16',
  'BF16',
  'I32',
  'U32',
  'F32',
  'F64',
  'I64',
  'U64',
  'C64',
] as const;

export type SafetensorsDType = (typeof SAFETENSORS_DTYPES)[number];

const SIZES: Record<SafetensorsDType, number> = {
  BOOL: 1,
  U8: 1,
  I8: 1,
  F8_E5M2: 1,
  F8_E4M3: 1,
  F8_E8M0: 1,
  I16: 2,
  U16: 2,
  F16: 2,
  BF16: 2,
  I32: 4,
  U32: 4,
  F32: 4,
  F64: 8,
  I64: 8,
  U64: 8,
  C64: 8,
};

/** True when `s` names a dtype of the format (whether or not webmtl can read it). */
export function isSafetensorsDType(s: string): s is SafetensorsDType {
  return Object.prototype.hasOwnProperty.call(SIZES, s);
}

/** Bytes per element of a safetensors dtype. */
export function dtypeSize(d: SafetensorsDType): number {
  return SIZES[d];
}

/** Position in the reference enum order, for sorting on write. */
export function dtypeRank(d: SafetensorsDType): number {
  return SAFETENSORS_DTYPES.indexOf(d);
}

/** The webmtl dtype a safetensors dtype is read as, or null when webmtl cannot read it. */
export function readsAs(d: SafetensorsDType): DType | null {
  switch (d) {
    case 'F32':
    case 'F64':
    case 'F16':
    case 'BF16':
      return 'f32';
    case 'I32':
    case 'I64':
    case 'U32':
    case 'U64':
    case 'I16':
    case 'U16':
    case 'I8':
    case 'U8':
    case 'BOOL':
      return 'i32';
    default:
      return null;
  }
}

/** The safetensors dtype a webmtl dtype is written as. */
export function writtenAs(d: DType): 'F32' | 'I32' {
  return d === 'f32' ? 'F32' : 'I32';
}

export const LITTLE_ENDIAN_HOST = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** IEEE 754 binary16 bits -> number (exact in f32). */
export function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * frac * 2 ** -24; // zero and subnormals
  if (exp === 31) return frac ? NaN : sign * Infinity;
  return sign * (1 + frac / 1024) * 2 ** (exp - 15);
}

/**
 * Converts `n` little-endian elements of dtype `d` at `bytes` to f32 or i32 host data. Returns a
 * string describing the first value that cannot be represented (64-bit or unsigned integers out of
 * the i32 range) instead of throwing, so the caller can name the file and tensor.
 */
export function convertFromBytes(d: SafetensorsDType, bytes: Uint8Array, n: number): Float32Array | Int32Array | string {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  switch (d) {
    case 'F32':
    case 'I32': {
      if (LITTLE_ENDIAN_HOST) {
        // Copy into a fresh buffer: the source may be unaligned (or a Node Buffer's shared pool).
        const copy = new Uint8Array(n * 4);
        copy.set(bytes.subarray(0, n * 4));
        return d === 'F32' ? new Float32Array(copy.buffer) : new Int32Array(copy.buffer);
      }
      const out = d === 'F32' ? new Float32Array(n) : new Int32Array(n);
      for (let i = 0; i < n; i++) out[i] = d === 'F32' ? dv.getFloat32(i * 4, true) : dv.getInt32(i * 4, true);
      return out;
    }
    case 'F64': {
      const out = new Float32Array(n); // assignment rounds to nearest f32, as torch's .float()
      for (let i = 0; i < n; i++) out[i] = dv.getFloat64(i * 8, true);
      return out;
    }
    case 'F16': {
      const out = new Float32Array(n);
      for (let i = 0; i < n; i++) out[i] = halfToFloat(dv.getUint16(i * 2, true));
      return out;
    }
    case 'BF16': {
      // bfloat16 is the top half of an f32: shifting the bits back is exact, NaN payloads included.
      const out = new Float32Array(n);
      const bits = new Uint32Array(out.buffer);
      for (let i = 0; i < n; i++) bits[i] = dv.getUint16(i * 2, true) << 16;
      return out;
    }
    case 'I64':
    case 'U64': {
      const out = new Int32Array(n);
      for (let i = 0; i < n; i++) {
        const v = d === 'I64' ? dv.getBigInt64(i * 8, true) : dv.getBigUint64(i * 8, true);
        if (v < -2147483648n || v > 2147483647n) {
          return `value ${v} at flat index ${i} does not fit in i32 (webmtl reads ${d} as i32)`;
        }
        out[i] = Number(v);
      }
      return out;
    }
    case 'U32': {
      const out = new Int32Array(n);
      for (let i = 0; i < n; i++) {
        const v = dv.getUint32(i * 4, true);
        if (v > 2147483647) return `value ${v} at flat index ${i} does not fit in i32 (webmtl reads U32 as i32)`;
        out[i] = v;
      }
      return out;
    }
    case 'I16':
    case 'U16': {
      const out = new Int32Array(n);
      for (let i = 0; i < n; i++) out[i] = d === 'I16' ? dv.getInt16(i * 2, true) : dv.getUint16(i * 2, true);
      return out;
    }
    case 'I8':
      return Int32Array.from(new Int8Array(bytes.buffer, bytes.byteOffset, n));
    case 'U8':
      return Int32Array.from(bytes.subarray(0, n));
    case 'BOOL': {
      const out = new Int32Array(n);
      for (let i = 0; i < n; i++) out[i] = bytes[i] ? 1 : 0;
      return out;
    }
    default:
      return `dtype ${d} cannot be read by webmtl`;
  }
}

/** Writes f32 or i32 host data as little-endian bytes into `out` (which has room for it). */
export function writeLittleEndian(data: Float32Array | Int32Array, out: Uint8Array): void {
  if (LITTLE_ENDIAN_HOST) {
    out.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
    return;
  }
  const dv = new DataView(out.buffer, out.byteOffset, out.byteLength);
  for (let i = 0; i < data.length; i++) {
    if (data instanceof Float32Array) dv.setFloat32(i * 4, data[i]!, true);
    else dv.setInt32(i * 4, data[i]!, true);
  }
}
