/**
 * `webmtl report RUN`: reads a run folder (see ../run-files.ts) and writes a self-contained
 * report.html into it. The CLI command is a thin wrapper over {@link writeReport}.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { RUN_FILES } from '../run-files.js';
import { readRun } from './read-run.js';
import { renderReport, type RenderOptions } from './render.js';

export { readRun, parseMetrics, RunFileError, type RunData, type RunMetrics, type RunSamples, type SampleRow } from './read-run.js';
export { renderReport, formatDuration, formatValue, type RenderOptions } from './render.js';
export { buildCharts, taskOrder, type ChartSpec, type ReportChartData, type SeriesSpec } from './charts.js';
export { escapeHtml, jsonForScript } from './html.js';

/**
 * Reads the run folder `dir`, renders its report and writes it to `dir/report.html` (replacing any
 * earlier one); returns that path. Errors in the run files are RunFileErrors naming the file.
 */
export async function writeReport(dir: string, opts: RenderOptions = {}): Promise<string> {
  const html = renderReport(await readRun(dir), opts);
  const out = join(dir, RUN_FILES.report);
  await writeFile(out, html, 'utf8');
  return out;
}
