/**
 * Writes a webmtl model as an ONNX inference graph (opset 17, IR version 8): input `input`
 * [N, C, H, W] (N free, H and W fixed at export), one output per task named after it, [N, channels,
 * H, W] (a bare backbone's outputs are its levels, at their own sizes), the eval-mode forward (batch norm with running statistics, no dropout, no auxiliary
 * predictions). Weights are initializers named by their state-dict keys. The protobuf goes through
 * protobufjs with the schema in schema.ts.
 */
import { ArgumentError } from '../../errors.js';
import { readTensors } from '../../io/safetensors.js';
import type { Module } from '../../nn/module.js';
import type { Tensor } from '../../tensor/tensor.js';
import { OnnxGraph } from './graph.js';
import { modelOutputs } from './mtl-onnx.js';
import { ONNX_DTYPE, encodeModel } from './schema.js';

/** What the graph's signature needs besides the model. */
export interface OnnxInfo {
  /** Task name -> output channels, in output order. */
  tasks: readonly { name: string; channels: number }[];
  inChannels: number;
  /** The input's height and width (fixed in the graph). */
  size: readonly [number, number];
  /** ONNX opset (17 or newer; default 17). */
  opset?: number;
  /** Free text stored as the model's doc string. */
  docString?: string;
}

const tensorType = (dims: readonly (number | string)[]) => ({
  tensorType: { elemType: ONNX_DTYPE.FLOAT, shape: { dim: dims.map((d) => (typeof d === 'string' ? { dimParam: d } : { dimValue: d })) } },
});

/**
 * The ONNX bytes of `model` (see the file comment): a MultiTaskModel, or a bare backbone whose
 * outputs are its feature levels. Throws an ArgumentError naming a module class
 * without an ONNX emitter, or for an opset below 17.
 */
export async function modelOnnx(model: Module, info: OnnxInfo): Promise<Uint8Array> {
  const opset = info.opset ?? 17;
  if (!Number.isInteger(opset) || opset < 17) throw new ArgumentError('exportOnnx', `opset must be 17 or newer, got ${opset}`);
  const [h, w] = info.size;
  const named: [string, Tensor][] = [...model.namedParameters(), ...model.namedBuffers()];
  const host = await readTensors(new Map(named));
  const g = new OnnxGraph(new Map(named.map(([n, t]) => [t, n])), host);
  const outs = modelOutputs(g, model, { name: 'input', shape: [-1, info.inChannels, h, w] });
  for (const t of info.tasks) {
    if (!outs[t.name]) throw new ArgumentError('exportOnnx', `the model has no output for task '${t.name}'`);
    g.nodes.push({ opType: 'Identity', input: [outs[t.name]!.name], output: [t.name], name: `output_${t.name}` });
  }
  return encodeModel({
    irVersion: 8,
    producerName: 'webmtl',
    docString: info.docString ?? '',
    opsetImport: [{ domain: '', version: opset }],
    graph: {
      name: 'webmtl',
      node: g.nodes,
      initializer: g.initializers,
      input: [{ name: 'input', type: tensorType(['N', info.inChannels, h, w]) }],
      output: info.tasks.map((t) => ({ name: t.name, type: tensorType(outs[t.name]!.shape.map((d) => (d < 0 ? 'N' : d))) })),
    },
  });
}
