/**
 * Line plots as standalone SVG text, for the pages docs/results.md embeds (task weights over
 * training, the GradNorm toy's curves). Hand-written because a plotting library would need a canvas
 * in Node; the plots are simple: linear or log10 y axis, a legend, ticks at round numbers.
 */

/** One line of a plot. */
export interface Series {
  name: string;
  points: readonly (readonly [number, number])[];
}

/** What {@link linePlot} draws. */
export interface PlotSpec {
  title: string;
  xLabel: string;
  yLabel: string;
  series: readonly Series[];
  /** log10 y axis (values <= 0 are left out). */
  logY?: boolean;
  width?: number;
  height?: number;
}

const COLORS = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b', '#e377c2', '#7f7f7f', '#bcbd22', '#17becf'];

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

/** Round tick positions covering [lo, hi] (about five). */
export function ticks(lo: number, hi: number): number[] {
  if (!(hi > lo)) return [lo];
  const raw = (hi - lo) / 5;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw)!;
  const out: number[] = [];
  for (let t = Math.ceil(lo / step) * step; t <= hi + step * 1e-9; t += step) out.push(Number(t.toPrecision(12)));
  return out;
}

/**
 * Tick positions (log10 values) for a log axis over [lo, hi] (log10 values): 1, 2, 5 x 10^k when
 * at least three fall inside, else round linear values (an axis spanning less than a decade).
 */
export function logTicks(lo: number, hi: number): number[] {
  const out: number[] = [];
  for (let k = Math.floor(lo); k <= Math.ceil(hi); k++) for (const m of [1, 2, 5]) if (Math.log10(m * 10 ** k) >= lo - 1e-9 && Math.log10(m * 10 ** k) <= hi + 1e-9) out.push(Math.log10(m * 10 ** k));
  return out.length >= 3 ? out : ticks(10 ** lo, 10 ** hi).filter((v) => v > 0).map(Math.log10);
}

const label = (v: number) => (Math.abs(v) >= 1e4 || (Math.abs(v) < 1e-3 && v !== 0) ? v.toExponential(1) : String(Number(v.toPrecision(4))));

/** The plot as an SVG document (see {@link PlotSpec}). */
export function linePlot(spec: PlotSpec): string {
  const W = spec.width ?? 560;
  const H = spec.height ?? 300;
  const m = { l: 60, r: 150, t: 30, b: 42 };
  const fy = (y: number) => (spec.logY ? Math.log10(y) : y);
  const pts = spec.series.map((s) => s.points.filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y) && (!spec.logY || y > 0)));
  const all = pts.flat();
  const xs = all.map((p) => p[0]);
  const ys = all.map((p) => fy(p[1]));
  let [x0, x1] = xs.length ? [Math.min(...xs), Math.max(...xs)] : [0, 1];
  let [y0, y1] = ys.length ? [Math.min(...ys), Math.max(...ys)] : [0, 1];
  if (x1 === x0) [x0, x1] = [x0 - 1, x1 + 1];
  if (y1 === y0) [y0, y1] = [y0 - (Math.abs(y0) || 1) * 0.1, y1 + (Math.abs(y1) || 1) * 0.1];
  const px = (x: number) => m.l + ((x - x0) / (x1 - x0)) * (W - m.l - m.r);
  const py = (y: number) => H - m.b - ((y - y0) / (y1 - y0)) * (H - m.t - m.b);
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="11">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<text x="${W / 2 - m.r / 2}" y="18" text-anchor="middle" font-size="13">${esc(spec.title)}</text>`,
    `<line x1="${m.l}" y1="${H - m.b}" x2="${W - m.r}" y2="${H - m.b}" stroke="black"/>`,
    `<line x1="${m.l}" y1="${m.t}" x2="${m.l}" y2="${H - m.b}" stroke="black"/>`,
  ];
  for (const t of ticks(x0, x1)) out.push(`<text x="${px(t).toFixed(1)}" y="${H - m.b + 14}" text-anchor="middle">${label(t)}</text>`);
  for (const t of spec.logY ? logTicks(y0, y1) : ticks(y0, y1)) {
    out.push(`<line x1="${m.l}" y1="${py(t).toFixed(1)}" x2="${W - m.r}" y2="${py(t).toFixed(1)}" stroke="#ddd"/>`);
    out.push(`<text x="${m.l - 4}" y="${(py(t) + 4).toFixed(1)}" text-anchor="end">${label(spec.logY ? 10 ** t : t)}</text>`);
  }
  out.push(`<text x="${(m.l + W - m.r) / 2}" y="${H - 8}" text-anchor="middle">${esc(spec.xLabel)}</text>`);
  out.push(`<text transform="translate(14 ${(m.t + H - m.b) / 2}) rotate(-90)" text-anchor="middle">${esc(spec.yLabel + (spec.logY ? ' (log)' : ''))}</text>`);
  spec.series.forEach((s, i) => {
    const c = COLORS[i % COLORS.length]!;
    const p = pts[i]!;
    if (p.length) out.push(`<polyline fill="none" stroke="${c}" stroke-width="1.5" points="${p.map(([x, y]) => `${px(x).toFixed(1)},${py(fy(y)).toFixed(1)}`).join(' ')}"/>`);
    const ly = m.t + 6 + i * 15;
    out.push(`<line x1="${W - m.r + 10}" y1="${ly}" x2="${W - m.r + 28}" y2="${ly}" stroke="${c}" stroke-width="2"/>`);
    out.push(`<text x="${W - m.r + 32}" y="${ly + 4}">${esc(s.name)}</text>`);
  });
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}
