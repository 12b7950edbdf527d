/**
 * Generation speed of the synthetic scenes on the host (no GPU): full samples (render, labels,
 * normalisation) per second at 64x64 and 128x128, one thread. A training step on 8x3x64x64 takes
 * ~100 ms, so a batch of 8 samples must take well under that.
 *
 *   npx tsx bench/synthetic-scenes.ts
 *
 * `benchSyntheticScenes()` returns the rows in the suite's format (unit images/s = samples/s).
 */
import { pathToFileURL } from 'node:url';
import { SyntheticScenes } from '../src/data/synthetic/index.js';
import { median, type BenchRow } from './timing.js';

/**
 * Median milliseconds per batch of `batch` fresh samples at size x size, over `runs` batches:
 * wall time, and CPU time of this process (user + system), which other jobs on a shared machine
 * disturb much less than wall time.
 */
function timeBatches(size: number, batch: number, runs: number): { wall: number; cpu: number } {
  const ds = new SyntheticScenes({ size, length: batch * (runs + 2), seed: 1 });
  let next = 0;
  const one = () => {
    for (let i = 0; i < batch; i++) ds.getSync(next++);
  };
  one();
  one(); // warm-up: JIT
  const wall: number[] = [];
  const cpu: number[] = [];
  for (let r = 0; r < runs; r++) {
    const t0 = performance.now();
    const c0 = process.cpuUsage();
    one();
    const c = process.cpuUsage(c0);
    wall.push(performance.now() - t0);
    cpu.push((c.user + c.system) / 1000);
  }
  return { wall: median(wall), cpu: median(cpu) };
}

/** Rows for 64x64 and 128x128: median wall ms per batch of 8 samples, samples per second, CPU time in the note. */
export function benchSyntheticScenes(runs = 15): BenchRow[] {
  return [64, 128].map((size) => {
    const { wall, cpu } = timeBatches(size, 8, runs);
    const note = `host, one thread; CPU time ${cpu.toFixed(1)} ms per batch (${((8 * 1000) / cpu).toFixed(0)} samples/s of CPU)`;
    return { op: 'synthetic scenes', shape: `8x${size}x${size}`, ms: wall, value: (8 * 1000) / wall, unit: 'images/s', note };
  });
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  for (const r of benchSyntheticScenes()) {
    console.log(`${r.op} ${r.shape}: ${r.ms.toFixed(2)} ms per batch of 8 (wall), ${r.value.toFixed(0)} samples/s; ${r.note}`);
  }
}
