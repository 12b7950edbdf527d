import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeMat, loadInflate, matTo2d, type MatCell, type MatStruct, type MatValue } from '../../src/io/mat.js';
import { double2d, mat, python, type MatIn } from '../data/readers/writers.js';

const vars: Record<string, MatIn> = {
  LabelMap: { kind: 'uint16', dims: [2, 3], data: [1, 4, 2, 5, 3, 459] }, // column-major of [[1,2,3],[4,5,459]]
  x: double2d([0.5, -1.25, 3e10, 7], 2, 2),
  name: { kind: 'char', text: 'person' },
  anno: {
    kind: 'struct', dims: [1, 1], fields: ['imname', 'objects'],
    elements: [{
      imname: { kind: 'char', text: '2008_000002' },
      objects: {
        kind: 'struct', dims: [1, 2], fields: ['class', 'class_ind', 'mask', 'parts'],
        elements: [
          { class: { kind: 'char', text: 'person' }, class_ind: { kind: 'double', dims: [1, 1], data: [15] },
            mask: { kind: 'uint8', dims: [2, 2], data: [1, 0, 1, 1], logical: true },
            parts: { kind: 'struct', dims: [1, 1], fields: ['part_name', 'mask'], elements: [{ part_name: { kind: 'char', text: 'head' }, mask: { kind: 'uint8', dims: [2, 2], data: [1, 0, 0, 0], logical: true } }] } },
          { class: { kind: 'char', text: 'dog' }, class_ind: { kind: 'double', dims: [1, 1], data: [12] },
            mask: { kind: 'uint8', dims: [2, 2], data: [0, 0, 0, 1], logical: true }, parts: { kind: 'empty' } },
        ],
      },
    }],
  },
  c: { kind: 'cell', dims: [1, 2], elements: [{ kind: 'char', text: 'ab' }, { kind: 'int32', dims: [1, 2], data: [-3, 4] }] },
};

function checkAll(m: Map<string, MatValue>): void {
  const lm = matTo2d(m.get('LabelMap'), 'LabelMap', 'f');
  expect([lm.rows, lm.cols]).toEqual([2, 3]);
  expect(Array.from(lm.data)).toEqual([1, 2, 3, 4, 5, 459]);
  expect((m.get('LabelMap') as { cls: string }).cls).toBe('uint16');
  expect(Array.from(matTo2d(m.get('x'), 'x', 'f').data)).toEqual([0.5, -1.25, 3e10, 7]);
  expect(m.get('name')).toMatchObject({ kind: 'char', text: 'person' });
  const anno = m.get('anno') as MatStruct;
  expect(anno.fields).toEqual(['imname', 'objects']);
  const objects = anno.elements[0]!['objects'] as MatStruct;
  expect(objects.dims).toEqual([1, 2]);
  expect(objects.fields).toEqual(['class', 'class_ind', 'mask', 'parts']);
  expect(Array.from(matTo2d(objects.elements[0]!['class_ind'], 'c', 'f').data)).toEqual([15]);
  const mask = objects.elements[0]!['mask'] as { logical: boolean };
  expect(mask.logical).toBe(true);
  expect(Array.from(matTo2d(objects.elements[0]!['mask'], 'm', 'f').data)).toEqual([1, 1, 0, 1]);
  const parts = objects.elements[0]!['parts'] as MatStruct;
  expect(parts.elements[0]!['part_name']).toMatchObject({ kind: 'char', text: 'head' });
  expect(objects.elements[1]!['parts']).toMatchObject({ kind: 'numeric', dims: [0, 0] });
  const c = m.get('c') as MatCell;
  expect(c.kind).toBe('cell');
  expect(c.elements[0]).toMatchObject({ kind: 'char', text: 'ab' });
  expect(Array.from((c.elements[1] as { data: Int32Array }).data)).toEqual([-3, 4]);
}

describe('decodeMat', () => {
  beforeAll(async () => expect(await loadInflate()).toBe(true));

  it('reads numeric, logical, char, struct-array, empty and cell values', () => {
    checkAll(decodeMat(mat(vars), 'plain.mat'));
  });

  it('reads the same values from a compressed (miCOMPRESSED) file', () => {
    checkAll(decodeMat(mat(vars, true), 'zipped.mat'));
  });

  it('names the file for truncated, corrupt, v7.3 and unsupported content', () => {
    const bytes = mat(vars);
    expect(() => decodeMat(bytes.subarray(0, bytes.length - 20), 'human_parts/a.mat')).toThrow(/human_parts\/a\.mat: truncated/);
    const zipped = mat({ LabelMap: vars['LabelMap']! }, true);
    zipped.fill(0x55, 140, 150);
    expect(() => decodeMat(zipped, 'z.mat')).toThrow(/z\.mat: corrupt compressed variable/);
    const v73 = new Uint8Array(200);
    v73.set(new TextEncoder().encode('MATLAB 7.3 MAT-file'));
    expect(() => decodeMat(v73, 'new.mat')).toThrow(/new\.mat: MATLAB v7\.3/);
    expect(() => decodeMat(new Uint8Array(10), 'tiny.mat')).toThrow(/tiny\.mat: not a MATLAB/);
    const sparse = mat({ s: { kind: 'double', dims: [1, 1], data: [1] } });
    sparse[128 + 16] = 5; // array flags class byte -> mxSPARSE_CLASS
    expect(() => decodeMat(sparse, 'sp.mat')).toThrow(/sp\.mat: unsupported MATLAB class sparse/);
    expect(() => decodeMat(mat({ LabelMap: vars['LabelMap']! }, true), 'nz.mat', null)).toThrow(/nz\.mat: compressed .mat variable but no zlib/);
  });

  it('matTo2d names the file when a variable is missing or not 2-D numeric', () => {
    const m = decodeMat(mat(vars));
    expect(() => matTo2d(m.get('nope'), 'LabelMap', 'ctx/1.mat')).toThrow(/ctx\/1\.mat: LabelMap: expected a 2-D numeric array, got nothing/);
    expect(() => matTo2d(m.get('name'), 'LabelMap', 'ctx/1.mat')).toThrow(/got char/);
  });
});

describe('decodeMat against scipy-written files', () => {
  const dir = mkdtempSync(join(tmpdir(), 'webmtl-mat-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('matches scipy.io.savemat output, compressed and not, including Pascal-Part-like structs', async () => {
    await loadInflate();
    const script = `
import numpy as np, scipy.io as sio, sys, os
d = sys.argv[1]
lm = (np.arange(12).reshape(3, 4) * 37 % 460).astype(np.uint16)
part = np.zeros((1, 2), dtype=[('part_name', 'O'), ('mask', 'O')])
part[0, 0] = ('head', np.array([[1, 0, 0, 0], [0, 0, 0, 0], [0, 0, 0, 0]], dtype=np.uint8))
part[0, 1] = ('torso', np.array([[0, 0, 0, 0], [0, 1, 1, 0], [0, 0, 0, 0]], dtype=np.uint8))
objs = np.zeros((1, 2), dtype=[('class', 'O'), ('class_ind', 'O'), ('mask', 'O'), ('parts', 'O')])
objs[0, 0] = ('person', np.array([[15.0]]), np.ones((3, 4), dtype=np.uint8), part)
objs[0, 1] = ('dog', np.array([[12.0]]), np.zeros((3, 4), dtype=np.uint8), np.zeros((0, 0)))
anno = {'imname': '2008_000002', 'objects': objs}
for c in (False, True):
    sio.savemat(os.path.join(d, 'c%d.mat' % c), {'LabelMap': lm, 'anno': anno, 'x': np.array([[0.25, -3.5, 1e-7]])}, do_compression=c)
`;
    python('numpy, scipy.io', script, dir);
    for (const c of [0, 1]) {
      const m = decodeMat(new Uint8Array(readFileSync(join(dir, `c${c}.mat`))), `c${c}.mat`);
      const lm = matTo2d(m.get('LabelMap'), 'LabelMap', 'f');
      expect([lm.rows, lm.cols]).toEqual([3, 4]);
      expect(Array.from(lm.data)).toEqual(Array.from({ length: 12 }, (_, i) => (i * 37) % 460));
      expect(Array.from(matTo2d(m.get('x'), 'x', 'f').data)).toEqual([0.25, -3.5, 1e-7]);
      const objects = (m.get('anno') as MatStruct).elements[0]!['objects'] as MatStruct;
      expect(objects.elements.length).toBe(2);
      expect(Array.from(matTo2d(objects.elements[0]!['class_ind'], 'c', 'f').data)).toEqual([15]);
      const parts = objects.elements[0]!['parts'] as MatStruct;
      expect(parts.elements.map((e) => (e['part_name'] as { text: string }).text)).toEqual(['head', 'torso']);
      expect(Array.from(matTo2d(parts.elements[1]!['mask'], 'm', 'f').data)).toEqual([0, 0, 0, 0, 0, 1, 1, 0, 0, 0, 0, 0]);
      expect(objects.elements[1]!['parts']!.dims).toEqual([0, 0]);
    }
  });
});
