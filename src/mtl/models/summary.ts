/**
 * Model summaries: parameters and FLOPs per top-level child, measured by running one real forward
 * (under noGrad, in eval mode, on zeros) while the conv/matmul ops report their FLOPs
 * (src/ops/flops.ts: multiply-adds x 2; elementwise ops, norms, pools and resizing are not counted).
 */
import { ArgumentError } from '../../errors.js';
import { noGrad } from '../../autograd/tape.js';
import type { Module } from '../../nn/module.js';
import { countFlops } from '../../ops/flops.js';
import { zeros } from '../../tensor/creation.js';
import { tidy } from '../../tensor/scope.js';
import type { Tensor } from '../../tensor/tensor.js';

/** One row of a summary: a top-level child (or '(self)': the model's own parameters and ops). */
export interface SummaryRow {
  readonly name: string;
  /** The child's class name. */
  readonly type: string;
  /** Parameter elements (trainable or frozen). */
  readonly params: number;
  /** FLOPs of the ops run inside this child's forward calls, for the whole input batch. */
  readonly flops: number;
}

/** What {@link summary} returns. */
export interface ModelSummary {
  readonly inputShape: readonly number[];
  readonly rows: readonly SummaryRow[];
  readonly totalParams: number;
  readonly totalFlops: number;
  /** The rows and totals as an aligned text table. */
  readonly text: string;
}

/** A module with a one-tensor forward (what a summary runs). */
export type ForwardModule = Module & { forward(x: Tensor): unknown };

/**
 * Parameters and FLOPs of `model` on an input of `inputShape` (batch included, e.g. [1, 3, 64, 64]).
 * One forward runs on zeros under noGrad in eval mode (so batch norm statistics are left alone and a
 * batch of 1 works); the training flags are restored afterwards. FLOPs are attributed to the top-level
 * child whose forward (or whose descendant's forward) launched the op; ops the model runs outside any
 * child go to '(self)'.
 */
export function summary(model: ForwardModule, inputShape: readonly number[]): ModelSummary {
  if (!inputShape.every((d) => Number.isInteger(d) && d > 0)) {
    throw new ArgumentError('summary', `inputShape must be positive integers, got [${inputShape.join(', ')}]`);
  }
  const children = model.namedChildren();
  const flops = new Map<string, number>(children.map(([n]) => [n, 0]));
  const modes = model.namedModules().map(([, m]) => [m, m.training] as const);
  const stack: string[] = [];
  const restore: (() => void)[] = [];
  for (const [name, m] of model.namedModules()) {
    const mod = m as ForwardModule;
    if (name === '' || typeof mod.forward !== 'function') continue;
    const top = name.split('.')[0]!;
    const own = Object.hasOwn(mod, 'forward');
    const original = mod.forward;
    mod.forward = function (this: unknown, ...args: unknown[]) {
      stack.push(top);
      try {
        return (original as (...a: unknown[]) => unknown).apply(this, args);
      } finally {
        stack.pop();
      }
    } as typeof mod.forward;
    restore.push(() => {
      if (own) mod.forward = original;
      else delete (mod as { forward?: unknown }).forward;
    });
  }
  let total: number;
  try {
    model.eval();
    total = countFlops(
      () => tidy(() => noGrad(() => void model.forward(zeros(inputShape)))),
      (_, f) => {
        const key = stack.length > 0 ? stack[stack.length - 1]! : '(self)';
        flops.set(key, (flops.get(key) ?? 0) + f);
      },
    ).total;
  } finally {
    for (const r of restore) r();
    for (const [m, t] of modes) m.training = t;
  }
  const rows: SummaryRow[] = children.map(([name, m]) => ({ name, type: m.constructor.name, params: m.numParameters(), flops: flops.get(name) ?? 0 }));
  const selfParams = model.numParameters() - rows.reduce((a, r) => a + r.params, 0);
  if (selfParams > 0 || flops.has('(self)')) rows.push({ name: '(self)', type: model.constructor.name, params: selfParams, flops: flops.get('(self)') ?? 0 });
  const totalParams = model.numParameters();
  return { inputShape: [...inputShape], rows, totalParams, totalFlops: total, text: table(model.constructor.name, inputShape, rows, totalParams, total) };
}

/** n with a k/M/G suffix and 2-3 significant decimals (e.g. 1.23M). */
export function formatCount(n: number): string {
  const units: [number, string][] = [[1e12, 'T'], [1e9, 'G'], [1e6, 'M'], [1e3, 'k']];
  for (const [v, s] of units) if (Math.abs(n) >= v) return `${(n / v).toFixed(2)}${s}`;
  return String(n);
}

function table(model: string, input: readonly number[], rows: readonly SummaryRow[], params: number, flops: number): string {
  const body = rows.map((r) => [r.name, r.type, r.params.toLocaleString('en-US'), formatCount(r.flops)]);
  const head = ['name', 'type', 'params', 'FLOPs'];
  const foot = ['total', '', params.toLocaleString('en-US'), formatCount(flops)];
  const all = [head, ...body, foot];
  const widths = head.map((_, i) => Math.max(...all.map((r) => r[i]!.length)));
  const line = (r: string[]) => r.map((c, i) => (i >= 2 ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join('  ').trimEnd();
  const rule = widths.map((w) => '-'.repeat(w)).join('  ');
  return [`${model} on [${input.join(', ')}]`, line(head), rule, ...body.map(line), rule, line(foot)].join('\n');
}
