// Host-only tests of `webmtl report`: a small fake run folder is written to a temp dir and reported.
// With WEBMTL_REPORT_DEMO=<folder> set, the last test also writes a larger demo run and its report
// there (for looking at the page in a browser).
import { afterAll, describe, expect, it } from 'vitest';
import { mkdtemp, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { depthRange, depthToRgba, encodePng, labelsToRgba, normalsToRgba, probToRgba, type RgbaImage } from '../../../src/io/visualize.js';
import { metricsLine, sampleFileName, type MetricsRecord, type SamplesIndex } from '../../../src/cli/run-files.js';
import { readRun, RunFileError, writeReport, type ReportChartData } from '../../../src/cli/report/index.js';

const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

const EVIL = '</script><script>alert("x")</script> & <b>';
const TASKS = ['semseg', 'depth', 'normals', 'edge'] as const;

function fakeMetrics(epochs: number, stepsPerEpoch: number, logEvery: number): MetricsRecord[] {
  const baseline: Extract<MetricsRecord, { type: 'baseline' }> = {
    type: 'baseline',
    val: { semseg: { mIoU: 0.08, pixelAcc: 0.35 }, depth: { rmse: 1.2, absRel: 0.45 }, normals: { mean: 42 }, edge: { odsF: 0.3 } },
    higherIsBetter: { semseg: { mIoU: true, pixelAcc: true }, depth: { rmse: false, absRel: false }, normals: { mean: false }, edge: { odsF: true } },
  };
  const out: MetricsRecord[] = [baseline];
  let step = 0;
  for (let e = 0; e < epochs; e++) {
    for (let i = 0; i < stepsPerEpoch; i++) {
      step++;
      if (step % logEvery) continue;
      const k = Math.exp(-step / 40);
      out.push({
        type: 'step', step, epoch: e, time: step * 0.25, lr: 1e-3 * (1 - step / (epochs * stepsPerEpoch + 1)),
        losses: { semseg: 1.6 * k + 0.3 + 0.05 * Math.sin(step), depth: 0.8 * k + 0.1, normals: 0.5 * k + 0.2, edge: 0.2 * k + 0.05 },
        weights: { semseg: 1 + 0.3 * (1 - k), depth: 1 - 0.2 * (1 - k), normals: 1, edge: 0.8 + 0.4 * (1 - k) },
      });
    }
    const q = (e + 1) / epochs;
    out.push({
      type: 'epoch', epoch: e, step, time: step * 0.25 + 2, seconds: stepsPerEpoch * 0.25 + 2,
      trainLoss: { semseg: 1 - 0.5 * q, depth: 0.5 - 0.2 * q, normals: 0.5 - 0.1 * q, edge: 0.2 - 0.1 * q },
      weights: { semseg: 1.1, depth: 0.9, normals: 1, edge: 1 },
      val: {
        semseg: { mIoU: 0.1 + 0.3 * q, pixelAcc: 0.4 + 0.3 * q },
        depth: { rmse: 1.1 - 0.4 * q, absRel: 0.4 - 0.15 * q },
        normals: { mean: 40 - 8 * q },
        edge: { odsF: q === 1 ? null : 0.2 + 0.3 * q },
      },
    });
  }
  const last = out.at(-1) as Extract<MetricsRecord, { type: 'epoch' }>;
  out.push({ type: 'final', val: last.val, deltaMTL: 12.345, higherIsBetter: baseline.higherIsBetter });
  return out;
}

// A scene of a disc on a background; predictions are the ground truth with the disc shifted.
function sceneImages(h: number, w: number, shift: number): Record<string, RgbaImage> {
  const n = h * w;
  const labels = new Int32Array(n);
  const depth = new Float32Array(n);
  const normals = new Float32Array(3 * n);
  const edge = new Float32Array(n);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const p = y * w + x;
      const r = Math.hypot(y - h / 2, x - w / 2 - shift);
      const inDisc = r < h / 3;
      labels[p] = y < 2 ? 255 : inDisc ? 1 + ((x >> 3) % 2) : y > (2 * h) / 3 ? 3 : 0;
      depth[p] = y < 2 ? 0 : inDisc ? 1.5 + r / h : 2 + (3 * y) / h;
      const nx = inDisc ? (x - w / 2 - shift) / (h / 3) : 0;
      const ny = inDisc ? (y - h / 2) / (h / 3) : -1;
      const nz = inDisc ? Math.sqrt(Math.max(0, 1 - nx * nx - ny * ny)) : 0;
      normals[p] = nx;
      normals[n + p] = ny;
      normals[2 * n + p] = nz;
      edge[p] = Math.abs(r - h / 3) < 1 ? 1 : 0;
    }
  }
  const input = new Uint8ClampedArray(4 * n);
  for (let p = 0; p < n; p++) {
    const [r, g, b] = labels[p] === 255 ? [20, 20, 20] : [[90, 140, 200], [220, 120, 60], [200, 200, 80], [70, 160, 90]][labels[p]!]!;
    input.set([r + ((p * 7) % 23), g, b, 255], 4 * p);
  }
  return {
    input: { data: input, width: w, height: h },
    semseg: labelsToRgba(labels, h, w, 4),
    depth: depthToRgba(depth, h, w, depthRange(depth)),
    normals: normalsToRgba(normals, h, w),
    edge: probToRgba(edge, h, w),
  };
}

async function writeFakeRun(dir: string, opts: { samples?: boolean; items?: number; size?: number; metrics?: MetricsRecord[] } = {}): Promise<void> {
  await mkdir(dir, { recursive: true });
  const config = { name: 'demo-run', notes: EVIL, data: { kind: 'synthetic', size: 32 }, model: { arch: 'mti-net', backbone: 'resnet18' }, balancer: { method: 'uncertainty' }, optimizer: { kind: 'adam', lr: 0.001 } };
  await writeFile(join(dir, 'config.json'), JSON.stringify(config, null, 2));
  await writeFile(join(dir, 'metrics.jsonl'), (opts.metrics ?? fakeMetrics(3, 20, 5)).map(metricsLine).join(''));
  if (opts.samples === false) return;
  const samples = join(dir, 'samples');
  await mkdir(samples, { recursive: true });
  const size = opts.size ?? 8;
  const index: SamplesIndex = {
    tasks: [
      { name: 'semseg', kind: 'segmentation', classNames: ['background', 'disc <a>', 'stripe', 'floor'] },
      { name: 'depth', kind: 'depth' },
      { name: 'normals', kind: 'normals' },
      { name: 'edge', kind: 'edge' },
    ],
    items: [],
  };
  const png = (f: string, img: RgbaImage) => writeFile(join(samples, f), encodePng(img.data, img.width, img.height));
  for (let i = 0; i < (opts.items ?? 2); i++) {
    const gt = sceneImages(size, size, 0);
    const pred = sceneImages(size, size, 1 + i);
    await png(sampleFileName(i), gt.input!);
    const item: SamplesIndex['items'][number] = { id: `val-${i}`, input: sampleFileName(i), tasks: {} };
    for (const t of TASKS) {
      await png(sampleFileName(i, t, 'pred'), pred[t]!);
      await png(sampleFileName(i, t, 'gt'), gt[t]!);
      item.tasks[t] = { pred: sampleFileName(i, t, 'pred'), gt: sampleFileName(i, t, 'gt') };
    }
    index.items.push(item);
  }
  await writeFile(join(samples, 'index.json'), JSON.stringify(index));
}

async function tempRun(): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), 'webmtl-report-'));
  dirs.push(d);
  return d;
}

// Checks for a substring without dumping the whole (Chart.js-sized) page on failure.
function has(html: string, part: string, yes = true): void {
  expect(html.includes(part), `${yes ? 'missing' : 'unexpected'}: ${part}`).toBe(yes);
}

function embeddedData(html: string): ReportChartData {
  const m = /<script type="application\/json" id="webmtl-report-data">([\s\S]*?)<\/script>/.exec(html);
  expect(m).not.toBeNull();
  return JSON.parse(m![1]!) as ReportChartData;
}

describe('webmtl report', () => {
  it('writes a self-contained report with the charts, images and escaped config', async () => {
    const dir = await tempRun();
    await writeFakeRun(dir);
    const out = await writeReport(dir);
    expect(out).toBe(join(dir, 'report.html'));
    const html = await readFile(out, 'utf8');

    const data = embeddedData(html);
    expect(data.loss!.series.map((s) => s.label)).toEqual([...TASKS]);
    expect(data.loss!.series[0]!.points).toHaveLength(12); // 60 steps, logged every 5
    expect(data.loss!.series[0]!.points[0]![0]).toBe(5);
    expect(data.loss!.logToggle).toBe(true);
    expect(data.weights!.series[0]!.points.at(-1)![1]).toBeCloseTo(1 + 0.3 * (1 - Math.exp(-60 / 40)), 6);
    expect(data.val.map((c) => c.title)).toEqual([...TASKS]);
    const seg = data.val[0]!;
    expect(seg.series.map((s) => s.label)).toEqual(['mIoU', 'mIoU (baseline)', 'pixelAcc', 'pixelAcc (baseline)']);
    expect(seg.series[0]!.points.map((p) => p[0])).toEqual([1, 2, 3]);
    expect(seg.series[1]).toMatchObject({ dashed: true, points: [[1, 0.08], [3, 0.08]] });
    expect(data.val[3]!.series[0]!.points[2]![1]).toBeNull(); // a null metric stays a gap

    // Chart canvases for every chart; Chart.js inlined.
    for (const c of [data.loss!, data.weights!, data.lr!, ...data.val]) has(html, `<canvas id="${c.id}">`);
    has(html, 'Chart.js v4');
    has(html, 'sourceMappingURL', false);
    // 2 items x (input + 4 tasks x 2) images, all inline PNGs.
    expect(html.match(/<img src="data:image\/png;base64,[A-Za-z0-9+/=]+"/g)).toHaveLength(18);
    // Escaping: the config's hostile string never appears raw, only escaped.
    has(html, EVIL, false);
    has(html, '&lt;/script&gt;&lt;script&gt;alert(\\&quot;x\\&quot;)&lt;/script&gt; &amp; &lt;b&gt;');
    has(html, 'disc &lt;a&gt;');
    // No external resources.
    expect(/\b(src|href)\s*=\s*["']?\s*(https?:)?\/\//i.exec(html)?.[0] ?? null).toBeNull();
    expect(/url\(\s*["']?\s*(https?:)?\/\//i.exec(html)?.[0] ?? null).toBeNull();
    expect(/@import|<link\b|<iframe\b/i.exec(html)?.[0] ?? null).toBeNull();
    // Summary and final metrics.
    for (const s of ['demo-run', 'synthetic / 32', 'mti-net / resnet18', 'uncertainty', 'adam / 0.001', '+12.35%', 'finished']) has(html, s);
    has(html, '<td>semseg</td><td>mIoU ↑</td><td>0.4</td><td>0.08</td><td><span class="better">+400.0%</span></td>');
    has(html, '<td>depth</td><td>rmse ↓</td><td>0.7</td><td>1.2</td><td><span class="better">-41.7%</span></td>');
  });

  it('names the file and line of a malformed metrics line', async () => {
    const dir = await tempRun();
    await writeFakeRun(dir, { samples: false });
    const lines = (await readFile(join(dir, 'metrics.jsonl'), 'utf8')).split('\n');
    lines.splice(3, 0, '{"type":"step","step":1');
    await writeFile(join(dir, 'metrics.jsonl'), lines.join('\n'));
    await expect(readRun(dir)).rejects.toThrow(RunFileError);
    await expect(readRun(dir)).rejects.toThrow(/metrics\.jsonl:4: invalid JSON/);

    lines.splice(3, 1, '{"type":"step","step":1,"epoch":0,"time":1,"lr":0.1,"losses":{"a":"x"},"weights":{}}');
    await writeFile(join(dir, 'metrics.jsonl'), lines.join('\n'));
    await expect(readRun(dir)).rejects.toThrow(/metrics\.jsonl:4: not a metrics record: losses\.a/);
  });

  it('tolerates a truncated last line and a run without final evaluation', async () => {
    const dir = await tempRun();
    const metrics = fakeMetrics(2, 10, 2).filter((r) => r.type !== 'final');
    await writeFakeRun(dir, { metrics, samples: false });
    const text = await readFile(join(dir, 'metrics.jsonl'), 'utf8');
    await writeFile(join(dir, 'metrics.jsonl'), text + '{"type":"step","step":21,"epo');
    const run = await readRun(dir);
    expect(run.steps).toHaveLength(10);
    expect(run.final).toBeUndefined();
    expect(run.notes.join(' ')).toMatch(/line \d+ is incomplete/);
    const html = await readFile(await writeReport(dir), 'utf8');
    has(html, 'not finished');
    has(html, 'is incomplete');
  });

  it('reports a run without samples, with a note', async () => {
    const dir = await tempRun();
    await writeFakeRun(dir, { samples: false });
    const run = await readRun(dir);
    expect(run.samples).toBeNull();
    const html = await readFile(await writeReport(dir), 'utf8');
    has(html, 'no samples folder');
    has(html, '<img', false);
    expect(embeddedData(html).val).toHaveLength(4);
  });

  it('names missing files', async () => {
    const dir = await tempRun();
    await expect(readRun(dir)).rejects.toThrow(/config\.json: not found/);
    await writeFakeRun(dir, { items: 1 });
    await rm(join(dir, 'samples', sampleFileName(0, 'depth', 'gt')));
    await expect(readRun(dir)).rejects.toThrow(/0-depth-gt\.png: not found/);
    await writeFile(join(dir, 'samples', 'index.json'), JSON.stringify({ tasks: [], items: [{ id: '0', input: '../x.png', tasks: {} }] }));
    await expect(readRun(dir)).rejects.toThrow(/index\.json: not a samples index: items\.0\.input/);
  });

  // Writes into WEBMTL_REPORT_DEMO when set (to look at the page), else into a temporary folder.
  it('writes a whole report for a six-epoch run with samples', async () => {
    const demo = process.env.WEBMTL_REPORT_DEMO ?? (await tempRun());
    await rm(demo, { recursive: true, force: true });
    await writeFakeRun(demo, { metrics: fakeMetrics(6, 40, 2), items: 3, size: 48 });
    const out = await writeReport(demo);
    const html = await readFile(out, 'utf8');
    expect(html).toMatch(/^<!doctype html>/i);
    expect((html.match(/<img /g) ?? []).length).toBeGreaterThanOrEqual(3);
    expect(html).toContain('<canvas');
  });
});
