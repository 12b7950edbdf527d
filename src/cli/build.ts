/**
 * Turns a validated run configuration into the objects a run trains: datasets, tasks, model,
 * balancer, optimiser and learning-rate schedule. Every factory validates its own section, so a bad
 * model or balancer spec fails here, before any training starts.
 */
import { ArgumentError } from '../errors.js';
import { NyudDataset } from '../data/nyud.js';
import { PascalContextDataset } from '../data/pascal-context.js';
import { NYUD_EVAL_AUGMENT, NYUD_TRAIN_AUGMENT, PASCAL_EVAL_AUGMENT, PASCAL_TRAIN_AUGMENT, type AugmentOptions } from '../data/augment.js';
import type { Dataset, DatasetInfo } from '../data/sample.js';
import { SyntheticScenes } from '../data/synthetic/index.js';
import { createBalancer, type BalancerSpec } from '../mtl/balance/index.js';
import type { Balancer } from '../mtl/balance/balancer.js';
import { createModel, setRecompute, type ModelSpec } from '../mtl/models/index.js';
import type { MultiTaskModel } from '../mtl/models/model.js';
import type { Task } from '../mtl/task.js';
import { depthTask, edgeTask, humanPartsTask, normalsTask, saliencyTask, segmentationTask } from '../mtl/tasks/index.js';
import { Adam, AdamW } from '../optim/adam.js';
import { SGD } from '../optim/sgd.js';
import { LRScheduler, constantLR, cosineLR, linearWarmup, polyLR, type Schedule } from '../optim/schedules.js';
import { DataLoader, type DatasetRecipe } from '../data/loader.js';
import { accumulateStats, type BaselineStats } from './baselines.js';
import type { RunConfig, RunTask } from './config.js';
import { loadPretrainedBackbones, splitPretrained } from './pretrained-backbone.js';

/** Training and validation data with their augmentation. */
export interface RunData {
  train: Dataset;
  val: Dataset;
  trainAugment: AugmentOptions | null;
  valAugment: AugmentOptions | null;
}

/** Opens the datasets of `cfg.data` for the configured tasks. */
export async function openData(cfg: RunConfig): Promise<RunData> {
  const d = cfg.data;
  const size: [number, number] = typeof d.size === 'number' ? [d.size, d.size] : [d.size[0], d.size[1]];
  if (d.kind === 'synthetic') {
    const bad = cfg.tasks.filter((t) => t === 'human_parts');
    if (bad.length) throw new ArgumentError('config', `the synthetic scenes have no '${bad[0]}' ground truth; tasks: semseg, depth, normals, edge, sal`);
    const tasks = cfg.tasks as Exclude<RunTask, 'human_parts'>[];
    const common = { size, seed: cfg.seed, cache: d.cache, tasks };
    return {
      train: new SyntheticScenes({ ...common, length: d.trainSamples, split: 'train' }),
      val: new SyntheticScenes({ ...common, length: d.valSamples, split: 'val' }),
      trainAugment: null,
      valAugment: null,
    };
  }
  if (d.kind === 'nyud') {
    const bad = cfg.tasks.filter((t) => t === 'sal' || t === 'human_parts');
    if (bad.length) throw new ArgumentError('config', `NYUD-v2 has no '${bad[0]}' ground truth; tasks: semseg, depth, normals, edge`);
    const tasks = cfg.tasks as ('semseg' | 'depth' | 'normals' | 'edge')[];
    const [train, val] = await Promise.all([NyudDataset.open(d.root, { split: 'train', tasks }), NyudDataset.open(d.root, { split: 'val', tasks })]);
    return {
      train: limited(train, d.limit),
      val: limited(val, d.limit),
      trainAugment: d.augment ? { ...NYUD_TRAIN_AUGMENT, resize: size } : { resize: size },
      valAugment: { ...NYUD_EVAL_AUGMENT, resize: size },
    };
  }
  const bad = cfg.tasks.filter((t) => t === 'depth');
  if (bad.length) throw new ArgumentError('config', "PASCAL-Context has no 'depth' ground truth; tasks: semseg, human_parts, sal, normals, edge");
  const tasks = cfg.tasks as ('semseg' | 'human_parts' | 'sal' | 'normals' | 'edge')[];
  const [train, val] = await Promise.all([
    PascalContextDataset.open(d.root, { split: 'train', tasks }),
    PascalContextDataset.open(d.root, { split: 'val', tasks }),
  ]);
  return {
    train: limited(train, d.limit),
    val: limited(val, d.limit),
    trainAugment: d.augment ? { ...PASCAL_TRAIN_AUGMENT, resize: size } : { resize: size },
    valAugment: { ...PASCAL_EVAL_AUGMENT, resize: size },
  };
}

/**
 * The first `limit` samples of a file dataset (all when limit is undefined), keeping a recipe with
 * the ids cut to the limit so worker threads rebuild the same subset.
 */
function limited(ds: NyudDataset | PascalContextDataset, limit: number | undefined): Dataset {
  if (limit === undefined || limit >= ds.length) return ds;
  const recipe = (): DatasetRecipe => {
    const r = ds.recipe();
    return r.kind === 'pascal-context' ? { ...r, ids: r.ids.slice(0, limit), semsegFiles: r.semsegFiles.slice(0, limit) } : { ...r, ids: r.ids.slice(0, limit) };
  };
  return { info: ds.info, length: limit, get: (i: number) => ds.get(i), recipe } as Dataset;
}

/**
 * The Task objects of the configured tasks, sized from the dataset's info; `depthOffset` (metres,
 * usually the training set's mean depth) is added to the depth head's output.
 */
export function buildTasks(cfg: RunConfig, info: DatasetInfo, depthOffset = 0): Task[] {
  const weight = (t: RunTask) => cfg.taskWeights[t] ?? 1;
  const make: { [K in RunTask]: () => Task } = {
    semseg: () => segmentationTask({ numClasses: need(info.numClasses, 'numClasses', info), weight: weight('semseg') }),
    depth: () => depthTask({ weight: weight('depth'), offset: depthOffset }),
    normals: () => normalsTask({ weight: weight('normals') }),
    edge: () => edgeTask({ weight: weight('edge') }),
    sal: () => saliencyTask({ weight: weight('sal') }),
    human_parts: () => humanPartsTask({ numClasses: need(info.numParts, 'numParts', info) + 1, weight: weight('human_parts') }),
  };
  return cfg.tasks.map((t) => make[t]());
}

function need(v: number | undefined, what: string, info: DatasetInfo): number {
  if (v === undefined) throw new ArgumentError('config', `dataset '${info.name}' does not say its ${what}`);
  return v;
}

/** Everything a run trains. */
export interface RunObjects {
  data: RunData;
  tasks: Task[];
  model: MultiTaskModel;
  balancer: Balancer;
  optimizer: Adam | AdamW | SGD;
  scheduler: LRScheduler;
  stepsPerEpoch: number;
  /** Training-set statistics (baselines, depth offset). */
  stats: BaselineStats;
}

/**
 * Builds the whole run from `cfg` (see the file comment). Training-set statistics (from the first
 * 256 training samples, unaugmented, so a resumed run computes the same) give the depth offset and
 * the trivial baselines.
 */
export async function buildRun(cfg: RunConfig): Promise<RunObjects> {
  const data = await openData(cfg);
  const stats = await trainingStats(cfg, data, buildTasks(cfg, data.train.info));
  const depth = stats.sums.depth;
  const tasks = buildTasks(cfg, data.train.info, depth && depth.n > 0 ? depth.sum[0]! / depth.n : 0);
  const names = tasks.map((t) => t.name);
  const { spec, pretrained } = splitPretrained(cfg.model);
  const model = createModel({ seed: cfg.seed, ...spec } as unknown as ModelSpec, tasks);
  if (cfg.train.recompute) setRecompute(model, true);
  let balancer: Balancer;
  try {
    if (pretrained) await loadPretrainedBackbones(model, pretrained.name, pretrained.path);
    const spec = cfg.balancer as unknown as BalancerSpec;
    const withWeights: BalancerSpec = spec.method === 'fixed' && !('weights' in spec) ? { method: 'fixed', weights: tasks.map((t) => t.weight) } : spec;
    balancer = createBalancer(withWeights, names);
  } catch (e) {
    model.dispose();
    throw e;
  }
  const params = [...model.parameters(), ...balancer.parameters()];
  const o = cfg.optimizer;
  const optimizer =
    o.kind === 'sgd'
      ? new SGD(params, { lr: o.lr, momentum: o.momentum, weightDecay: o.weightDecay })
      : o.kind === 'adamw'
        ? new AdamW(params, { lr: o.lr, weightDecay: o.weightDecay })
        : new Adam(params, { lr: o.lr, weightDecay: o.weightDecay });
  const stepsPerEpoch = Math.floor(data.train.length / cfg.train.batchSize);
  if (stepsPerEpoch < 1) {
    throw new ArgumentError('config', `train.batchSize ${cfg.train.batchSize} is larger than the ${data.train.length} training samples`);
  }
  const total = stepsPerEpoch * cfg.train.epochs;
  const base: { [K in RunConfig['schedule']['kind']]: () => Schedule } = {
    constant: () => constantLR(),
    poly: () => polyLR({ maxSteps: total, power: 0.9 }),
    cosine: () => cosineLR({ T: total }),
  };
  let schedule = base[cfg.schedule.kind]();
  if (cfg.schedule.warmupSteps > 0) schedule = linearWarmup(schedule, { warmupSteps: cfg.schedule.warmupSteps });
  const scheduler = new LRScheduler(optimizer, schedule);
  return { data, tasks, model, balancer, optimizer, scheduler, stepsPerEpoch, stats };
}

/** Statistics of the first 256 training samples (unaugmented) for the tasks' baselines. */
export async function trainingStats(cfg: RunConfig, data: RunData, tasks: readonly Task[]): Promise<BaselineStats> {
  const stats: BaselineStats = { counts: {}, sums: {} };
  const loader = new DataLoader(data.train, { batchSize: cfg.train.batchSize, tasks: cfg.tasks, augment: data.valAugment ?? undefined, prefetch: 1 });
  let seen = 0;
  for await (const h of loader.hostBatches(0)) {
    accumulateStats(stats, tasks, h);
    seen += h.ids.length;
    if (seen >= 256) break;
  }
  return stats;
}
