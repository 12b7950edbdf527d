/**
 * The on-disk format of a training run folder, shared by the writer (`webmtl train`) and the
 * readers (`webmtl report`, `compare`). Everything is plain JSON so a run can be inspected with a
 * text editor and read by other tools:
 *
 * ```
 * RUN/
 *   config.json          the resolved run config (any JSON object; see RunConfigLike for the keys
 *                        the report summarises)
 *   metrics.jsonl        one MetricsRecord per line, appended as training goes
 *   checkpoints/last.safetensors  the last checkpoint (src/io/checkpoint.ts), replaced atomically
 *   samples/index.json   a SamplesIndex; the PNG files it names lie next to it
 *   samples/*.png
 *   report.html          written by `webmtl report RUN`
 *   train.lock           while a trainer runs: {"pid","host","started"} of the one that owns the folder
 * ```
 *
 * metrics.jsonl never holds a step or epoch twice: `webmtl train --resume` first cuts it back to the
 * records its checkpoint covers (see metrics-file.ts), so readers may take every line as it is.
 *
 * Numbers that are NaN or infinite (a metric with nothing counted) are written as `null`, which is
 * what JSON.stringify does anyway; readers treat null as "not available".
 */

/** File and folder names inside a run folder. */
export const RUN_FILES = {
  config: 'config.json',
  metrics: 'metrics.jsonl',
  samplesDir: 'samples',
  samplesIndex: 'samples/index.json',
  report: 'report.html',
} as const;

/** A number, or null where it was NaN/infinite or not computed. */
export type MaybeNumber = number | null;

/** Per task name, a number (loss or balancing weight). */
export type PerTask = Record<string, number>;

/** Per task name, per metric name, a value: e.g. `{"semseg": {"mIoU": 0.41, "pixelAcc": 0.7}}`. */
export type TaskMetricValues = Record<string, Record<string, MaybeNumber>>;

/** Per task name, per metric name, whether a higher value is better (a Metric's `higherIsBetter`). */
export type MetricDirections = Record<string, Record<string, boolean>>;

/**
 * A training step's numbers; written every `logEvery` steps, not necessarily every step.
 * `{"type":"step","step":120,"epoch":1,"time":34.2,"lr":0.001,"losses":{...},"weights":{...}}`
 */
export interface StepRecord {
  type: 'step';
  /** Optimisation steps taken so far (1-based: the first step is step 1). */
  step: number;
  /** Epoch the step belongs to (0-based). */
  epoch: number;
  /** Seconds since the start of training. */
  time: number;
  /** Learning rate used in this step. */
  lr: number;
  /** Unweighted loss per task. */
  losses: PerTask;
  /** The balancer's weight per task in this step. */
  weights: PerTask;
}

/**
 * The end of an epoch: its mean training losses and weights and the validation metrics after it.
 * `{"type":"epoch","epoch":0,"step":250,"time":61.0,"trainLoss":{...},"weights":{...},"val":{...},"seconds":61.0}`
 */
export interface EpochRecord {
  type: 'epoch';
  /** The epoch that ended (0-based). */
  epoch: number;
  /** Steps taken by the end of this epoch. */
  step: number;
  /** Seconds since the start of training, at the end of this epoch (validation included). */
  time: number;
  /** Mean unweighted training loss per task over the epoch. */
  trainLoss: PerTask;
  /** Mean balancing weight per task over the epoch. */
  weights: PerTask;
  /** Validation metrics after this epoch (may be `{}` when validation was skipped). */
  val: TaskMetricValues;
  /** Seconds this epoch took. */
  seconds: number;
}

/**
 * Trivial baselines on the validation set (mean depth, majority class, constant normal ...),
 * written once, usually before training. `higherIsBetter` lets readers say which side is better.
 */
export interface BaselineRecord {
  type: 'baseline';
  val: TaskMetricValues;
  /** Optional: the direction of every metric in `val`. */
  higherIsBetter?: MetricDirections;
}

/** The final evaluation, written once at the end of a run that finished. */
export interface FinalRecord {
  type: 'final';
  val: TaskMetricValues;
  /** Δ_MTL in percent against the single-task baselines (see src/mtl/metrics/delta-mtl.ts), or null. */
  deltaMTL: MaybeNumber;
  /** Optional: the direction of every metric in `val`. */
  higherIsBetter?: MetricDirections;
}

/** One line of metrics.jsonl. */
export type MetricsRecord = StepRecord | EpochRecord | BaselineRecord | FinalRecord;

/** The task kinds the sample viewer knows how to caption (their PNGs are already coloured). */
export type SampleTaskKind = 'segmentation' | 'depth' | 'normals' | 'edge' | 'saliency' | 'parts' | 'other';

/** A task described in samples/index.json. */
export interface SampleTask {
  /** The task's name, the key into each item's `tasks`. */
  name: string;
  kind: SampleTaskKind;
  /** For segmentation/parts: class names in label order (the report shows a colour legend). */
  classNames?: string[];
}

/** A PNG pair for one task of one sample, file names relative to samples/. */
export interface SampleImages {
  pred: string;
  /** Ground truth; absent when the sample has none for this task. */
  gt?: string;
}

/** One sample: its input image and, per task, the prediction and ground truth images. */
export interface SampleItem {
  /** Any identifier (dataset id or index), shown as the row caption. */
  id: string;
  /** The input image's file name, relative to samples/. */
  input: string;
  /** Per task name (of SamplesIndex.tasks), the images; a task may be missing for a sample. */
  tasks: Record<string, SampleImages>;
}

/**
 * samples/index.json: `{"tasks":[{"name":"semseg","kind":"segmentation","classNames":[...]}],
 * "items":[{"id":"0","input":"0-input.png","tasks":{"semseg":{"pred":"0-semseg-pred.png","gt":"0-semseg-gt.png"}}}]}`.
 * File names must be plain names (no folders, no `..`); src/io/visualize.ts colours and encodes them.
 */
export interface SamplesIndex {
  tasks: SampleTask[];
  items: SampleItem[];
}

/**
 * The keys of config.json that the report summarises (those of src/cli/config.ts's RunConfig); any
 * other keys are shown only in the pretty-printed config. Each section may also be a plain string.
 */
export interface RunConfigLike {
  /** The run's name. */
  name?: string;
  /** The data section: its `kind` (synthetic, nyud, pascal-context) and `size`; `name` if any. */
  data?: string | { kind?: string; name?: string; size?: number | number[] };
  /** Alternative to `data` for other writers. */
  dataset?: string | { name?: string };
  /** The model spec: `arch` and `backbone` (or a `name`). */
  model?: string | { name?: string; arch?: string; backbone?: string };
  /** The balancer spec: `method` (or a `name`). */
  balancer?: string | { method?: string; name?: string };
  /** The optimiser: `kind` and `lr`. */
  optimizer?: string | { kind?: string; lr?: number };
  [key: string]: unknown;
}

/**
 * Serialises one metrics record as a metrics.jsonl line (with its newline). Write each line with a
 * single append so that a crash can at worst truncate the last line, which readers tolerate.
 */
export function metricsLine(record: MetricsRecord): string {
  return JSON.stringify(record) + '\n';
}

/**
 * The conventional sample file name for item `index`: `${index}-input.png` for the input and
 * `${index}-${task}-${role}.png` for a task's prediction or ground truth (task names are sanitised
 * to [A-Za-z0-9_-]).
 */
export function sampleFileName(index: number, task?: string, role?: 'pred' | 'gt'): string {
  if (task === undefined) return `${index}-input.png`;
  return `${index}-${task.replace(/[^A-Za-z0-9_-]/g, '_')}-${role ?? 'pred'}.png`;
}
