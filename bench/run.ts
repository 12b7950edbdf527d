/**
 * `npm run bench`: kernel microbenchmarks on the default adapter. Prints one table and writes it
 * as JSON to bench/results/latest.json. `npm run bench -- matmul` runs only rows whose op matches.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { init, shutdown } from '../src/index.js';
import { benchDispatch } from './dispatch.js';
import { benchAdd } from './elementwise.js';
import { benchMatmul, benchMatmulTransposed } from './matmul.js';
import type { BenchRow } from './timing.js';

const suite: { op: string; run: () => Promise<BenchRow> }[] = [
  { op: 'matmul', run: () => benchMatmul(256) },
  { op: 'matmul', run: () => benchMatmul(512) },
  { op: 'matmul', run: () => benchMatmul(1024) },
  { op: 'matmul A^T B', run: () => benchMatmulTransposed(512, 'transA') },
  { op: 'matmul A B^T', run: () => benchMatmulTransposed(512, 'transB') },
  { op: 'add', run: () => benchAdd(4 << 20) },
  { op: 'tiny add', run: () => benchDispatch(1000) },
];

function table(rows: readonly BenchRow[]): string {
  const head = ['op', 'shape', 'median ms', 'throughput'];
  const body = rows.map((r) => [r.op, r.shape, r.ms.toFixed(2), `${r.value.toFixed(r.value < 10 ? 2 : 1)} ${r.unit}`]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i]!)).join('  ');
  return [line(head), line(widths.map((n) => '-'.repeat(n))), ...body.map(line)].join('\n');
}

const filter = process.argv[2];
const rt = await init();
const rows: BenchRow[] = [];
for (const s of suite) {
  if (filter && !s.op.includes(filter)) continue;
  rows.push(await s.run());
}
console.log(`adapter: ${rt.adapterName}`);
console.log(table(rows));
if (!filter) {
  const out = { adapter: rt.adapterName, date: new Date().toISOString(), rows };
  mkdirSync(new URL('./results/', import.meta.url), { recursive: true });
  writeFileSync(new URL('./results/latest.json', import.meta.url), JSON.stringify(out, null, 2) + '\n');
}
shutdown();
