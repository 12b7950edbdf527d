/**
 * Helpers for the io tests: temporary folders, a safetensors header parser and file builder written
 * from the published spec (independently of src/io, so the tests do not check the code against
 * itself), bitwise comparison, and the Python checker's location.
 */
import { requirePython } from '../helpers/python.js';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Module, Tensor } from '../../src/index.js';

/** A fresh temporary folder and a function that removes it. */
export function tempDir(tag: string): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), `webmtl-io-${tag}-`));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** The spec's view of a file: header length, raw header text, parsed JSON, data section. */
export interface ParsedFile {
  n: number;
  text: string;
  header: Record<string, unknown>;
  data: Uint8Array;
}

/** Parses the 8-byte length and the JSON header, as the spec describes them. */
export function parseFile(bytes: Uint8Array): ParsedFile {
  const n = Number(new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true));
  const text = new TextDecoder().decode(bytes.subarray(8, 8 + n));
  return { n, text, header: JSON.parse(text) as Record<string, unknown>, data: bytes.subarray(8 + n) };
}

/** One raw tensor for {@link buildFile}. */
export interface RawTensor {
  dtype: string;
  shape: number[];
  bytes: Uint8Array;
}

/**
 * A safetensors file from raw parts, laid out by the spec (entries in the given order, data back to
 * back, header padded with spaces to a multiple of 8). `headerOverride` replaces the JSON text.
 */
export function buildFile(tensors: Record<string, RawTensor>, metadata?: Record<string, unknown>, headerOverride?: string): Uint8Array {
  const header: Record<string, unknown> = {};
  if (metadata) header.__metadata__ = metadata;
  let offset = 0;
  for (const [name, t] of Object.entries(tensors)) {
    header[name] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + t.bytes.length] };
    offset += t.bytes.length;
  }
  let json = new TextEncoder().encode(headerOverride ?? JSON.stringify(header));
  const padded = new Uint8Array(Math.ceil(json.length / 8) * 8).fill(0x20);
  padded.set(json);
  json = padded;
  const out = new Uint8Array(8 + json.length + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  let pos = 8 + json.length;
  for (const t of Object.values(tensors)) {
    out.set(t.bytes, pos);
    pos += t.bytes.length;
  }
  return out;
}

/** Little-endian bytes of numbers written with a DataView setter of `width` bytes. */
export function leBytes(values: readonly (number | bigint)[], width: number, set: (dv: DataView, at: number, v: never) => void): Uint8Array {
  const out = new Uint8Array(values.length * width);
  const dv = new DataView(out.buffer);
  values.forEach((v, i) => set(dv, i * width, v as never));
  return out;
}

export const f32le = (v: readonly number[]) => leBytes(v, 4, (dv, at, x: number) => dv.setFloat32(at, x, true));
export const i32le = (v: readonly number[]) => leBytes(v, 4, (dv, at, x: number) => dv.setInt32(at, x, true));
export const f64le = (v: readonly number[]) => leBytes(v, 8, (dv, at, x: number) => dv.setFloat64(at, x, true));
export const u16le = (v: readonly number[]) => leBytes(v, 2, (dv, at, x: number) => dv.setUint16(at, x, true));
export const i64le = (v: readonly bigint[]) => leBytes(v, 8, (dv, at, x: bigint) => dv.setBigInt64(at, x, true));

/** The 32-bit patterns of f32/i32 data (bit-for-bit comparison, NaN and -0 included). */
export function bits(data: Float32Array | Int32Array): number[] {
  return Array.from(new Uint32Array(data.buffer, data.byteOffset, data.length));
}

/** Every parameter and buffer of a module as bit patterns, by name. */
export async function snapshot(m: Module): Promise<Record<string, number[]>> {
  const out: Record<string, number[]> = {};
  for (const [k, t] of m.stateDict()) out[k] = await tensorBits(t);
  return out;
}

/** A tensor's values as bit patterns. */
export async function tensorBits(t: Tensor): Promise<number[]> {
  return t.size === 0 ? [] : bits(await t.data());
}


export const CHECKER = fileURLToPath(new URL('../../scripts/fixtures/check_safetensors.py', import.meta.url));

/** Runs the Python checker; returns its exit status and output. */
export function runChecker(args: string[]): { status: number | null; out: string } {
  const r = spawnSync(requirePython('numpy'), [CHECKER, ...args], { encoding: 'utf8' });
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}
