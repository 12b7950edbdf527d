import { describe, expect, it } from 'vitest';
import * as w from '../../src/index.js';
import { checkOp } from '../helpers/check-op.js';
import { devices } from '../helpers/devices.js';
import { ND, matmul, map2, permute } from '../reference/ndarray.js';

function refLinear(x: ND, wt: ND, b?: ND): ND {
  const inF = wt.shape[1]!;
  const x2 = new ND([x.size / inF, inF], x.data);
  let y = matmul(x2, permute(wt, [1, 0]));
  if (b) y = map2(y, b, (u, v) => u + v);
  return new ND([...x.shape.slice(0, -1), wt.shape[0]!], y.data);
}

describe.each(devices())('linear on %s', () => {
  it.each([
    [[5, 7], 3, true],
    [[2, 3, 9], 4, false],
    [[1, 17], 33, true],
    [[6], 2, true],
  ] as const)('x %j -> %i outputs (bias %s) matches reference and finite differences', async (xs, out, bias) => {
    const inF = xs[xs.length - 1]!;
    await checkOp({
      inputs: [xs, [out, inF], ...(bias ? [[out]] : [])],
      fn: (x, wt, b) => w.linear(x!, wt!, b ?? null),
      ref: (x, wt, b) => refLinear(x!, wt!, b),
    });
  });

  it('rejects mismatched shapes', () => {
    expect(() => w.linear(w.zeros([2, 3]), w.zeros([4, 5]))).toThrow(w.ShapeError);
    expect(() => w.linear(w.zeros([2, 3]), w.zeros([4, 3]), w.zeros([3]))).toThrow(/bias/);
  });
});
