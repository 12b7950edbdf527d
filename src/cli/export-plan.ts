/**
 * What train_ddp.py needs to know about a run, computed from the run's own objects so that it
 * trains what `webmtl train` would: train_plan.json (tasks with their loss settings, balancer,
 * optimiser group as webmtl's optimiser states it, schedule, batch, parameter order) and the
 * training data as safetensors shards (the samples webmtl's loader yields, deterministic resizing
 * only, so the shards are the same on every machine).
 */
import { ArgumentError } from '../errors.js';
import { DataLoader } from '../data/loader.js';
import { join } from 'node:path';
import { writeFileAtomic } from '../io/node-fs.js';
import { encodeSafetensorsHost, type HostTensor } from '../io/safetensors.js';
import type { RunConfig, RunTask } from './config.js';
import type { RunObjects } from './build.js';

/** One task as train_ddp.py computes its loss (src/mtl/tasks' definitions). */
export type PlanTask =
  | { name: string; kind: 'segmentation'; channels: number; ignoreIndex: number }
  | { name: string; kind: 'depth'; channels: 1; offset: number }
  | { name: string; kind: 'normals'; channels: 3; loss: 'l1' | 'cosine' }
  | { name: string; kind: 'edge'; channels: 1; posWeight: number }
  | { name: string; kind: 'saliency'; channels: 1 };

/** train_plan.json. */
export interface DdpPlan {
  format: 'webmtl.ddp-plan';
  version: 1;
  run: string;
  seed: number;
  tasks: PlanTask[];
  /** Weight of the deep-supervised predictions' losses (the trainer's auxWeight). */
  auxWeight: number;
  balancer: { method: string; name: string; weights?: number[]; alpha?: number; lr?: number; optimizer?: string; initialLosses?: number[] | null; minWeight?: number };
  /** GradNorm's W by name (the model's lastSharedLayer), or null. */
  lastSharedLayer: string | null;
  /** webmtl's optimiser kind and its group options (webmtl's names), lr = the base lr. */
  optimizer: { kind: string; group: Record<string, unknown> };
  /** Model parameters in the optimiser's order (balancer parameters follow them). */
  parameters: string[];
  schedule: { kind: RunConfig['schedule']['kind']; warmupSteps: number; totalSteps: number; power: number };
  train: { batchSize: number; epochs: number; stepsPerEpoch: number };
}

/** The balancers train_ddp.py implements. */
export const DDP_BALANCERS = ['equal', 'fixed', 'uncertainty', 'gradnorm'] as const;

/**
 * The depth offset buildRun gives the depth task: the mean valid depth of the training statistics
 * (src/cli/build.ts computes it the same way).
 */
function depthOffset(objects: RunObjects): number {
  const d = objects.stats.sums.depth;
  return d && d.n > 0 ? d.sum[0]! / d.n : 0;
}

function planTask(name: RunTask, channels: number, objects: RunObjects): PlanTask {
  const table: { [K in RunTask]: () => PlanTask } = {
    semseg: () => ({ name, kind: 'segmentation', channels, ignoreIndex: 255 }),
    human_parts: () => ({ name, kind: 'segmentation', channels, ignoreIndex: 255 }),
    depth: () => ({ name, kind: 'depth', channels: 1, offset: depthOffset(objects) }),
    normals: () => ({ name, kind: 'normals', channels: 3, loss: 'l1' }),
    edge: () => ({ name, kind: 'edge', channels: 1, posWeight: 0.95 }),
    sal: () => ({ name, kind: 'saliency', channels: 1 }),
  };
  return table[name]();
}

/**
 * The plan of run `cfg` built into `objects` (see the file comment). Throws an ArgumentError for a
 * balancer train_ddp.py does not implement, naming the ones it does, and for GradNorm on a model
 * without a last shared layer.
 */
export function ddpPlan(cfg: RunConfig, objects: RunObjects): DdpPlan {
  const method = cfg.balancer.method;
  if (!(DDP_BALANCERS as readonly string[]).includes(method)) {
    throw new ArgumentError('export', `balancer '${method}' has no DDP version in train_ddp.py (use ${DDP_BALANCERS.join(', ')}); change the run's balancer or export --to onnx only`);
  }
  const { model, tasks, optimizer, stepsPerEpoch } = objects;
  const names = new Map(model.namedParameters().map(([n, t]) => [t, n]));
  const W = model.lastSharedLayer();
  const spec = cfg.balancer as Record<string, unknown>;
  const balancer: DdpPlan['balancer'] = { method, name: objects.balancer.name };
  if (method === 'fixed') {
    const w = spec.weights as number[] | Record<string, number> | undefined;
    balancer.weights = w === undefined ? tasks.map((t) => t.weight) : Array.isArray(w) ? [...w] : tasks.map((t) => w[t.name] ?? 1);
  }
  if (method === 'gradnorm') {
    if (!W) throw new ArgumentError('export', `GradNorm needs the model's last shared layer and '${cfg.model.arch}' has none`);
    const il = spec.initialLosses as number[] | Record<string, number> | undefined;
    Object.assign(balancer, {
      alpha: (spec.alpha as number | undefined) ?? 1.5,
      lr: (spec.lr as number | undefined) ?? 0.025,
      optimizer: (spec.optimizer as string | undefined) ?? 'adam',
      initialLosses: il === undefined ? null : Array.isArray(il) ? [...il] : tasks.map((t) => il[t.name]!),
      minWeight: (spec.minWeight as number | undefined) ?? 0,
    });
  }
  const { params: _ids, ...group } = optimizer.stateDict().paramGroups[0]! as Record<string, unknown>;
  group.lr = cfg.optimizer.lr;
  return {
    format: 'webmtl.ddp-plan',
    version: 1,
    run: cfg.name,
    seed: cfg.seed,
    tasks: cfg.tasks.map((t, i) => planTask(t, tasks[i]!.channels, objects)),
    auxWeight: 1,
    balancer,
    lastSharedLayer: W ? names.get(W) ?? null : null,
    optimizer: { kind: optimizer.stateDict().kind, group },
    parameters: model.namedParameters().map(([n]) => n),
    schedule: { kind: cfg.schedule.kind, warmupSteps: cfg.schedule.warmupSteps, totalSteps: stepsPerEpoch * cfg.train.epochs, power: 0.9 },
    train: { batchSize: cfg.train.batchSize, epochs: cfg.train.epochs, stepsPerEpoch },
  };
}

/** What {@link writeTrainingShards} wrote: data/train.json's content. */
export interface ShardIndex {
  format: 'webmtl.samples';
  samples: number;
  shards: { file: string; samples: number }[];
}

/**
 * Writes the first `limit` training samples (all by default) into `dir` as safetensors shards of
 * at most about `shardBytes` each (`train-00000.safetensors`, ...) and their index `train.json`,
 * holding one shard in memory at a time. A shard has `input` [n, 3, H, W] f32 and per task
 * `target.<task>` (i32 labels or f32 maps) and, where the task has one, `mask.<task>` [n, 1, H, W]:
 * the arrays webmtl's batches carry, deterministic resizing only. Returns the files written
 * (relative to `dir`).
 */
export async function writeTrainingShards(cfg: RunConfig, objects: RunObjects, dir: string, limit = Infinity, shardBytes = 256 * 2 ** 20): Promise<string[]> {
  const loader = new DataLoader(objects.data.train, { batchSize: 16, tasks: cfg.tasks, augment: objects.data.valAugment ?? undefined, prefetch: 1 });
  const index: ShardIndex = { format: 'webmtl.samples', samples: 0, shards: [] };
  let parts = new Map<string, { dtype: 'f32' | 'i32'; shape: number[]; chunks: (Float32Array | Int32Array)[] }>();
  let rows = 0;
  const flush = async () => {
    if (rows === 0) return;
    const out = new Map<string, HostTensor>();
    for (const [k, p] of parts) {
      const total = p.chunks.reduce((a, c) => a + c.length, 0);
      const data = p.dtype === 'i32' ? new Int32Array(total) : new Float32Array(total);
      let o = 0;
      for (const c of p.chunks) (data.set(c, o), (o += c.length));
      out.set(k, { dtype: p.dtype, shape: p.shape, data });
    }
    const file = `train-${String(index.shards.length).padStart(5, '0')}.safetensors`;
    await writeFileAtomic(join(dir, file), encodeSafetensorsHost(out), 'export');
    index.shards.push({ file, samples: rows });
    index.samples += rows;
    parts = new Map();
    rows = 0;
  };
  // Rows [a, b) of a batch array into the current shard.
  const add = (key: string, data: Float32Array | Int32Array, shape: readonly number[], a: number, b: number) => {
    const per = data.length / shape[0]!;
    const p = parts.get(key) ?? { dtype: data instanceof Int32Array ? ('i32' as const) : ('f32' as const), shape: [0, ...shape.slice(1)], chunks: [] };
    p.chunks.push(data.slice(a * per, b * per));
    p.shape[0]! += b - a;
    parts.set(key, p);
  };
  let seen = 0;
  for await (const h of loader.hostBatches(0)) {
    const n = Math.min(h.ids.length, limit - seen);
    const arrays: [string, Float32Array | Int32Array, readonly number[]][] = [['input', h.input, h.inputShape]];
    for (const [t, v] of Object.entries(h.targets)) {
      arrays.push([`target.${t}`, v.target, v.shape]);
      if (v.mask) arrays.push([`mask.${t}`, v.mask, v.maskShape!]);
    }
    const perSample = arrays.reduce((acc, [, d, sh]) => acc + d.byteLength / sh[0]!, 0);
    const perShard = Math.max(1, Math.floor(shardBytes / perSample));
    for (let a = 0; a < n; ) {
      const b = Math.min(n, a + perShard - rows);
      for (const [k, d, sh] of arrays) add(k, d, sh, a, b);
      rows += b - a;
      a = b;
      if (rows >= perShard) await flush();
    }
    seen += n;
    if (seen >= limit) break;
  }
  await flush();
  await writeFileAtomic(join(dir, 'train.json'), new TextEncoder().encode(`${JSON.stringify(index, null, 2)}\n`), 'export');
  return [...index.shards.map((s) => s.file), 'train.json'];
}
