/**
 * Per-dispatch overhead: `count` adds of 4-element tensors encoded back to back and submitted in
 * batches as usual, so the time is the cost of an op call plus its dispatch, not of arithmetic.
 */
import { add, rand } from '../src/index.js';
import { timeRuns, type BenchRow } from './timing.js';

/** Microseconds per tiny dispatch, over `count` dispatches per run. */
export async function benchDispatch(count: number): Promise<BenchRow> {
  const a = rand([4], { seed: 1 });
  const b = rand([4], { seed: 2 });
  const ms = await timeRuns(() => {
    for (let i = 0; i < count; i++) add(a, b).dispose();
  });
  a.dispose();
  b.dispose();
  return { op: 'tiny add', shape: `${count} dispatches`, ms, value: (ms * 1000) / count, unit: 'us/dispatch' };
}
