/**
 * The browser demo page: checks for WebGPU, then on "Train" (or at load with
 * `?autostart=1&steps=N`) generates synthetic scenes, builds the tiny multi-task model with GradNorm
 * and trains it one step at a time, yielding to the event loop between steps so the page stays
 * responsive, while it plots losses and weights and redraws the prediction panel.
 *
 * URL parameters: autostart=1, steps (default 200), batch (8), lr (0.01), seed (0), stride (encoder
 * output stride: 8, 16 or 32; default 8), preview (draw the panel every N steps, default 5).
 * Progress is published on `window.__webmtl` for tests.
 */
import { init, type StepLog } from '../../src/browser.js';
import { TaskPlot } from './charts.js';
import { DEMO_TASKS, DemoSession } from './demo-core.js';
import { PreviewPanel } from './panels.js';

/** What the page publishes for tests and the curious (`window.__webmtl`). */
export interface DemoProgress {
  status: 'idle' | 'checking' | 'no-webgpu' | 'generating' | 'training' | 'done' | 'error';
  /** The adapter as `vendor architecture` (e.g. `google swiftshader`), once known. */
  adapter: string | null;
  step: number;
  steps: number;
  /** Unweighted loss per task, one entry per step. */
  losses: Record<string, number>[];
  /** GradNorm weight per task, one entry per step. */
  weights: Record<string, number>[];
  /** Points drawn in the loss and weight plots, and how often the picture panel was drawn. */
  plotted: { losses: number; weights: number; previews: number };
  /** Wall milliseconds of each step (the first includes shader compilation). */
  stepMs: number[];
  done: boolean;
  error: string | null;
}

declare global {
  interface Window {
    __webmtl: DemoProgress;
  }
}

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const params = new URLSearchParams(location.search);
const num = (key: string, fallback: number) => {
  const v = Number(params.get(key));
  return params.has(key) && Number.isFinite(v) && v > 0 ? v : fallback;
};

const progress: DemoProgress = {
  status: 'idle',
  adapter: null,
  step: 0,
  steps: 0,
  losses: [],
  weights: [],
  plotted: { losses: 0, weights: 0, previews: 0 },
  stepMs: [],
  done: false,
  error: null,
};
window.__webmtl = progress;

const button = $<HTMLButtonElement>('start');
const stepsInput = $<HTMLInputElement>('steps');
const statusLine = $('status');
stepsInput.value = String(Math.floor(num('steps', 200)));

function setStatus(html: string): void {
  statusLine.innerHTML = html;
}

/** Shows a problem prominently (and in the progress object) and ends the run. */
function fail(kind: 'no-webgpu' | 'error', html: string): void {
  const box = $('message');
  box.innerHTML = html;
  box.classList.add('show');
  progress.status = kind;
  progress.error = box.textContent;
  progress.done = true;
}

const ENABLE_HELP =
  'Use a browser with WebGPU: Chrome or Edge 113+ (Linux: start Chromium with <code>--enable-unsafe-webgpu</code>, ' +
  'or enable <code>chrome://flags/#enable-unsafe-webgpu</code>), Safari 26+, or Firefox 141+ on Windows ' +
  '(elsewhere set <code>dom.webgpu.enabled</code> in <code>about:config</code>). The page must come from ' +
  '<code>https://</code> or <code>http://localhost</code> / <code>127.0.0.1</code>.';

/** Finds an adapter before anything else, so a missing one gets a message rather than a stack trace. */
async function checkWebGpu(): Promise<string | null> {
  if (!('gpu' in navigator) || !navigator.gpu) {
    fail('no-webgpu', `<b>This browser has no WebGPU</b> (<code>navigator.gpu</code> is missing${window.isSecureContext ? '' : ': the page is not a secure context'}), so nothing can be trained here. ${ENABLE_HELP}`);
    return null;
  }
  const adapter = await navigator.gpu.requestAdapter();
  if (!adapter) {
    fail('no-webgpu', `<b>WebGPU is present but found no GPU</b> (<code>navigator.gpu.requestAdapter()</code> returned null: WebGPU is disabled, or the GPU or its driver is blocklisted). ${ENABLE_HELP}`);
    return null;
  }
  const i = adapter.info;
  return [i.vendor, i.architecture, i.device, i.description].filter((s) => s).join(' ') || 'unknown adapter';
}

// Built on the first run, reused (cleared) by the next ones: a Chart.js canvas takes one chart.
let views: { lossPlot: TaskPlot; weightPlot: TaskPlot; panel: PreviewPanel } | null = null;

const yieldToPage = () => new Promise<void>((r) => setTimeout(r, 0));

async function run(): Promise<void> {
  button.disabled = true;
  const steps = Math.max(1, Math.floor(Number(stepsInput.value) || 200));
  Object.assign(progress, { status: 'checking', step: 0, steps, losses: [], weights: [], stepMs: [], done: false, error: null });
  const adapter = progress.adapter ?? (await checkWebGpu());
  if (!adapter) return;
  progress.adapter = adapter;
  await init();
  views ??= {
    lossPlot: new TaskPlot($('losses'), DEMO_TASKS, { log: true, yTitle: 'loss' }),
    weightPlot: new TaskPlot($('weights'), DEMO_TASKS, { yTitle: 'weight' }),
    panel: new PreviewPanel($('grid'), $('legend')),
  };
  const { lossPlot, weightPlot, panel } = views;
  lossPlot.clear();
  weightPlot.clear();
  const previewEvery = Math.floor(num('preview', 5));
  progress.status = 'generating';
  setStatus('Generating synthetic scenes…');
  const session = await DemoSession.create(
    {
      batchSize: Math.floor(num('batch', 8)),
      lr: num('lr', 0.01),
      seed: Math.floor(num('seed', 0)),
      outputStride: ([8, 16, 32] as const).find((s) => s === num('stride', 8)) ?? 8,
    },
    (done, total) => setStatus(`Generating synthetic scenes… ${done}/${total}`),
  );
  try {
    const showPreview = async () => {
      panel.show(await session.predict());
      $('panel-step').textContent = `(after step ${session.step})`;
      progress.plotted.previews = panel.updates;
    };
    await showPreview();
    progress.status = 'training';
    const t0 = performance.now();
    for (let k = 0; k < steps; k++) {
      const log: StepLog = await session.trainStep();
      progress.losses.push(log.losses);
      progress.weights.push(log.weights);
      progress.stepMs = session.stepMs;
      lossPlot.push(log.step + 1, log.losses);
      weightPlot.push(log.step + 1, log.weights);
      progress.plotted.losses = lossPlot.points;
      progress.plotted.weights = weightPlot.points;
      if ((k + 1) % previewEvery === 0 || k === steps - 1) await showPreview();
      progress.step = k + 1;
      const recent = session.stepMs.slice(-10);
      const ms = recent.reduce((a, b) => a + b, 0) / recent.length;
      const total = Object.values(log.losses).reduce((a, b) => a + b, 0);
      setStatus(
        `<b>step ${k + 1}/${steps}</b> · total loss ${total.toFixed(3)} · ${ms.toFixed(0)} ms/step · ` +
          `${((performance.now() - t0) / 1000).toFixed(1)} s · adapter: <b>${adapter}</b>`,
      );
      await yieldToPage();
    }
    progress.status = 'done';
    setStatus(`${statusLine.innerHTML} · <b>done</b>`);
  } finally {
    session.dispose();
  }
  progress.done = true;
  button.disabled = false;
  button.textContent = 'Train again';
}

function start(): void {
  run().catch((e: unknown) => {
    console.error(e);
    const msg = e instanceof Error ? `${e.name}: ${e.message}` : String(e);
    fail('error', `<b>Training stopped:</b> ${msg.replace(/[<&]/g, (c) => (c === '<' ? '&lt;' : '&amp;'))}`);
    button.disabled = false;
  });
}

button.addEventListener('click', start);
if (params.get('autostart') === '1') start();
