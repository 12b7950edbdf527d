/**
 * Renders a RunData as one self-contained HTML page: no network at all (Chart.js inlined, images as
 * data: URIs), every piece of run text escaped.
 */
import { classColor } from '../../io/visualize.js';
import type { MetricDirections, RunConfigLike, SampleTaskKind, TaskMetricValues } from '../run-files.js';
import { buildCharts, taskOrder, type ChartSpec } from './charts.js';
import { REPORT_CSS, REPORT_SCRIPT, chartJsSource, escapeHtml as esc, jsonForScript, scriptSafe } from './html.js';
import type { RunData, RunSamples } from './read-run.js';

/** Options of {@link renderReport}. */
export interface RenderOptions {
  /** The Chart.js UMD source to inline (default: the installed package's, see chartJsSource). */
  chartJs?: string;
  /** The time printed in the footer (default: now). */
  generatedAt?: Date;
}

// A config section's name: the string itself, or its named keys joined (sizes as 64x64, numbers as is).
function nameOf(v: unknown, keys: string[]): string | undefined {
  if (typeof v === 'string') return v;
  if (v && typeof v === 'object') {
    const o = v as Record<string, unknown>;
    const parts = keys
      .map((k) => o[k])
      .map((x) => (Array.isArray(x) ? x.join('x') : typeof x === 'number' ? String(x) : x))
      .filter((x): x is string => typeof x === 'string');
    if (parts.length) return parts.join(' / ');
  }
  return undefined;
}

/** Formats seconds as `1h 02m 03s`, `4m 05s` or `6.2s`. */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds)) return 'n/a';
  if (seconds < 60) return `${seconds.toFixed(1)}s`;
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const pad = (n: number): string => String(n).padStart(2, '0');
  return h > 0 ? `${h}h ${pad(m)}m ${pad(s % 60)}s` : `${m}m ${pad(s % 60)}s`;
}

/** Formats a metric value with 4 significant digits (n/a for null/non-finite). */
export function formatValue(v: number | null | undefined): string {
  if (typeof v !== 'number' || !Number.isFinite(v)) return 'n/a';
  if (v === 0) return '0';
  const a = Math.abs(v);
  return a >= 1e5 || a < 1e-3 ? v.toExponential(3) : String(Number(v.toPrecision(4)));
}

function summary(run: RunData): string {
  const c = (run.config && typeof run.config === 'object' ? run.config : {}) as RunConfigLike;
  const lastTime = Math.max(0, ...run.steps.map((s) => s.time), ...run.epochs.map((e) => e.time));
  const steps = Math.max(0, ...run.steps.map((s) => s.step), ...run.epochs.map((e) => e.step));
  const items: [string, string][] = [
    ['Config', nameOf(c.name, []) ?? 'unnamed'],
    ['Dataset', nameOf(c.data, ['name', 'kind', 'size']) ?? nameOf(c.dataset, ['name']) ?? 'n/a'],
    ['Model', nameOf(c.model, ['name', 'arch', 'backbone']) ?? 'n/a'],
    ['Balancer', nameOf(c.balancer, ['method', 'name']) ?? 'n/a'],
    ['Optimizer', nameOf(c.optimizer, ['kind', 'lr']) ?? 'n/a'],
    ['Tasks', taskOrder(run).join(', ') || 'none'],
    ['Steps', String(steps)],
    ['Epochs', String(run.epochs.length)],
    ['Duration', formatDuration(lastTime)],
    ['Status', run.final ? 'finished' : 'not finished (no final evaluation)'],
  ];
  if (run.final) items.push(['ΔMTL', run.final.deltaMTL === null ? 'n/a' : `${run.final.deltaMTL >= 0 ? '+' : ''}${run.final.deltaMTL.toFixed(2)}%`]);
  return `<dl class="summary card">${items.map(([k, v]) => `<div><dt>${esc(k)}</dt><dd>${esc(v)}</dd></div>`).join('')}</dl>`;
}

function metricsTable(run: RunData): string {
  const lastVal = run.epochs.at(-1)?.val;
  const val: TaskMetricValues | undefined = run.final?.val ?? lastVal;
  if (!val || Object.keys(val).length === 0) return '<p class="na">No validation metrics were recorded.</p>';
  const source = run.final ? 'final evaluation' : `after epoch ${run.epochs.at(-1)!.epoch + 1} (the run has no final evaluation)`;
  const dirs: MetricDirections = { ...run.baseline?.higherIsBetter, ...run.final?.higherIsBetter };
  const rows: string[] = [];
  for (const task of taskOrder(run)) {
    for (const [metric, v] of Object.entries(val[task] ?? {})) {
      const b = run.baseline?.val[task]?.[metric];
      const higher = dirs[task]?.[metric];
      let change = '<span class="na">–</span>';
      if (typeof v === 'number' && typeof b === 'number' && Number.isFinite(v) && Number.isFinite(b) && b !== 0) {
        const rel = ((v - b) / Math.abs(b)) * 100;
        const cls = higher === undefined || rel === 0 ? '' : (rel > 0) === higher ? 'better' : 'worse';
        change = `<span class="${cls}">${rel >= 0 ? '+' : ''}${rel.toFixed(1)}%</span>`;
      }
      const arrow = higher === undefined ? '' : higher ? ' ↑' : ' ↓';
      rows.push(
        `<tr><td>${esc(task)}</td><td>${esc(metric)}${arrow}</td><td>${esc(formatValue(v))}</td>` +
          `<td>${esc(b === undefined ? '–' : formatValue(b))}</td><td>${change}</td></tr>`,
      );
    }
  }
  return (
    `<p class="sub">Values from the ${esc(source)}; ↑ higher is better, ↓ lower is better; change is relative to the trivial baseline.</p>` +
    `<table class="metrics"><thead><tr><th>task</th><th>metric</th><th>value</th><th>baseline</th><th>change</th></tr></thead><tbody>${rows.join('')}</tbody></table>`
  );
}

function chartBox(spec: ChartSpec, small = false): string {
  const toggle = spec.logToggle ? `<label><input type="checkbox" data-log-for="${esc(spec.id)}"> log scale</label>` : '';
  return (
    `<div class="card"><div class="chart-head"><h3>${esc(spec.title)}</h3>${toggle}</div>` +
    `<div class="chart${small ? ' small' : ''}"><canvas id="${esc(spec.id)}"></canvas></div></div>`
  );
}

const KIND_NOTE: Partial<Record<SampleTaskKind, string>> = {
  depth: 'viridis, purple = near, yellow = far, black = no measurement',
  normals: 'rgb = (n + 1) / 2, black = no ground truth',
  edge: 'edge probability, white = edge',
  saliency: 'saliency probability, white = salient',
};

function samplesSection(samples: RunSamples): string {
  const tasks = samples.tasks;
  const head =
    '<tr><th></th><th>input</th>' +
    tasks.map((t) => `<th>${esc(t.name)}${t.kind !== t.name ? ` <span class="na">(${esc(t.kind)})</span>` : ''}</th>`).join('') +
    '</tr>';
  // Shrink the pictures so that up to ~4 tasks fit the page width; wider grids scroll.
  const imgWidth = Math.max(96, Math.min(128, Math.floor(1080 / (1 + 2 * tasks.length)) - 12));
  const img = (src: string, caption: string): string =>
    `<figure><img src="${esc(src)}" alt="${esc(caption)}"><figcaption>${esc(caption)}</figcaption></figure>`;
  const rows = samples.items.map((item) => {
    const cells = tasks.map((t) => {
      const pair = item.tasks[t.name];
      if (!pair) return '<td class="task na">–</td>';
      return `<td class="task"><div class="pair">${img(pair.pred, 'prediction')}${pair.gt !== undefined ? img(pair.gt, 'ground truth') : ''}</div></td>`;
    });
    return `<tr><td class="id">${esc(item.id)}</td><td>${img(item.input, 'input')}</td>${cells.join('')}</tr>`;
  });
  const legends = tasks.map((t) => {
    if (t.classNames && t.classNames.length) {
      const entries = t.classNames.map((n, c) => {
        const [r, g, b] = classColor(c);
        return `<span><span class="swatch" style="background:rgb(${r},${g},${b})"></span>${esc(n)}</span>`;
      });
      return `<h3>${esc(t.name)} classes</h3><div class="legend">${entries.join('')}</div>`;
    }
    const note = KIND_NOTE[t.kind];
    return note ? `<p class="sub"><b>${esc(t.name)}</b>: ${esc(note)}</p>` : '';
  });
  return `<div class="samples-wrap card" style="--img-w:${imgWidth}px"><table class="samples"><thead>${head}</thead><tbody>${rows.join('')}</tbody></table></div>${legends.join('')}`;
}

/**
 * The report page of a run as one HTML string (no external resources): summary, final metrics vs
 * baselines, training-loss / task-weight / learning-rate charts, validation metrics per task, the
 * sample predictions, notes about anything missing, and the config. The chart data is embedded as
 * JSON in `<script type="application/json" id="webmtl-report-data">` (a ReportChartData).
 */
export function renderReport(run: RunData, opts: RenderOptions = {}): string {
  const charts = buildCharts(run);
  const title = `webmtl run: ${nameOf((run.config as RunConfigLike | null)?.name, []) ?? run.dir}`;
  const notes = run.notes.length ? `<div class="notes">${run.notes.map((n) => `<p>${esc(n)}</p>`).join('')}</div>` : '';
  const training = [charts.loss, charts.weights, charts.lr].filter((c): c is ChartSpec => c !== null);
  const when = (opts.generatedAt ?? new Date()).toISOString();
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc(title)}</title>
<style>${REPORT_CSS}</style>
</head>
<body>
<main>
<h1>${esc(title)}</h1>
<p class="sub">Run folder: <code>${esc(run.dir)}</code></p>
${notes}
<h2>Summary</h2>
${summary(run)}
<h2>Validation metrics</h2>
${metricsTable(run)}
<h2>Training</h2>
${training.length ? `<div class="grid">${training.map((c) => chartBox(c)).join('')}</div>` : '<p class="na">No training steps were logged.</p>'}
<h2>Validation over epochs</h2>
${charts.val.length ? `<div class="grid">${charts.val.map((c) => chartBox(c, true)).join('')}</div>` : '<p class="na">No validation results were logged.</p>'}
<h2>Samples</h2>
${run.samples && run.samples.items.length ? samplesSection(run.samples) : '<p class="na">No samples to show (see the notes above).</p>'}
<h2>Config</h2>
<details><summary>config.json</summary><pre>${esc(JSON.stringify(run.config, null, 2) ?? 'null')}</pre></details>
<footer>Generated by webmtl report on ${esc(when)}.</footer>
</main>
<script type="application/json" id="webmtl-report-data">${jsonForScript(charts)}</script>
<script>${scriptSafe(opts.chartJs ?? chartJsSource())}</script>
<script>${REPORT_SCRIPT}</script>
</body>
</html>
`;
}
