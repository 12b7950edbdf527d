// politeWait: Dawn's completion polling throttled during GPU waits; the global setImmediate is
// restored afterwards (also after overlapping waits and rejections) and callbacks still run.
import { describe, expect, it } from 'vitest';
import * as w from '../../src/index.js';
import { politeWait } from '../../src/gpu/polite-wait.js';

describe('politeWait', () => {
  it('restores setImmediate after overlapping waits and after a rejection', async () => {
    const orig = globalThis.setImmediate;
    let during: unknown = null;
    const a = politeWait(() => new Promise<number>((r) => setTimeout(() => r(1), 5)));
    const b = politeWait(async () => {
      during = globalThis.setImmediate;
      return 2;
    });
    expect(await Promise.all([a, b])).toEqual([1, 2]);
    expect(during).not.toBe(orig);
    expect(globalThis.setImmediate).toBe(orig);
    await expect(politeWait(() => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    expect(globalThis.setImmediate).toBe(orig);
  });

  it('still runs setImmediate callbacks scheduled while waiting, with their arguments', async () => {
    const seen: number[] = [];
    await politeWait(
      () =>
        new Promise<void>((resolve) => {
          setTimeout(() => setImmediate((x: number) => (seen.push(x), resolve()), 7), 2);
        }),
    );
    expect(seen).toEqual([7]);
  });

  it('serves runtime sync and readbacks (and can be switched off)', async () => {
    const rt = await w.init();
    const x = w.fromArray([1, 2, 3, 4], [4]);
    const y = w.mul(x, 2);
    await rt.sync();
    expect(Array.from(await y.data())).toEqual([2, 4, 6, 8]);
    rt.politeWaits = false;
    try {
      expect(Array.from(await w.add(y, 1).data())).toEqual([3, 5, 7, 9]);
    } finally {
      rt.politeWaits = true;
    }
    x.dispose();
    y.dispose();
  });
});
