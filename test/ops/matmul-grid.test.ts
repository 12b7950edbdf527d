/**
 * Products with a side of C longer than one dispatch's grid covers (65535 workgroups per
 * dimension): a [1, 2] x [2, P] product with P past 65535 x 16 columns, as MGDA-UB's combination of
 * flattened per-task gradients asks, splits into column tiles in every variant and matches the host.
 */
import { describe, expect, it } from 'vitest';
import * as w from '../../src/index.js';
import { MATMUL_GRID_SAFE, matmulRaw, MATMUL_VARIANTS } from '../../src/ops/kernels/matmul.js';
import { devices } from '../helpers/devices.js';

describe.each(devices())('matmul past the dispatch grid on %s', () => {
  it.each(MATMUL_VARIANTS.map((v) => [v] as const))('%s: [1, 2] x [2, P] and its transpose with P past the grid', async (variant) => {
    // Past what `general` (32 columns per workgroup) and `tiled` (64) cover in one dispatch.
    const P = 65535 * 64 + 4099;
    expect(P).toBeGreaterThan(MATMUL_GRID_SAFE);
    const g = w.randn([2, P], { seed: 1 });
    const alpha = w.fromArray([0.25, -1.5], [1, 2]);
    const y = matmulRaw(alpha, g, { batch: 1, m: 1, n: P, k: 2, transA: false, transB: false, strideA: 0, strideB: 0 }, [1, P], variant);
    const [hg, hy] = [await g.data(), await y.data()];
    expect(hy.length).toBe(P);
    for (const j of [0, 1, 65535 * 16 - 1, 65535 * 16, P - 4099, P - 1]) {
      expect(hy[j]).toBeCloseTo(0.25 * hg[j]! - 1.5 * hg[P + j]!, 5);
    }
    // The long side as rows: [P, 2] x [2, 1].
    const col = matmulRaw(g, w.fromArray([2, -1], [2, 1]), { batch: 1, m: P, n: 1, k: 2, transA: true, transB: false, strideA: 0, strideB: 0 }, [P, 1], variant);
    const hc = await col.data();
    for (const j of [0, 65535 * 32, P - 1]) expect(hc[j]).toBeCloseTo(2 * hg[j]! - hg[P + j]!, 5);
    col.dispose();
    // G G^T: the long side is k here, and the result is [2, 2].
    const gram = w.matmul(g, w.transpose(g, 0, 1));
    let want = 0;
    for (let j = 0; j < P; j++) want += hg[j]! * hg[P + j]!;
    expect((await gram.data())[1]!).toBeCloseTo(want, -1);
    for (const t of [g, alpha, y, gram]) t.dispose();
  });
});
