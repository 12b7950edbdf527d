/**
 * The end of a training run: predictions on the first validation samples written as PNGs with their
 * ground truth (samples/, described by samples/index.json, see run-files.ts), then the HTML report.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { noGrad } from '../autograd/tape.js';
import { toDevice, type HostBatch } from '../data/batch.js';
import { DataLoader } from '../data/loader.js';
import { disposeBatch } from '../mtl/task.js';
import { tidy } from '../tensor/scope.js';
import type { Tensor } from '../tensor/tensor.js';
import { writeReport } from './report/index.js';
import { RUN_FILES, type SampleItem, type SamplesIndex, type SampleTaskKind } from './run-files.js';
import type { FinishedRun } from './train.js';
import { depthRange, depthToRgba, encodePng, imageToRgba, labelsToRgba, normalsToRgba, probToRgba, type RgbaImage } from '../io/visualize.js';

const KIND: Record<string, SampleTaskKind> = {
  semseg: 'segmentation',
  human_parts: 'parts',
  depth: 'depth',
  normals: 'normals',
  edge: 'edge',
  sal: 'saliency',
};

/** Argmax over C of logits [C, H, W] -> labels [H, W]. */
function argmax(logits: Float32Array, c: number, hw: number): Int32Array {
  const out = new Int32Array(hw);
  for (let p = 0; p < hw; p++) {
    let best = 0;
    for (let k = 1; k < c; k++) if (logits[k * hw + p]! > logits[best * hw + p]!) best = k;
    out[p] = best;
  }
  return out;
}

/** Writes predictions and ground truth of up to `reportSamples` validation samples. */
export async function writeSamples(run: FinishedRun): Promise<void> {
  const { config, objects, dir } = run;
  const n = config.train.reportSamples;
  if (n === 0) return;
  const { data, tasks, model } = objects;
  const loader = new DataLoader(data.val, { batchSize: Math.min(n, data.val.length), tasks: config.tasks, augment: data.valAugment ?? undefined, prefetch: 0 });
  let host: HostBatch | null = null;
  for await (const h of loader.hostBatches(0)) {
    host = h;
    break;
  }
  if (!host) return;
  const batch = toDevice(host);
  const preds: Record<string, Float32Array> = {};
  try {
    model.eval();
    const outs = noGrad(() =>
      tidy(() => {
        const out = model.forward(batch.input);
        return Object.fromEntries(tasks.map((t) => [t.name, t.postprocess ? t.postprocess(out.outputs[t.name]!) : out.outputs[t.name]!]));
      }),
    ) as Record<string, Tensor>;
    for (const [k, t] of Object.entries(outs)) {
      preds[k] = (await t.data()) as Float32Array;
      t.dispose();
    }
  } finally {
    model.train();
    disposeBatch(batch);
  }
  const [N, , H, W] = host.inputShape;
  const hw = H * W;
  const folder = join(dir, RUN_FILES.samplesDir);
  await mkdir(folder, { recursive: true });
  const png = async (name: string, img: RgbaImage) => writeFile(join(folder, name), encodePng(img.data, img.width, img.height));
  const info = data.val.info;
  const index: SamplesIndex = {
    tasks: tasks.map((t) => ({
      name: t.name,
      kind: KIND[t.name] ?? 'other',
      ...(t.name === 'semseg' && info.classNames ? { classNames: [...info.classNames] } : {}),
    })),
    items: [],
  };
  for (let k = 0; k < N; k++) {
    const item: SampleItem = { id: host.ids[k]!, input: `${k}-input.png`, tasks: {} };
    await png(item.input, imageToRgba(host.input.subarray(k * 3 * hw, (k + 1) * 3 * hw), H, W, info.mean, info.std));
    for (const task of tasks) {
      const p = preds[task.name]!;
      const gt = host.targets[task.name];
      const kind = KIND[task.name] ?? 'other';
      const c = task.channels;
      const predK = p.subarray(k * c * hw, (k + 1) * c * hw);
      let pi: RgbaImage;
      let gi: RgbaImage | null = null;
      if (kind === 'segmentation' || kind === 'parts') {
        pi = labelsToRgba(argmax(predK, c, hw), H, W, c);
        if (gt) gi = labelsToRgba((gt.target as Int32Array).subarray(k * hw, (k + 1) * hw), H, W, c);
      } else if (kind === 'depth') {
        const g = gt ? (gt.target as Float32Array).subarray(k * hw, (k + 1) * hw) : new Float32Array(0);
        const range = depthRange(g.length ? g : predK);
        pi = depthToRgba(predK, H, W, range);
        if (gt) gi = depthToRgba(g, H, W, range);
      } else if (kind === 'normals') {
        pi = normalsToRgba(predK, H, W);
        if (gt) gi = normalsToRgba((gt.target as Float32Array).subarray(k * 3 * hw, (k + 1) * 3 * hw), H, W);
      } else if (c === 1) {
        pi = probToRgba(predK, H, W);
        if (gt) gi = probToRgba((gt.target as Float32Array).subarray(k * hw, (k + 1) * hw), H, W);
      } else continue;
      const images: SampleItem['tasks'][string] = { pred: `${k}-${task.name}-pred.png` };
      await png(images.pred, pi);
      if (gi) {
        images.gt = `${k}-${task.name}-gt.png`;
        await png(images.gt, gi);
      }
      item.tasks[task.name] = images;
    }
    index.items.push(item);
  }
  await writeFile(join(dir, RUN_FILES.samplesIndex), `${JSON.stringify(index, null, 2)}\n`);
}

/** Writes the samples and the report of a finished run. */
export async function finishRun(run: FinishedRun): Promise<void> {
  await writeSamples(run);
  await writeReport(run.dir);
}
