/**
 * zod schemas of the run-folder files described in ../run-files.ts. The type assertions at the end
 * keep the schemas and the documented interfaces from drifting apart: a change to one that the other
 * does not follow fails to compile.
 */
import { z } from 'zod';
import type { MetricsRecord, SamplesIndex } from '../run-files.js';

const num = z.number();
const maybeNum = z.number().nullable();
const perTask = z.record(z.string(), num);
const taskMetrics = z.record(z.string(), z.record(z.string(), maybeNum));
const directions = z.record(z.string(), z.record(z.string(), z.boolean()));

const stepRecord = z.object({
  type: z.literal('step'),
  step: z.number().int().nonnegative(),
  epoch: z.number().int().nonnegative(),
  time: num,
  lr: num,
  losses: perTask,
  weights: perTask,
});

const epochRecord = z.object({
  type: z.literal('epoch'),
  epoch: z.number().int().nonnegative(),
  step: z.number().int().nonnegative(),
  time: num,
  trainLoss: perTask,
  weights: perTask,
  val: taskMetrics,
  seconds: num,
});

const baselineRecord = z.object({
  type: z.literal('baseline'),
  val: taskMetrics,
  higherIsBetter: directions.optional(),
});

const finalRecord = z.object({
  type: z.literal('final'),
  val: taskMetrics,
  deltaMTL: maybeNum,
  higherIsBetter: directions.optional(),
});

/** One metrics.jsonl line. */
export const metricsRecordSchema = z.discriminatedUnion('type', [stepRecord, epochRecord, baselineRecord, finalRecord]);

// A plain file name inside samples/: no folders, no parent references, a .png extension.
const pngName = z
  .string()
  .regex(/^[A-Za-z0-9_][A-Za-z0-9_.-]*\.png$/i, 'must be a plain .png file name inside samples/ (no folders)');

/** samples/index.json. */
export const samplesIndexSchema = z
  .object({
    tasks: z.array(
      z.object({
        name: z.string().min(1),
        kind: z.enum(['segmentation', 'depth', 'normals', 'edge', 'saliency', 'parts', 'other']),
        classNames: z.array(z.string()).optional(),
      }),
    ),
    items: z.array(
      z.object({
        id: z.string(),
        input: pngName,
        tasks: z.record(z.string(), z.object({ pred: pngName, gt: pngName.optional() })),
      }),
    ),
  })
  .superRefine((idx, ctx) => {
    const names = new Set(idx.tasks.map((t) => t.name));
    idx.items.forEach((item, i) => {
      for (const t of Object.keys(item.tasks)) {
        if (!names.has(t)) ctx.addIssue({ code: 'custom', path: ['items', i, 'tasks', t], message: `task '${t}' is not listed in "tasks"` });
      }
    });
  });

type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
const assertTrue = <T extends true>(): T | undefined => undefined;
assertTrue<Same<z.infer<typeof metricsRecordSchema>, MetricsRecord>>();
assertTrue<Same<z.infer<typeof samplesIndexSchema>, SamplesIndex>>();

/** Formats a zod error as `path: message; path: message` for one-line error messages. */
export function describeIssues(err: z.ZodError): string {
  return err.issues
    .slice(0, 4)
    .map((i) => `${i.path.length ? i.path.join('.') : '(root)'}: ${i.message}`)
    .join('; ');
}
