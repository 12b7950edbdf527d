/**
 * What every dataset yields, before batching: one scene as plain typed arrays on the host (CHW,
 * row-major), with the ground truth of whichever tasks the dataset carries. The batching code
 * (see batch.ts) turns a list of samples into GPU tensors keyed by task name. Keeping samples on
 * the host lets generation, decoding and augmentation run in worker threads and overlap GPU work.
 *
 * Conventions (those of the MTL survey's public code):
 * - image: f32 [3, H, W], RGB, already normalised with the dataset's mean/std.
 * - semseg / parts: i32 [H, W] class indices, 255 = ignore.
 * - depth: f32 [H, W] metres; 0 (or non-finite) = no measurement.
 * - normals: f32 [3, H, W] unit vectors in the camera frame (x right, y down, z forward... see the
 *   dataset's doc); a pixel with all three components 0 has no ground truth.
 * - edge: f32 [H, W] in {0, 1}, 255 = ignore.
 * - sal: f32 [H, W] saliency in [0, 1], 255 = ignore.
 */

/** Task keys a sample may carry, named as in the survey's code. */
export const SAMPLE_TASKS = ['semseg', 'depth', 'normals', 'edge', 'sal', 'human_parts'] as const;
export type SampleTask = (typeof SAMPLE_TASKS)[number];

/** One scene on the host. */
export interface Sample {
  readonly height: number;
  readonly width: number;
  /** f32 [3, H, W]. */
  readonly image: Float32Array;
  readonly semseg?: Int32Array;
  readonly depth?: Float32Array;
  readonly normals?: Float32Array;
  readonly edge?: Float32Array;
  readonly sal?: Float32Array;
  readonly human_parts?: Int32Array;
  /** Where the sample came from (file stem or generator seed), for error messages and reports. */
  readonly id: string;
}

/** Static facts about a dataset that models and tasks need. */
export interface DatasetInfo {
  /** Name for reports, e.g. 'synthetic-scenes', 'nyud', 'pascal-context'. */
  readonly name: string;
  /** Tasks every sample carries. */
  readonly tasks: readonly SampleTask[];
  /** Number of semantic classes (semseg), when carried. */
  readonly numClasses?: number;
  /** Number of human-part classes, when carried. */
  readonly numParts?: number;
  /** Class names, index = label, when known. */
  readonly classNames?: readonly string[];
  /** The per-channel mean/std the images were normalised with (to show them again). */
  readonly mean: readonly [number, number, number];
  readonly std: readonly [number, number, number];
}

/** A random-access dataset of samples. */
export interface Dataset {
  readonly info: DatasetInfo;
  /** Number of samples. */
  readonly length: number;
  /** Sample i (0 <= i < length); rejects with an error naming the file when its data is bad. */
  get(i: number): Promise<Sample>;
}
