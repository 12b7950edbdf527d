/**
 * HTML building blocks of the report: escaping, safe embedding of JSON and scripts, the inlined
 * Chart.js build, the page's style sheet and its small chart script.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { WebmtlError } from '../../errors.js';

/** Escapes text for HTML element content and double- or single-quoted attribute values. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

/**
 * JSON for a `<script type="application/json">` element: `<`, `>` and `&` are written as \u escapes
 * so no string in the data can close the element, and JSON.parse of the element's text gives the
 * value back.
 */
export function jsonForScript(value: unknown): string {
  return JSON.stringify(value).replace(/[<>&\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** Makes JavaScript source safe inside a `<script>` element (no `</script` or `<!--` in it). */
export function scriptSafe(source: string): string {
  return source.replace(/<\/(script)/gi, '<\\/$1').replace(/<!--/g, '<\\!--');
}

let chartJsCache: string | undefined;

/**
 * The source of Chart.js's UMD build (dist/chart.umd.js of the installed `chart.js` package, which
 * defines a global `Chart`), read once and cached. Throws a WebmtlError saying how to install it.
 */
export function chartJsSource(): string {
  if (chartJsCache !== undefined) return chartJsCache;
  try {
    // The package's exports map hides dist/chart.umd.js; find it next to the CommonJS entry.
    const entry = createRequire(import.meta.url).resolve('chart.js');
    // Without its source-map comment: the page is self-contained and the map is not in it.
    chartJsCache = readFileSync(join(dirname(entry), 'chart.umd.js'), 'utf8').replace(/\n\/\/# sourceMappingURL=\S*\s*$/, '\n');
  } catch (e) {
    throw new WebmtlError(`report: cannot read Chart.js's UMD build (${(e as Error).message}); run \`npm install chart.js\``);
  }
  return chartJsCache;
}

/** The page's style sheet. */
export const REPORT_CSS = `
:root { color-scheme: light; --fg: #1d2330; --muted: #5f6b7a; --line: #dde2e8; --bg: #f6f7f9; --card: #fff; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--fg); background: var(--bg); }
main { max-width: 1180px; margin: 0 auto; padding: 24px 20px 60px; }
h1 { font-size: 22px; margin: 0 0 4px; }
h2 { font-size: 17px; margin: 28px 0 10px; padding-bottom: 4px; border-bottom: 1px solid var(--line); }
h3 { font-size: 14px; margin: 16px 0 6px; }
.sub { color: var(--muted); margin: 0 0 16px; }
.card { background: var(--card); border: 1px solid var(--line); border-radius: 8px; padding: 12px 14px; }
.summary { display: grid; grid-template-columns: repeat(auto-fill, minmax(200px, 1fr)); gap: 8px 18px; }
.summary div { min-width: 0; } .summary dt { color: var(--muted); font-size: 12px; } .summary dd { margin: 0; font-weight: 600; overflow-wrap: anywhere; }
.notes { background: #fff8e1; border: 1px solid #f0d98a; border-radius: 8px; padding: 8px 14px; margin: 12px 0; }
.notes p { margin: 4px 0; }
table { border-collapse: collapse; }
table.metrics { width: 100%; background: var(--card); border: 1px solid var(--line); }
table.metrics th, table.metrics td { padding: 5px 10px; border-bottom: 1px solid var(--line); text-align: right; font-variant-numeric: tabular-nums; }
table.metrics th:first-child, table.metrics td:first-child, table.metrics td:nth-child(2), table.metrics th:nth-child(2) { text-align: left; }
table.metrics th { background: #eef1f5; font-weight: 600; }
.better { color: #1b7f3b; } .worse { color: #b3261e; } .na { color: var(--muted); }
.chart { position: relative; height: 300px; } .chart.small { height: 220px; }
.grid { display: grid; grid-template-columns: repeat(auto-fill, minmax(360px, 1fr)); gap: 12px; }
.chart-head { display: flex; justify-content: space-between; align-items: center; margin-bottom: 4px; }
.chart-head h3 { margin: 0; } .chart-head label { color: var(--muted); font-size: 12px; user-select: none; }
.samples-wrap { overflow-x: auto; }
table.samples th { font-size: 12px; color: var(--muted); font-weight: 600; padding: 4px 6px; text-align: center; }
table.samples td { padding: 4px 6px; vertical-align: top; text-align: center; }
table.samples td.id { white-space: nowrap; font-size: 12px; color: var(--muted); vertical-align: middle; text-align: right; }
table.samples td.task { border-left: 2px solid var(--line); }
figure { margin: 0; display: inline-block; }
figure img { width: var(--img-w, 128px); height: auto; image-rendering: pixelated; border: 1px solid var(--line); background: #000; display: block; }
figcaption { font-size: 11px; color: var(--muted); }
.pair { display: flex; gap: 4px; }
.legend { display: flex; flex-wrap: wrap; gap: 4px 12px; font-size: 12px; margin: 6px 0; }
.swatch { display: inline-block; width: 12px; height: 12px; border: 1px solid #0003; vertical-align: -2px; margin-right: 4px; }
details pre { background: #f0f2f5; border: 1px solid var(--line); border-radius: 6px; padding: 10px; overflow: auto; max-height: 480px; font-size: 12px; }
summary { cursor: pointer; font-weight: 600; }
footer { margin-top: 40px; color: var(--muted); font-size: 12px; }
`;

/** The page's chart script: reads the embedded data and draws each chart with the global Chart. */
export const REPORT_SCRIPT = `
(function () {
  var el = document.getElementById('webmtl-report-data');
  if (!el || typeof Chart === 'undefined') return;
  var data = JSON.parse(el.textContent);
  Chart.defaults.font.family = 'system-ui, -apple-system, "Segoe UI", Roboto, sans-serif';
  Chart.defaults.animation = false;
  function draw(spec) {
    var canvas = document.getElementById(spec.id);
    if (!canvas) return;
    var dense = spec.series.some(function (s) { return s.points.length > 40; });
    var chart = new Chart(canvas, {
      type: 'line',
      data: { datasets: spec.series.map(function (s) {
        return { label: s.label, data: s.points.map(function (p) { return { x: p[0], y: p[1] }; }),
          borderColor: s.color, backgroundColor: s.color, borderDash: s.dashed ? [6, 4] : [],
          borderWidth: s.dashed ? 1.5 : 2, pointRadius: s.dashed || dense ? 0 : 2.5, tension: 0, spanGaps: true };
      }) },
      options: {
        responsive: true, maintainAspectRatio: false,
        interaction: { mode: 'nearest', axis: 'x', intersect: false },
        scales: {
          x: { type: 'linear', title: { display: true, text: spec.xLabel } },
          y: { type: 'linear', title: { display: true, text: spec.yLabel } }
        },
        plugins: { legend: { position: 'bottom', labels: { boxWidth: 14, boxHeight: 2 } } }
      }
    });
    var box = document.querySelector('input[data-log-for="' + spec.id + '"]');
    if (box) box.addEventListener('change', function () {
      chart.options.scales.y.type = box.checked ? 'logarithmic' : 'linear';
      chart.update();
    });
  }
  [data.loss, data.weights, data.lr].concat(data.val).forEach(function (s) { if (s) draw(s); });
})();
`;
