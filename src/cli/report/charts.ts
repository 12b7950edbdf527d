/**
 * The numbers behind the report's charts, as plain JSON that the page embeds and its small script
 * hands to Chart.js. Kept apart from the HTML so tests (and other front ends) can read the data.
 */
import type { EpochRecord, StepRecord } from '../run-files.js';
import type { RunData } from './read-run.js';

/** One line of a chart: [x, y] points (y null = gap). */
export interface SeriesSpec {
  label: string;
  color: string;
  points: [number, number | null][];
  /** Drawn dashed (baselines). */
  dashed?: boolean;
}

/** One chart. */
export interface ChartSpec {
  /** The canvas element's id. */
  id: string;
  title: string;
  xLabel: string;
  yLabel: string;
  series: SeriesSpec[];
  /** Offer a log-scale checkbox for the y axis. */
  logToggle?: boolean;
}

/** Everything the page's charts show, embedded as JSON in `<script id="webmtl-report-data">`. */
export interface ReportChartData {
  /** Per-task training loss over steps (null when the run logged none). */
  loss: ChartSpec | null;
  /** The balancer's per-task weights over steps. */
  weights: ChartSpec | null;
  /** The learning rate over steps. */
  lr: ChartSpec | null;
  /** Per task, its validation metrics over epochs, baselines dashed. */
  val: ChartSpec[];
}

// Tableau 10: distinct, print-friendly line colours.
const COLORS = ['#4e79a7', '#f28e2b', '#e15759', '#76b7b2', '#59a14f', '#edc948', '#b07aa1', '#ff9da7', '#9c755f', '#bab0ac'];

/** The line colour of the i-th series (tasks keep one colour across charts). */
export function seriesColor(i: number): string {
  return COLORS[i % COLORS.length]!;
}

const finite = (v: number | null | undefined): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);

/**
 * The task names of a run in first-seen order over steps, epochs, baseline, final and samples, so
 * every chart and table lists (and colours) tasks the same way.
 */
export function taskOrder(run: RunData): string[] {
  const seen = new Set<string>();
  const add = (o: object | undefined): void => {
    for (const k of Object.keys(o ?? {})) seen.add(k);
  };
  for (const s of run.steps) add(s.losses);
  for (const e of run.epochs) {
    add(e.trainLoss);
    add(e.val);
  }
  add(run.baseline?.val);
  add(run.final?.val);
  for (const t of run.samples?.tasks ?? []) seen.add(t.name);
  return [...seen];
}

function perTaskChart(
  id: string,
  title: string,
  yLabel: string,
  tasks: string[],
  rows: { x: number; values: Record<string, number> }[],
  logToggle: boolean,
): ChartSpec | null {
  if (rows.length === 0) return null;
  const series = tasks
    .map((t, i) => ({ label: t, color: seriesColor(i), points: rows.map((r): [number, number | null] => [r.x, finite(r.values[t])]) }))
    .filter((s) => s.points.some((p) => p[1] !== null));
  return series.length ? { id, title, xLabel: 'step', yLabel, series, logToggle } : null;
}

function stepRows(steps: StepRecord[], epochs: EpochRecord[], key: 'losses' | 'weights') {
  // Without step lines (a run logging per epoch only) fall back to the epochs' means.
  if (steps.length > 0) return steps.map((s) => ({ x: s.step, values: s[key] }));
  return epochs.map((e) => ({ x: e.step, values: key === 'losses' ? e.trainLoss : e.weights }));
}

/** Builds the chart data of a run (see {@link ReportChartData}). */
export function buildCharts(run: RunData): ReportChartData {
  const tasks = taskOrder(run);
  const loss = perTaskChart('chart-loss', 'Training loss per task', 'loss (unweighted)', tasks, stepRows(run.steps, run.epochs, 'losses'), true);
  const weights = perTaskChart('chart-weights', 'Balancer task weights', 'weight', tasks, stepRows(run.steps, run.epochs, 'weights'), false);
  const lrPoints = run.steps.map((s): [number, number | null] => [s.step, finite(s.lr)]);
  const lr: ChartSpec | null = lrPoints.length
    ? { id: 'chart-lr', title: 'Learning rate', xLabel: 'step', yLabel: 'lr', series: [{ label: 'lr', color: '#555', points: lrPoints }], logToggle: true }
    : null;

  const val: ChartSpec[] = [];
  tasks.forEach((task, ti) => {
    const metrics: string[] = [];
    for (const e of run.epochs) for (const m of Object.keys(e.val[task] ?? {})) if (!metrics.includes(m)) metrics.push(m);
    if (metrics.length === 0) return;
    const xs = run.epochs.map((e) => e.epoch + 1);
    const x0 = Math.min(...xs);
    const x1 = Math.max(...xs);
    const series: SeriesSpec[] = [];
    metrics.forEach((m, mi) => {
      const color = seriesColor(mi);
      series.push({ label: m, color, points: run.epochs.map((e): [number, number | null] => [e.epoch + 1, finite(e.val[task]?.[m])]) });
      const b = finite(run.baseline?.val[task]?.[m]);
      if (b !== null) series.push({ label: `${m} (baseline)`, color, dashed: true, points: [[x0, b], [x1, b]] });
    });
    val.push({ id: `chart-val-${ti}`, title: task, xLabel: 'epochs completed', yLabel: 'value', series });
  });
  return { loss, weights, lr, val };
}
