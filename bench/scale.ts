/**
 * How the cost of a training step grows with the work: a 4-task shared encoder (semseg with 40
 * classes, depth, normals, edges; conv heads; equal weights; Adam) on full-width backbones, from
 * 32x32 to 480x640 and batch 1 to 8, with and without recomputation (`train.recompute`), against
 * the same step in PyTorch on the CPU (bench/torch/scale_step.py, same threads) where a peer exists.
 *
 *   npx tsx bench/scale.ts [--backbones resnet18,resnet50,hrnet18] [--sizes 32x32,64x64,240x320,480x640]
 *                          [--batches 1,8] [--recompute off,on] [--steps 2] [--no-torch]
 *
 * Every configuration runs in a child process of its own, so its peak resident memory is its own:
 * reported are the first step (with kernel compiles), the median step, the peak of live GPU buffers,
 * the activation memory the graph keeps until backward (graphMemory), and the process's peak RSS
 * growth (lavapipe's GPU memory is host memory, so this compares with PyTorch's RSS growth).
 * Results go to bench/results/scale-<host>.json and .svg (time and memory against pixels x batch).
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import * as w from '../src/index.js';
import { hostInfo, hostKey, type HostInfo } from './host.js';
import { scaleSvg } from './scale-plot.js';

/** One measured configuration. */
export interface ScaleRow {
  backbone: string;
  batch: number;
  height: number;
  width: number;
  recompute: boolean;
  firstStepMs?: number;
  stepMs?: number;
  peakGpuBytes?: number;
  activationBytes?: number;
  peakRssGrowthBytes?: number;
  torch?: { stepMs: number; peakRssGrowthBytes: number; threads: number } | { error: string };
  error?: string;
}

const TASKS = () => [w.segmentationTask({ numClasses: 40 }), w.depthTask(), w.normalsTask(), w.edgeTask()];

/** Random targets of the four tasks' shapes (the step's time does not depend on the values). */
function makeBatch(n: number, h: number, wd: number): w.MultiTaskBatch {
  return w.tidy(() => {
    const normals = w.randn([n, 3, h, wd], { seed: 3 });
    const len = w.sqrt(w.add(w.sum(w.square(normals), [1], true), 1e-6));
    return {
      input: w.randn([n, 3, h, wd], { seed: 1 }),
      targets: {
        semseg: { target: w.randint([n, h, wd], 0, 40, { seed: 2 }) },
        depth: { target: w.add(w.rand([n, 1, h, wd], { seed: 4 }), 0.5), mask: w.ones([n, 1, h, wd]) },
        normals: { target: w.div(normals, len), mask: w.ones([n, 1, h, wd]) },
        edge: { target: w.lt(w.rand([n, 1, h, wd], { seed: 5 }), 0.05) },
      },
    };
  });
}

/** Measures one configuration in this process (the child's job). */
async function measureOne(backbone: string, n: number, h: number, wd: number, recompute: boolean, steps: number): Promise<ScaleRow> {
  const row: ScaleRow = { backbone, batch: n, height: h, width: wd, recompute };
  const rss0 = process.memoryUsage().rss;
  let peakRss = rss0;
  const sample = () => (peakRss = Math.max(peakRss, process.memoryUsage().rss));
  const timer = setInterval(sample, 50);
  try {
    const rt = await w.init();
    const tasks = TASKS();
    const model = w.createModel({ arch: 'shared-encoder', backbone: backbone as 'resnet18', width: 1, head: 'conv', seed: 0 }, tasks);
    if (recompute) w.setRecompute(model, true);
    const balancer = w.createBalancer({ method: 'equal' }, model.taskNames);
    const optimizer = new w.Adam(model.parameters(), { lr: 1e-4 });
    const trainer = new w.Trainer({ model, tasks, balancer, optimizer, logEvery: 1000 });
    const batch = makeBatch(n, h, wd);
    // The graph's activation memory, from a forward of its own.
    const loss = w.tidy(() => {
      const out = model.forward(batch.input);
      return tasks.map((t) => t.loss(out.outputs[t.name]!, batch.targets[t.name]!)).reduce((a, b) => w.add(a, b));
    });
    row.activationBytes = w.graphMemory(loss).activationBytes;
    loss.dispose();
    await rt.sync();
    rt.memory();
    const times: number[] = [];
    for (let s = 0; s <= steps; s++) {
      const t0 = performance.now();
      await trainer.trainStep(batch);
      await rt.sync();
      times.push(performance.now() - t0);
      sample();
    }
    row.peakGpuBytes = rt.memory().peakLiveBytes;
    row.firstStepMs = times[0];
    const rest = times.slice(1).sort((a, b) => a - b);
    row.stepMs = rest.length ? rest[Math.floor(rest.length / 2)] : times[0];
    w.disposeBatch(batch);
    trainer.dispose();
    model.dispose();
  } catch (e) {
    row.error = (e as Error).message.split('\n')[0];
  } finally {
    clearInterval(timer);
    sample();
    row.peakRssGrowthBytes = peakRss - rss0;
  }
  return row;
}

/** The PyTorch peer's step for the same configuration, or why there is none. */
function torchPeer(row: ScaleRow, steps: number, threads: number): ScaleRow['torch'] {
  if (row.backbone !== 'resnet18' && row.backbone !== 'resnet50') return { error: `no PyTorch peer for ${row.backbone}` };
  const script = fileURLToPath(new URL('./torch/scale_step.py', import.meta.url));
  const r = spawnSync('/usr/bin/python3', [script, row.backbone, String(row.batch), String(row.height), String(row.width), String(steps + 1), String(threads)], { encoding: 'utf8' });
  if (r.status !== 0) return { error: (r.stderr || r.error?.message || 'failed').trim().split('\n').pop()! };
  const j = JSON.parse(r.stdout.trim().split('\n').pop()!) as { ms: number; peak_rss_growth_bytes: number; threads: number };
  return { stepMs: j.ms, peakRssGrowthBytes: j.peak_rss_growth_bytes, threads: j.threads };
}

const mib = (b?: number) => (b === undefined ? '-' : (b / 2 ** 20).toFixed(0));
const ms = (v?: number) => (v === undefined ? '-' : v >= 1000 ? `${(v / 1000).toFixed(2)} s` : `${v.toFixed(0)} ms`);

/** The table bench/README.md carries. */
export function scaleTable(rows: readonly ScaleRow[]): string {
  const lines = [
    '| backbone | batch x size | recompute | step | first step | peak GPU MiB | activations MiB | RSS growth MiB | PyTorch step | PyTorch RSS MiB | time / PyTorch | memory / PyTorch |',
    '|---|---|---|---|---|---|---|---|---|---|---|---|',
  ];
  for (const r of rows) {
    const t = r.torch && 'stepMs' in r.torch ? r.torch : null;
    lines.push(
      `| ${r.backbone} | ${r.batch}x${r.height}x${r.width} | ${r.recompute ? 'on' : 'off'} | ${r.error ? `failed: ${r.error}` : ms(r.stepMs)} | ${ms(r.firstStepMs)} | ${mib(r.peakGpuBytes)} | ${mib(r.activationBytes)} | ${mib(r.peakRssGrowthBytes)} | ${t ? ms(t.stepMs) : '-'} | ${t ? mib(t.peakRssGrowthBytes) : '-'} | ${t && r.stepMs ? (r.stepMs / t.stepMs).toFixed(2) + 'x' : '-'} | ${t && r.peakRssGrowthBytes ? (r.peakRssGrowthBytes / t.peakRssGrowthBytes).toFixed(2) + 'x' : '-'} |`,
    );
  }
  return lines.join('\n');
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      backbones: { type: 'string', default: 'resnet18,resnet50,hrnet18' },
      sizes: { type: 'string', default: '32x32,64x64,128x128,240x320,480x640' },
      batches: { type: 'string', default: '1,8' },
      recompute: { type: 'string', default: 'off,on' },
      steps: { type: 'string', default: '2' },
      torch: { type: 'boolean', default: true },
      'no-torch': { type: 'boolean', default: false },
      one: { type: 'string' },
    },
  });
  const steps = Number(values.steps);
  if (values.one) {
    // Child: one configuration, one JSON line.
    const [backbone, n, h, wd, rc] = values.one.split(',');
    const row = await measureOne(backbone!, Number(n), Number(h), Number(wd), rc === 'on', steps);
    process.stdout.write(`${JSON.stringify(row)}\n`);
    w.shutdown();
    return;
  }
  await w.init();
  const host: HostInfo = hostInfo();
  w.shutdown();
  const rows: ScaleRow[] = [];
  const sizes = values.sizes!.split(',').map((s) => s.split('x').map(Number) as [number, number]);
  for (const backbone of values.backbones!.split(',')) {
    for (const [h, wd] of sizes) {
      for (const n of values.batches!.split(',').map(Number)) {
        for (const rc of values.recompute!.split(',')) {
          const child = spawnSync(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url), '--one', `${backbone},${n},${h},${wd},${rc}`, '--steps', String(steps)], {
            encoding: 'utf8',
            maxBuffer: 16 << 20,
          });
          const last = child.stdout.trim().split('\n').pop() ?? '';
          const row: ScaleRow = last.startsWith('{')
            ? (JSON.parse(last) as ScaleRow)
            : { backbone, batch: n, height: h, width: wd, recompute: rc === 'on', error: (child.stderr || `exit ${child.status}`).trim().split('\n').pop()! };
          if (rc === 'off' && values.torch && !values['no-torch']) row.torch = torchPeer(row, steps, host.cores);
          rows.push(row);
          process.stdout.write(`${scaleTable([row]).split('\n')[2]}\n`);
        }
      }
    }
  }
  const key = hostKey(host);
  const dir = fileURLToPath(new URL('./results/', import.meta.url));
  mkdirSync(dir, { recursive: true });
  writeFileSync(`${dir}scale-${key}.json`, `${JSON.stringify({ host, date: new Date().toISOString(), rows }, null, 1)}\n`);
  writeFileSync(`${dir}scale-${key}.svg`, scaleSvg(rows, `${host.cpu}, ${host.cores} cores, ${host.adapter}`));
  process.stdout.write(`\nhost: ${host.cpu}, ${host.cores} cores, ${host.adapter} (vector ${host.vectorBits ?? '-'} bits), Node ${host.node}\n${scaleTable(rows)}\n`);
}

await main();
