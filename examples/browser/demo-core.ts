/**
 * The training side of the browser demo, free of the DOM so that it runs unchanged in Node (for
 * speed comparisons) and in the page: synthetic 32x32 scenes, a tiny shared-encoder ResNet-18 with
 * one conv head per task, GradNorm weights, Adam. Everything comes from the library's public entry.
 */
import {
  Adam,
  SyntheticScenes,
  Trainer,
  collate,
  createBalancer,
  createModel,
  depthTask,
  disposeBatch,
  edgeTask,
  noGrad,
  normalsTask,
  segmentationTask,
  tidy,
  type MultiTaskBatch,
  type Sample,
  type SampleTask,
  type StepLog,
  type Task,
  type Tensor,
} from '../../src/browser.js';

/** The tasks the demo trains, in the order the model predicts them. */
export const DEMO_TASKS = ['semseg', 'depth', 'normals', 'edge'] as const satisfies readonly SampleTask[];
/** One of {@link DEMO_TASKS}. */
export type DemoTask = (typeof DEMO_TASKS)[number];

/** Options of {@link DemoSession.create}; every field has a default sized for a software adapter. */
export interface DemoOptions {
  /** Image side in pixels (default 32). */
  size?: number;
  /** Training scenes generated up front (default 32). */
  samples?: number;
  /** Scenes per step (default 4). */
  batchSize?: number;
  /** Seed of the scenes and of the initial weights (default 0). */
  seed?: number;
  /** Adam learning rate (default 2e-3). */
  lr?: number;
  /** Encoder output stride (default 8: a 4x4 feature map at 32x32; 32 leaves a single pixel). */
  outputStride?: 8 | 16 | 32;
  /** GradNorm asymmetry (default 1.5). */
  alpha?: number;
  /** Learning rate of GradNorm's weights (default 0.025, the library's; larger moves them sooner). */
  weightLr?: number;
}

/** What the panel shows for one scene: the input and, per task, prediction and ground truth. */
export interface Preview {
  size: number;
  /** Normalised image f32 [3, H, W] (undo with the dataset's mean/std). */
  image: Float32Array;
  mean: readonly [number, number, number];
  std: readonly [number, number, number];
  numClasses: number;
  /** Per task: host arrays of the prediction (post-processed; semseg as labels) and ground truth. */
  tasks: Record<DemoTask, { pred: Float32Array | Int32Array; truth: Float32Array | Int32Array }>;
}

/** Argmax over the channels of logits [C, H*W] (one image) as i32 labels [H*W]. */
function argmaxChannels(logits: Float32Array, channels: number, hw: number): Int32Array {
  const out = new Int32Array(hw);
  for (let p = 0; p < hw; p++) {
    let best = 0;
    for (let c = 1; c < channels; c++) if (logits[c * hw + p]! > logits[best * hw + p]!) best = c;
    out[p] = best;
  }
  return out;
}

/** A model, its data and its trainer; one training step at a time. */
export class DemoSession {
  /** Wall time of each step in milliseconds (the first includes shader compilation). */
  readonly stepMs: number[] = [];

  private constructor(
    readonly trainer: Trainer,
    private readonly samples: Sample[],
    private readonly preview: Sample,
    private readonly batchSize: number,
    private readonly dataset: SyntheticScenes,
  ) {}

  /**
   * Generates the scenes on the host (yielding to the event loop every few so a page stays
   * responsive), then builds the tasks (depth offset = mean training depth), the model, GradNorm
   * and Adam. Needs `init()` to have run.
   */
  static async create(opts: DemoOptions = {}, onProgress?: (done: number, total: number) => void): Promise<DemoSession> {
    const size = opts.size ?? 32;
    const n = opts.samples ?? 32;
    const seed = opts.seed ?? 0;
    const dataset = new SyntheticScenes({ size, length: n, seed, tasks: [...DEMO_TASKS] });
    const samples: Sample[] = [];
    for (let i = 0; i < n; i++) {
      samples.push(dataset.getSync(i));
      if (i % 4 === 3) {
        onProgress?.(i + 1, n);
        await new Promise((r) => setTimeout(r, 0));
      }
    }
    const preview = new SyntheticScenes({ size, length: 1, seed, split: 'val', tasks: [...DEMO_TASKS] }).getSync(0);
    let sum = 0;
    let count = 0;
    for (const s of samples) for (const d of s.depth!) if (d > 0 && Number.isFinite(d)) (sum += d), count++;
    const tasks: Task[] = [
      segmentationTask({ numClasses: dataset.info.numClasses! }),
      depthTask({ offset: count > 0 ? sum / count : 0 }),
      normalsTask(),
      edgeTask(),
    ];
    const model = createModel({ arch: 'shared-encoder', backbone: 'resnet18', width: 0.125, outputStride: opts.outputStride ?? 8, head: 'conv', seed }, tasks);
    const balancer = createBalancer({ method: 'gradnorm', alpha: opts.alpha ?? 1.5, lr: opts.weightLr ?? 0.025 }, model.taskNames);
    const optimizer = new Adam([...model.parameters()], { lr: opts.lr ?? 2e-3 });
    const trainer = new Trainer({ model, tasks, balancer, optimizer, logEvery: 1 });
    return new DemoSession(trainer, samples, preview, opts.batchSize ?? 4, dataset);
  }

  /** Steps taken so far. */
  get step(): number {
    return this.trainer.step;
  }

  /** The batch of step `k`: consecutive scenes, wrapping around the generated set. */
  private batch(k: number): MultiTaskBatch {
    const picked: Sample[] = [];
    for (let j = 0; j < this.batchSize; j++) picked.push(this.samples[(k * this.batchSize + j) % this.samples.length]!);
    return collate(picked, DEMO_TASKS);
  }

  /** Runs one step and returns its losses and GradNorm weights (read back every step). */
  async trainStep(): Promise<StepLog> {
    const t0 = performance.now();
    const b = this.batch(this.trainer.step);
    try {
      await this.trainer.trainStep(b);
    } finally {
      disposeBatch(b);
    }
    const log = this.trainer.history[this.trainer.history.length - 1]!;
    this.stepMs.push(performance.now() - t0);
    return log;
  }

  /** Predicts the held-out preview scene (eval mode, no gradients) and returns host arrays. */
  async predict(): Promise<Preview> {
    const { model, tasks } = this.trainer;
    const s = this.preview;
    const hw = s.height * s.width;
    const b = collate([s], DEMO_TASKS);
    model.eval();
    let outs: Record<string, Tensor>;
    try {
      outs = noGrad(() =>
        tidy(() => {
          const out = model.forward(b.input);
          return Object.fromEntries(tasks.map((t) => [t.name, t.postprocess ? t.postprocess(out.outputs[t.name]!) : out.outputs[t.name]!]));
        }),
      ) as Record<string, Tensor>;
    } finally {
      model.train();
      disposeBatch(b);
    }
    const host: Record<string, Float32Array> = {};
    try {
      for (const [k, t] of Object.entries(outs)) host[k] = (await t.data()) as Float32Array;
    } finally {
      for (const t of Object.values(outs)) t.dispose();
    }
    const numClasses = this.dataset.info.numClasses!;
    return {
      size: s.height,
      image: s.image,
      mean: this.dataset.info.mean,
      std: this.dataset.info.std,
      numClasses,
      tasks: {
        semseg: { pred: argmaxChannels(host.semseg!, numClasses, hw), truth: s.semseg! },
        depth: { pred: host.depth!, truth: s.depth! },
        normals: { pred: host.normals!, truth: s.normals! },
        edge: { pred: host.edge!, truth: s.edge! },
      },
    };
  }

  /** Frees the model, balancer, optimiser state and trainer logs. */
  dispose(): void {
    this.trainer.dispose();
    this.trainer.balancer.dispose();
    this.trainer.model.dispose();
  }
}
