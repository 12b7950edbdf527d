/**
 * Typed errors. Each says which op failed, with which shapes or values, and what to do about it.
 * Every error thrown by webmtl is a `WebmtlError`, so callers can tell ours from others.
 */

/** Base class of every error webmtl throws. */
export class WebmtlError extends Error {
  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}

/** Formats shapes as `[2,3] and [4]` for messages. */
export function fmtShapes(...shapes: readonly (readonly number[])[]): string {
  return shapes.map((s) => `[${s.join(',')}]`).join(' and ');
}

/** Shapes that the op cannot combine (broadcast, matmul inner size, reshape size ...). */
export class ShapeError extends WebmtlError {
  constructor(readonly op: string, readonly shapes: readonly (readonly number[])[], detail: string) {
    super(`${op}: ${detail} (shapes ${fmtShapes(...shapes)})`);
  }
}

/** A tensor of the wrong dtype, e.g. an f32 tensor where i32 labels are required. */
export class DTypeError extends WebmtlError {
  constructor(readonly op: string, detail: string) {
    super(`${op}: ${detail}`);
  }
}

/** An axis outside [-rank, rank). */
export class AxisError extends WebmtlError {
  constructor(readonly op: string, readonly axis: number, readonly shape: readonly number[]) {
    super(`${op}: axis ${axis} is out of range for a tensor of rank ${shape.length} (shape ${fmtShapes(shape)})`);
  }
}

/** A tensor used after `dispose()` (or after the `tidy` scope that owned it ended). */
export class DisposedError extends WebmtlError {
  constructor(readonly op: string, readonly shape: readonly number[]) {
    super(
      `${op}: tensor of shape ${fmtShapes(shape)} was already disposed; ` +
        'return it from tidy() or call keep() on it to use it after its scope ends',
    );
  }
}

/**
 * A tensor used after its runtime ended (shutdown() then init(), or a lost device): its GPU memory
 * went with that runtime, so the tensor must be created again on the current one.
 */
export class StaleTensorError extends WebmtlError {
  constructor(readonly op: string, readonly shape: readonly number[], detail: string, name?: string) {
    super(
      `${op}: tensor${name ? ` '${name}'` : ''} of shape ${fmtShapes(shape)} belongs to a runtime that has ended (${detail}); ` +
        'tensors do not survive shutdown() or a lost device: create it again after init()',
    );
  }
}

/** NaN or infinity found where the caller asked for a finiteness check. */
export class NonFiniteError extends WebmtlError {
  constructor(readonly op: string, readonly shape: readonly number[], detail: string) {
    super(`${op}: ${detail} (input shape ${fmtShapes(shape)})`);
  }
}

/** A bad argument that is not a shape, dtype or axis problem. */
export class ArgumentError extends WebmtlError {
  constructor(readonly op: string, detail: string) {
    super(`${op}: ${detail}`);
  }
}

/** Autograd misuse: backward through a freed graph, non-scalar root without a gradient ... */
export class GradError extends WebmtlError {}

/** No WebGPU adapter is available; the message names the set-up command. */
export class NoAdapterError extends WebmtlError {
  /** `fix` replaces the default advice (install a Vulkan driver) when the cause is another one. */
  constructor(detail: string, fix?: string) {
    super(
      `no WebGPU adapter: ${detail}. ` +
        (fix ??
          "On Linux without a GPU, install Mesa's lavapipe (>= 24) with `sudo bash scripts/ensure-gpu.sh` (in a clone; " +
            'node_modules/webmtl/scripts/ensure-gpu.sh in a project that installed webmtl) and try again; in a browser, use one with WebGPU enabled'),
    );
  }
}

/** The GPU ran out of memory while allocating or running work. */
export class OutOfMemoryError extends WebmtlError {
  constructor(detail: string) {
    super(`out of GPU memory: ${detail}; use smaller batches or shapes, and dispose() or tidy() what you no longer need`);
  }
}

/** The device was lost (driver reset, destroy()); create a new runtime to continue. */
export class DeviceLostError extends WebmtlError {
  constructor(detail: string) {
    super(`GPU device lost: ${detail}`);
  }
}

/** A validation or internal error reported by WebGPU (a bug in webmtl: please report it). */
export class GpuError extends WebmtlError {}

/**
 * Labels outside [0, numClasses) that are not the ignore index, found by {@link validateLabels}.
 * `count` is how many there are, `index` the multi-index of the first one and `value` its label.
 */
export class LabelError extends ArgumentError {
  constructor(
    op: string,
    readonly count: number,
    readonly index: readonly number[],
    readonly value: number,
    readonly numClasses: number,
    readonly ignoreIndex: number,
  ) {
    super(
      op,
      `${count} label(s) outside [0, ${numClasses}) that are not ignoreIndex ${ignoreIndex}; the first is ${value} at ` +
        `[${index.join(',')}]. Map unlabelled pixels to ignoreIndex, or check numClasses`,
    );
  }
}
