/**
 * safetensors, in memory: the published format (https://github.com/huggingface/safetensors), read
 * and written byte for byte as the reference implementation does, with no Node built-ins so the
 * browser bundle can use it (file functions are in safetensors-file.ts).
 *
 * Layout: an 8-byte little-endian unsigned header length N; N bytes of UTF-8 JSON
 * `{"__metadata__": {string: string}?, name: {"dtype", "shape", "data_offsets": [begin, end]}, ...}`
 * padded with spaces so the data starts 8-byte aligned; then the tensors' little-endian, row-major
 * bytes, back to back, offsets relative to the start of the data. The writer orders tensors as the
 * reference does (dtype alignment descending, then name by code point) and writes compact JSON in
 * that order with `__metadata__` first, so the same tensors give the same bytes as
 * `safetensors.torch.save_file`. The reader is as strict as the reference: tensors must tile the
 * data exactly (no gaps, overlaps or trailing bytes).
 */
import { ArgumentError } from '../errors.js';
import { fromArray } from '../tensor/creation.js';
import type { DType, Tensor } from '../tensor/tensor.js';
import {
  convertFromBytes,
  dtypeRank,
  dtypeSize,
  isSafetensorsDType,
  readsAs,
  SAFETENSORS_DTYPES,
  writeLittleEndian,
  writtenAs,
  type SafetensorsDType,
} from './dtypes.js';
import { FormatError } from './errors.js';

/** Largest header the reader accepts (the reference's limit), so a corrupt length cannot exhaust memory. */
export const MAX_HEADER_BYTES = 100_000_000;

/** Tensor values on the host, as `Tensor.data()` returns them. */
export interface HostTensor {
  dtype: DType;
  shape: readonly number[];
  data: Float32Array | Int32Array;
}

/** A decoded tensor on the host, with the dtype it had in the file. */
export interface DecodedHostTensor extends HostTensor {
  shape: number[];
  sourceDType: SafetensorsDType;
}

/** The string-to-string map stored under `__metadata__`. */
export type SafetensorsMetadata = Record<string, string>;

/** One header entry, offsets relative to the start of the data section. */
export interface SafetensorsEntry {
  name: string;
  dtype: SafetensorsDType;
  shape: number[];
  begin: number;
  end: number;
}

/** A parsed and validated header. */
export interface SafetensorsHeader {
  /** N, the JSON length including padding. */
  headerLength: number;
  /** Byte offset of the data section in the file (8 + N). */
  dataStart: number;
  /** Entries in data order (by offset). */
  entries: SafetensorsEntry[];
  /** `__metadata__`, or null when the file has none. */
  metadata: SafetensorsMetadata | null;
}

type TensorsIn<T> = ReadonlyMap<string, T> | Readonly<Record<string, T>>;

function entriesOf<T>(tensors: TensorsIn<T>): [string, T][] {
  return tensors instanceof Map ? [...tensors] : Object.entries(tensors as Record<string, T>);
}

/** Compares by Unicode code point, which is UTF-8 byte order (Rust's String ordering). */
function byCodePoint(a: string, b: string): number {
  const x = [...a];
  const y = [...b];
  for (let i = 0; i < Math.min(x.length, y.length); i++) {
    const d = x[i]!.codePointAt(0)! - y[i]!.codePointAt(0)!;
    if (d !== 0) return d;
  }
  return x.length - y.length;
}

const isCount = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;

/**
 * Parses and validates the header of a safetensors buffer without touching the tensor data:
 * length, UTF-8, JSON, every entry's dtype, shape and offsets, and that the tensors tile the data
 * section exactly. `source` names the buffer in errors (a path, or '<memory>'). Throws
 * {@link FormatError} on any problem.
 */
export function readSafetensorsHeader(bytes: Uint8Array, source = '<memory>'): SafetensorsHeader {
  const fail = (problem: string): never => {
    throw new FormatError(source, problem);
  };
  if (bytes.length < 8) fail(`truncated: ${bytes.length} bytes, but a safetensors file starts with an 8-byte header length`);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n = dv.getBigUint64(0, true);
  if (n > BigInt(bytes.length - 8)) {
    fail(`header length ${n} is larger than the file (${bytes.length} bytes): truncated or not a safetensors file`);
  }
  const headerLength = Number(n);
  if (headerLength > MAX_HEADER_BYTES) fail(`header length ${headerLength} exceeds the ${MAX_HEADER_BYTES}-byte limit`);
  let text = '';
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(8, 8 + headerLength));
  } catch {
    fail('header is not valid UTF-8');
  }
  if (!text.startsWith('{')) fail(`header must be a JSON object starting with '{' (starts with ${JSON.stringify(text.slice(0, 16))})`);
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    fail(`header is not valid JSON (${(e as Error).message})`);
  }
  if (json === null || typeof json !== 'object' || Array.isArray(json)) fail('header must be a JSON object');

  let metadata: SafetensorsMetadata | null = null;
  const entries: SafetensorsEntry[] = [];
  for (const [name, info] of Object.entries(json as Record<string, unknown>)) {
    if (name === '__metadata__') {
      if (info === null) continue; // the reference reads null as "no metadata"
      if (typeof info !== 'object' || Array.isArray(info)) fail('__metadata__ must be an object of strings');
      for (const [k, v] of Object.entries(info as object)) {
        if (typeof v !== 'string') fail(`__metadata__ must map strings to strings, but '${k}' is ${JSON.stringify(v)}`);
      }
      metadata = { ...(info as SafetensorsMetadata) };
      continue;
    }
    const where = `tensor '${name}'`;
    if (info === null || typeof info !== 'object' || Array.isArray(info)) {
      fail(`${where}: entry must be an object with dtype, shape and data_offsets`);
    }
    const { dtype, shape, data_offsets: offsets } = info as Record<string, unknown>;
    if (typeof dtype !== 'string' || !isSafetensorsDType(dtype)) {
      fail(`${where}: unknown dtype ${JSON.stringify(dtype)} (the format defines ${SAFETENSORS_DTYPES.join(', ')})`);
    }
    if (!Array.isArray(shape) || !shape.every(isCount)) {
      fail(`${where}: shape must be an array of non-negative integers (got ${JSON.stringify(shape)})`);
    }
    if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every(isCount)) {
      fail(`${where}: data_offsets must be [begin, end] with non-negative integers (got ${JSON.stringify(offsets)})`);
    }
    const [begin, end] = offsets as [number, number];
    if (end < begin) fail(`${where}: data_offsets [${begin}, ${end}] end before they begin`);
    const dims = shape as number[];
    const count = dims.reduce((a, d) => a * d, 1);
    const nbytes = count * dtypeSize(dtype as SafetensorsDType);
    if (!Number.isSafeInteger(nbytes)) fail(`${where}: shape [${dims.join(',')}] is too large`);
    if (end - begin !== nbytes) {
      fail(
        `${where}: shape [${dims.join(',')}] of ${dtype} needs ${nbytes} bytes, but data_offsets ` +
          `[${begin}, ${end}] hold ${end - begin} (shape and size do not match)`,
      );
    }
    entries.push({ name, dtype: dtype as SafetensorsDType, shape: [...dims], begin, end });
  }

  const dataStart = 8 + headerLength;
  const dataLength = bytes.length - dataStart;
  for (const e of entries) {
    if (e.end > dataLength) {
      fail(
        `tensor '${e.name}': data_offsets [${e.begin}, ${e.end}] are out of range: ` +
          `the data section has only ${dataLength} bytes (truncated file?)`,
      );
    }
  }
  entries.sort((a, b) => a.begin - b.begin || a.end - b.end);
  let pos = 0;
  let prev: SafetensorsEntry | null = null;
  for (const e of entries) {
    if (e.begin < pos) fail(`tensors '${prev!.name}' [${prev!.begin}, ${prev!.end}] and '${e.name}' [${e.begin}, ${e.end}] overlap`);
    if (e.begin > pos) fail(`${e.begin - pos} unaccounted bytes before tensor '${e.name}' (offset ${pos}); tensors must be contiguous`);
    pos = e.end;
    prev = e;
  }
  if (pos !== dataLength) fail(`${dataLength - pos} trailing bytes after the last tensor (data section ${dataLength} bytes, tensors end at ${pos})`);
  return { headerLength, dataStart, entries, metadata };
}

/**
 * Decodes a safetensors buffer to host arrays: floats (F32, F64, F16, BF16) become f32 and
 * integers (I32, I64, U32, U64, I16, U16, I8, U8, BOOL) i32. Everything is validated and converted
 * before this returns, so a caller that then uploads to the GPU never fails half way. Throws
 * {@link FormatError} naming `source` on a malformed buffer, an unreadable dtype (F8, C64) or an
 * integer that does not fit in i32. `metadata` is `{}` when the file has none.
 */
export function decodeSafetensorsHost(
  bytes: Uint8Array,
  source = '<memory>',
): { tensors: Map<string, DecodedHostTensor>; metadata: SafetensorsMetadata } {
  const header = readSafetensorsHeader(bytes, source);
  const tensors = new Map<string, DecodedHostTensor>();
  for (const e of header.entries) {
    const dtype = readsAs(e.dtype);
    if (!dtype) {
      throw new FormatError(source, `tensor '${e.name}': dtype ${e.dtype} is not supported (webmtl reads float and integer dtypes up to 64 bits)`);
    }
    const count = e.shape.reduce((a, d) => a * d, 1);
    const data = convertFromBytes(e.dtype, bytes.subarray(header.dataStart + e.begin, header.dataStart + e.end), count);
    if (typeof data === 'string') throw new FormatError(source, `tensor '${e.name}': ${data}`);
    tensors.set(e.name, { dtype, shape: e.shape, data, sourceDType: e.dtype });
  }
  return { tensors, metadata: header.metadata ?? {} };
}

/**
 * Encodes host tensors (f32 as F32, i32 as I32) and optional metadata to safetensors bytes, laid
 * out exactly as the reference writer does (see the file comment). `metadata` undefined writes no
 * `__metadata__`; its keys are written in code-point order so the output is deterministic.
 * Throws ArgumentError for the reserved name `__metadata__`, a non-string metadata value, or data
 * whose length or array type does not match its shape and dtype.
 */
export function encodeSafetensorsHost(tensors: TensorsIn<HostTensor>, metadata?: SafetensorsMetadata): Uint8Array {
  const op = 'encodeSafetensors';
  const list = entriesOf(tensors).map(([name, t]) => {
    if (name === '__metadata__') throw new ArgumentError(op, "'__metadata__' is reserved and cannot name a tensor");
    if (!t.shape.every((d) => isCount(d))) throw new ArgumentError(op, `tensor '${name}': invalid shape [${t.shape.join(',')}]`);
    const count = t.shape.reduce((a, d) => a * d, 1);
    const arrayOk = t.dtype === 'f32' ? t.data instanceof Float32Array : t.dtype === 'i32' && t.data instanceof Int32Array;
    if (!arrayOk) throw new ArgumentError(op, `tensor '${name}': dtype ${t.dtype} needs a ${t.dtype === 'f32' ? 'Float32Array' : 'Int32Array'}`);
    if (t.data.length !== count) throw new ArgumentError(op, `tensor '${name}': ${t.data.length} values for shape [${t.shape.join(',')}]`);
    return { name, st: writtenAs(t.dtype), t };
  });
  list.sort((a, b) => dtypeRank(b.st) - dtypeRank(a.st) || byCodePoint(a.name, b.name));

  const parts: string[] = [];
  if (metadata !== undefined) {
    const keys = Object.keys(metadata).sort(byCodePoint);
    for (const k of keys) {
      if (typeof metadata[k] !== 'string') {
        throw new ArgumentError(op, `metadata '${k}' must be a string (got ${typeof metadata[k]}); JSON.stringify it`);
      }
    }
    parts.push(`"__metadata__":{${keys.map((k) => `${JSON.stringify(k)}:${JSON.stringify(metadata[k])}`).join(',')}}`);
  }
  let offset = 0;
  for (const { name, st, t } of list) {
    const end = offset + t.data.byteLength;
    parts.push(`${JSON.stringify(name)}:{"dtype":"${st}","shape":[${t.shape.join(',')}],"data_offsets":[${offset},${end}]}`);
    offset = end;
  }
  const json = new TextEncoder().encode(`{${parts.join(',')}}`);
  const headerLength = Math.ceil(json.length / 8) * 8; // pad with spaces: data starts 8-byte aligned
  const out = new Uint8Array(8 + headerLength + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(headerLength), true);
  out.set(json, 8);
  out.fill(0x20, 8 + json.length, 8 + headerLength);
  let pos = 8 + headerLength;
  for (const { t } of list) {
    writeLittleEndian(t.data, out.subarray(pos, pos + t.data.byteLength));
    pos += t.data.byteLength;
  }
  return out;
}

/** Reads tensors back to the host (sequentially; an empty tensor needs no readback). */
export async function readTensors(tensors: TensorsIn<Tensor>): Promise<Map<string, HostTensor>> {
  const out = new Map<string, HostTensor>();
  for (const [name, t] of entriesOf(tensors)) {
    const data = t.size === 0 ? (t.dtype === 'f32' ? new Float32Array(0) : new Int32Array(0)) : await t.data();
    out.set(name, { dtype: t.dtype, shape: t.shape, data });
  }
  return out;
}

/**
 * Encodes tensors (read back from the GPU) and optional string metadata as safetensors bytes;
 * see {@link encodeSafetensorsHost} for the layout and the errors. Works in the browser.
 */
export async function encodeSafetensors(tensors: TensorsIn<Tensor>, metadata?: SafetensorsMetadata): Promise<Uint8Array> {
  return encodeSafetensorsHost(await readTensors(tensors), metadata);
}

/** Uploads decoded host tensors to the GPU; on failure the ones already made are disposed. */
export function uploadTensors(host: ReadonlyMap<string, HostTensor>): Map<string, Tensor> {
  const out = new Map<string, Tensor>();
  try {
    for (const [name, h] of host) out.set(name, fromArray(h.data, h.shape, { dtype: h.dtype }));
  } catch (e) {
    for (const t of out.values()) t.dispose();
    throw e;
  }
  return out;
}

/**
 * Decodes safetensors bytes into GPU tensors (f32 or i32, see {@link decodeSafetensorsHost}) and
 * the `__metadata__` map (`{}` when absent). Nothing is allocated unless the whole buffer is
 * valid. Works in the browser; `source` names the buffer in errors.
 */
export function decodeSafetensors(bytes: Uint8Array, source = '<memory>'): { tensors: Map<string, Tensor>; metadata: SafetensorsMetadata } {
  const { tensors, metadata } = decodeSafetensorsHost(bytes, source);
  return { tensors: uploadTensors(tensors), metadata };
}
