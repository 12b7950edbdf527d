/**
 * One run of a parallel `webmtl compare` (compare-jobs.ts forks this file once per run): it
 * receives the run's folder and configuration over IPC, trains it with its own device and answers
 * with the final metrics. When the parent goes away (killed grid), or on SIGINT/SIGTERM, the run
 * stops after its current step with a checkpoint, so the next `compare` continues it.
 */
import { init, shutdown } from '../tensor/context.js';
import type { TaskMetrics } from '../mtl/metrics/delta-mtl.js';
import type { RunConfig } from './config.js';
import { trainRun } from './train.js';

/** The message a worker receives. */
export interface WorkerJob {
  dir: string;
  config: RunConfig;
  resume: boolean;
}

/** The message a worker answers with. */
export type WorkerAnswer = { ok: true; final: TaskMetrics } | { ok: false; error: string };

const controller = new AbortController();
const stop = () => controller.abort();
process.on('disconnect', stop);
process.on('SIGINT', stop);
process.on('SIGTERM', stop);

process.once('message', (job: WorkerJob) => {
  void (async () => {
    let answer: WorkerAnswer;
    try {
      await init();
      const r = await trainRun({ dir: job.dir, config: job.resume ? undefined : job.config, resume: job.resume, progress: false, signal: controller.signal, log: () => undefined });
      answer = r.final && !r.interrupted ? { ok: true, final: r.final } : { ok: false, error: 'interrupted' };
    } catch (e) {
      answer = { ok: false, error: e instanceof Error ? e.message : String(e) };
    }
    if (process.connected) process.send!(answer, () => finish());
    else finish();
  })();
});

function finish(): void {
  shutdown();
  process.disconnect?.();
  process.exit(0);
}
