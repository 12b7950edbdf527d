import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { FormatError } from '../../src/io/errors.js';
import { decodeNpy } from '../../src/io/npy.js';
import { npy, python } from '../data/readers/writers.js';

describe('decodeNpy', () => {
  it('reads C-ordered arrays of every common dtype exactly', () => {
    const vals = [0, 1, -2, 3.5, 1e-3, -7.25];
    const f4 = decodeNpy(npy('<f4', [2, 3], vals), 'a.npy');
    expect(f4.shape).toEqual([2, 3]);
    expect(f4.data).toBeInstanceOf(Float32Array);
    expect(Array.from(f4.data)).toEqual(Array.from(Float32Array.from(vals)));
    const f8 = decodeNpy(npy('<f8', [6], vals));
    expect(f8.data).toBeInstanceOf(Float64Array);
    expect(Array.from(f8.data)).toEqual(vals);
    expect(Array.from(decodeNpy(npy('<i4', [3], [-5, 0, 70000])).data)).toEqual([-5, 0, 70000]);
    const u1 = decodeNpy(npy('|u1', [2, 2], [0, 255, 1, 40]));
    expect(u1.data).toBeInstanceOf(Uint8Array);
    expect(Array.from(u1.data)).toEqual([0, 255, 1, 40]);
    expect(Array.from(decodeNpy(npy('|b1', [3], [1, 0, 1])).data)).toEqual([1, 0, 1]);
    expect(Array.from(decodeNpy(npy('>f4', [2], [1.5, -2])).data)).toEqual([1.5, -2]);
    expect(Array.from(decodeNpy(npy('<i8', [2], [-3, 2 ** 40])).data)).toEqual([-3, 2 ** 40]);
    expect(decodeNpy(npy('<f4', [], [4])).shape).toEqual([]);
  });

  it('reads format versions 2 and 3', () => {
    expect(Array.from(decodeNpy(npy('<f4', [2], [1, 2], { version: 2 })).data)).toEqual([1, 2]);
    expect(Array.from(decodeNpy(npy('<i2', [2], [-1, 9], { version: 3 })).data)).toEqual([-1, 9]);
  });

  it('transposes Fortran-ordered arrays to C order', () => {
    // Row-major [2, 3, 2] values 0..11, written column-major.
    const shape = [2, 3, 2];
    const fortran: number[] = [];
    for (let k = 0; k < 2; k++) for (let j = 0; j < 3; j++) for (let i = 0; i < 2; i++) fortran.push(i * 6 + j * 2 + k);
    const a = decodeNpy(npy('<f8', shape, fortran, { fortran: true }));
    expect(Array.from(a.data)).toEqual(Array.from({ length: 12 }, (_, i) => i));
  });

  it('names the file for truncated data, bad magic and unsupported dtypes', () => {
    const full = npy('<f4', [4, 4], new Array(16).fill(1));
    expect(() => decodeNpy(full.subarray(0, full.length - 3), 'depth/0001.npy')).toThrow(/depth\/0001\.npy: truncated \.npy data/);
    expect(() => decodeNpy(full.subarray(0, 20), 'x.npy')).toThrow(FormatError);
    expect(() => decodeNpy(new Uint8Array(40), 'bad.npy')).toThrow(/bad\.npy: not a \.npy file/);
    const c8 = npy('<f4', [1], [0]);
    // '<f4' -> '<c8' (complex64), which is not supported.
    c8[c8.indexOf(0x66, 10)] = 0x63;
    c8[c8.indexOf(0x34, 10)] = 0x38;
    expect(() => decodeNpy(c8, 'cplx.npy')).toThrow(/cplx\.npy: unsupported \.npy dtype '<c8'/);
  });
});

describe('decodeNpy against numpy-written files', () => {
  const dir = mkdtempSync(join(tmpdir(), 'webmtl-npy-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('matches numpy for C/Fortran order and several dtypes', () => {
    const script = `
import numpy as np, sys, json, os
d = sys.argv[1]
a = (np.arange(24).reshape(2, 3, 4) * 0.37 - 3).astype('<f4')
np.save(os.path.join(d, 'c_f4.npy'), a)
np.save(os.path.join(d, 'f_f8.npy'), np.asfortranarray(a.astype('<f8')))
np.save(os.path.join(d, 'i4.npy'), (np.arange(12).reshape(3, 4) - 6).astype('<i4'))
np.save(os.path.join(d, 'u1.npy'), (np.arange(6) * 40).astype('u1').reshape(2, 3))
np.save(os.path.join(d, 'be_i2.npy'), (np.arange(5) - 2).astype('>i2'))
np.save(os.path.join(d, 'i8.npy'), np.arange(4))
print(json.dumps({k: np.load(os.path.join(d, k + '.npy')).ravel(order='C').tolist() for k in ['c_f4', 'f_f8', 'i4', 'u1', 'be_i2', 'i8']}))
`;
    const want = JSON.parse(python('numpy', script, dir)) as Record<string, number[]>;
    for (const [k, values] of Object.entries(want)) {
      const got = decodeNpy(new Uint8Array(readFileSync(join(dir, `${k}.npy`))), k);
      expect(Array.from(got.data), k).toEqual(values.map((v) => (got.data instanceof Float32Array ? Math.fround(v) : v)));
    }
    expect(decodeNpy(new Uint8Array(readFileSync(join(dir, 'f_f8.npy')))).shape).toEqual([2, 3, 4]);
  });
});
