/**
 * The two live plots of the demo page: per-task losses (log scale) and GradNorm's task weights, one
 * point per step. Chart.js is bundled from node_modules; only the parts a line chart needs are
 * registered, and animation is off so an update costs little next to a training step.
 */
import {
  Chart,
  Legend,
  LineController,
  LineElement,
  LinearScale,
  LogarithmicScale,
  PointElement,
  Tooltip,
  type ChartConfiguration,
} from 'chart.js';

Chart.register(LineController, LineElement, PointElement, LinearScale, LogarithmicScale, Legend, Tooltip);

/** One colour per task, in task order (Tableau 10). */
export const TASK_COLOURS = ['#4e79a7', '#f28e2b', '#59a14f', '#e15759', '#b07aa1', '#76b7b2'];

/** A line chart with one series per task whose x values are step numbers. */
export class TaskPlot {
  private readonly chart: Chart<'line', { x: number; y: number }[]>;

  /** Builds the chart on `canvas` for `tasks`; `log` puts the y axis on a log scale. */
  constructor(canvas: HTMLCanvasElement, tasks: readonly string[], opts: { log?: boolean; yTitle: string }) {
    const config: ChartConfiguration<'line', { x: number; y: number }[]> = {
      type: 'line',
      data: {
        datasets: tasks.map((t, i) => ({
          label: t,
          data: [],
          borderColor: TASK_COLOURS[i % TASK_COLOURS.length],
          backgroundColor: TASK_COLOURS[i % TASK_COLOURS.length],
          borderWidth: 2,
          pointRadius: 0,
          tension: 0.2,
        })),
      },
      options: {
        animation: false,
        maintainAspectRatio: false,
        parsing: false,
        normalized: true,
        interaction: { mode: 'nearest', axis: 'x', intersect: false },
        scales: {
          x: { type: 'linear', min: 0, title: { display: true, text: 'step' }, ticks: { precision: 0 } },
          y: { type: opts.log ? 'logarithmic' : 'linear', title: { display: true, text: opts.yTitle } },
        },
        plugins: { legend: { position: 'bottom', labels: { boxWidth: 12, boxHeight: 12 } } },
      },
    };
    this.chart = new Chart(canvas, config);
  }

  /** Appends one point per task (by task name) at step `step` and redraws. */
  push(step: number, values: Readonly<Record<string, number>>): void {
    for (const ds of this.chart.data.datasets) {
      const v = values[ds.label ?? ''];
      if (v !== undefined && Number.isFinite(v)) ds.data.push({ x: step, y: v });
    }
    this.chart.update('none');
  }

  /** Points in the first series: what the page reports as the plot's length. */
  get points(): number {
    return this.chart.data.datasets[0]?.data.length ?? 0;
  }

  /** Removes every point (a new run). */
  clear(): void {
    for (const ds of this.chart.data.datasets) ds.data = [];
    this.chart.update('none');
  }
}
