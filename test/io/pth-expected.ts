/**
 * The expectations scripts/fixtures/make_pth_fixtures.py writes beside its .pth files
 * (expected.json), and the check that the reader returns them, shared by the test on the committed
 * files and the test on files torch writes at test time.
 */
import { readFileSync } from 'node:fs';
import { expect } from 'vitest';
import * as w from '../../src/index.js';

/** What the generator recorded for one file. */
export interface Expected {
  format?: 'zip' | 'legacy';
  nestedUnder?: string | null;
  strippedPrefix?: string | null;
  skipped?: string[];
  tensors?: Record<string, { dtype: string; shape: number[]; data: (number | string)[] }>;
  refused?: string;
}

/** The expectations written beside the fixtures by the generator. */
export function expectations(dir: string): Record<string, Expected> {
  return (JSON.parse(readFileSync(`${dir}expected.json`, 'utf8')) as { files: Record<string, Expected> }).files;
}

const SPECIAL: Record<string, number> = { nan: NaN, inf: Infinity, '-inf': -Infinity };

/**
 * Checks that decoding `dir/<name>.pth` gives what the generator recorded: format, nesting, prefix,
 * keys in order, source dtypes, shapes and every value (f32 bit for bit after torch's own .float()).
 */
export function checkAgainstExpected(dir: string, name: string, e: Expected): void {
  const path = `${dir}${name}.pth`;
  const bytes = new Uint8Array(readFileSync(path));
  if (e.refused) {
    expect(() => w.decodePthHost(bytes, path)).toThrow(w.UnsafePickleError);
    expect(() => w.decodePthHost(bytes, path)).toThrow(new RegExp(`refused global '${e.refused.replace('.', '\\.')}'`));
    return;
  }
  const r = w.decodePthHost(bytes, path);
  expect({ format: r.format, nestedUnder: r.nestedUnder, strippedPrefix: r.strippedPrefix, skipped: r.skipped }).toEqual({
    format: e.format,
    nestedUnder: e.nestedUnder,
    strippedPrefix: e.strippedPrefix,
    skipped: e.skipped,
  });
  expect([...r.tensors.keys()], name).toEqual(Object.keys(e.tensors!));
  for (const [k, t] of Object.entries(e.tensors!)) {
    const got = r.tensors.get(k)!;
    expect([got.sourceDType, got.shape], `${name}:${k}`).toEqual([t.dtype, t.shape]);
    const isFloat = ['F32', 'F64', 'F16', 'BF16'].includes(t.dtype);
    expect(got.dtype, `${name}:${k}`).toBe(isFloat ? 'f32' : 'i32');
    const want = t.data.map((v) => (typeof v === 'string' ? SPECIAL[v]! : v));
    const ref = isFloat ? Float32Array.from(want) : Int32Array.from(want);
    expect(Array.from(got.data), `${name}:${k}`).toEqual(Array.from(ref));
  }
}
