/**
 * Training progress on the terminal: a cli-progress bar (step, loss per task, steps/s, ETA) when
 * stdout is a terminal, and otherwise one plain line every few seconds, so logs of CI runs and
 * redirected output stay readable.
 */
import cliProgress from 'cli-progress';

/** What the progress display shows after a step. */
export interface ProgressUpdate {
  step: number;
  epoch: number;
  losses: Record<string, number>;
}

/** Formats a loss compactly (4 significant digits). */
function fmt(v: number): string {
  return Math.abs(v) >= 1000 || (Math.abs(v) < 0.001 && v !== 0) ? v.toExponential(2) : v.toPrecision(4);
}

/** A progress display over `total` steps starting at `start`. */
export class Progress {
  private readonly bar: cliProgress.SingleBar | null;
  private readonly t0 = performance.now();
  private lastLine = 0;
  private readonly window: { step: number; t: number }[] = [];
  // The bar's last values: a restart after log() must pass them again, or the format's {epoch},
  // {losses} and {rate} show literally.
  private payload = { epoch: 0, losses: '', rate: '-' };

  constructor(
    readonly total: number,
    readonly start: number,
    private readonly out: NodeJS.WriteStream = process.stdout,
    private readonly enabled = true,
  ) {
    this.bar =
      enabled && out.isTTY
        ? new cliProgress.SingleBar(
            {
              format: 'epoch {epoch} |{bar}| {value}/{total} steps | {losses} | {rate} steps/s | ETA {eta_formatted}',
              hideCursor: true,
              stream: out,
              etaBuffer: 50,
            },
            cliProgress.Presets.shades_classic,
          )
        : null;
    this.bar?.start(total, start, this.payload);
  }

  /**
   * Steps per second over the last ~50 updates, or since the start while those span under a second
   * (step logs arrive in bursts of logEvery, all at once, after each readback).
   */
  rate(): number {
    if (this.window.length === 0) return NaN;
    const a = this.window[0]!;
    const b = this.window[this.window.length - 1]!;
    if (b.t - a.t >= 1000) return ((b.step - a.step) * 1000) / (b.t - a.t);
    const elapsed = b.t - this.t0;
    return elapsed > 0 && b.step > this.start ? ((b.step - this.start) * 1000) / elapsed : NaN;
  }

  /** Shows the state after step `u.step` (0-based; the bar shows steps done). */
  update(u: ProgressUpdate): void {
    const now = performance.now();
    this.window.push({ step: u.step + 1, t: now });
    if (this.window.length > 50) this.window.shift();
    const losses = Object.entries(u.losses)
      .map(([k, v]) => `${k} ${fmt(v)}`)
      .join('  ');
    const rate = this.rate();
    if (this.bar) {
      this.payload = { epoch: u.epoch, losses, rate: Number.isFinite(rate) ? rate.toFixed(2) : '-' };
      this.bar.update(u.step + 1, this.payload);
      return;
    }
    if (!this.enabled) return;
    const done = u.step + 1 === this.total;
    if (now - this.lastLine < 5000 && !done && this.lastLine !== 0) return;
    this.lastLine = now;
    const left = Number.isFinite(rate) && rate > 0 ? (this.total - u.step - 1) / rate : NaN;
    const eta = Number.isFinite(left) ? `${Math.floor(left / 60)}m${String(Math.round(left % 60)).padStart(2, '0')}s` : '-';
    this.out.write(`step ${u.step + 1}/${this.total} epoch ${u.epoch} | ${losses} | ${Number.isFinite(rate) ? rate.toFixed(2) : '-'} steps/s | ETA ${eta}\n`);
  }

  /** Prints a message above the bar (or as a line; also when progress display is off). */
  log(message: string): void {
    if (this.bar) {
      this.bar.stop();
      this.out.write(`${message}\n`);
      this.bar.start(this.total, this.window.length ? this.window[this.window.length - 1]!.step : this.start, this.payload);
    } else this.out.write(`${message}\n`);
  }

  /** Seconds since the display started. */
  elapsed(): number {
    return (performance.now() - this.t0) / 1000;
  }

  /** Removes the bar. */
  stop(): void {
    this.bar?.stop();
  }
}
