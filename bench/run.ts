/**
 * `npm run bench`: kernel microbenchmarks on the default adapter. Prints one table and writes it
 * as JSON to bench/results/<host>.json (and latest.json), the host named by CPU model, cores and driver. `npm run bench -- matmul` runs only rows whose op matches.
 * Rows with a peer (matmul, conv2d: TF.js's WebGPU backend on the same adapter) also show its time and the
 * ratio of our throughput to its. GFLOP/s and GB/s rows also show the fraction of the adapter's measured
 * ceiling (bench/ceiling.ts: best FMA kernel, best vec4 copy) they reach.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { init, shutdown } from '../src/index.js';
import { benchAutotune } from './autotune.js';
import { benchBalancers } from './balancers.js';
import { benchCeiling, measureCeiling } from './ceiling.js';
import { benchCompile } from './compile.js';
import { benchConv } from './conv.js';
import { benchDispatch } from './dispatch.js';
import { benchAdd } from './elementwise.js';
import { benchF16 } from './f16.js';
import { benchMatmul, benchMatmulTransposed } from './matmul.js';
import { benchResnet } from './resnet.js';
import { benchSmallNet } from './small-net.js';
import { hostInfo, hostKey } from './host.js';
import { benchCustomLayer } from './custom-layer.js';
import { benchSyntheticScenes } from './synthetic-scenes.js';
import { benchTrainStepRows } from './train-step.js';
import type { BenchRow } from './timing.js';

const suite: { op: string; run: () => Promise<BenchRow | BenchRow[]> }[] = [
  { op: 'ceiling', run: () => benchCeiling() },
  { op: 'matmul', run: () => benchMatmul(256) },
  { op: 'matmul', run: () => benchMatmul(512) },
  { op: 'matmul', run: () => benchMatmul(1024) },
  { op: 'matmul', run: () => benchMatmul(2048) },
  { op: 'matmul A^T B', run: () => benchMatmulTransposed(512, 'transA') },
  { op: 'matmul A B^T', run: () => benchMatmulTransposed(512, 'transB') },
  { op: 'add', run: () => benchAdd(4 << 20) },
  { op: 'tiny add', run: () => benchDispatch(1000) },
  { op: 'conv2d', run: () => benchConv({ n: 8, c: 64, o: 64, hw: 64, k: 3, stride: 1, pad: 1 }) },
  { op: 'conv2d', run: () => benchConv({ n: 8, c: 64, o: 64, hw: 64, k: 1, stride: 1, pad: 0 }) },
  { op: 'conv2d', run: () => benchConv({ n: 8, c: 64, o: 128, hw: 64, k: 3, stride: 2, pad: 1 }) },
  { op: 'resnet18', run: () => benchResnet() },
  { op: 'balancer', run: () => benchBalancers() },
  { op: 'synthetic scenes', run: async () => benchSyntheticScenes() },
  { op: 'train step', run: () => benchTrainStepRows() },
  { op: 'small net step', run: () => benchSmallNet() },
  { op: 'custom localMix', run: () => benchCustomLayer() },
  { op: 'compile', run: () => benchCompile() },
  { op: 'autotune', run: () => benchAutotune() },
  { op: 'f16', run: () => benchF16() },
];

function table(rows: readonly BenchRow[]): string {
  const peers = rows.some((r) => r.peer);
  const ceil = rows.some((r) => r.ofCeiling != null);
  const head = ['op', 'shape', 'median ms', 'throughput', ...(peers ? ['peer ms', 'vs peer'] : []), ...(ceil ? ['of ceiling'] : [])];
  const body = rows.map((r) => [
    r.op,
    r.shape,
    r.ms.toFixed(2),
    `${r.value.toFixed(r.value < 10 ? 2 : 1)} ${r.unit}`,
    ...(peers ? [r.peerMs != null ? r.peerMs.toFixed(2) : '-', r.ratio != null ? `${r.ratio.toFixed(2)}x` : '-'] : []),
    ...(ceil ? [r.ofCeiling != null ? `${(100 * r.ofCeiling).toFixed(1)}%` : '-'] : []),
  ]);
  const notes = rows.filter((r) => r.note).map((r) => `${r.op} ${r.shape}: ${r.note}`);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i]!)).join('  ');
  return [line(head), line(widths.map((n) => '-'.repeat(n))), ...body.map(line), ...notes].join('\n');
}

const filter = process.argv[2];
const rt = await init();
const rows: BenchRow[] = [];
for (const s of suite) {
  if (filter && !s.op.includes(filter)) continue;
  rows.push(...[await s.run()].flat());
}
// The "of ceiling" column: GFLOP/s and GB/s rows over the adapter's measured ceilings (bench/ceiling.ts;
// measured once per process, by the 'ceiling' rows when they ran, else here).
const ceiling = rows.some((r) => (r.unit === 'GFLOP/s' || r.unit === 'GB/s') && !r.op.startsWith('ceiling')) ? await measureCeiling() : null;
if (ceiling) {
  for (const r of rows) {
    if (r.op.startsWith('ceiling')) continue;
    if (r.unit === 'GFLOP/s') r.ofCeiling = r.value / ceiling.gflops;
    else if (r.unit === 'GB/s') r.ofCeiling = r.value / ceiling.gbps;
  }
}
const host = hostInfo();
console.log(`host: ${host.cpu}, ${host.cores} cores; adapter: ${rt.adapterName}${host.vectorBits ? ` (${host.vectorBits}-bit vectors)` : ''}; Node ${host.node}`);
if (ceiling) console.log(`ceiling: ${ceiling.gflops.toFixed(1)} GFLOP/s (vec4 FMA chains, ${ceiling.fma}), ${ceiling.gbps.toFixed(2)} GB/s (vec4 copy, ${ceiling.copy})`);
const peerNames = [...new Set(rows.map((r) => r.peer).filter((p) => p))];
if (peerNames.length) console.log(`peer: ${peerNames.join(', ')} (same adapter; vs peer = our throughput / its throughput)`);
console.log(table(rows));
if (!filter) {
  // One file per host (CPU model, cores, driver and its vector width), so rows measured on
  // different machines are never mixed; latest.json is the last full run on any host.
  const out = { host, adapter: rt.adapterName, date: new Date().toISOString(), ceiling, rows };
  mkdirSync(new URL('./results/', import.meta.url), { recursive: true });
  const text = JSON.stringify(out, null, 2) + '\n';
  writeFileSync(new URL('./results/latest.json', import.meta.url), text);
  writeFileSync(new URL(`./results/${hostKey(host)}.json`, import.meta.url), text);
}
shutdown();
