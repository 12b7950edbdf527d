/**
 * The scale bench's figure as a standalone SVG: step time and peak memory against the work
 * (batch x pixels), log-log, one line per backbone and recompute setting and one per PyTorch peer,
 * so how cost grows with the work reads off the slopes.
 */
import type { ScaleRow } from './scale.js';

interface Series {
  name: string;
  color: string;
  dash: string;
  points: { x: number; y: number }[];
}

const COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#ff7f0e', '#8c564b'];

function series(rows: readonly ScaleRow[], pick: (r: ScaleRow) => number | undefined, torch: (r: ScaleRow) => number | undefined): Series[] {
  const out: Series[] = [];
  const backbones = [...new Set(rows.map((r) => r.backbone))];
  backbones.forEach((b, i) => {
    for (const rc of [false, true]) {
      const pts = rows.filter((r) => r.backbone === b && r.recompute === rc && pick(r) !== undefined && !r.error).map((r) => ({ x: r.batch * r.height * r.width, y: pick(r)! }));
      if (pts.length) out.push({ name: `${b}${rc ? ' recompute' : ''}`, color: COLORS[i % COLORS.length]!, dash: rc ? '6 3' : '', points: pts });
    }
    const tp = rows.filter((r) => r.backbone === b && torch(r) !== undefined).map((r) => ({ x: r.batch * r.height * r.width, y: torch(r)! }));
    if (tp.length) out.push({ name: `${b} PyTorch CPU`, color: COLORS[i % COLORS.length]!, dash: '2 3', points: tp });
  });
  for (const s of out) s.points.sort((a, b) => a.x - b.x);
  return out;
}

function panel(all: Series[], x0: number, title: string, unit: string): string {
  const W = 420, H = 300, L = 60, B = 40, T = 30;
  const pts = all.flatMap((s) => s.points);
  if (pts.length === 0) return '';
  const lx = pts.map((p) => Math.log10(p.x)), ly = pts.map((p) => Math.log10(Math.max(p.y, 1e-9)));
  const [xmin, xmax] = [Math.floor(Math.min(...lx)), Math.ceil(Math.max(...lx))];
  const [ymin, ymax] = [Math.floor(Math.min(...ly)), Math.ceil(Math.max(...ly))];
  const px = (v: number) => x0 + L + ((Math.log10(v) - xmin) / Math.max(1, xmax - xmin)) * (W - L - 10);
  const py = (v: number) => T + (1 - (Math.log10(Math.max(v, 1e-9)) - ymin) / Math.max(1, ymax - ymin)) * (H - T - B);
  let svg = `<text x="${x0 + W / 2}" y="18" text-anchor="middle" font-weight="bold">${title}</text>`;
  for (let e = xmin; e <= xmax; e++) svg += `<line x1="${px(10 ** e)}" y1="${T}" x2="${px(10 ** e)}" y2="${H - B}" stroke="#ddd"/><text x="${px(10 ** e)}" y="${H - B + 15}" text-anchor="middle">1e${e}</text>`;
  for (let e = ymin; e <= ymax; e++) svg += `<line x1="${x0 + L}" y1="${py(10 ** e)}" x2="${x0 + W - 10}" y2="${py(10 ** e)}" stroke="#ddd"/><text x="${x0 + L - 5}" y="${py(10 ** e) + 4}" text-anchor="end">1e${e}</text>`;
  svg += `<text x="${x0 + W / 2}" y="${H - 5}" text-anchor="middle">batch x pixels</text><text x="${x0 + 12}" y="${H / 2}" transform="rotate(-90 ${x0 + 12} ${H / 2})" text-anchor="middle">${unit}</text>`;
  for (const s of all) {
    svg += `<polyline fill="none" stroke="${s.color}" stroke-width="2" stroke-dasharray="${s.dash}" points="${s.points.map((p) => `${px(p.x).toFixed(1)},${py(p.y).toFixed(1)}`).join(' ')}"/>`;
    for (const p of s.points) svg += `<circle cx="${px(p.x).toFixed(1)}" cy="${py(p.y).toFixed(1)}" r="2.5" fill="${s.color}"/>`;
  }
  return svg;
}

/** The two-panel SVG (time, memory) for `rows`, captioned with the host. */
export function scaleSvg(rows: readonly ScaleRow[], caption: string): string {
  const time = series(rows, (r) => r.stepMs, (r) => (r.torch && 'stepMs' in r.torch ? r.torch.stepMs : undefined));
  const mem = series(rows, (r) => (r.peakRssGrowthBytes ?? 0) / 2 ** 20 || undefined, (r) => (r.torch && 'stepMs' in r.torch ? r.torch.peakRssGrowthBytes / 2 ** 20 : undefined));
  const legend = time.map((s, i) => `<g transform="translate(${20 + (i % 3) * 280},${330 + Math.floor(i / 3) * 18})"><line x1="0" y1="-4" x2="24" y2="-4" stroke="${s.color}" stroke-width="2" stroke-dasharray="${s.dash}"/><text x="30" y="0">${s.name}</text></g>`).join('');
  const rowsH = 340 + Math.ceil(time.length / 3) * 18;
  return `<svg xmlns="http://www.w3.org/2000/svg" width="860" height="${rowsH + 20}" font-family="sans-serif" font-size="11"><rect width="100%" height="100%" fill="white"/>${panel(time, 0, 'step time', 'ms')}${panel(mem, 430, 'peak memory growth (RSS)', 'MiB')}${legend}<text x="20" y="${rowsH + 12}" fill="#555">${caption.replace(/[<&>]/g, '')}</text></svg>\n`;
}
