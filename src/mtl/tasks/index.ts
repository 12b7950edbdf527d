/** Built-in tasks. */
export { segmentationTask, humanPartsTask, depthTask, normalsTask, type TaskOptions, type SegmentationTaskOptions, type NormalsTaskOptions, type DepthTaskOptions } from './dense.js';
export { edgeTask, saliencyTask, balancedBce, type EdgeTaskOptions } from './binary-maps.js';
export { regressionTask, classificationTask, type RegressionTaskOptions, type ClassificationTaskOptions } from './generic.js';
