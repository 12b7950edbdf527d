/**
 * The process-wide default runtime that tensor functions use. Call `await init()` once before
 * creating tensors; `shutdown()` releases the device so a Node process can exit.
 */
import { WebmtlError } from '../errors.js';
import { Runtime, type RuntimeOptions } from '../gpu/runtime.js';

let current: Runtime | null = null;
let pending: Promise<Runtime> | null = null;

/** Creates (once) and returns the default runtime. Later calls return the same one. */
export async function init(opts: RuntimeOptions = {}): Promise<Runtime> {
  if (current) return current;
  pending ??= Runtime.create(opts).then(
    (rt) => (current = rt),
    (e) => {
      pending = null;
      throw e;
    },
  );
  return pending;
}

/** The default runtime; throws when init() has not completed. */
export function runtime(): Runtime {
  if (!current) throw new WebmtlError('no runtime: call `await init()` before creating tensors');
  return current;
}

/** Destroys the default runtime (all tensors become unusable); init() may be called again after. */
export function shutdown(): void {
  current?.destroy();
  current = null;
  pending = null;
}

/** Submits all pending GPU work of the default runtime now. */
export function flush(): void {
  current?.flush();
}
