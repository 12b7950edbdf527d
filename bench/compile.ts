/**
 * Shader compile time of the demo model's first training step (bench/train-step.ts: GradNorm, batch
 * 8 x 3 x 64 x 64). On lavapipe `createComputePipeline` only translates the shader (Tint's WGSL to
 * SPIR-V, then Mesa's SPIR-V to NIR, a few ms); llvmpipe compiles it with LLVM at the pipeline's first
 * dispatch, on the queue's thread, and keeps the result in Mesa's on-disk shader cache. So a first step
 * costs its pipelines' LLVM compiles on a fresh machine and only cache reads afterwards.
 *
 * Three conditions, each in its own process (Mesa reads its environment once): `disabled`
 * (`MESA_SHADER_CACHE_DISABLE=true`, nothing cached: the worst case), `fresh` (an empty
 * `MESA_SHADER_CACHE_DIR`: a fresh machine or CI) and `warm` (the same directory again: every later run).
 * The per-pipeline table comes from the `disabled` process: after its timed steps it creates every
 * pipeline again on a new device and compiles each alone with a zero-workgroup indirect dispatch
 * (compiled, not run), timing creation and compile separately (wall and process CPU time; the CPU time
 * is steadier when other jobs share the cores), twice, keeping each pipeline's faster time. The first
 * LLVM compile in a process costs ~0.3 s more than later ones (LLVM's own start-up).
 *
 * `npx tsx bench/compile.ts` prints the table (all three conditions); `--child MODE` is one process;
 * `npm run bench -- compile` gives the three first steps as rows.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir, loadavg } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as w from '../src/index.js';
import { politeWait } from '../src/gpu/polite-wait.js';
import type { PipelineRecord } from '../src/gpu/pipeline-cache.js';
import { buildDemoStep } from './train-step.js';
import type { BenchRow } from './timing.js';

/** Where Mesa's shader cache stands for one measurement. */
export type CacheMode = 'disabled' | 'fresh' | 'warm';

/** One pipeline compiled alone on a second device. */
export interface PipelineCompile {
  key: string;
  /** createComputePipeline (Tint + SPIR-V to NIR), ms. */
  createMs: number;
  /** The first dispatch's submit and wait (the LLVM compile), ms. */
  compileMs: number;
  /** Process CPU time over the same submit and wait, ms. */
  cpuMs: number;
}

/** What one process measured. */
export interface CompileReport {
  mode: CacheMode;
  firstStepMs: number;
  /** Process CPU time (all threads) over the first step: steadier than wall time on a shared machine. */
  firstStepCpuMs: number;
  /** The second step of the same model (no compiles left): what the first step costs without them. */
  secondStepMs: number;
  pipelines: number;
  /**
   * Time inside createComputePipeline during the first step: mostly waiting, since creating a pipeline
   * waits for the queue's thread to finish the work (and compiles) already submitted.
   */
  createMs: number;
  table: PipelineCompile[];
  load: number;
}

const BATCH = 8;

function cpuMs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

/**
 * Creates each recorded pipeline on a new device and compiles it alone: a dispatch whose indirect
 * workgroup count is zero makes llvmpipe compile the pipeline without running it. `passes` new devices
 * in turn; each pipeline keeps its fastest pass (other jobs on the machine only ever add time).
 */
async function compileEach(records: readonly PipelineRecord[], passes = 2): Promise<PipelineCompile[]> {
  let best: PipelineCompile[] = [];
  for (let pass = 0; pass < passes; pass++) {
    const times = await compileOnce(records);
    best = pass === 0 ? times : best.map((b, i) => (times[i]!.cpuMs < b.cpuMs ? times[i]! : b));
  }
  return best;
}

async function compileOnce(records: readonly PipelineRecord[]): Promise<PipelineCompile[]> {
  const rt = await w.Runtime.create({ tuning: false });
  const dev = rt.device;
  const zero = dev.createBuffer({ size: 16, usage: GPUBufferUsage.INDIRECT });
  const uniform = dev.createBuffer({ size: 4096, usage: GPUBufferUsage.UNIFORM });
  const storage = Array.from({ length: 8 }, () => dev.createBuffer({ size: 1 << 16, usage: GPUBufferUsage.STORAGE }));
  const out: PipelineCompile[] = [];
  for (const r of records) {
    const t0 = performance.now();
    const { pipeline, layout } = rt.pipelines.get(r.kernel, r.constants);
    const t1 = performance.now();
    const entries = r.kernel.bindings.map((kind, binding) => ({ binding, resource: { buffer: kind === 'uniform' ? uniform : storage[binding]! } }));
    const enc = dev.createCommandEncoder();
    const pass = enc.beginComputePass();
    pass.setPipeline(pipeline);
    pass.setBindGroup(0, dev.createBindGroup({ layout, entries }));
    pass.dispatchWorkgroupsIndirect(zero, 0);
    pass.end();
    const c0 = cpuMs();
    const t2 = performance.now();
    dev.queue.submit([enc.finish()]);
    await politeWait(() => dev.queue.onSubmittedWorkDone());
    out.push({ key: r.key, createMs: t1 - t0, compileMs: performance.now() - t2, cpuMs: cpuMs() - c0 });
  }
  rt.destroy();
  return out;
}

/** Measures in this process, under whatever Mesa cache environment it was started with. */
export async function measureHere(mode: CacheMode, perPipeline: boolean): Promise<CompileReport> {
  const rt = await w.init();
  const d = await buildDemoStep('gradnorm');
  await rt.sync();
  const load = loadavg()[0]!;
  const n0 = rt.pipelines.created.length;
  const c0 = cpuMs();
  const t0 = performance.now();
  await d.trainer.trainStep(d.batch);
  await rt.sync();
  const firstStepMs = performance.now() - t0;
  const firstStepCpuMs = cpuMs() - c0;
  const t1 = performance.now();
  await d.trainer.trainStep(d.batch);
  await rt.sync();
  const secondStepMs = performance.now() - t1;
  const records = rt.pipelines.created.slice(n0);
  d.dispose();
  const table = perPipeline ? await compileEach(records) : [];
  table.sort((a, b) => b.compileMs - a.compileMs);
  return { mode, firstStepMs, firstStepCpuMs, secondStepMs, pipelines: records.length, createMs: records.reduce((s, r) => s + r.createMs, 0), table, load };
}

/** Runs this file as a child process under `env` and returns its report. */
function child(mode: CacheMode, env: Record<string, string | undefined>): Promise<CompileReport> {
  const self = fileURLToPath(import.meta.url);
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [...process.execArgv, self, '--child', mode], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    p.stdout.on('data', (d) => (out += String(d)));
    p.stderr.on('data', (d) => (err += String(d)));
    p.on('error', reject);
    p.on('close', (code) => {
      const line = out.split('\n').find((l) => l.startsWith('{'));
      if (code !== 0 || !line) reject(new Error(`compile bench child (${mode}) failed: ${err.trim().split('\n').slice(-3).join(' ')}`));
      else resolve(JSON.parse(line) as CompileReport);
    });
  });
}

/** The three conditions (see the file comment), each in a child process. */
export async function measureAll(): Promise<CompileReport[]> {
  const disabled = await child('disabled', { MESA_SHADER_CACHE_DISABLE: 'true' });
  const dir = mkdtempSync(join(tmpdir(), 'webmtl-mesa-cache-'));
  try {
    const env = { MESA_SHADER_CACHE_DISABLE: 'false', MESA_SHADER_CACHE_DIR: dir };
    const fresh = await child('fresh', env);
    const warm = await child('warm', env);
    return [disabled, fresh, warm];
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The per-pipeline table (slowest first), as text. */
export function pipelineTable(r: CompileReport, top = Infinity): string {
  const rows = r.table.slice(0, top);
  const sum = (f: (p: PipelineCompile) => number) => r.table.reduce((s, p) => s + f(p), 0);
  const lines = ['compile ms  cpu ms  create ms  pipeline'];
  for (const p of rows) lines.push(`${p.compileMs.toFixed(0).padStart(10)}  ${p.cpuMs.toFixed(0).padStart(6)}  ${p.createMs.toFixed(1).padStart(9)}  ${p.key}`);
  if (rows.length < r.table.length) lines.push(`  ... ${r.table.length - rows.length} more`);
  lines.push(`${sum((p) => p.compileMs).toFixed(0).padStart(10)}  ${sum((p) => p.cpuMs).toFixed(0).padStart(6)}  ${sum((p) => p.createMs).toFixed(1).padStart(9)}  total over ${r.table.length} pipelines`);
  return lines.join('\n');
}

/** Bench rows: the first step under each cache condition, with pipeline count and the warm step beside it. */
export async function benchCompile(): Promise<BenchRow[]> {
  const reports = await measureAll();
  const disabled = reports.find((r) => r.mode === 'disabled');
  if (disabled) console.log(pipelineTable(disabled, 15));
  return reports.map((r) => ({
    op: 'compile',
    shape: `demo first step, Mesa cache ${r.mode}`,
    ms: r.firstStepMs,
    value: (BATCH * 1000) / r.firstStepMs,
    unit: 'images/s' as const,
    note:
      `CPU ${(r.firstStepCpuMs / 1000).toFixed(1)} s, ${r.pipelines} pipelines (${r.createMs.toFixed(0)} ms of it inside createComputePipeline, waiting for the queue), next step ${r.secondStepMs.toFixed(0)} ms, load ${r.load.toFixed(1)}` +
      (r.table.length ? `; compiled one by one: ${r.table.reduce((s, p) => s + p.compileMs, 0).toFixed(0)} ms` : ''),
  }));
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const at = process.argv.indexOf('--child');
  if (at >= 0) {
    const mode = process.argv[at + 1] as CacheMode;
    const r = await measureHere(mode, mode === 'disabled');
    console.log(JSON.stringify(r));
    w.shutdown();
  } else {
    const reports = await measureAll();
    for (const r of reports) {
      console.log(`Mesa cache ${r.mode}: first step ${r.firstStepMs.toFixed(0)} ms (CPU ${r.firstStepCpuMs.toFixed(0)} ms), next step ${r.secondStepMs.toFixed(0)} ms, ${r.pipelines} pipelines, load ${r.load.toFixed(1)}`);
    }
    const disabled = reports.find((r) => r.mode === 'disabled');
    if (disabled) console.log(pipelineTable(disabled));
  }
}
