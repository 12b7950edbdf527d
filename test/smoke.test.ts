import { describe, it } from 'vitest';
import * as w from '../src/index.js';
import { checkOp } from './helpers/check-op.js';
import { devices } from './helpers/devices.js';
import * as R from './reference/ndarray.js';

describe.each(devices())('smoke on %s', () => {
  it('exp with broadcasting mul', async () => {
    await checkOp({
      inputs: [[3, 5], [5]],
      fn: (a, b) => w.mul(w.exp(a), b),
      ref: (a, b) => R.map2(R.map(a, Math.exp), b, (u, v) => u * v),
    });
  });
});
