/**
 * `SyntheticScenes`: the built-in multi-task dataset of ray-cast indoor scenes, generated on the
 * host on demand. Sample i of a dataset with seed s and split p is a pure function of (s, p, i,
 * size): its scene is drawn from a generator seeded by hashing the three, so it is bit-identical
 * however many other samples were generated, and in whatever order. Train and val draw from
 * different streams of the same seed.
 */
import { ArgumentError } from '../../errors.js';
import type { Dataset, DatasetInfo, Sample, SampleTask } from '../sample.js';
import { IMAGE_MEAN, IMAGE_STD, normaliseImage, saliency, semanticEdges } from './labels.js';
import { renderScene, type RenderOutput } from './render.js';
import { Rng, sampleSeed } from './rng.js';
import { sampleScene, SYNTHETIC_CLASSES, type Scene } from './scene.js';

/** Tasks the synthetic scenes can carry (all but human parts). */
export const SYNTHETIC_TASKS = ['semseg', 'depth', 'normals', 'edge', 'sal'] as const;
/** One of {@link SYNTHETIC_TASKS}. */
export type SyntheticTask = (typeof SYNTHETIC_TASKS)[number];

/** Options of {@link SyntheticScenes}. */
export interface SyntheticScenesOptions {
  /** Image size: one number for a square, or [height, width]; integers >= 32. */
  readonly size: number | readonly [number, number];
  /** Number of samples (a positive integer). */
  readonly length: number;
  /** Seed (a safe integer); the same seed gives the same dataset. */
  readonly seed: number;
  /** Which stream of the seed: 'train' (default) or 'val'; the two share no samples. */
  readonly split?: 'train' | 'val';
  /** Keep generated samples in memory so a second get(i) returns them at once (default false). */
  readonly cache?: boolean;
  /** Tasks the samples carry (default all of {@link SYNTHETIC_TASKS}); the image is always there. */
  readonly tasks?: readonly SyntheticTask[];
}

/** What a worker thread needs to rebuild a {@link SyntheticScenes} (plain data; see DataLoader's `workers`). */
export interface SyntheticRecipe {
  readonly kind: 'synthetic';
  readonly options: SyntheticScenesOptions;
}

const OP = 'SyntheticScenes';
const STREAMS = { train: 0x747261696e, val: 0x76616c } as const;

/** Checks that `x` is an integer >= min; throws ArgumentError naming `what` otherwise. */
function checkInt(x: unknown, min: number, what: string): number {
  if (typeof x !== 'number' || !Number.isSafeInteger(x) || x < min) {
    throw new ArgumentError(OP, `${what} must be an integer >= ${min}, got ${String(x)}`);
  }
  return x;
}

/**
 * The synthetic multi-task scene dataset: RGB image normalised with ImageNet's mean/std, semantic classes ({@link SYNTHETIC_CLASSES}),
 * z-depth in metres, camera-frame unit normals (x right, y down, z forward, facing the camera),
 * one-pixel semantic edges and object saliency. Throws ArgumentError for a size below 32, a
 * non-integer length or seed, an unknown split or task; get() rejects for an index out of range.
 */
export class SyntheticScenes implements Dataset {
  readonly info: DatasetInfo;
  readonly length: number;
  readonly height: number;
  readonly width: number;
  readonly seed: number;
  readonly split: 'train' | 'val';
  readonly tasks: readonly SyntheticTask[];
  private readonly cache: Map<number, Sample> | null;

  constructor(opts: SyntheticScenesOptions) {
    const size = opts.size;
    const [h, w] = typeof size === 'number' ? [size, size] : Array.isArray(size) && size.length === 2 ? size : [NaN, NaN];
    if (Number.isNaN(h)) throw new ArgumentError(OP, `size must be a number or [height, width], got ${JSON.stringify(size)}`);
    this.height = checkInt(h, 32, 'height (size)');
    this.width = checkInt(w, 32, 'width (size)');
    this.length = checkInt(opts.length, 1, 'length');
    this.seed = checkInt(opts.seed, Number.MIN_SAFE_INTEGER, 'seed');
    const split = opts.split ?? 'train';
    if (split !== 'train' && split !== 'val') throw new ArgumentError(OP, `split must be 'train' or 'val', got ${String(split)}`);
    this.split = split;
    const tasks = opts.tasks ?? SYNTHETIC_TASKS;
    for (const t of tasks) {
      if (!(SYNTHETIC_TASKS as readonly string[]).includes(t)) {
        throw new ArgumentError(OP, `unknown task '${String(t)}'; the synthetic scenes carry ${SYNTHETIC_TASKS.join(', ')}`);
      }
    }
    this.tasks = SYNTHETIC_TASKS.filter((t) => tasks.includes(t));
    this.cache = opts.cache ? new Map() : null;
    this.info = {
      name: 'synthetic-scenes',
      tasks: this.tasks as readonly SampleTask[],
      numClasses: SYNTHETIC_CLASSES.length,
      classNames: SYNTHETIC_CLASSES,
      mean: IMAGE_MEAN,
      std: IMAGE_STD,
    };
  }

  /** Options that rebuild this dataset, sample for sample, in another thread (`new SyntheticScenes(r.options)`). */
  recipe(): SyntheticRecipe {
    const { height, width, length, seed, split } = this;
    return { kind: 'synthetic', options: { size: [height, width], length, seed, split, tasks: [...this.tasks], cache: this.cache !== null } };
  }

  /** Throws ArgumentError unless `i` is an integer in [0, length). */
  private checkIndex(i: number): void {
    if (typeof i !== 'number' || !Number.isInteger(i) || i < 0 || i >= this.length) {
      throw new ArgumentError(OP, `index ${String(i)} is out of range for a dataset of length ${this.length}`);
    }
  }

  /** The scene of sample i (geometry, materials, camera, light), for tests and visualisation. */
  scene(i: number): Scene {
    this.checkIndex(i);
    return sampleScene(new Rng(sampleSeed(this.seed, STREAMS[this.split], i)));
  }

  /** The raw render of sample i: un-normalised RGB, labels and the instance map edges come from. */
  render(i: number): RenderOutput {
    return renderScene(this.scene(i), this.height, this.width);
  }

  /** Sample i, generated now (or taken from the cache); the synchronous form of {@link get}. */
  getSync(i: number): Sample {
    this.checkIndex(i);
    const hit = this.cache?.get(i);
    if (hit) return hit;
    const out = this.render(i);
    const want = new Set<string>(this.tasks);
    const sample: Sample = {
      height: this.height,
      width: this.width,
      image: normaliseImage(out.rgb),
      ...(want.has('semseg') && { semseg: out.semseg }),
      ...(want.has('depth') && { depth: out.depth }),
      ...(want.has('normals') && { normals: out.normals }),
      ...(want.has('edge') && { edge: semanticEdges(out.instance, out.depth, this.height, this.width) }),
      ...(want.has('sal') && { sal: saliency(out.instance) }),
      id: `synthetic-scenes/${this.split}/seed${this.seed}/${i}`,
    };
    this.cache?.set(i, sample);
    return sample;
  }

  /** Sample i (see {@link getSync}); rejects with an ArgumentError when i is out of range. */
  async get(i: number): Promise<Sample> {
    return this.getSync(i);
  }
}
