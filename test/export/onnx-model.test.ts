// Every architecture (and HRNet, as a bare backbone) exported as ONNX (opset 17): onnxruntime-node runs the graph on the same input
// and its outputs match webmtl's eval-mode outputs within 1e-4 x max|output| per task; the
// graph's input `input` has a free batch dimension (N).
import { describe, expect, it } from 'vitest';
import * as ort from 'onnxruntime-node';
import * as w from '../../src/index.js';
import { modelOnnx } from '../../src/export/onnx/model-onnx.js';
import { onnxType } from '../../src/export/onnx/schema.js';
import { OnnxGraph } from '../../src/export/onnx/graph.js';
import { modelOutputs } from '../../src/export/onnx/mtl-onnx.js';
import { CASES, buildCase, caseInput, caseOutputs, tasksOf } from './models.js';

const TOL = 1e-4;

describe('export to ONNX', () => {
  it('every architecture: onnxruntime outputs match webmtl within 1e-4 x max|output|', async () => {
    const x = caseInput();
    const xs = await x.data();
    const lines: string[] = [];
    for (const c of CASES) {
      const model = buildCase(c);
      const tasks = tasksOf(c, model);
      const bytes = await modelOnnx(model, { tasks, inChannels: 3, size: [32, 32] });
      // A protobuf any ONNX reader can decode: opset 17, one output per task.
      const decoded = onnxType('ModelProto').toObject(onnxType('ModelProto').decode(bytes), { longs: Number }) as {
        opsetImport: { version: number }[];
        graph: { output: { name: string }[] };
      };
      expect(decoded.opsetImport[0]!.version, c.name).toBe(17);
      expect(decoded.graph.output.map((o) => o.name), c.name).toEqual(tasks.map((t) => t.name));
      const session = await ort.InferenceSession.create(bytes, { graphOptimizationLevel: 'disabled', intraOpNumThreads: 1 });
      const result = await session.run({ input: new ort.Tensor('float32', Float32Array.from(xs), [...x.shape]) });
      const want = caseOutputs(model, x);
      for (const t of tasks) {
        const got = result[t.name]!;
        const ref = await want[t.name]!.data();
        expect([...got.dims], `${c.name}.${t.name} shape`).toEqual([...want[t.name]!.shape]);
        const g = got.data as Float32Array;
        let err = 0;
        let scale = 0;
        for (let i = 0; i < ref.length; i++) {
          err = Math.max(err, Math.abs(g[i]! - ref[i]!));
          scale = Math.max(scale, Math.abs(ref[i]!));
        }
        lines.push(`${c.name}.${t.name}: ${(err / scale).toExponential(2)}`);
        expect(scale, `${c.name}.${t.name}: outputs are all zero`).toBeGreaterThan(0);
        expect(err / scale, `${c.name}.${t.name}`).toBeLessThanOrEqual(TOL);
      }
      for (const t of Object.values(want)) t.dispose();
      await session.release();
      model.dispose();
    }
    x.dispose();
    console.log(`ONNX export, relative max errors: ${lines.join(', ')}`);
  });

  it('a model class without an ONNX emitter is an error naming the class', () => {
    class Mystery extends w.Module {}
    const g = new OnnxGraph(new Map(), new Map());
    expect(() => modelOutputs(g, new Mystery(), { name: 'input', shape: [-1, 3, 32, 32] })).toThrow(/model class Mystery has no ONNX exporter/);
  });
});
