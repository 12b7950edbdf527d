/**
 * Issue 7's memory check on the demo model: `npx tsx bench/memory-flat.ts [steps=1000]` trains the
 * demo's step (bench/train-step.ts: shared-encoder ResNet-18 w0.25, GradNorm, Adam, batch 8 x 64 x
 * 64) for `steps` steps on one batch and prints the runtime's live buffers and bytes at 10 points
 * plus the peak, so a leak shows as growth between the checkpoints. Exits 1 when live memory after
 * step 100 differs from the end.
 */
import * as w from '../src/index.js';
import { buildDemoStep } from './train-step.js';

const steps = Number(process.argv[2] ?? 1000);
if (!Number.isInteger(steps) || steps < 100) throw new Error('steps must be an integer >= 100');
const rt = await w.init();
const demo = await buildDemoStep('gradnorm');
const rows: { step: number; live: number; mib: number }[] = [];
const t0 = performance.now();
for (let s = 1; s <= steps; s++) {
  await demo.trainer.trainStep(demo.batch);
  if (s === 100 || s % Math.floor(steps / 10) === 0) {
    await rt.sync();
    const m = rt.memory();
    rows.push({ step: s, live: m.live, mib: m.liveBytes / 2 ** 20 });
  }
}
await demo.trainer.drainLogs();
const peak = rt.memory().peakLiveBytes / 2 ** 20;
const secs = (performance.now() - t0) / 1000;
console.log(`adapter: ${rt.adapterName}; ${steps} steps in ${secs.toFixed(0)} s (${(steps / secs).toFixed(2)} steps/s)`);
console.log('step   live buffers   live MiB');
for (const r of rows) console.log(`${String(r.step).padStart(5)}   ${String(r.live).padStart(12)}   ${r.mib.toFixed(2).padStart(8)}`);
console.log(`peak live: ${peak.toFixed(2)} MiB`);
const at100 = rows.find((r) => r.step === 100)!;
const end = rows[rows.length - 1]!;
const flat = at100.live === end.live && Math.abs(at100.mib - end.mib) < 1e-9;
console.log(flat ? 'flat: live memory at step 100 equals the end' : 'GROWTH: live memory changed after step 100');
demo.dispose();
w.shutdown();
process.exit(flat ? 0 : 1);
