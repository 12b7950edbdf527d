/**
 * Writing metrics.jsonl so that it never holds duplicated or torn records. Records are appended in
 * one write per batch of lines; a crash or a full disk can at worst leave a torn last line. Before a
 * run continues, {@link repairMetrics} cuts the file back to what the checkpoint it resumes from
 * covers: a torn line is removed, and records of steps and epochs after the checkpoint (which the
 * resumed run trains and writes again) are dropped.
 */
import { appendFile, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from '../io/node-fs.js';
import { fsFailure } from './run-folder.js';
import { RUN_FILES, type MetricsRecord } from './run-files.js';

/** Where a resumed run continues: records after this point are written again. */
export interface ResumePoint {
  /** Steps taken at the checkpoint; step records beyond it are dropped. */
  step: number;
  /** Epochs completed at the checkpoint; epoch records of this epoch and later are dropped. */
  epoch: number;
}

/** What {@link repairMetrics} changed. */
export interface MetricsRepair {
  /** Lines that were not JSON (a torn last line, or damage left by an older version). */
  torn: number;
  /** Records after the resume point (or all, when restarting), dropped to be written again. */
  dropped: number;
}

/**
 * Appends `records` to DIR/metrics.jsonl in one write. A file-system failure becomes one line
 * naming the file and saying that `--resume DIR` continues the run.
 */
export async function appendRecords(dir: string, records: readonly MetricsRecord[]): Promise<void> {
  if (records.length === 0) return;
  const path = join(dir, RUN_FILES.metrics);
  try {
    await appendFile(path, records.map((r) => `${JSON.stringify(r)}\n`).join(''));
  } catch (e) {
    throw fsFailure(e, path, 'append to the metrics', `then continue with --resume ${dir}`);
  }
}

/** Whether a record is covered by the resume point (null: restarting, nothing is kept). */
function covered(r: Partial<MetricsRecord> & { step?: unknown; epoch?: unknown }, at: ResumePoint | null): boolean {
  if (!at) return false;
  switch (r.type) {
    case 'baseline':
      return true;
    case 'step':
      return typeof r.step === 'number' && r.step <= at.step;
    case 'epoch':
      return typeof r.epoch === 'number' && r.epoch < at.epoch;
    default:
      // 'final' (written again when the run finishes) and unknown kinds.
      return false;
  }
}

/**
 * Cuts DIR/metrics.jsonl back to the records that `at` covers (null: a restart from step 0, which
 * empties it) and removes lines that are not JSON. Rewrites the file atomically, and only when
 * something changes. A missing file is fine (nothing to repair).
 */
export async function repairMetrics(dir: string, at: ResumePoint | null): Promise<MetricsRepair> {
  const path = join(dir, RUN_FILES.metrics);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { torn: 0, dropped: 0 };
    throw fsFailure(e, path, 'read the metrics');
  }
  const kept: string[] = [];
  let torn = 0;
  let dropped = 0;
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    let rec: unknown;
    try {
      rec = JSON.parse(line);
    } catch {
      torn++;
      continue;
    }
    if (typeof rec === 'object' && rec !== null && covered(rec as Partial<MetricsRecord>, at)) kept.push(line);
    else dropped++;
  }
  const out = kept.map((l) => `${l}\n`).join('');
  if (out !== text) {
    try {
      await writeFileAtomic(path, new TextEncoder().encode(out), 'repairMetrics');
    } catch (e) {
      throw fsFailure(e, path, 'rewrite the metrics');
    }
  }
  return { torn, dropped };
}
