/**
 * PASCAL-Context in the layout of the MTL survey's release (PASCAL_MT, read by
 * data/pascal_context.py of SimonVandenhende/Multi-Task-Learning-PyTorch):
 *
 * ```
 * root/ImageSets/Context/{train,val}.txt  sample ids (4998 train, 5105 val)
 * root/JPEGImages/<id>.jpg                RGB
 * root/semseg/VOC12/<id>.png              21-class labels (palette PNG; 255 = ignore); when absent:
 * root/semseg/pascal-context/<id>.png     the same classes from Context
 * root/human_parts/<id>.mat               Pascal-Part: anno.objects(k).{class, class_ind, mask, parts(j).{part_name, mask}}
 * root/pascal-context/trainval/<id>.mat   LabelMap, the 459-class label map (edges, normals mask)
 * root/normals_distill/<id>.png           RGB, normal = 2 * v / 255 - 1
 * root/sal_distill/<id>.png               grey saliency, > 0.5 * 255 is salient
 * ```
 *
 * Remaps, as the survey: semseg as stored; human_parts = the part index of each person's parts
 * under the 1/4/6/14-part grouping (default 6, so labels 0..6 with 0 = background), all 255 when
 * the image has no person with annotated parts (AddIgnoreRegions); normals zeroed (= no ground
 * truth) outside the label-map classes that NYU also has; sal binarised; edge derived from LabelMap
 * (see pascal-edges.ts). With human_parts as the only task, images without annotated people are left
 * out, as the survey does (it reads ImageSets/Parts/<split>.txt when present, else every .mat).
 */
import { ArgumentError } from '../errors.js';
import { matTo2d, type MatStruct, type MatValue } from '../io/mat.js';
import { resizePlanes } from './augment.js';
import { DatasetError } from './errors.js';
import { exists, joinPath, readBytes, readImage, readLabelImage, readMat, readNormalizedRgb, readSplit, requireDir, requireFiles } from './dataset-files.js';
import { IMAGENET_MEAN, IMAGENET_STD } from './nyud.js';
import { labelMapEdges } from './pascal-edges.js';
import type { Dataset, DatasetInfo, Sample } from './sample.js';

/** Tasks the PASCAL-Context release carries. */
export const PASCAL_TASKS = ['semseg', 'human_parts', 'normals', 'sal', 'edge'] as const;
/** One of {@link PASCAL_TASKS}. */
export type PascalTask = (typeof PASCAL_TASKS)[number];

/** The 21 PASCAL VOC classes, index = semseg label. */
export const VOC_CLASSES: readonly string[] = [
  'background', 'aeroplane', 'bicycle', 'bird', 'boat', 'bottle', 'bus', 'car', 'cat', 'chair', 'cow',
  'diningtable', 'dog', 'horse', 'motorbike', 'person', 'pottedplant', 'sheep', 'sofa', 'train', 'tvmonitor',
];

const PART_NAMES = ['hair', 'head', 'lear', 'lebrow', 'leye', 'lfoot', 'lhand', 'llarm', 'llleg', 'luarm', 'luleg', 'mouth',
  'neck', 'nose', 'rear', 'rebrow', 'reye', 'rfoot', 'rhand', 'rlarm', 'rlleg', 'ruarm', 'ruleg', 'torso'];
// The survey's HUMAN_PART groupings: label of each name in PART_NAMES.
const PART_GROUPS: Record<1 | 4 | 6 | 14, readonly number[]> = {
  1: PART_NAMES.map(() => 1),
  4: [1, 1, 1, 1, 1, 4, 3, 3, 4, 3, 4, 1, 2, 1, 1, 1, 1, 4, 3, 3, 4, 3, 4, 2],
  6: [1, 1, 1, 1, 1, 6, 4, 4, 6, 3, 5, 1, 2, 1, 1, 1, 1, 6, 4, 4, 6, 3, 5, 2],
  14: [1, 1, 1, 1, 1, 14, 8, 7, 13, 6, 12, 1, 2, 1, 1, 1, 1, 11, 5, 4, 10, 3, 9, 2],
};
const PERSON = 15;

/**
 * Context label-map classes whose distilled normals are kept: those whose name is also a NYU class
 * ('unknown' excepted) plus tvmonitor, as the survey derives them from data/db_info/nyu_classes.json
 * and context_classes.json (ids are Context's).
 */
const NORMALS_VALID = new Set([
  3, 4, 6, 9, 10, 11, 13, 15, 17, 18, 22, 23, 29, 30, 33, 34, 36, 37, 38, 39, 41, 43, 46, 49, 50, 51, 53, 55, 56, 59, 61, 62,
  65, 66, 68, 69, 72, 73, 78, 83, 84, 85, 87, 88, 95, 96, 101, 104, 105, 107, 111, 113, 115, 122, 124, 135, 141, 142, 143,
  146, 150, 154, 157, 158, 159, 165, 172, 174, 181, 183, 184, 191, 193, 195, 197, 199, 202, 213, 215, 216, 219, 220, 223,
  225, 228, 230, 232, 233, 238, 239, 242, 243, 246, 250, 251, 252, 255, 260, 261, 263, 269, 272, 273, 275, 281, 283, 284,
  285, 286, 287, 288, 290, 291, 292, 293, 295, 304, 307, 309, 310, 314, 315, 319, 323, 329, 330, 331, 336, 342, 345, 349,
  350, 351, 352, 355, 357, 368, 370, 371, 374, 379, 380, 383, 384, 397, 401, 403, 405, 407, 408, 411, 412, 413, 414, 417,
  419, 421, 423, 427, 429, 430, 432, 440, 441, 442, 443, 444, 446, 454, 457,
]);

/** Options of {@link PascalContextDataset.open}. */
export interface PascalContextOptions {
  /** Which split file of ImageSets/Context/ to read (default 'train'). */
  readonly split?: 'train' | 'val';
  /** Tasks to load (default all five). */
  readonly tasks?: readonly PascalTask[];
  /** Human-part grouping (survey default 6); labels are 0 (background) .. numHumanParts. */
  readonly numHumanParts?: 1 | 4 | 6 | 14;
  readonly mean?: readonly [number, number, number];
  readonly std?: readonly [number, number, number];
}

/**
 * What a worker thread needs to rebuild a {@link PascalContextDataset} (plain data; see
 * DataLoader's `workers`): the ids and semseg files open() resolved, so the rebuild reads nothing.
 */
export interface PascalContextRecipe {
  readonly kind: 'pascal-context';
  readonly root: string;
  readonly ids: readonly string[];
  readonly semsegFiles: readonly string[];
  readonly options: PascalContextOptions;
}

/** Field `k` (by position, as the survey indexes these structs) of element `e` of a struct. */
function field(v: MatValue | undefined, e: number, k: number, what: string, file: string): MatValue {
  const s = v as MatStruct | undefined;
  const f = s?.kind === 'struct' ? s.elements[e]?.[s.fields[k] ?? ''] : undefined;
  if (!f) throw new DatasetError(file, `malformed Pascal-Part annotation: no ${what}`);
  return f;
}

/** matTo2d with its FormatError turned into a DatasetError naming the same file. */
function grid(v: MatValue | undefined, what: string, file: string): { rows: number; cols: number; data: Float64Array } {
  try {
    return matTo2d(v, what, file);
  } catch (e) {
    throw new DatasetError(file, (e as Error).message.replace(`${file}: `, ''), { cause: e });
  }
}

/** Number of elements of a struct array (0 for the empty [] MATLAB writes for "no parts"). */
function count(v: MatValue): number {
  return v.kind === 'struct' ? v.elements.length : 0;
}

/** PASCAL-Context as the survey reads it; create with {@link PascalContextDataset.open}. */
export class PascalContextDataset implements Dataset {
  readonly info: DatasetInfo;

  private constructor(
    readonly root: string,
    /** Sample ids in split-file order. */
    readonly ids: readonly string[],
    readonly tasks: readonly PascalTask[],
    private readonly semsegFiles: readonly string[],
    private readonly groups: readonly number[],
    private readonly mean: readonly [number, number, number],
    private readonly std: readonly [number, number, number],
  ) {
    const parts = Math.max(...groups) + 1;
    this.info = { name: 'pascal-context', tasks, numClasses: 21, numParts: parts, classNames: VOC_CLASSES, mean, std };
  }

  /**
   * Reads ImageSets/Context/<split>.txt under `root` and checks that the folders and every sample's
   * files exist for the chosen tasks; a broken download fails here with a DatasetError naming files.
   */
  static async open(root: string, opts: PascalContextOptions = {}): Promise<PascalContextDataset> {
    const split = opts.split ?? 'train';
    const tasks = opts.tasks ?? PASCAL_TASKS;
    for (const t of tasks) {
      if (!(PASCAL_TASKS as readonly string[]).includes(t)) throw new ArgumentError('PascalContextDataset', `unknown task '${t}' (PASCAL-Context has ${PASCAL_TASKS.join(', ')})`);
    }
    const groups = PART_GROUPS[opts.numHumanParts ?? 6];
    if (!groups) throw new ArgumentError('PascalContextDataset', `numHumanParts must be 1, 4, 6 or 14 (got ${opts.numHumanParts})`);
    await requireDir(root, 'the PASCAL_MT release');
    let ids = await readSplit(joinPath(root, 'ImageSets', 'Context', `${split}.txt`));
    await requireDir(joinPath(root, 'JPEGImages'), 'the <id>.jpg images');
    const has = (t: PascalTask): boolean => tasks.includes(t);
    const dirs: [boolean, string, string][] = [
      [has('human_parts'), 'human_parts', 'the Pascal-Part <id>.mat files'],
      [has('edge') || has('normals'), 'pascal-context/trainval', 'the Context <id>.mat label maps'],
      [has('normals'), 'normals_distill', 'the distilled normals <id>.png'],
      [has('sal'), 'sal_distill', 'the distilled saliency <id>.png'],
    ];
    for (const [need, dir, what] of dirs) if (need) await requireDir(joinPath(root, dir), what);
    let semsegFiles: string[] = [];
    if (has('semseg')) {
      await requireDir(joinPath(root, 'semseg'), 'the VOC12 and pascal-context label PNGs');
      // VOC12 first, pascal-context second, as the survey's _get_semseg_fname.
      semsegFiles = await Promise.all(ids.map(async (id) => {
        const voc = joinPath(root, 'semseg', 'VOC12', `${id}.png`);
        return (await exists(voc)) ? voc : joinPath(root, 'semseg', 'pascal-context', `${id}.png`);
      }));
    }
    const perId = (id: string): string[] => [
      joinPath(root, 'JPEGImages', `${id}.jpg`),
      ...dirs.filter(([need]) => need).map(([, dir]) => joinPath(root, dir, `${id}.${dir.endsWith('distill') ? 'png' : 'mat'}`)),
    ];
    await requireFiles([...ids.flatMap(perId), ...semsegFiles]);
    if (tasks.length === 1 && tasks[0] === 'human_parts') {
      const keep = await PascalContextDataset.withPeople(root, split, ids);
      ids = ids.filter((_, i) => keep[i]);
    }
    return new PascalContextDataset(root, ids, tasks, semsegFiles, groups, opts.mean ?? IMAGENET_MEAN, opts.std ?? IMAGENET_STD);
  }

  /** Which ids show a person: from the survey's ImageSets/Parts/<split>.txt cache, else from the .mat files. */
  private static async withPeople(root: string, split: string, ids: readonly string[]): Promise<boolean[]> {
    const cache = joinPath(root, 'ImageSets', 'Parts', `${split}.txt`);
    let dict: Record<string, number[]> | null = null;
    try {
      dict = JSON.parse(new TextDecoder().decode(await readBytes(cache))) as Record<string, number[]>;
    } catch {
      dict = null; // no (or an unreadable) cache: read the annotations themselves
    }
    if (dict && ids.every((id) => Array.isArray(dict![id]))) return ids.map((id) => dict![id]!.includes(PERSON));
    const out: boolean[] = [];
    for (const id of ids) {
      const file = joinPath(root, 'human_parts', `${id}.mat`);
      const objects = field((await readMat(file)).get('anno'), 0, 1, 'anno.objects', file);
      let person = false;
      for (let k = 0; k < count(objects); k++) person ||= grid(field(objects, k, 1, 'class_ind', file), 'class_ind', file).data[0] === PERSON;
      out.push(person);
    }
    return out;
  }

  /** The plain-data description {@link PascalContextDataset.fromRecipe} rebuilds this dataset from. */
  recipe(): PascalContextRecipe {
    // Each grouping's largest label is its number of parts.
    const numHumanParts = Math.max(...this.groups) as 1 | 4 | 6 | 14;
    const options = { tasks: [...this.tasks], numHumanParts, mean: this.mean, std: this.std };
    return { kind: 'pascal-context', root: this.root, ids: [...this.ids], semsegFiles: [...this.semsegFiles], options };
  }

  /** The dataset a {@link PascalContextRecipe} describes, without open()'s checks (they ran where the recipe was made). */
  static fromRecipe(r: PascalContextRecipe): PascalContextDataset {
    const o = r.options;
    const groups = PART_GROUPS[o.numHumanParts ?? 6];
    if (!groups) throw new ArgumentError('PascalContextDataset', `numHumanParts must be 1, 4, 6 or 14 (got ${o.numHumanParts})`);
    return new PascalContextDataset(r.root, r.ids, o.tasks ?? PASCAL_TASKS, r.semsegFiles, groups, o.mean ?? IMAGENET_MEAN, o.std ?? IMAGENET_STD);
  }

  /** Number of samples in the split. */
  get length(): number {
    return this.ids.length;
  }

  /** Sample i: its image and the chosen tasks' ground truth, remapped as the survey does. */
  async get(i: number): Promise<Sample> {
    if (!Number.isInteger(i) || i < 0 || i >= this.ids.length) throw new ArgumentError('PascalContextDataset.get', `index ${i} is outside [0, ${this.ids.length})`);
    const id = this.ids[i]!;
    const { height: H, width: W, image } = await readNormalizedRgb(joinPath(this.root, 'JPEGImages', `${id}.jpg`), this.mean, this.std);
    const sample: Record<string, unknown> = { id, height: H, width: W, image };
    let labelMap: Promise<{ rows: number; cols: number; data: Float64Array }> | null = null;
    const context = (): Promise<{ rows: number; cols: number; data: Float64Array }> => {
      const file = joinPath(this.root, 'pascal-context', 'trainval', `${id}.mat`);
      return (labelMap ??= readMat(file).then((m) => grid(m.get('LabelMap'), 'LabelMap', file)));
    };
    await Promise.all(this.tasks.map(async (t) => (sample[t] = await this.load(i, t, H, W, context))));
    return sample as unknown as Sample;
  }

  private async load(
    i: number,
    task: PascalTask,
    H: number,
    W: number,
    context: () => Promise<{ rows: number; cols: number; data: Float64Array }>,
  ): Promise<Int32Array | Float32Array> {
    const id = this.ids[i]!;
    if (task === 'semseg') {
      const img = await readLabelImage(this.semsegFiles[i]!);
      return resizePlanes(Int32Array.from(img.data), 1, img.height, img.width, H, W, 'nearest');
    }
    if (task === 'sal') {
      const img = await readLabelImage(joinPath(this.root, 'sal_distill', `${id}.png`));
      const max = img.data instanceof Uint16Array ? 65535 : 255;
      const sal = Float32Array.from(img.data, (v) => (v / max > 0.5 ? 1 : 0));
      return resizePlanes(sal, 1, img.height, img.width, H, W, 'nearest');
    }
    if (task === 'edge') {
      const lm = await context();
      return resizePlanes(labelMapEdges(lm.data, lm.rows, lm.cols), 1, lm.rows, lm.cols, H, W, 'nearest');
    }
    if (task === 'normals') return this.normals(id, H, W, await context());
    return this.parts(id, H, W);
  }

  private async normals(id: string, H: number, W: number, lm: { rows: number; cols: number; data: Float64Array }): Promise<Float32Array> {
    const file = joinPath(this.root, 'normals_distill', `${id}.png`);
    const img = await readImage(file);
    if (img.channels < 3 || img.indexed) throw new DatasetError(file, `distilled normals should be an RGB PNG, got ${img.indexed ? 'a palette' : `${img.channels}-channel`} image`);
    if (img.height !== lm.rows || img.width !== lm.cols) throw new DatasetError(file, `size ${img.height}x${img.width} differs from its LabelMap's ${lm.rows}x${lm.cols}`);
    const n = img.width * img.height;
    const max = img.depth === 16 ? 65535 : 255;
    const out = new Float32Array(3 * n);
    for (let p = 0; p < n; p++) {
      if (!NORMALS_VALID.has(lm.data[p]!)) continue;
      for (let c = 0; c < 3; c++) out[c * n + p] = (2 * img.data[p * img.channels + c]!) / max - 1;
    }
    return resizePlanes(out, 3, img.height, img.width, H, W, 'linear');
  }

  private async parts(id: string, H: number, W: number): Promise<Int32Array> {
    const file = joinPath(this.root, 'human_parts', `${id}.mat`);
    const objects = field((await readMat(file)).get('anno'), 0, 1, 'anno.objects', file);
    let target: Int32Array | null = null;
    let size: [number, number] = [H, W];
    for (let k = 0; k < count(objects); k++) {
      const cls = grid(field(objects, k, 1, 'class_ind', file), 'class_ind', file).data[0];
      const parts = field(objects, k, 3, 'parts', file);
      if (cls !== PERSON || count(parts) === 0) continue;
      for (let j = 0; j < count(parts); j++) {
        const nameV = field(parts, j, 0, 'part_name', file);
        const name = nameV.kind === 'char' ? nameV.text : '';
        const at = PART_NAMES.indexOf(name);
        if (at < 0) throw new DatasetError(file, `unknown human part '${name}' (known: ${PART_NAMES.join(', ')})`);
        const mask = grid(field(parts, j, 1, 'part mask', file), 'part mask', file);
        if (!target) {
          size = [mask.rows, mask.cols];
          target = new Int32Array(mask.rows * mask.cols);
        } else if (mask.rows !== size[0] || mask.cols !== size[1]) {
          throw new DatasetError(file, `part mask ${mask.rows}x${mask.cols} differs from ${size[0]}x${size[1]}`);
        }
        for (let p = 0; p < mask.data.length; p++) if (mask.data[p]) target[p] = this.groups[at]!;
      }
    }
    // No person with parts: everything ignored (the survey's AddIgnoreRegions on an all-zero map).
    if (!target || target.every((v) => v === 0)) return new Int32Array(H * W).fill(255);
    return resizePlanes(target, 1, size[0], size[1], H, W, 'nearest');
  }
}
