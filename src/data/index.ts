/**
 * The data layer: the sample contract, the built-in synthetic scenes, the NYUD-v2 and
 * PASCAL-Context readers, augmentation, batching and the loader.
 */
export { SAMPLE_TASKS, type Sample, type SampleTask, type Dataset, type DatasetInfo } from './sample.js';
export { DatasetError } from './errors.js';
export {
  SyntheticScenes,
  SYNTHETIC_TASKS,
  SYNTHETIC_CLASSES,
  SyntheticClass,
  IMAGE_MEAN,
  IMAGE_STD,
  NYU_INTRINSICS,
  renderScene,
  sampleScene,
  type SyntheticScenesOptions,
  type SyntheticTask,
  type Scene,
  type RenderOutput,
} from './synthetic/index.js';
export { NyudDataset, NYUD_TASKS, NYU40_CLASSES, IMAGENET_MEAN, IMAGENET_STD, type NyudOptions, type NyudTask } from './nyud.js';
export { PascalContextDataset, PASCAL_TASKS, VOC_CLASSES, type PascalContextOptions, type PascalTask } from './pascal-context.js';
export {
  augment,
  flipSample,
  scaleRotateSample,
  resizeSample,
  cropSample,
  NYUD_TRAIN_AUGMENT,
  NYUD_EVAL_AUGMENT,
  PASCAL_TRAIN_AUGMENT,
  PASCAL_EVAL_AUGMENT,
  type AugmentOptions,
} from './augment.js';
export { collate, collateHost, toDevice, type HostBatch, type HostTarget } from './batch.js';
export { DataLoader, type DataLoaderOptions, type AugmentFn } from './loader.js';
