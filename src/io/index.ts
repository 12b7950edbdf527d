/**
 * The io layer: safetensors (in memory and as files), training checkpoints, PyTorch .pth files
 * (read through a restricted unpickler) and pretrained backbone weights.
 */
export { FormatError, CheckpointError, UnsafePickleError } from './errors.js';
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
export { unpickle, PyDict, PyTuple, PyGlobal, DEFAULT_PICKLE_LIMITS, type PyKey, type PyValue, type PickleLimits, type UnpickleOptions } from './pickle.js';
export { readZipEntries, looksLikeZip, MAX_ZIP_ENTRIES } from './zip.js';
export { TORCH_STORAGE_DTYPES, MAX_TENSOR_ELEMENTS, StorageRef, TensorRef, torchGlobals, type TorchValue } from './torch-pickle.js';
export { decodePthHost, decodePth, NESTED_STATE_DICT_KEYS, type PthOptions, type PthStateDict } from './pth.js';
export { loadPytorch, loadPytorchHost } from './pth-file.js';
export { loadPretrained, loadPretrainedState, pretrainedKeyMap, type PretrainedLoad } from './pretrained.js';
