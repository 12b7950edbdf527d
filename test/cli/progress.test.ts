/**
 * The terminal progress bar: after a message printed above it (an epoch line), the redrawn bar
 * shows the last epoch, losses and rate, never the format's literal {placeholders}.
 */
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { Progress } from '../../src/cli/progress.js';

/** A stream that claims to be a terminal and keeps what is written to it. */
function fakeTty(): NodeJS.WriteStream & { text: () => string } {
  const chunks: string[] = [];
  const s = new Writable({
    write(chunk, _enc, done) {
      chunks.push(String(chunk));
      done();
    },
  }) as unknown as NodeJS.WriteStream & { text: () => string };
  Object.assign(s, { isTTY: true, columns: 200, rows: 40, cursorTo: () => true, moveCursor: () => true, clearLine: () => true, clearScreenDown: () => true, text: () => chunks.join('') });
  return s;
}

describe('Progress on a terminal', () => {
  it('redraws the bar after log() with its values, not {epoch}/{losses}/{rate}', () => {
    const out = fakeTty();
    const p = new Progress(10, 0, out);
    p.update({ step: 0, epoch: 1, losses: { semseg: 1.25, depth: 0.5 } });
    p.update({ step: 1, epoch: 1, losses: { semseg: 1.125, depth: 0.25 } });
    p.log('epoch 1: semseg 1.1');
    p.stop();
    const text = out.text();
    expect(text).toContain('epoch 1: semseg 1.1');
    expect(text).toContain('semseg 1.125');
    expect(text).not.toMatch(/\{(epoch|losses|rate|value|total)\}/);
  });
});
