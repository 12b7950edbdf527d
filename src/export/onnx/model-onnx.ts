/** Placeholder until the ONNX writer lands. */
import { ArgumentError } from '../../errors.js';
import type { MultiTaskModel } from '../../mtl/models/model.js';

/** The ONNX bytes of `model`. */
export async function modelOnnx(_model: MultiTaskModel, _info: { tasks: readonly { name: string; channels: number }[]; inChannels: number; opset: number }): Promise<Uint8Array> {
  throw new ArgumentError('export', 'ONNX export is not available yet');
}
