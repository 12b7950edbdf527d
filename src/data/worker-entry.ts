/**
 * Entry of a DataLoader worker thread (see worker-pool.ts, which starts it). It rebuilds the
 * dataset from the recipe in its workerData, then answers each request with the host batch, made
 * by the very function the calling thread uses (prepareHostBatch), its typed arrays transferred.
 * An error (a missing file, a bad sample) goes back serialised, for the caller to rethrow typed.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { WebmtlError } from '../errors.js';
import { prepareHostBatch, type DatasetRecipe } from './loader.js';
import { NyudDataset } from './nyud.js';
import { PascalContextDataset } from './pascal-context.js';
import type { Dataset } from './sample.js';
import { SyntheticScenes } from './synthetic/dataset.js';
import { batchTransferList, serializeError, type WorkerInit, type WorkerReply, type WorkerRequest } from './worker-pool.js';

/** The dataset a recipe describes; exhaustive over the recipe kinds. */
function fromRecipe(r: DatasetRecipe): Dataset {
  switch (r.kind) {
    case 'synthetic':
      return new SyntheticScenes(r.options);
    case 'nyud':
      return NyudDataset.fromRecipe(r);
    case 'pascal-context':
      return PascalContextDataset.fromRecipe(r);
    default:
      throw new WebmtlError(`DataLoader worker: unknown dataset recipe kind '${(r as { kind: string }).kind}'`);
  }
}

const port = parentPort;
if (port) {
  const init = workerData as WorkerInit;
  let dataset: Dataset | null = null;
  let buildError: unknown = null;
  try {
    dataset = fromRecipe(init.recipe);
  } catch (e) {
    buildError = e; // reported with every request, at the batch that asked
  }
  const settings = { seed: init.seed, augment: init.augment, tasks: init.tasks };
  port.on('message', (req: WorkerRequest) => {
    void (async () => {
      try {
        if (!dataset) throw buildError;
        const batch = await prepareHostBatch(dataset, req.indices, req.epoch, settings);
        port.postMessage({ id: req.id, batch } satisfies WorkerReply, batchTransferList(batch));
      } catch (e) {
        port.postMessage({ id: req.id, error: serializeError(e) } satisfies WorkerReply);
      }
    })();
  });
}
