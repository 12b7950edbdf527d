/**
 * Waiting on the GPU without stealing a CPU core from it, in Node with Dawn (the `webgpu` package).
 *
 * While any of its promises is pending (onSubmittedWorkDone, mapAsync), dawn.node polls for
 * completion by rescheduling itself with the global `setImmediate`: the event loop spins, and
 * the main thread takes a whole core. With a software adapter (lavapipe, whose worker threads run
 * the kernels) on a 2-core machine that core is a third of the CPU the kernels could have had:
 * the demo training step took 545 ms with the spinning wait against 364 ms when the same wait
 * slept first (2026-11-26, load ~7, bench/README.md). Dawn looks the function up each time it
 * reschedules, so while a wait of ours is pending the global is replaced by one that spins only
 * for the first `SPIN_MS` (short waits, e.g. small readbacks, keep their latency), then sleeps a
 * little between polls, and after `SLEEP_UNTIL_MS` defers through 1 ms timers. Every callback still runs, only later; the original is restored
 * when the last pending wait settles. Browsers (no `process`) are left alone.
 */

/** How long a wait may poll at full speed before it backs off to timers. */
const SPIN_MS = 0.5;

type Immediate = typeof globalThis.setImmediate;

let pending = 0;
let original: Immediate | null = null;
let since = 0;

/**
 * Between SPIN_MS and SLEEP_UNTIL_MS a poll first sleeps a tenth of the time waited so far (at least
 * 0.05 ms) with Atomics.wait, which blocks without spinning: a 3 ms wait is then noticed within
 * ~0.3 ms of its end instead of up to ~1.3 ms later with 1 ms timers (matmul 256^3 with a sync: 3.9 ->
 * 2.9 ms). Longer waits go back to 1 ms timers, leaving the main thread free for other work.
 */
const SLEEP_UNTIL_MS = 10;
/** Switch for benchmarks: false restores 1 ms timers from SPIN_MS on. */
export const politeWaitOptions = { sleep: true };
const sleeper = typeof SharedArrayBuffer === 'function' ? new Int32Array(new SharedArrayBuffer(4)) : null;

function throttled(fn: (...args: unknown[]) => void, ...args: unknown[]): unknown {
  const again = original as (f: typeof fn, ...a: unknown[]) => unknown;
  const waited = performance.now() - since;
  if (waited < SPIN_MS) return again(fn, ...args);
  if (sleeper && politeWaitOptions.sleep && waited < SLEEP_UNTIL_MS) {
    Atomics.wait(sleeper, 0, 0, Math.max(0.05, waited / 10));
    return again(fn, ...args);
  }
  return setTimeout(fn, 1, ...args);
}

/** True in Node (where `webgpu`'s Dawn polls through setImmediate). */
function inNode(): boolean {
  return typeof process !== 'undefined' && !!process.versions?.node && typeof globalThis.setImmediate === 'function';
}

/**
 * Awaits `start()` (a WebGPU promise: onSubmittedWorkDone, mapAsync) with Dawn's completion polling
 * throttled as the file comment explains. Outside Node it is `await start()`.
 */
export async function politeWait<T>(start: () => Promise<T>): Promise<T> {
  if (!inNode()) return start();
  if (pending++ === 0) {
    original = globalThis.setImmediate;
    globalThis.setImmediate = throttled as unknown as Immediate;
  }
  since = performance.now();
  try {
    return await start();
  } finally {
    if (--pending === 0) {
      globalThis.setImmediate = original!;
      original = null;
    }
  }
}
