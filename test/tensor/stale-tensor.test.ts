import { describe, expect, it } from 'vitest';
import * as w from '../../src/index.js';
import { Runtime } from '../../src/gpu/runtime.js';
import { Storage, Tensor } from '../../src/tensor/tensor.js';

describe('tensors whose memory is gone', () => {
  it('backward() on a disposed root or gradient throws DisposedError instead of doing nothing', () => {
    const x = w.fromArray([1, 2, 3], [3], { requiresGrad: true });
    const y = w.sum(w.mul(x, x));
    y.dispose();
    expect(() => w.backward(y)).toThrow(w.DisposedError);
    expect(() => w.backward(y)).toThrow(/^backward: tensor of shape \[\] was already disposed/);
    expect(x.grad).toBeNull();
    const z = w.mul(x, x);
    const g = w.fromArray([1, 1, 1], [3]);
    g.dispose();
    expect(() => w.backward(z, g)).toThrow(w.DisposedError);
    z.dispose();
    x.dispose();
  });

  it('a tensor of a runtime that ended (shutdown, lost device) is a StaleTensorError naming it, before any GPU work', async () => {
    const other = await Runtime.create();
    const t = new Tensor([3], 'f32', new Storage(other, other.alloc(16), 16));
    t.name = 'old.weight';
    other.destroy();
    const msg = /^add: tensor 'old\.weight' of shape \[3\] belongs to a runtime that has ended \(destroyed: .*\); .*create it again after init\(\)$/;
    expect(() => w.add(t, t)).toThrow(w.StaleTensorError);
    expect(() => w.add(t, t)).toThrow(msg);
    await expect(t.data()).rejects.toThrow(w.StaleTensorError);
    t.dispose();
  });
});
