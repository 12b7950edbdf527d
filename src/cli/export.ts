/**
 * `webmtl export RUN --to pytorch|onnx [--out DIR]`: a run's model, rebuilt from its config.json
 * with the weights of its last checkpoint, written for PyTorch (model.py, weights.safetensors,
 * train_ddp.py with its train_plan.json, run-config.json and the training data as
 * data/, safetensors shards with their index train.json) or as an ONNX inference graph (model.onnx).
 */
import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ArgumentError } from '../errors.js';
import { modelOnnx } from '../export/onnx/model-onnx.js';
import { modelPy } from '../export/pytorch/model-py.js';
import { TRAIN_DDP_PY } from '../export/pytorch/train-ddp-py.js';
import { loadCheckpoint } from '../io/checkpoint.js';
import { writeFileAtomic } from '../io/node-fs.js';
import { saveSafetensors } from '../io/safetensors-file.js';
import { init } from '../tensor/context.js';
import { buildRun } from './build.js';
import { readRunConfig } from './eval.js';
import { ddpPlan, writeTrainingShards } from './export-plan.js';

/** The export targets. */
export const EXPORT_TARGETS = ['pytorch', 'onnx'] as const;
/** One export target. */
export type ExportTarget = (typeof EXPORT_TARGETS)[number];

/** Options of {@link exportRun}. */
export interface ExportOptions {
  to: ExportTarget;
  /** Output folder (default RUN/export-<to>). */
  out?: string;
  /** PyTorch: training samples written to data/ (default all; 0 writes none). */
  samples?: number;
  /** PyTorch: the size a data shard may reach before the next one starts (default 256 MiB). */
  shardBytes?: number;
}

/** What {@link exportRun} wrote. */
export interface ExportResult {
  dir: string;
  files: string[];
  /** False when the run had no checkpoint and its initial weights were exported. */
  trained: boolean;
}

/**
 * Exports the run in `runDir` (see the file comment). Throws for a folder without config.json, a
 * checkpoint that does not fit the model, a model class or balancer without an exporter (naming it).
 */
export async function exportRun(runDir: string, opts: ExportOptions): Promise<ExportResult> {
  if (!(EXPORT_TARGETS as readonly string[]).includes(opts.to)) {
    throw new ArgumentError('export', `unknown target '${String(opts.to)}' (valid: ${EXPORT_TARGETS.join(', ')})`);
  }
  const config = await readRunConfig(runDir);
  const objects = await buildRun(config);
  const { model, tasks, balancer } = objects;
  try {
    const ckpt = join(runDir, 'checkpoints/last.safetensors');
    const trained = existsSync(ckpt);
    if (trained) await loadCheckpoint(ckpt, { model });
    model.eval();
    // The plan first: a balancer train_ddp.py lacks is refused before anything is written.
    const plan = opts.to === 'pytorch' ? ddpPlan(config, objects) : null;
    const dir = opts.out ?? join(runDir, `export-${opts.to}`);
    await mkdir(dir, { recursive: true });
    const inChannels = (config.model as { inChannels?: number }).inChannels ?? 3;
    const info = { tasks: tasks.map((t) => ({ name: t.name, channels: t.channels })), inChannels };
    const files: string[] = [];
    const put = async (name: string, text: string | Uint8Array) => {
      await writeFileAtomic(join(dir, name), typeof text === 'string' ? new TextEncoder().encode(text) : text, 'export');
      files.push(name);
    };
    if (opts.to === 'onnx') {
      const s = config.data.size;
      const size: [number, number] = typeof s === 'number' ? [s, s] : [s[0], s[1]];
      await put('model.onnx', await modelOnnx(model, { ...info, size, opset: 17, docString: `webmtl run ${config.name} (${config.model.arch})` }));
      return { dir, files, trained };
    }
    const source = `Run: ${config.name} (${config.model.arch}), exported from ${runDir}${trained ? '' : ' before any checkpoint (initial weights)'}.`;
    await put('model.py', modelPy(model, { ...info, source }));
    await saveSafetensors(join(dir, 'weights.safetensors'), model.stateDict(), { format: 'pt', source: 'webmtl export' });
    files.push('weights.safetensors');
    await put('train_ddp.py', TRAIN_DDP_PY);
    await put('train_plan.json', `${JSON.stringify(plan!, null, 2)}\n`);
    await put('run-config.json', `${JSON.stringify(config, null, 2)}\n`);
    if ((opts.samples ?? Infinity) > 0) {
      await mkdir(join(dir, 'data'), { recursive: true });
      files.push(...(await writeTrainingShards(config, objects, join(dir, 'data'), opts.samples, opts.shardBytes)).map((f) => `data/${f}`));
    }
    return { dir, files, trained };
  } finally {
    balancer.dispose();
    model.dispose();
  }
}

/** The `webmtl export` action. */
export async function exportCommand(runDir: string, opts: { to: string; out?: string; samples?: string }): Promise<void> {
  await init();
  const samples = opts.samples === undefined ? undefined : Number(opts.samples);
  if (samples !== undefined && !(Number.isInteger(samples) && samples >= 0)) {
    throw new ArgumentError('export', `--samples must be a non-negative integer, got '${opts.samples}'`);
  }
  const r = await exportRun(runDir, { to: opts.to as ExportTarget, out: opts.out, samples });
  if (!r.trained) process.stderr.write(`webmtl: ${runDir} has no checkpoint yet; exported its initial weights\n`);
  process.stdout.write(`webmtl: wrote ${r.files.map((f) => join(r.dir, f)).join(', ')}\n`);
}
