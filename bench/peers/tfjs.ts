/**
 * TensorFlow.js's WebGPU backend on the same `webgpu` adapter, as the peer for speed ratios.
 * TF.js reads `navigator.gpu`, so it is given Dawn's GPU object before it is imported. It gets its
 * own device on the same adapter; only devDependencies provide it (never a runtime dependency).
 */
import { create, globals } from 'webgpu';
import { politeWait } from '../../src/gpu/polite-wait.js';

type TF = typeof import('@tensorflow/tfjs');
let tfPromise: Promise<TF | null> | null = null;

/** The TF.js module with the webgpu backend ready, or null when it cannot start here. */
export function loadTfjs(): Promise<TF | null> {
  tfPromise ??= (async () => {
    try {
      for (const [k, v] of Object.entries(globals)) if (!(k in globalThis)) (globalThis as Record<string, unknown>)[k] = v;
      const g = globalThis as { navigator?: { gpu?: unknown } };
      // Kept for the process lifetime: Dawn crashes if the GPU object is collected with work pending.
      if (!g.navigator?.gpu) Object.defineProperty(globalThis, 'navigator', { value: { gpu: create([]) }, configurable: true });
      const tf = await import('@tensorflow/tfjs');
      await import('@tensorflow/tfjs-backend-webgpu');
      if (!(await tf.setBackend('webgpu'))) return null;
      await tf.ready();
      return tf;
    } catch (e) {
      console.error(`TF.js peer unavailable: ${(e as Error).message}`);
      return null;
    }
  })();
  return tfPromise;
}

/**
 * Median ms of a TF.js computation. Each run reads back one element of every result, which waits
 * for all the work queued before it without timing a large copy.
 */
export async function timeTf(tf: TF, fn: () => import('@tensorflow/tfjs').Tensor | import('@tensorflow/tfjs').Tensor[], runs = 5, warmup = 2): Promise<number> {
  const once = async () => {
    const r = tf.tidy(fn);
    const list = Array.isArray(r) ? r : [r];
    const heads = list.map((t) => tf.slice(t.reshape([-1]), 0, 1));
    await Promise.all(heads.map((t) => t.data()));
    tf.dispose([...list, ...heads]);
  };
  for (let i = 0; i < warmup; i++) await once();
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    await once();
    times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  return times[times.length >> 1]!;
}

/**
 * Whether TF.js's readbacks wait the way ours do. dawn.node polls a pending mapAsync through
 * `setImmediate`, so a plain `await t.data()` spins one of the two cores that lavapipe's workers
 * need; our runtime waits through `politeWait`. By default the peer's waits go through it too, so
 * both sides wait alike; `TFJS_SPIN=1` restores the spinning wait (the conv rows before 2026-12-06).
 */
export const tfPoliteWaits = process.env.TFJS_SPIN !== '1';

/**
 * A closure running one TF.js computation and resolving once its results exist: it reads back one
 * element of every result, which waits for all the work queued before it without timing a large copy.
 */
export function tfRun(tf: TF, fn: () => import('@tensorflow/tfjs').Tensor | import('@tensorflow/tfjs').Tensor[]): () => Promise<void> {
  return async () => {
    const r = tf.tidy(fn);
    const list = Array.isArray(r) ? r : [r];
    const heads = list.map((t) => tf.slice(t.reshape([-1]), 0, 1));
    const read = () => Promise.all(heads.map((t) => t.data()));
    await (tfPoliteWaits ? politeWait(read) : read());
    tf.dispose([...list, ...heads]);
  };
}
