/**
 * Memory bandwidth of an elementwise op: y = a + b over n floats moves 3n * 4 bytes
 * (two reads, one write), which is what GB/s counts.
 */
import { add, rand } from '../src/index.js';
import { timeRuns, type BenchRow } from './timing.js';

/** y = a + b over `n` elements. */
export async function benchAdd(n: number): Promise<BenchRow> {
  const a = rand([n], { seed: 1 });
  const b = rand([n], { seed: 2 });
  const ms = await timeRuns(() => add(a, b).dispose());
  a.dispose();
  b.dispose();
  return { op: 'add', shape: `${n / (1 << 20)}M f32`, ms, value: (3 * n * 4) / (ms * 1e6), unit: 'GB/s' };
}
