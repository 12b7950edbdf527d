/**
 * The io layer: safetensors (in memory and as files) and training checkpoints.
 */
export { FormatError, CheckpointError } from './errors.js';
export {
  SAFETENSORS_DTYPES,
  type SafetensorsDType,
} from './dtypes.js';
export {
  MAX_HEADER_BYTES,
  readSafetensorsHeader,
  decodeSafetensorsHost,
  encodeSafetensorsHost,
  encodeSafetensors,
  decodeSafetensors,
  type HostTensor,
  type DecodedHostTensor,
  type SafetensorsMetadata,
  type SafetensorsEntry,
  type SafetensorsHeader,
} from './safetensors.js';
export { saveSafetensors, loadSafetensors } from './safetensors-file.js';
export {
  encodeCheckpoint,
  saveCheckpoint,
  restoreCheckpoint,
  loadCheckpoint,
  type CheckpointOptimizer,
  type CheckpointSchedule,
  type GeneratorLike,
  type CheckpointGenerators,
  type CheckpointState,
  type CheckpointTargets,
  type LoadedCheckpoint,
} from './checkpoint.js';
