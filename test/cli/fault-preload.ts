// Loaded into a `webmtl` child process (node --import tsx --import ./test/cli/fault-preload.ts) by
// the kill tests. WEBMTL_TEST_FAULT says what to do:
//   kill:metrics:N      the N-th append to metrics.jsonl writes half its text, then the process is SIGKILLed
//   kill:checkpoint:N   the N-th checkpoint write stops half way through its temporary file, then SIGKILL
//   slow:metrics:MS     every append to metrics.jsonl waits MS milliseconds first (a long-running trainer)
import fs from 'node:fs';
import { syncBuiltinESMExports } from 'node:module';

const [action, target, arg] = (process.env.WEBMTL_TEST_FAULT ?? '').split(':');
const n = Number(arg);
const p = fs.promises as unknown as Record<string, (...a: unknown[]) => Promise<unknown>>;
const die = (): Promise<never> => {
  process.kill(process.pid, 'SIGKILL');
  return new Promise(() => {});
};

if (target === 'metrics') {
  const append = p.appendFile!;
  let count = 0;
  p.appendFile = async (path: unknown, data: unknown, ...rest: unknown[]) => {
    if (String(path).endsWith('metrics.jsonl')) {
      if (action === 'slow') await new Promise((r) => setTimeout(r, n));
      if (action === 'kill' && ++count === n) {
        const text = String(data);
        await append.call(fs.promises, path, text.slice(0, Math.max(1, Math.floor(text.length / 2))));
        return die();
      }
    }
    return append.call(fs.promises, path, data, ...rest);
  };
}

if (action === 'kill' && target === 'checkpoint') {
  const paths = new WeakMap<object, string>();
  const open = p.open!;
  const probe = (await open.call(fs.promises, process.execPath, 'r')) as fs.promises.FileHandle;
  const proto = Object.getPrototypeOf(probe) as { writeFile: (this: fs.promises.FileHandle, data: Uint8Array) => Promise<void> };
  await probe.close();
  const writeFile = proto.writeFile;
  let count = 0;
  p.open = async (...args: unknown[]) => {
    const h = (await open.apply(fs.promises, args)) as object;
    paths.set(h, String(args[0]));
    return h;
  };
  proto.writeFile = async function (this: fs.promises.FileHandle, data: Uint8Array) {
    if (/\.last\.safetensors\..*\.tmp$/.test(paths.get(this) ?? '') && ++count === n) {
      await writeFile.call(this, data.subarray(0, data.length >> 1));
      return die();
    }
    return writeFile.call(this, data);
  };
}
syncBuiltinESMExports();
