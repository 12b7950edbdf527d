/** Multi-task learning: tasks, metrics, models, loss balancing and the trainer. */
export * from './metrics/index.js';
export * from './tasks/index.js';
export type { Task, TaskTarget, MultiTaskBatch, AnyMetric } from './task.js';
export * from './models/index.js';
export * from './balance/index.js';
export { Trainer, disposeBatch, type TrainerOptions, type TrainerOptimizer, type EpochLog, type Batches } from './trainer.js';
export { NonFiniteLossError, StepRecorder, type StepLog } from './step-log.js';
