/**
 * torchvision's ResNet state dicts load into our ResNets as they are: `fc.*` is dropped and named
 * in the result, and a num_batches_tracked stored as shape [1] fills our scalar, as PyTorch allows.
 */
import { describe, expect, it } from 'vitest';
import * as w from '../../src/index.js';
import { devices } from '../helpers/devices.js';

describe.each(devices())('ResNet.loadStateDict with torchvision keys on %s', () => {
  it('drops fc.* with a note, accepts [1] counters, and stays strict about everything else', async () => {
    const src = w.resnet18({ widthMultiplier: 0.125, generator: new w.Generator(5) });
    const dst = w.resnet18({ widthMultiplier: 0.125, generator: new w.Generator(6) });
    const sd = new Map<string, w.Tensor>();
    for (const [k, t] of src.stateDict()) {
      sd.set(k, k.endsWith('num_batches_tracked') ? w.fromArray(new Int32Array([7]), [1]) : t);
    }
    const fcW = w.randn([1000, src.channels.c4], { seed: 1 });
    const fcB = w.zeros([1000]);
    sd.set('fc.weight', fcW);
    sd.set('fc.bias', fcB);
    const res = dst.loadStateDict(sd);
    expect(res.missing).toEqual([]);
    expect(res.unexpected).toEqual([]);
    expect(res.ignored?.keys.sort()).toEqual(['fc.bias', 'fc.weight']);
    expect(res.ignored?.why).toMatch(/classifier/);
    expect(Array.from(await dst.conv1.weight.data())).toEqual(Array.from(await src.conv1.weight.data()));
    expect(await dst.bn1.numBatchesTracked.toArray()).toEqual([7]);
    // A model with no fc in the source reports nothing ignored.
    expect(dst.loadStateDict(src.stateDict()).ignored).toBeUndefined();
    // Other stray keys are still refused in strict mode, and a [2] tensor does not fill a scalar.
    sd.set('avgpool.x', fcB);
    expect(() => dst.loadStateDict(sd)).toThrow(/unexpected keys: avgpool\.x/);
    sd.delete('avgpool.x');
    const two = w.fromArray(new Int32Array([1, 2]), [2]);
    sd.set('bn1.num_batches_tracked', two);
    expect(() => dst.loadStateDict(sd)).toThrow(/bn1\.num_batches_tracked/);
    for (const [k, t] of sd) if (k.endsWith('num_batches_tracked')) t.dispose();
    fcW.dispose();
    fcB.dispose();
    src.dispose();
    dst.dispose();
  });
});
