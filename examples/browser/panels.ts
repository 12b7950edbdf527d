/**
 * The picture panel of the demo page: the held-out input image and, per task, the prediction next
 * to the ground truth, drawn on small canvases with the library's colour maps (the same as the HTML
 * reports): classes in the VOC palette, depth in viridis on a scale shared by prediction and truth,
 * normals as rgb = (n + 1) / 2, edges in grey.
 */
import {
  classColor,
  depthRange,
  depthToRgba,
  imageToRgba,
  labelsToRgba,
  normalsToRgba,
  probToRgba,
  SYNTHETIC_CLASSES,
  type RgbaImage,
} from '../../src/browser.js';
import { DEMO_TASKS, type DemoTask, type Preview } from './demo-core.js';

const TITLES: Record<DemoTask, string> = { semseg: 'Semantic classes', depth: 'Depth', normals: 'Surface normals', edge: 'Edges' };

/** Colours one task's map (prediction or truth) of a preview. */
function taskImage(p: Preview, task: DemoTask, which: 'pred' | 'truth'): RgbaImage {
  const s = p.size;
  const { pred, truth } = p.tasks[task];
  const v = which === 'pred' ? pred : truth;
  switch (task) {
    case 'semseg':
      return labelsToRgba(v as Int32Array, s, s, p.numClasses);
    case 'depth':
      return depthToRgba(v as Float32Array, s, s, depthRange(truth as Float32Array));
    case 'normals':
      return normalsToRgba(v as Float32Array, s, s);
    case 'edge':
      return probToRgba(v as Float32Array, s, s);
  }
}

/** A canvas of the image's size (the CSS scales it up, pixelated) inside a captioned figure. */
function figure(caption: string): [HTMLElement, HTMLCanvasElement] {
  const fig = document.createElement('figure');
  const canvas = document.createElement('canvas');
  canvas.className = 'img';
  const cap = document.createElement('figcaption');
  cap.textContent = caption;
  fig.append(canvas, cap);
  return [fig, canvas];
}

function draw(canvas: HTMLCanvasElement, img: RgbaImage): void {
  canvas.width = img.width;
  canvas.height = img.height;
  canvas.getContext('2d')!.putImageData(new ImageData(new Uint8ClampedArray(img.data), img.width, img.height), 0, 0);
}

/** The input column and one prediction/ground-truth pair per task; call {@link show} to fill it. */
export class PreviewPanel {
  private readonly input: HTMLCanvasElement;
  private readonly canvases = new Map<string, HTMLCanvasElement>();
  /** How many times the panel was drawn (the test reads it through the page's progress object). */
  updates = 0;

  /** Builds the grid inside `grid` and the class legend inside `legend`. */
  constructor(grid: HTMLElement, legend: HTMLElement) {
    grid.replaceChildren();
    for (const title of ['Input', ...DEMO_TASKS.map((t) => TITLES[t])]) {
      const h = document.createElement('div');
      h.className = 'head task';
      h.textContent = title;
      grid.append(h);
    }
    const [inFig, inCanvas] = figure('held-out scene');
    this.input = inCanvas;
    grid.append(inFig);
    for (const t of DEMO_TASKS) {
      const pair = document.createElement('div');
      pair.className = 'pair';
      for (const which of ['pred', 'truth'] as const) {
        const [fig, canvas] = figure(which === 'pred' ? 'prediction' : 'ground truth');
        this.canvases.set(`${t}/${which}`, canvas);
        pair.append(fig);
      }
      grid.append(pair);
    }
    legend.replaceChildren('Classes:');
    SYNTHETIC_CLASSES.forEach((name, c) => {
      const sw = document.createElement('span');
      sw.className = 'swatch';
      sw.style.background = `rgb(${classColor(c).join(',')})`;
      legend.append(sw, name);
    });
    legend.append(' · depth: near = dark, far = yellow · normals: rgb = (n + 1) / 2 · edges: probability');
  }

  /** Draws a preview: the input image and every task's prediction and ground truth. */
  show(p: Preview): void {
    draw(this.input, imageToRgba(p.image, p.size, p.size, p.mean, p.std));
    for (const t of DEMO_TASKS) {
      for (const which of ['pred', 'truth'] as const) draw(this.canvases.get(`${t}/${which}`)!, taskImage(p, t, which));
    }
    this.updates++;
  }
}
