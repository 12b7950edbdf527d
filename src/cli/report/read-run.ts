/**
 * Reads and validates a run folder (format in ../run-files.ts) into a RunData that the renderer
 * turns into HTML without touching the file system. Tolerant where a crashed run leaves damage (a
 * truncated last metrics line, no samples yet), strict everywhere else: any other problem is a
 * RunFileError naming the file (and line).
 */
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { WebmtlError } from '../../errors.js';
import {
  RUN_FILES,
  type BaselineRecord,
  type EpochRecord,
  type FinalRecord,
  type MetricsRecord,
  type SampleTask,
  type StepRecord,
} from '../run-files.js';
import { describeIssues, metricsRecordSchema, samplesIndexSchema } from './schema.js';

/** A run file that is missing or malformed; `file` is its path, `line` (1-based) where it applies. */
export class RunFileError extends WebmtlError {
  constructor(
    readonly file: string,
    detail: string,
    readonly line?: number,
  ) {
    super(`${file}${line !== undefined ? `:${line}` : ''}: ${detail}`);
  }
}

/** One sample row with its images as data: URIs. */
export interface SampleRow {
  id: string;
  input: string;
  tasks: Record<string, { pred: string; gt?: string }>;
}

/** The samples of a run, images inlined. */
export interface RunSamples {
  tasks: SampleTask[];
  items: SampleRow[];
}

/** metrics.jsonl sorted by record type, in file order. */
export interface RunMetrics {
  steps: StepRecord[];
  epochs: EpochRecord[];
  /** The last baseline line, if any. */
  baseline?: BaselineRecord;
  /** The last final line, if any (absent for a run that did not finish). */
  final?: FinalRecord;
  /** Lines that were tolerated rather than read (a truncated last line). */
  warnings: string[];
}

/** Everything the report shows, read from a run folder. */
export interface RunData extends RunMetrics {
  /** The run folder as given. */
  dir: string;
  /** config.json, parsed. */
  config: unknown;
  /** The samples, or null when the run has none (see `notes`). */
  samples: RunSamples | null;
  /** Things the reader noticed and the report should say (missing samples, truncated lines). */
  notes: string[];
}

async function readText(file: string): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new RunFileError(file, code === 'ENOENT' ? 'not found (is this a run folder written by `webmtl train`?)' : String(e));
  }
}

function parseJson(file: string, text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new RunFileError(file, `invalid JSON: ${(e as Error).message}`);
  }
}

/**
 * Parses the text of a metrics.jsonl file (named `file` in errors). Blank lines are skipped; a last
 * line that is not valid JSON is taken as cut short by a crash and reported in `warnings`; any
 * other line that is not valid JSON or not a valid record is a RunFileError with its line number.
 */
export function parseMetrics(text: string, file: string = RUN_FILES.metrics): RunMetrics {
  const out: RunMetrics = { steps: [], epochs: [], warnings: [] };
  const lines = text.split('\n');
  let last = lines.length - 1;
  while (last >= 0 && lines[last]!.trim() === '') last--;
  for (let i = 0; i <= last; i++) {
    const line = lines[i]!.trim();
    if (line === '') continue;
    let json: unknown;
    try {
      json = JSON.parse(line);
    } catch (e) {
      if (i === last) {
        out.warnings.push(`${file}: line ${i + 1} is incomplete (the run was probably interrupted) and was ignored`);
        break;
      }
      throw new RunFileError(file, `invalid JSON: ${(e as Error).message}`, i + 1);
    }
    const parsed = metricsRecordSchema.safeParse(json);
    if (!parsed.success) throw new RunFileError(file, `not a metrics record: ${describeIssues(parsed.error)}`, i + 1);
    const r: MetricsRecord = parsed.data;
    if (r.type === 'step') out.steps.push(r);
    else if (r.type === 'epoch') out.epochs.push(r);
    else if (r.type === 'baseline') out.baseline = r;
    else out.final = r;
  }
  return out;
}

const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

async function pngDataUri(dir: string, name: string): Promise<string> {
  const file = join(dir, name);
  let bytes: Buffer;
  try {
    bytes = await readFile(file);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new RunFileError(file, code === 'ENOENT' ? `not found (listed in ${RUN_FILES.samplesIndex})` : String(e));
  }
  if (bytes.length < 8 || PNG_SIGNATURE.some((b, i) => bytes[i] !== b)) throw new RunFileError(file, 'is not a PNG file');
  return `data:image/png;base64,${bytes.toString('base64')}`;
}

async function isDir(path: string): Promise<boolean> {
  return stat(path).then((s) => s.isDirectory(), () => false);
}

async function readSamples(dir: string, notes: string[]): Promise<RunSamples | null> {
  const samplesDir = join(dir, RUN_FILES.samplesDir);
  if (!(await isDir(samplesDir))) {
    notes.push('This run has no samples folder, so no predictions are shown.');
    return null;
  }
  const indexFile = join(dir, RUN_FILES.samplesIndex);
  if (!(await stat(indexFile).then(() => true, () => false))) {
    notes.push(`The samples folder has no index.json, so no predictions are shown.`);
    return null;
  }
  const parsed = samplesIndexSchema.safeParse(parseJson(indexFile, await readText(indexFile)));
  if (!parsed.success) throw new RunFileError(indexFile, `not a samples index: ${describeIssues(parsed.error)}`);
  const items: SampleRow[] = [];
  for (const item of parsed.data.items) {
    const tasks: SampleRow['tasks'] = {};
    for (const [name, imgs] of Object.entries(item.tasks)) {
      tasks[name] = {
        pred: await pngDataUri(samplesDir, imgs.pred),
        ...(imgs.gt !== undefined ? { gt: await pngDataUri(samplesDir, imgs.gt) } : {}),
      };
    }
    items.push({ id: item.id, input: await pngDataUri(samplesDir, item.input), tasks });
  }
  if (items.length === 0) notes.push('The samples index lists no samples.');
  return { tasks: parsed.data.tasks, items };
}

/**
 * Reads the run folder `dir`: config.json and metrics.jsonl (both required) and the samples (the
 * PNGs inlined as data: URIs). A missing samples folder or index gives `samples: null` and a note;
 * a missing or malformed file otherwise throws a RunFileError naming it (and the line, for
 * metrics.jsonl).
 */
export async function readRun(dir: string): Promise<RunData> {
  if (!(await isDir(dir))) throw new RunFileError(dir, 'is not a folder');
  const configFile = join(dir, RUN_FILES.config);
  const config = parseJson(configFile, await readText(configFile));
  const metricsFile = join(dir, RUN_FILES.metrics);
  const metrics = parseMetrics(await readText(metricsFile), metricsFile);
  const notes = [...metrics.warnings];
  const samples = await readSamples(dir, notes);
  return { dir, config, ...metrics, samples, notes };
}
