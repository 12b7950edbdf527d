/**
 * The demo's training step (what `npm run demo` trains), end to end through `Trainer.trainStep`:
 * shared-encoder ResNet-18 at width 0.25, output stride 8, 'conv' heads, tasks semseg (6 classes),
 * depth, normals and edges, GradNorm (alpha 1.5) or equal weights, Adam lr 2e-3, one fixed synthetic
 * batch of 8 x 3 x 64 x 64. Reports the first step (shader compiles), ms/step and steps/s (GradNorm
 * and equal weights timed round-robin in one process), dispatches per step, peak live GPU memory,
 * the share of GPU time per kernel family (timestamp queries, one compute pass per dispatch while
 * profiling), and the same step in PyTorch on the CPU (bench/torch/train_step.py) when
 * `/usr/bin/python3` can import torch.
 */
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { loadavg } from 'node:os';
import * as w from '../src/index.js';
import { median, timeInterleaved, type BenchRow } from './timing.js';

/** Balancers the bench compares. */
export type StepMethod = 'gradnorm' | 'equal';

/** A built demo trainer with its batch; `dispose()` frees all of it. */
export interface DemoStep {
  trainer: w.Trainer;
  batch: w.MultiTaskBatch;
  dispose(): void;
}

const SIZE = 64;
const BATCH = 8;

/** The demo's model, tasks, balancer and Adam around one fixed synthetic batch (seed 0). */
export async function buildDemoStep(method: StepMethod): Promise<DemoStep> {
  const tasks = [w.segmentationTask({ numClasses: 6 }), w.depthTask(), w.normalsTask(), w.edgeTask()];
  const names = tasks.map((t) => t.name);
  const model = w.createModel({ arch: 'shared-encoder', backbone: 'resnet18', width: 0.25, outputStride: 8, head: 'conv', seed: 0 }, tasks);
  const balancer = w.createBalancer(method === 'gradnorm' ? { method: 'gradnorm', alpha: 1.5 } : { method: 'equal' }, names);
  const optimizer = new w.Adam([...model.parameters(), ...balancer.parameters()], { lr: 2e-3 });
  const data = new w.SyntheticScenes({ size: SIZE, length: BATCH, seed: 0, tasks: ['semseg', 'depth', 'normals', 'edge'] });
  const samples = await Promise.all(Array.from({ length: BATCH }, (_, i) => data.get(i)));
  const batch = w.collate(samples, ['semseg', 'depth', 'normals', 'edge']);
  const trainer = new w.Trainer({ model, tasks, balancer, optimizer, logEvery: 10 });
  return {
    trainer,
    batch,
    dispose() {
      w.disposeBatch(batch);
      (optimizer as { dispose?: () => void }).dispose?.();
      (balancer as { dispose?: () => void }).dispose?.();
      model.dispose();
    },
  };
}

/** Kernel label (`shader.entry`) -> the family its time is reported under. */
export function kernelFamily(label: string): string {
  const shader = label.split('.')[0]!;
  const families: Record<string, string> = {
    matmul: 'matmul (conv products)',
    'conv-gemm': 'im2col / col2im',
    conv2d: 'direct conv',
    'dilate-pad': 'pad',
    norm: 'batch norm',
    'norm-vec4': 'batch norm',
    unary: 'elementwise',
    binary: 'elementwise',
    where: 'elementwise',
    cast: 'elementwise',
    fill: 'fill',
    copy: 'copy',
    reduce: 'reduce',
    softmax: 'loss',
    loss: 'loss',
    interpolate: 'interpolate',
    pool: 'pool',
    optim: 'optimiser',
  };
  return families[shader] ?? shader;
}

/** Everything {@link benchTrainStep} measured. */
export interface TrainStepReport {
  adapter: string;
  load: number[];
  firstStepMs: Record<StepMethod, number>;
  ms: Record<StepMethod, number>;
  dispatches: Record<StepMethod, number>;
  submits: Record<StepMethod, number>;
  peakBytes: Record<StepMethod, number>;
  /** GPU ms per step by kernel label and by family (GradNorm step). */
  kernels: { label: string; family: string; ms: number; count: number }[];
  gpuMsPerStep: number;
  /** PyTorch peers (2 threads, then 1 thread); empty when unavailable (see torchNote). */
  torch: TorchResult[];
  torchNote: string;
}

/** The PyTorch peer's medians, timed round-robin with ours. */
export interface TorchResult {
  torch: string;
  threads: number;
  ms: Record<StepMethod, number>;
  first_step_ms: number;
}

async function oneStep(d: DemoStep): Promise<void> {
  await d.trainer.trainStep(d.batch);
  await w.runtime().sync();
}

/** The PyTorch peer as a child process that runs one step per request (see train_step.py). */
export interface TorchPeer {
  header: { torch: string; threads: number; first_step_ms: number };
  /** Runs one step of `method` and resolves with PyTorch's own wall-clock ms for it. */
  step(method: StepMethod): Promise<number>;
  close(): void;
}

/**
 * Starts bench/torch/train_step.py under /usr/bin/python3 (Debian's python3-torch) with `threads`
 * intra-op threads; resolves with null and a reason when python or torch is missing or the script fails.
 */
export async function startTorch(threads: number): Promise<{ peer: TorchPeer | null; note: string }> {
  const script = fileURLToPath(new URL('./torch/train_step.py', import.meta.url));
  // Passive OpenMP waits: with the default (spinning) policy, 2 threads on 2 loaded cores took
  // 1.5-3.2 s per step against 0.12-0.15 s passive (bench/README.md).
  const env = { ...process.env, OMP_WAIT_POLICY: 'PASSIVE' };
  const child = spawn('/usr/bin/python3', [script, '--threads', String(threads)], { stdio: ['pipe', 'pipe', 'pipe'], env });
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += String(d)));
  const lines = createInterface({ input: child.stdout });
  const waiting: ((line: string | null) => void)[] = [];
  lines.on('line', (l) => waiting.shift()?.(l));
  const closed = new Promise<void>((resolve) => child.on('close', () => resolve()));
  void closed.then(() => waiting.splice(0).forEach((f) => f(null)));
  child.on('error', () => {});
  const next = () => new Promise<string | null>((resolve) => waiting.push(resolve));
  const first = await next();
  if (first === null || !first.startsWith('{')) {
    child.kill();
    const why = /No module named 'torch'/.test(stderr) ? '/usr/bin/python3 cannot import torch (apt-get install -y python3-torch)' : stderr.trim().split('\n').pop() || 'python3 did not start';
    return { peer: null, note: `PyTorch row skipped: ${why}` };
  }
  return {
    note: '',
    peer: {
      header: JSON.parse(first) as TorchPeer['header'],
      async step(method) {
        const reply = next();
        child.stdin.write(`${method}\n`);
        const line = await reply;
        if (line === null) throw new Error(`PyTorch peer exited: ${stderr.trim().split('\n').pop()}`);
        return Number(line);
      },
      close() {
        child.stdin.end('quit\n');
      },
    },
  };
}

/**
 * Measures the demo step (see the file comment). `runs` timed steps per method after `warmup`;
 * `profileSteps` GradNorm steps under the timestamp profiler; `torch` runs the PyTorch peer.
 */
export async function benchTrainStep(opts: { runs?: number; warmup?: number; profileSteps?: number; torch?: boolean } = {}): Promise<TrainStepReport> {
  const rt = w.runtime();
  const runs = opts.runs ?? 9;
  const load: number[] = [loadavg()[0]!];
  const methods: StepMethod[] = ['gradnorm', 'equal'];
  const built = {} as Record<StepMethod, DemoStep>;
  const firstStepMs = {} as Record<StepMethod, number>;
  const dispatches = {} as Record<StepMethod, number>;
  const submits = {} as Record<StepMethod, number>;
  const peakBytes = {} as Record<StepMethod, number>;
  for (const m of methods) {
    // One model at a time while its memory is measured, so the peak is that step's alone.
    const d = await buildDemoStep(m);
    await rt.sync();
    const t0 = performance.now();
    await oneStep(d);
    firstStepMs[m] = performance.now() - t0;
    for (let i = 0; i < (opts.warmup ?? 2); i++) await oneStep(d);
    rt.pool.resetPeak();
    const d0 = rt.dispatchCount;
    const s0 = rt.submitCount;
    await oneStep(d);
    dispatches[m] = rt.dispatchCount - d0;
    submits[m] = rt.submitCount - s0;
    peakBytes[m] = rt.memory().peakLiveBytes;
    d.dispose();
  }
  for (const m of methods) built[m] = await buildDemoStep(m);
  // PyTorch's steps join the round-robin, so load from other jobs hits both libraries alike; its
  // own timer (inside python) excludes the pipe round trip. Two peers: 2 threads (the machine's
  // cores) and 1 thread (what a loaded 2-core machine really gives a process).
  const fns: Record<string, () => Promise<void>> = Object.fromEntries(methods.map((m) => [m, () => oneStep(built[m])]));
  const peers: { threads: number; peer: TorchPeer; times: Record<StepMethod, number[]> }[] = [];
  let torchNote = 'PyTorch row not run';
  if (opts.torch ?? true) {
    for (const threads of [2, 1]) {
      const started = await startTorch(threads);
      torchNote = started.note;
      if (!started.peer) break;
      const entry = { threads, peer: started.peer, times: { gradnorm: [] as number[], equal: [] as number[] } };
      peers.push(entry);
      for (const m of methods) fns[`torch${threads} ${m}`] = async () => void entry.times[m].push(await entry.peer.step(m));
    }
  }
  const all = await timeInterleaved(fns, { warmup: 2, runs });
  const ms = { gradnorm: all.gradnorm!, equal: all.equal! };
  const torch: TorchResult[] = peers.map(({ peer, times }) => {
    const med = (m: StepMethod) => median(times[m].slice(2)); // after timeInterleaved's 2 warm-up rounds
    peer.close();
    return { ...peer.header, ms: { gradnorm: med('gradnorm'), equal: med('equal') } };
  });
  load.push(loadavg()[0]!);

  const kernels: TrainStepReport['kernels'] = [];
  let gpuMsPerStep = NaN;
  const prof = rt.profiler;
  const steps = opts.profileSteps ?? 3;
  if (prof && steps > 0) {
    await prof.collect();
    prof.reset();
    prof.enabled = true;
    for (let i = 0; i < steps; i++) await oneStep(built.gradnorm);
    prof.enabled = false;
    const times = await prof.collect();
    prof.reset();
    for (const [label, t] of times) kernels.push({ label, family: kernelFamily(label), ms: t.ms / steps, count: t.count / steps });
    kernels.sort((a, b) => b.ms - a.ms);
    gpuMsPerStep = kernels.reduce((s, k) => s + k.ms, 0);
  }
  for (const m of methods) built[m].dispose();
  return { adapter: rt.adapterName, load, firstStepMs, ms, dispatches, submits, peakBytes, kernels, gpuMsPerStep, torch, torchNote };
}

/** The op-family table (GPU ms per step and share) plus the top kernels, as text. */
export function familyTable(r: TrainStepReport, top = 12): string {
  const fam = new Map<string, { ms: number; count: number }>();
  for (const k of r.kernels) {
    const f = fam.get(k.family) ?? { ms: 0, count: 0 };
    f.ms += k.ms;
    f.count += k.count;
    fam.set(k.family, f);
  }
  const total = r.gpuMsPerStep;
  const rows = [...fam].sort((a, b) => b[1].ms - a[1].ms);
  const lines = [`GPU time per GradNorm step (timestamps, one pass per dispatch): ${total.toFixed(1)} ms over ${r.kernels.reduce((s, k) => s + k.count, 0).toFixed(0)} dispatches`];
  lines.push('family                     ms/step  share  dispatches');
  for (const [name, f] of rows) lines.push(`${name.padEnd(26)} ${f.ms.toFixed(1).padStart(7)} ${((100 * f.ms) / total).toFixed(1).padStart(5)}%  ${f.count.toFixed(0).padStart(6)}`);
  lines.push(`top kernels:`);
  for (const k of r.kernels.slice(0, top)) {
    lines.push(`  ${k.label.padEnd(30)} ${k.ms.toFixed(1).padStart(7)} ms ${((100 * k.ms) / total).toFixed(1).padStart(5)}%  ${k.count.toFixed(0).padStart(5)} x  ${((1000 * k.ms) / k.count).toFixed(0)} us each`);
  }
  return lines.join('\n');
}

/** The bench rows: the GradNorm and equal-weight steps, with PyTorch as the peer when available. */
export async function benchTrainStepRows(): Promise<BenchRow[]> {
  const r = await benchTrainStep();
  console.log(familyTable(r));
  const mib = (b: number) => (b / 2 ** 20).toFixed(1);
  const overhead = ((r.ms.gradnorm / r.ms.equal - 1) * 100).toFixed(0);
  const [t2, t1] = [r.torch.find((t) => t.threads === 2), r.torch.find((t) => t.threads === 1)];
  return (['gradnorm', 'equal'] as const).map((m) => ({
    op: 'train step',
    shape: `demo ${m} 8x3x64x64`,
    ms: r.ms[m],
    value: (BATCH * 1000) / r.ms[m],
    unit: 'images/s' as const,
    note:
      `${(1000 / r.ms[m]).toFixed(2)} steps/s, ${r.dispatches[m]} dispatches (${r.submits[m]} submits)/step, peak ${mib(r.peakBytes[m])} MiB, ` +
      `first step ${(r.firstStepMs[m] / 1000).toFixed(1)} s` +
      (m === 'gradnorm' ? `, GradNorm overhead ${overhead}% over equal` : '') +
      `, load ${r.load.map((x) => x.toFixed(1)).join('/')}` +
      (t2 ? '' : `; ${r.torchNote}`) +
      (t1 ? `; PyTorch 1 thread ${t1.ms[m].toFixed(1)} ms (vs peer ${(t1.ms[m] / r.ms[m]).toFixed(2)}x), first step ${t1.first_step_ms.toFixed(0)} ms` : ''),
    peer: t2 ? `PyTorch ${t2.torch} CPU, ${t2.threads} threads, OMP_WAIT_POLICY=PASSIVE` : undefined,
    peerMs: t2 ? t2.ms[m] : null,
    ratio: t2 ? t2.ms[m] / r.ms[m] : null,
  }));
}

