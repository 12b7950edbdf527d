/**
 * Node file access for the io layer. `node:fs/promises` is imported lazily under a computed name,
 * as src/gpu/adapter.ts does for `webgpu`, so the browser bundle builds and only the file
 * functions fail there (with a message pointing at the in-memory encode/decode functions).
 * Functions are called through the module's default object so tests can intercept them.
 */
import { WebmtlError } from '../errors.js';

type Fs = typeof import('node:fs/promises');

let loading: Promise<Fs> | null = null;

/** `node:fs/promises`, or a WebmtlError naming `op` where there is no Node file system. */
export async function nodeFs(op: string): Promise<Fs> {
  loading ??= (async () => {
    const name = 'node:fs/promises';
    const mod = (await import(/* @vite-ignore */ name)) as Fs & { default?: Fs };
    return mod.default ?? mod;
  })();
  try {
    return await loading;
  } catch (e) {
    loading = null;
    throw new WebmtlError(
      `${op}: needs Node's file system (${(e as Error).message}); in a browser use ` +
        'encodeSafetensors/decodeSafetensors or encodeCheckpoint/restoreCheckpoint on bytes',
    );
  }
}

/** The folder part of a path ('.' for a bare name), without Node's path module. */
function splitPath(path: string): [dir: string, base: string] {
  const slash = Math.max(path.lastIndexOf('/'), path.lastIndexOf('\\'));
  if (slash < 0) return ['.', path];
  return [path.slice(0, slash) || path[0]!, path.slice(slash + 1)];
}

/** The whole file as a plain Uint8Array (not a Buffer, whose slice() does not copy). */
export async function readFileBytes(path: string, op: string): Promise<Uint8Array> {
  const buf = await (await nodeFs(op)).readFile(path);
  return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
}

/**
 * Replaces `path` with `bytes` atomically: writes a temporary file in the same folder, fsyncs it,
 * renames it over the target and fsyncs the folder. A crash (or an error) at any point leaves
 * either the old file or the new one, never a truncated file; on error the temporary file is
 * removed and the old file is untouched.
 */
export async function writeFileAtomic(path: string, bytes: Uint8Array, op: string): Promise<void> {
  const fs = await nodeFs(op);
  const [dir, base] = splitPath(path);
  const tag = `${Date.now().toString(36)}${Math.random().toString(36).slice(2, 10)}`;
  const tmp = `${dir === '.' ? '' : dir.endsWith('/') ? dir : `${dir}/`}.${base}.${tag}.tmp`;
  const handle = await fs.open(tmp, 'wx');
  try {
    try {
      await handle.writeFile(bytes);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await fs.rename(tmp, path);
  } catch (e) {
    await fs.rm(tmp, { force: true }).catch(() => undefined);
    throw e;
  }
  // Make the rename itself durable. Folders cannot be opened or synced everywhere (Windows): the
  // file is complete either way, so a failure here is not an error.
  try {
    const d = await fs.open(dir, 'r');
    try {
      await d.sync();
    } finally {
      await d.close();
    }
  } catch {
    /* best effort */
  }
}
