/** Records which kernels run: for tests that check a fused path was taken. */
import * as w from '../../src/index.js';

/** Kernel entry points (or shader names for `main`) dispatched while `fn` runs, in order. */
export function dispatched<T>(fn: () => T): { out: T; entries: string[] } {
  const rt = w.runtime();
  const entries: string[] = [];
  const orig = rt.dispatch;
  rt.dispatch = function (this: w.Runtime, kernel, ...rest) {
    entries.push(kernel.entry ?? kernel.shader);
    return orig.call(this, kernel, ...rest);
  } as typeof orig;
  try {
    return { out: fn(), entries };
  } finally {
    rt.dispatch = orig;
  }
}
