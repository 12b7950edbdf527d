/**
 * NYUD-v2 in the layout of the MTL survey's release (NYUD_MT, read by data/nyud.py of
 * SimonVandenhende/Multi-Task-Learning-PyTorch):
 *
 * ```
 * root/gt_sets/{train,val}.txt   one sample id per line (795 train, 654 val)
 * root/images/<id>.jpg           RGB
 * root/segmentation/<id>.png     8-bit labels, 0 = unlabelled, 1..40 = the NYU-40 classes
 * root/depth/<id>.npy            float [H, W], metres, 0 = no measurement
 * root/normals/<id>.npy          float [H, W, 3], unit vectors (0 = no ground truth)
 * root/edge/<id>.npy             float [H, W], 1 on edges
 * ```
 *
 * As the survey: semseg 0 becomes 255 (ignored) and 1..40 become 0..39; ground truth of another
 * size than the image is resized to it (nearest, normals bilinear where the survey uses cubic);
 * images are scaled to [0, 1] and normalised with the ImageNet mean/std. Non-finite depths become
 * 0 (no measurement). Node only (file access); every failure is a DatasetError naming the file.
 */
import { ArgumentError } from '../errors.js';
import { npyToFloat32, type NpyArray } from '../io/npy.js';
import { resizePlanes } from './augment.js';
import { DatasetError } from './errors.js';
import { joinPath, readLabelImage, readNormalizedRgb, readNpy, readSplit, requireDir, requireFiles } from './dataset-files.js';
import type { Dataset, DatasetInfo, Sample } from './sample.js';

/** Tasks the NYUD-v2 release carries. */
export const NYUD_TASKS = ['semseg', 'depth', 'normals', 'edge'] as const;
/** One of {@link NYUD_TASKS}. */
export type NyudTask = (typeof NYUD_TASKS)[number];

/** ImageNet statistics, which the survey normalises every input with. */
export const IMAGENET_MEAN: readonly [number, number, number] = [0.485, 0.456, 0.406];
/** ImageNet standard deviations (see {@link IMAGENET_MEAN}). */
export const IMAGENET_STD: readonly [number, number, number] = [0.229, 0.224, 0.225];

/** The NYU-40 class names, index = label after the survey's remap. */
export const NYU40_CLASSES: readonly string[] = [
  'wall', 'floor', 'cabinet', 'bed', 'chair', 'sofa', 'table', 'door', 'window', 'bookshelf',
  'picture', 'counter', 'blinds', 'desk', 'shelves', 'curtain', 'dresser', 'pillow', 'mirror', 'floor mat',
  'clothes', 'ceiling', 'books', 'refridgerator', 'television', 'paper', 'towel', 'shower curtain', 'box', 'whiteboard',
  'person', 'night stand', 'toilet', 'sink', 'lamp', 'bathtub', 'bag', 'otherstructure', 'otherfurniture', 'otherprop',
];

/** Options of {@link NyudDataset.open}. */
export interface NyudOptions {
  /** Which split file of gt_sets/ to read (default 'train'). */
  readonly split?: 'train' | 'val';
  /** Tasks to load (default all four); only their folders and files are required. */
  readonly tasks?: readonly NyudTask[];
  /** Image normalisation (default ImageNet's, as the survey). */
  readonly mean?: readonly [number, number, number];
  readonly std?: readonly [number, number, number];
}

/**
 * What a worker thread needs to rebuild a {@link NyudDataset} (plain data; see DataLoader's
 * `workers`). It carries the ids already read from the split file, so the rebuild reads nothing:
 * a file that went missing since open() fails at the batch that needs it, as in the main thread.
 */
export interface NyudRecipe {
  readonly kind: 'nyud';
  readonly root: string;
  readonly ids: readonly string[];
  readonly options: NyudOptions;
}

const FOLDER: Record<NyudTask, [string, string]> = {
  semseg: ['segmentation', '.png'],
  depth: ['depth', '.npy'],
  normals: ['normals', '.npy'],
  edge: ['edge', '.npy'],
};

/** [H, W] of a 2-D array or of [H, W, 1] / [1, H, W]; else a DatasetError naming the file. */
function plane(arr: NpyArray, path: string, what: string): [number, number] {
  const s = arr.shape;
  if (s.length === 2) return [s[0]!, s[1]!];
  if (s.length === 3 && s[2] === 1) return [s[0]!, s[1]!];
  if (s.length === 3 && s[0] === 1) return [s[1]!, s[2]!];
  throw new DatasetError(path, `${what} should be a [H, W] array, got shape [${s.join(',')}] (${arr.descr})`);
}

function checkFloat(arr: NpyArray, path: string, what: string): void {
  if (!(arr.descr.endsWith('f4') || arr.descr.endsWith('f8') || arr.descr.endsWith('f2') || /[iu][1248]$/.test(arr.descr))) {
    throw new DatasetError(path, `${what} has dtype ${arr.descr}, expected a numeric dtype`);
  }
}

/** NYUD-v2 as the survey reads it; create with {@link NyudDataset.open}. */
export class NyudDataset implements Dataset {
  readonly info: DatasetInfo;

  private constructor(
    readonly root: string,
    /** Sample ids in split-file order. */
    readonly ids: readonly string[],
    readonly tasks: readonly NyudTask[],
    private readonly mean: readonly [number, number, number],
    private readonly std: readonly [number, number, number],
  ) {
    this.info = { name: 'nyud', tasks, numClasses: 40, classNames: NYU40_CLASSES, mean, std };
  }

  /**
   * Reads gt_sets/<split>.txt under `root` and checks that the folders and every listed sample's
   * files exist for the chosen tasks (as the survey's asserts do), so a broken download fails here
   * with a DatasetError naming the first missing files rather than in the middle of training.
   */
  static async open(root: string, opts: NyudOptions = {}): Promise<NyudDataset> {
    const split = opts.split ?? 'train';
    const tasks = opts.tasks ?? NYUD_TASKS;
    for (const t of tasks) {
      if (!(NYUD_TASKS as readonly string[]).includes(t)) throw new ArgumentError('NyudDataset', `unknown task '${t}' (NYUD has ${NYUD_TASKS.join(', ')})`);
    }
    await requireDir(root, 'the NYUD_MT release');
    await requireDir(joinPath(root, 'gt_sets'), 'the split files train.txt and val.txt');
    const ids = await readSplit(joinPath(root, 'gt_sets', `${split}.txt`));
    await requireDir(joinPath(root, 'images'), 'the <id>.jpg images');
    for (const t of tasks) await requireDir(joinPath(root, FOLDER[t][0]), `the ${t} ground truth`);
    const files = ids.flatMap((id) => [joinPath(root, 'images', `${id}.jpg`), ...tasks.map((t) => joinPath(root, FOLDER[t][0], id + FOLDER[t][1]))]);
    await requireFiles(files);
    return new NyudDataset(root, ids, tasks, opts.mean ?? IMAGENET_MEAN, opts.std ?? IMAGENET_STD);
  }

  /** The plain-data description {@link NyudDataset.fromRecipe} rebuilds this dataset from. */
  recipe(): NyudRecipe {
    return { kind: 'nyud', root: this.root, ids: [...this.ids], options: { tasks: [...this.tasks], mean: this.mean, std: this.std } };
  }

  /** The dataset a {@link NyudRecipe} describes, without open()'s checks (they ran where the recipe was made). */
  static fromRecipe(r: NyudRecipe): NyudDataset {
    return new NyudDataset(r.root, r.ids, r.options.tasks ?? NYUD_TASKS, r.options.mean ?? IMAGENET_MEAN, r.options.std ?? IMAGENET_STD);
  }

  /** Number of samples in the split. */
  get length(): number {
    return this.ids.length;
  }

  /** Path of sample `id`'s file for `task` (or its image for 'image'). */
  file(id: string, task: NyudTask | 'image'): string {
    return task === 'image' ? joinPath(this.root, 'images', `${id}.jpg`) : joinPath(this.root, FOLDER[task][0], id + FOLDER[task][1]);
  }

  /** Sample i: its image and the chosen tasks' ground truth, remapped as the survey does. */
  async get(i: number): Promise<Sample> {
    if (!Number.isInteger(i) || i < 0 || i >= this.ids.length) throw new ArgumentError('NyudDataset.get', `index ${i} is outside [0, ${this.ids.length})`);
    const id = this.ids[i]!;
    const { height: H, width: W, image } = await readNormalizedRgb(this.file(id, 'image'), this.mean, this.std);
    const sample: Record<string, unknown> = { id, height: H, width: W, image };
    await Promise.all(this.tasks.map(async (t) => (sample[t] = await this.load(id, t, H, W))));
    return sample as unknown as Sample;
  }

  private async load(id: string, task: NyudTask, H: number, W: number): Promise<Int32Array | Float32Array> {
    const path = this.file(id, task);
    if (task === 'semseg') {
      const img = await readLabelImage(path);
      const labels = new Int32Array(img.data.length);
      for (let p = 0; p < labels.length; p++) labels[p] = img.data[p] === 0 ? 255 : img.data[p]! - 1;
      return resizePlanes(labels, 1, img.height, img.width, H, W, 'nearest');
    }
    const arr = await readNpy(path);
    checkFloat(arr, path, task);
    if (task === 'normals') {
      const s = arr.shape;
      if (s.length !== 3 || s[2] !== 3) throw new DatasetError(path, `normals should be a [H, W, 3] array, got shape [${s.join(',')}]`);
      const [h, w] = [s[0]!, s[1]!];
      const n = h * w;
      const chw = new Float32Array(3 * n);
      for (let p = 0; p < n; p++) for (let c = 0; c < 3; c++) chw[c * n + p] = arr.data[p * 3 + c]!;
      return resizePlanes(chw, 3, h, w, H, W, 'linear');
    }
    const [h, w] = plane(arr, path, task);
    const data = npyToFloat32(arr).slice();
    if (task === 'depth') for (let p = 0; p < data.length; p++) if (!Number.isFinite(data[p]!)) data[p] = 0;
    return resizePlanes(data, 1, h, w, H, W, 'nearest');
  }
}
