/** Dataset-level evaluation metrics for the multi-task dense-prediction tasks, and Δ_MTL. */
export type { Metric } from './metric.js';
export { SegmentationMetric, type SegmentationResult, type AbsentClasses } from './segmentation.js';
export { DepthMetric, type DepthResult } from './depth.js';
export { NormalsMetric, NORMALS_HISTOGRAM_BIN, type NormalsResult } from './normals.js';
export { EdgeMetric, EDGE_THRESHOLDS, type EdgeMetricOptions, type EdgeResult } from './edge.js';
export { SaliencyMetric, SALIENCY_THRESHOLDS, SALIENCY_BETA2, type SaliencyResult } from './saliency.js';
export { deltaMTL, type DeltaMTLOptions, type TaskMetrics } from './delta-mtl.js';
export { RegressionMetric, AccuracyMetric, type RegressionResult, type AccuracyResult } from './regression.js';
