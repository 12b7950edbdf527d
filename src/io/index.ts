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
export { decodePng, decodeJpeg, decodeImage, toRgb, toSingleChannel, normalizeRgb, type RawImage } from './image.js';
export { decodeNpy, npyToFloat32, fortranToC, type NpyArray, type NpyData } from './npy.js';
export { decodeMat, matTo2d, loadInflate, type MatValue, type MatNumeric, type MatChar, type MatCell, type MatStruct, type Inflate } from './mat.js';
